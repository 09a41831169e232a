"""Finished operation answers, kept per process as the bytes sent, and served again until the store changes.

Integration engines ask the same few questions many times ($validate-code of one interface's codes, the
$expand of one binding). The caches below the API (termsvc.store.cache) make such an answer cheap to work out,
but routing, validation, the worker-thread hop and rendering still cost about a millisecond a request. Here an
answer already sent is sent again as it was, before any of that runs, when:
- the request is a GET or a small POST of a terminology operation ($lookup, $validate-code, $expand,
  $translate, $subsumes), without conditional headers and without `Cache-Control: no-cache`;
- everything the answer can depend on is the same: method, path, query, body, the request headers (but for
  the few that only name or trace the request) and the application's settings;
- the store generation (termsvc.store.generation) read after the request arrived is the one the answer was
  made under: every load and every resource write moves it on, in this process or any other over the store.
Only 200 answers are kept (errors are worked out again), and none that says `Cache-Control: no-store`.

The generation is read without waking a thread where the store allows (GenerationWatch), and never in the
worker pool, so that a hit never queues behind slow requests; requests arriving while one read is under way
share the next one."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from termsvc.store import generation
from termsvc.store.cache import GenerationCache
from termsvc.store.generation import Generation

_OPERATION = re.compile(r"^/fhir/(?:CodeSystem|ValueSet|ConceptMap)(?:/[A-Za-z0-9\-.]{1,64})?"
                        r"/\$(?:lookup|validate-code|expand|translate|subsumes)$")
MAX_BODY = 64 * 1024  # a POST larger than this (a value set sent inline) is not worth a key
MAX_ENTRY = 8 * 1024 * 1024
# request headers that only name, route or trace a request: two requests differing in them get one answer
_IGNORED = frozenset({b"x-request-id", b"user-agent", b"connection", b"keep-alive", b"content-length",
                      b"traceparent", b"tracestate", b"x-forwarded-for", b"cookie"})
_BYPASS = frozenset({b"if-none-match", b"if-modified-since", b"if-match"})

log = logging.getLogger(__name__)
_KEPT: GenerationCache[Entry] = GenerationCache("http-answers", 1_000_000, 64 * 1024 * 1024)


@dataclass(frozen=True)
class Entry:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    route: Any  # the route that answered, for the request metrics' operation label


class GenerationWatch:
    """The store generation, read after the caller asked, without a thread hop where the store allows:
    SQLite through `PRAGMA data_version` (generation.SqliteProbe), PostgreSQL on the event loop
    (generation.AsyncReader). A caller waits for a read that starts after it asked; requests arriving during a
    read join the next one, so concurrent hits share round trips. A busy SQLite store is read in a thread of
    this watch's own, never in the worker pool where it would queue behind slow requests."""

    def __init__(self, engine: Engine) -> None:
        self._probe = generation.SqliteProbe(engine) if engine.dialect.name == "sqlite" else None
        self._async = generation.AsyncReader(engine) if engine.dialect.name == "postgresql" else None
        self._reader = generation.Reader(engine)
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Future[Generation] | None = None
        self._running = False

    async def latest(self) -> Generation:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests start one per client): nothing of the old one is usable
            if self._async is not None:
                self._async.close()
            self._loop, self._pending, self._running = loop, None, False
        if self._probe is not None:
            with contextlib.suppress(sqlite3.OperationalError):  # busy: read in the thread
                return self._probe.read()
        waiting = self._pending
        if waiting is None:
            waiting = self._pending = loop.create_future()
            if not self._running:
                self._start(loop)
        return await asyncio.shield(waiting)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._pending = self._pending, None
        assert waiting is not None
        self._running = True
        read = loop.create_task(self._read(loop))
        read.add_done_callback(lambda done: self._finished(loop, done, waiting))

    async def _read(self, loop: asyncio.AbstractEventLoop) -> Generation:
        if self._async is not None:
            return await self._async.read()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="termsvc-generation")
        return await loop.run_in_executor(self._executor, self._reader.read)

    def _finished(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[Generation],
                  waiting: asyncio.Future[Generation]) -> None:
        if loop is not self._loop:
            return
        self._running = False
        if done.cancelled():
            waiting.cancel()
        elif (error := done.exception()) is not None:
            waiting.set_exception(error)
        else:
            waiting.set_result(done.result())
        if self._pending is not None:
            self._start(loop)

    def close(self) -> None:
        """Close the connections and let the thread go (the application's shutdown)."""
        for held in (self._probe, self._async):
            if held is not None:
                held.close()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._reader.close)
            executor.shutdown(wait=False)


