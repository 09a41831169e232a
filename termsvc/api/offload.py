"""Operations, reads and searches run off the event loop: the body is read on the loop (async), the database
and CPU work in a worker thread from a pool of a size set on purpose (TERMSVC_WORKER_THREADS), under the request's time budget
(TERMSVC_REQUEST_TIME_BUDGET). A slow or hostile request then holds one worker, never the loop that answers
everyone else, and is stopped at its budget (termsvc.deadline; statements by termsvc.store.interrupt)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from fastapi import Request

from termsvc import deadline
from termsvc.store.locks import DATABASE_ERRORS

T = TypeVar("T")


def size_worker_pool(threads: int) -> None:
    """Size the one pool every sync endpoint and operation runs in (anyio's default limiter, which Starlette
    uses for plain `def` endpoints too). Call from the running event loop (the app's startup)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def budgeted(seconds: float | None, work: Callable[[], T]) -> T:
    """`work()` under a deadline `seconds` from now; a statement it interrupted becomes too-costly."""
    with deadline.budget(seconds):
        try:
            return work()
        except DATABASE_ERRORS:
            if deadline.expired():
                raise deadline.exceeded() from None
            raise


async def off_loop(request: Request, work: Callable[[], T]) -> T:
    """Run `work()` in the worker pool under the request's time budget."""
    seconds = float(request.app.state.settings.request_time_budget)
    return await anyio.to_thread.run_sync(budgeted, seconds, work)
