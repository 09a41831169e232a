"""The store generation: one number that every load and every resource write adds one to, in the transaction
that commits its rows, so that per-process caches (termsvc.store.cache) can be shared by many API processes
over one store and still never answer from data older than the last commit.

A request reads the generation once (one primary-key row) before it reads anything else; a cache entry is
valid for the generation it was built under. The rows a request reads are at least as new as the generation
it read, since both commit together: an entry may be newer than its generation says, never older. Only a
connection opened for reads of committed data (`open_for_reads`, the operations' connection without inline
`tx-resource`s) has a generation: loads, writes and requests that hold uncommitted rows of their own neither
read nor fill a cache. The row also carries the store's random id, so that caches of one process never mix two
stores (a store dropped and made again starts its count again; a copied one keeps its id, not its URL)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any, NamedTuple

import psycopg
from psycopg import pq
from sqlalchemy import Connection, Engine, event, text


class Generation(NamedTuple):
    store: str
    number: int


# conn.info survives a connection's return to the pool: what it says is dropped at each new checkout
_KEY = "termsvc.generation"
_UNREAD = "unread"

_READ_SQL = "SELECT store_id, generation FROM store_generation WHERE generation_id = 1"
_READ = text(_READ_SQL)
_BUMP = text("UPDATE store_generation SET generation = generation + 1 WHERE generation_id = 1")


def bump(conn: Connection) -> None:
    """Call last in a write's transaction (on PostgreSQL the row stays locked until the commit)."""
    conn.execute(_BUMP)


def open_for_reads(conn: Connection) -> None:
    """This checkout only reads committed rows: it may use the caches (its generation is read when first needed)."""
    _forget_at_checkout(conn.engine)
    conn.info[_KEY] = _UNREAD


def current(conn: Connection) -> Generation | None:
    """The generation this checkout's reads are at, read once; None unless it was opened for reads."""
    value = conn.info.get(_KEY)
    if value is None:
        return None
    if value == _UNREAD:
        row = conn.execute(_READ).one()
        value = conn.info[_KEY] = _of(conn.engine.url, row)
    return value  # type: ignore[no-any-return]


def _of(url: Any, row: Any) -> Generation:
    # the URL too: a store file copied elsewhere keeps its id but goes its own way
    return Generation(f"{url}#{row[0]}", int(row[1]))


def _own_sqlite_connection(engine: Engine) -> Any:
    """A sqlite3 connection outside the pool (never returned to it nor reset by it), in autocommit."""
    proxied = engine.raw_connection()
    driver: Any = proxied.driver_connection
    proxied.detach()
    driver.isolation_level = None  # no implicit BEGIN
    return driver


class Reader:
    """SQLite: reads the generation on a connection of its own, outside the pool and in autocommit, waiting out a
    busy store (what SqliteProbe does not); one round trip, where a pooled checkout costs a BEGIN and a ROLLBACK
    around the SELECT and SQLAlchemy's bookkeeping. For one thread at a time (termsvc.api.answer_cache gives it
    one). PostgreSQL is read by AsyncReader."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dbapi: Any = None

    def read(self) -> Generation:
        try:
            row = self._fetch()
        except self._engine.dialect.loaded_dbapi.Error:
            self.close()  # a dropped connection: one more try on a new one
            row = self._fetch()
        return _of(self._engine.url, row)

    def _fetch(self) -> Any:
        if self._dbapi is None:
            self._dbapi = _own_sqlite_connection(self._engine)
        return self._dbapi.execute(_READ_SQL).fetchone()

    def close(self) -> None:
        dbapi, self._dbapi = self._dbapi, None
        if dbapi is not None:
            with contextlib.suppress(self._engine.dialect.loaded_dbapi.Error):
                dbapi.close()


class AsyncReader:
    """PostgreSQL: the generation read on the event loop itself, on a connection of its own in autocommit, through
    libpq's asynchronous calls (psycopg.pq) with one wait for the socket: one round trip, no thread to wake (on a
    busy machine the wake costs more than the statement) and a fraction of a full async driver's bookkeeping."""

    def __init__(self, engine: Engine) -> None:
        self._url = engine.url
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.Connection[Any] | None = None

    async def read(self) -> Generation:
        try:
            row = await self._fetch()
        except (psycopg.Error, OSError):
            self.close()  # a dropped connection: one more try on a new one
            row = await self._fetch()
        return _of(self._url, (row[0].decode(), row[1]))

    async def _fetch(self) -> tuple[bytes, bytes]:
        loop = asyncio.get_running_loop()
        if self._conn is None or self._conn.closed:
            # connecting takes several round trips: done once, in a thread
            self._conn = await loop.run_in_executor(None, functools.partial(
                psycopg.Connection.connect, self._conninfo, autocommit=True))
            self._conn.pgconn.nonblocking = 1
        pgconn = self._conn.pgconn
        pgconn.send_query(_READ_SQL.encode())
        while pgconn.flush():
            await _ready(loop, pgconn.socket, writing=True)
        pgconn.consume_input()
        while pgconn.is_busy():
            await _ready(loop, pgconn.socket, writing=False)
            pgconn.consume_input()
        row: tuple[bytes, bytes] | None = None
        while (result := pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.TUPLES_OK:
                raise psycopg.OperationalError(result.error_message.decode(errors="replace"))
            if result.ntuples:
                row = (result.get_value(0, 0) or b"", result.get_value(0, 1) or b"0")
        if row is None:
            raise psycopg.OperationalError("the store generation row is missing")
        return row

    def close(self) -> None:
        """Close at once (also from outside the loop the connection was used in)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.pgconn.finish()


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, *, writing: bool) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)
    (loop.add_writer if writing else loop.add_reader)(fd, wake)
    try:
        await ready
    finally:
        (loop.remove_writer if writing else loop.remove_reader)(fd)


class SqliteProbe:
    """SQLite: `PRAGMA data_version` on a connection of its own changes whenever any other connection, in any
    process, has committed; only then is the generation row read again. Both are reads of the process's own
    memory and page cache, microseconds, and never wait on a lock (busy timeout 0: a busy store raises, and the
    caller reads in a thread instead)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dbapi: Any = None
        self._version: int | None = None
        self._known: Generation | None = None

    def read(self) -> Generation:
        if self._dbapi is None:
            self._dbapi = _own_sqlite_connection(self._engine)
            self._dbapi.execute("PRAGMA busy_timeout = 0")
        version = self._dbapi.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version or self._known is None:
            row = self._dbapi.execute(_READ_SQL).fetchone()
            self._known = _of(self._engine.url, row)
            self._version = version
        return self._known

    def close(self) -> None:
        dbapi, self._dbapi = self._dbapi, None
        self._version = self._known = None
        if dbapi is not None:
            dbapi.close()


def _forget(conn: Connection) -> None:
    conn.info.pop(_KEY, None)


def _forget_at_checkout(engine: Engine) -> None:
    if not event.contains(engine, "engine_connect", _forget):
        event.listen(engine, "engine_connect", _forget)