class CachedAnswers:
    """The ASGI middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp, watch: GenerationWatch, max_bytes: int) -> None:
        self.app = app
        self.watch = watch
        self.enabled = max_bytes > 0
        _KEPT.max_weight = max_bytes
        self._instance = id(self)  # two applications in one process never share answers
        self._failing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.enabled and _cacheable(scope)):
            await self.app(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":
            body, receive, complete = await _small_body(scope, receive)
            if not complete:
                await self.app(scope, receive, send)
                return
        try:
            gen = await self.watch.latest()
        except Exception:  # the store is unreachable: the application answers (and says why)
            if not self._failing:  # once a spell, not once a request
                log.warning("the store generation could not be read; answering without kept answers",
                            exc_info=True)
            self._failing = True
            await self.app(scope, receive, send)
            return
        self._failing = False
        key = self._key(scope, body)
        entry = _KEPT.get(gen, key)
        if entry is not None:
            scope["route"] = entry.route
            await send({"type": "http.response.start", "status": entry.status, "headers": list(entry.headers)})
            await send({"type": "http.response.body", "body": entry.body})
            return
        key_bytes = len(scope["path"]) + len(key[3]) + len(body) + sum(len(k) + len(v) for k, v in key[5])

        def keep(entry: Entry) -> None:  # the weight counts the key too: unique queries cannot outgrow the bound
            _KEPT.put(gen, key, entry, len(entry.body) + sum(len(k) + len(v) for k, v in entry.headers)
                      + key_bytes + 256)
        await self.app(scope, receive, _keeping(scope, send, keep))

    def _key(self, scope: Scope, body: bytes) -> tuple[Any, ...]:
        headers = tuple(sorted((k, v) for k, v in scope["headers"] if k not in _IGNORED))
        forwarded = any(k.startswith(b"x-forwarded-") for k, _ in headers)
        client = scope.get("client") if forwarded else None  # trusted proxies are believed by address
        return (self._instance, scope["method"], scope["path"], scope.get("query_string", b""), body, headers,
                client[0] if client else None)


def _cacheable(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in ("GET", "POST") or not _OPERATION.match(scope["path"]):
        return False
    for name, value in scope["headers"]:
        if name in _BYPASS or (name == b"cache-control" and b"no-cache" in value.lower()):
            return False
    return True


async def _small_body(scope: Scope, receive: Receive) -> tuple[bytes, Receive, bool]:
    """The whole body when Content-Length declares it small, the receive the application is to use, and
    whether the body was read whole (else the request goes on uncached)."""
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    if declared is None or not declared.isdigit() or int(declared) > MAX_BODY:
        return b"", receive, False
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the application see it
            return b"", _replay(b"".join(chunks), functools.partial(_given, message)), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            body = b"".join(chunks)
            return body, _replay(body, receive), True


async def _given(message: Message) -> Message:
    return message


def _replay(body: bytes, then: Callable[[], Awaitable[Message]]) -> Receive:
    """A receive that gives the body already read, then whatever `then` gives (a disconnect)."""
    given = False

    async def receive() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()
    return receive


def _keeping(scope: Scope, send: Send, keep: Callable[[Entry], None]) -> Send:
    """A send that passes the answer on and keeps it when it is a complete 200 that may be kept."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []
    size = 0

    async def sending(message: Message) -> None:
        nonlocal size
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if message["status"] == 200 and not any(
                    k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in headers):
                start.update(status=200, headers=tuple(headers))  # copied before outer layers add theirs
        elif message["type"] == "http.response.body" and start:
            part = message.get("body", b"")
            size += len(part)
            if size > MAX_ENTRY:
                start.clear()
            else:
                chunks.append(part)
                if not message.get("more_body", False):
                    keep(Entry(start["status"], start["headers"], b"".join(chunks), scope.get("route")))
        await send(message)
    return sending
