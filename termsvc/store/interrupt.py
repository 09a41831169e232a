"""Stopping a statement that outlives its request's time budget (termsvc.deadline), so the worker thread and
the database connection are freed, not just abandoned.

A connection checked out under a deadline is registered with one watchdog thread per process; when the
deadline passes and the connection is still out, the watchdog interrupts it from outside: SQLite's
`interrupt()` (the running statement fails with "interrupted"), PostgreSQL's cancel request (the backend
stops the statement: QueryCanceled). It repeats every REPEAT seconds until the connection comes back, in
case the request starts another statement; a request looping over short statements is stopped before its
next one (before_cursor_execute). Interrupts and check-ins take one lock, so a connection is never
interrupted once it is back in the pool for another request."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

from termsvc import deadline

REPEAT = 0.2
# a connection still out this long after its deadline was invalidated (no check-in comes): forget it
GIVE_UP = 60.0
# seconds a PostgreSQL cancel request may take to reach the server
CANCEL_TIMEOUT = 2.0


class Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        # id of the DBAPI connection -> (when to interrupt it, how, when to stop trying)
        self._out: dict[int, tuple[float, Callable[[], None], float]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, dbapi_connection: Any, until: float, interrupt: Callable[[], None]) -> None:
        with self._lock:
            self._out[id(dbapi_connection)] = (until, interrupt, until + GIVE_UP)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="termsvc-interrupt", daemon=True)
                self._thread.start()
            self._wake.notify()

    def release(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._out.pop(id(dbapi_connection), None)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                due = [key for key, (until, _, _) in self._out.items() if until <= now]
                for key in due:
                    _, interrupt, give_up = self._out[key]
                    with contextlib.suppress(Exception):  # a broken connection needs no interrupt
                        interrupt()
                    if now >= give_up:  # invalidated rather than checked in: nothing left to stop
                        del self._out[key]
                    else:
                        self._out[key] = (now + REPEAT, interrupt, give_up)
                soonest = min((until for until, _, _ in self._out.values()), default=None)
                self._wake.wait(None if soonest is None else max(0.0, soonest - time.monotonic()))


WATCHDOG = Watchdog()


def _interrupter(dbapi_connection: Any) -> Callable[[], None]:
    if hasattr(dbapi_connection, "interrupt"):  # sqlite3
        return dbapi_connection.interrupt  # type: ignore[no-any-return]
    if hasattr(dbapi_connection, "cancel_safe"):  # psycopg >= 3.2
        # bounded: the watchdog holds its lock meanwhile, and check-ins wait on it
        return lambda: dbapi_connection.cancel_safe(timeout=CANCEL_TIMEOUT)
    return dbapi_connection.cancel  # type: ignore[no-any-return]


def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    until = deadline.deadline()
    if until is not None:
        WATCHDOG.watch(dbapi_connection, until, _interrupter(dbapi_connection))


def _checkin(dbapi_connection: Any, _record: Any) -> None:
    if dbapi_connection is not None:
        WATCHDOG.release(dbapi_connection)


def _before_statement(*_args: Any) -> None:
    # many short statements in a loop are stopped here, before the next one starts
    deadline.check()


def install(engine: Engine) -> None:
    """Make connections of `engine` checked out under a deadline stoppable (idempotent)."""
    if not event.contains(engine, "checkout", _checkout):
        event.listen(engine, "checkout", _checkout)
        event.listen(engine, "checkin", _checkin)
        event.listen(engine, "before_cursor_execute", _before_statement)
