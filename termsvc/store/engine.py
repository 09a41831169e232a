"""Engines for the two supported stores: SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode so that readers keep being served while a load writes its transaction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool


def normalise_url(url: str) -> str:
    """Accept the usual spellings: postgres://, postgresql:// (use psycopg 3), sqlite paths."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-200000")  # ~200 MB page cache
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()
    # SQLite's LOWER and LIKE fold ASCII letters only; case-insensitive matching of other scripts (cardiopatía,
    # Ä, ...) uses Python's full case folding, as PostgreSQL's LOWER does under a UTF-8 locale
    dbapi_connection.create_function(UNICODE_LOWER, 1, _lower, deterministic=True)


UNICODE_LOWER = "unicode_lower"


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# A pooled PostgreSQL connection idle for longer than this is pinged as it is checked out (and replaced if the
# server dropped it); one in steady use is not. SQLAlchemy's pre-ping cost a round trip on every request, a
# third of a cached answer's time on a busy machine. A server restart while connections are in steady use fails
# the next statement once: SQLAlchemy then invalidates the whole pool, and later requests get fresh connections.
PING_AFTER_IDLE_S = 5.0


def make_engine(url: str, *, pool_size: int = 16, ping_after_idle_s: float = PING_AFTER_IDLE_S) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; let SQLAlchemy's begin() emit it instead,
        # so a load takes the write lock up front (BEGIN IMMEDIATE, see store.loadrun).
        event.listen(engine, "connect", _disable_pysqlite_autobegin)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # JIT off: it compiles a plan with many subplans (a value set of 200 is-a includes) for seconds to tens of
    # seconds, and that compilation ignores statement cancels, so a request could not be stopped at its budget
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                           connect_args={"options": "-c jit=off"})
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


_IDLE_SINCE = "termsvc.idle_since"


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checking_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # the pool discards this connection and checks out another (SQLAlchemy's documented protocol)
            raise DisconnectionError(f"pooled connection dropped by the server: {exc}") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checking_out)


def _disable_pysqlite_autobegin(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    mode = conn.info.pop("sqlite_begin", "BEGIN")
    conn.exec_driver_sql(mode)
