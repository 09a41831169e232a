"""Finished answers of the read operations ($lookup, $validate-code), kept per process until the store changes.

An answer is a function of the store and of the request: the arguments the service function is given (the
request's parameters, an addressed instance, the languages asked for). Integration engines ask the same few
questions many times (the codes of one interface, message after message), so an answer is worked out once
per store generation (termsvc.store.cache) and then served as it is. Errors are not kept: they are raised
again. The dicts kept are shared: callers render them and must not change them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

import orjson
from sqlalchemy import Connection

from termsvc.ops.params import OpParams
from termsvc.store.cache import GenerationCache, cached

P = ParamSpec("P")
Answer = dict[str, Any]

_ANSWERS: GenerationCache[Answer] = GenerationCache("answers", 20_000)


def _key_part(value: Any) -> Any:
    if isinstance(value, OpParams):
        return value.items
    raise TypeError(f"{type(value).__name__} cannot key an answer")


def kept(operation: str) -> Callable[[Callable[Concatenate[Connection, P], Answer]],
                                     Callable[Concatenate[Connection, P], Answer]]:
    """Keep the answers of a service function `f(conn, ...)` by its other arguments."""
    def wrap(function: Callable[Concatenate[Connection, P], Answer]) -> Callable[Concatenate[Connection, P], Answer]:
        @functools.wraps(function)
        def answer(conn: Connection, *args: P.args, **kwargs: P.kwargs) -> Answer:
            key = orjson.dumps([operation, args, kwargs], option=orjson.OPT_SORT_KEYS, default=_key_part)
            return cached(_ANSWERS, conn, key, lambda: function(conn, *args, **kwargs))
        return answer
    return wrap
