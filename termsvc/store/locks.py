"""Bounded waits for the store's locks, the same way on both engines: SQLite's busy timeout for one
transaction's BEGIN, PostgreSQL's lock_timeout for one transaction. A wait that runs out is a lock error
(`is_lock_error`), which callers turn into a refusal to try again later, never a 500."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

# the words SQLite ("database is locked", "busy") and PostgreSQL ("canceling statement due to lock timeout",
# LockNotAvailable) use when a lock could not be had in time
_LOCK_WORDS = ("database is locked", "database table is locked", "busy", "lock timeout", "could not obtain lock")


# the drivers' own errors too: the bulk writer's COPY goes to psycopg directly, unwrapped by SQLAlchemy
DATABASE_ERRORS = (DBAPIError, sqlite3.Error, psycopg.Error)


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, DATABASE_ERRORS) and any(word in str(exc).lower() for word in _LOCK_WORDS)


@contextmanager
def sqlite_wait(conn: Connection, seconds: float) -> Iterator[None]:
    """SQLite: the busy timeout is `seconds` inside the block (for a BEGIN IMMEDIATE), then what it was.
    Set on the driver's connection: a PRAGMA through SQLAlchemy would open the transaction itself."""
    driver = conn.connection.dbapi_connection
    assert driver is not None
    usual = int(driver.execute("PRAGMA busy_timeout").fetchone()[0])
    driver.execute(f"PRAGMA busy_timeout = {max(0, int(seconds * 1000))}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA busy_timeout = {usual}")


def pg_wait(conn: Connection, seconds: float) -> None:
    """PostgreSQL: lock waits in the current transaction end after `seconds` (0: fail at once)."""
    conn.execute(text(f"SET LOCAL lock_timeout = '{max(1, int(seconds * 1000))}ms'"))
