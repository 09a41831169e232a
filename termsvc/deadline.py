"""The time budget of the request being served: a deadline carried in a context variable, so the worker
thread running an operation, the database interrupt (termsvc.store.interrupt) and the engine's own loops all
see the same one without passing it down every call.

Leaf module: imports only termsvc.errors."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from termsvc.errors import TooCostly

T = TypeVar("T")

_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("termsvc_deadline", default=None)


class BudgetExceeded(TooCostly):
    """The operation ran past its time budget and was stopped (422 too-costly, as the tx ecosystem answers an
    operation a server will not finish)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The operation was stopped after its time budget of {seconds:g} s: it is too costly "
                         "to answer (narrow the request, or ask for a page)", message_id="TOO_COSTLY")


@contextmanager
def budget(seconds: float | None) -> Iterator[None]:
    """Run the block under a deadline `seconds` from now (None or <= 0: no deadline)."""
    if not seconds or seconds <= 0:
        yield
        return
    token = _DEADLINE.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline() -> float | None:
    """The monotonic time the current budget ends, or None."""
    current = _DEADLINE.get()
    return None if current is None else current[0]


def expired() -> bool:
    current = _DEADLINE.get()
    return current is not None and time.monotonic() >= current[0]


def exceeded() -> BudgetExceeded:
    current = _DEADLINE.get()
    return BudgetExceeded(current[1] if current else 0.0)


def check() -> None:
    """Raise BudgetExceeded when the budget is spent: call it in loops whose length the request decides."""
    current = _DEADLINE.get()
    if current is not None and time.monotonic() >= current[0]:
        raise BudgetExceeded(current[1])


def checked(items: Iterable[T]) -> Iterator[T]:
    """`items`, the budget checked before each one: for Python loops over rows a request asked for."""
    for item in items:
        check()
        yield item
