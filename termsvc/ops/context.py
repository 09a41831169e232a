"""The connection an operation runs on, with the request's inline `tx-resource` resources in the store.

Inline resources are written inside a transaction that is always rolled back, so stored and inline code
systems, value sets and concept maps are served by the one SQL implementation, and nothing a request sends
outlives it. Inline resources replace stored ones with the same url|version for the request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from termsvc.errors import Invalid, LoadError
from termsvc.loaders.fhir_resources import write_code_system
from termsvc.ops.params import OpParams
from termsvc.store import generation
from termsvc.store.loadrun import LoadRun
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
        if conn.dialect.name == "sqlite":
            # take the write lock up front: a read-then-write transaction could otherwise fail to upgrade
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        transaction = conn.begin()
        try:
            write_inline(conn, resources)
            yield conn
        finally:
            transaction.rollback()


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
