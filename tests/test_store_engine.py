"""The PostgreSQL engine's pool: a connection the server dropped while it sat idle in the pool is replaced when
it is checked out, without a ping on every checkout (SQLite has no server to drop it: PostgreSQL only)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from termsvc.store.engine import make_engine


def test_a_connection_dropped_while_idle_is_replaced_at_checkout(new_store_url: Callable[[str], str]) -> None:
    url = new_store_url("postgresql")
    engine = make_engine(url, pool_size=1, ping_after_idle_s=0.0)
    admin = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_in_steady_use_is_not_pinged(new_store_url: Callable[[str], str]) -> None:
    engine = make_engine(new_store_url("postgresql"), pool_size=1, ping_after_idle_s=3600.0)
    pings: list[object] = []
    original = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: pings.append(dbapi_connection) or original(dbapi_connection)  # type: ignore[method-assign]
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        assert len(pings) == 1  # the new connection's first checkout only
    finally:
        engine.dispose()
