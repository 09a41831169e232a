"""The connection an operation runs on, with the request's inline `tx-resource` resources in the store.

Inline resources are written inside a transaction that is always rolled back, so stored and inline code
systems, value sets and concept maps are served by the one SQL implementation, and nothing a request sends
outlives it. Inline resources replace stored ones with the same url|version for the request."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.exc import OperationalError

from termsvc.errors import Busy, Invalid, LoadError
from termsvc.loaders.fhir_resources import write_code_system
from termsvc.ops.params import OpParams
from termsvc.store import generation
from termsvc.store.loadrun import LoadRun
from termsvc.store.locks import DATABASE_ERRORS, is_lock_error, pg_wait, sqlite_wait
from termsvc.store.resources import store_concept_map, store_value_set


def inline_resources(params: OpParams) -> list[dict[str, Any]]:
    resources = params.resources("tx-resource")
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise Invalid(f"tx-resource[{index}] is not a FHIR resource", expression=["tx-resource"])
    return resources


@contextmanager
def op_connection(engine: Engine, params: OpParams) -> Iterator[Connection]:
    resources = inline_resources(params)
    with engine.connect() as conn:
        if not resources:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            generation.open_for_reads(conn)
            yield conn
            return
        transaction = _begin_inline(conn)
        try:
            try:
                write_inline(conn, resources)
            except DATABASE_ERRORS as exc:
                if not is_lock_error(exc):
                    raise
                raise _busy() from None
            yield conn
        finally:
            transaction.rollback()


# seconds a request with inline resources waits for SQLite's one write lock (a load holds it for minutes)
INLINE_WAIT = 5.0


def _begin_inline(conn: Connection) -> RootTransaction:
    """The transaction inline resources are written to, waiting at most INLINE_WAIT for a lock: SQLite's write
    lock (taken up front: a read-then-write transaction could otherwise fail to upgrade), or on PostgreSQL a
    row a load is writing (its new concept ids)."""
    if conn.dialect.name != "sqlite":
        transaction = conn.begin()
        pg_wait(conn, INLINE_WAIT)
        return transaction
    conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
    try:
        with sqlite_wait(conn, INLINE_WAIT):
            return conn.begin()
    except OperationalError as exc:
        if not is_lock_error(exc):
            raise
        raise _busy() from None


def _busy() -> Busy:
    return Busy("The request's tx-resource resources are written to a transaction that is rolled back, and a "
                "load holds what that needs (SQLite's write lock, or new rows): try again when it has finished",
                retry_after=math.ceil(INLINE_WAIT))


def write_inline(conn: Connection, resources: list[dict[str, Any]]) -> None:
    run = LoadRun(conn, "tx-resource", "request", True)
    # code systems first, so value sets and maps written after them can be checked against them
    ordered = sorted(resources, key=lambda r: r.get("resourceType") != "CodeSystem")
    for index, resource in enumerate(ordered):
        kind = resource.get("resourceType")
        run.position.file = f"tx-resource[{index}] {kind}/{resource.get('id', '')}"
        if not resource.get("url"):
            continue
        try:
            if kind == "CodeSystem":
                write_code_system(run, resource, current=True)
            elif kind == "ValueSet":
                run.bulk.flush()
                store_value_set(conn, resource, replace=True)
            elif kind == "ConceptMap":
                run.bulk.flush()
                store_concept_map(conn, resource, replace=True)
        except LoadError as exc:
            raise Invalid(f"Invalid tx-resource: {exc}", expression=["tx-resource"]) from None
    # marks the inline versions current, as a completed load would; the transaction is rolled back anyway
    run._complete()
