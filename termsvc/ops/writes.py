"""Resource writes (create, update by id, conditional update by url+version, delete) of CodeSystem, ValueSet
and ConceptMap, each in ONE transaction holding the store's write lock, so a refused write changes nothing.

CodeSystems go through the loader (`write_code_system`), so concepts, hierarchy and closure are built exactly
as from a package; ValueSets and ConceptMaps through `termsvc.store.resources`. A ConceptMap written is used
by $translate at once. Stored expansions need no invalidation here: their cache key digests the value set and
the code system versions (ids and load ids) they used, and a write gives new ones.

No history is kept: `meta.versionId` counts the writes of a resource, `If-Match` is honoured against it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from termsvc.errors import Conflict, Invalid, LoadError, TermsvcError
from termsvc.loaders.fhir_codesystem import write_code_system
from termsvc.ops import codesystems as cs_ops
from termsvc.ops.params import parse_body
from termsvc.ops.write_checks import validate
from termsvc.store import queries as q
from termsvc.store.generation import bump
from termsvc.store.loadrun import LoadRun, load_run, write_transaction
from termsvc.store.resources import (
    delete_code_system_version,
    delete_concept_map,
    store_concept_map,
    store_value_set,
)
from termsvc.store.versions import pick_current

TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TABLE = {"ValueSet": ("value_set", "value_set_id"), "ConceptMap": ("concept_map", "concept_map_id")}


@dataclass(frozen=True)
class Stored:
    key: int  # code_system_id, value_set_id or concept_map_id
    resource_id: str
    url: str
    version: str
    version_id: int


@dataclass(frozen=True)
class Written:
    interaction: str  # create or update
    resource: dict[str, Any]
    resource_id: str
    version_id: str
    last_updated: str


Authorise = Callable[[str], None]  # called with "create" / "update" / "delete"; raises when not allowed


def check_id(resource_id: str) -> str:
    if not _ID.match(resource_id):
        raise Invalid(f"{resource_id!r} is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)", expression=["id"])
    return resource_id


def read_resource(body: bytes, content_type: str, resource_type: str) -> dict[str, Any]:
    """The posted resource (JSON or XML), checked and validated; 400 when it is not a resource of the
    type in the path, 422 when it is one but not a valid one."""
    if not body.strip():
        raise Invalid(f"The request body is empty: a {resource_type} resource is expected")
    resource = parse_body(body, content_type)
    if not isinstance(resource, dict):
        raise Invalid(f"The request body must be a {resource_type} resource")
    found = resource.get("resourceType")
    if found != resource_type:
        raise Invalid(f"The request body is a {found or 'resource without resourceType'}, but the request is for "
                      f"{resource_type}", expression=["resourceType"])
    if "id" in resource and (not isinstance(resource["id"], str) or not _ID.match(resource["id"])):
        raise Invalid(f"{resource_type}.id {resource['id']!r} is not a valid FHIR id", status=422,
                      expression=[f"{resource_type}.id"])
    validate(resource_type, resource)
    return resource


def _version_id(resource_json: str | None) -> int:
    meta = (orjson.loads(resource_json) if resource_json else {}).get("meta") or {}
    raw = meta.get("versionId") if isinstance(meta, dict) else None
    return int(raw) if isinstance(raw, str) and raw.isdecimal() else 1


def find_by_id(conn: Connection, resource_type: str, resource_id: str) -> Stored | None:
    """The stored resource a read of `{type}/{id}` answers with."""
    if resource_type == "CodeSystem":
        row = cs_ops.by_resource_id(conn, resource_id)
        if row is None:
            return None
        return Stored(row.code_system_id, resource_id, row.url, row.version, _version_id(row.resource_json))
    table, key = _TABLE[resource_type]
    order = "is_current DESC, " if resource_type == "ConceptMap" else ""
    found = conn.execute(text(f"SELECT {key}, url, version, resource_json FROM {table} WHERE resource_id = :id "
                              f"ORDER BY {order}{key} DESC"), {"id": resource_id}).first()
    if found is None:
        return None
    return Stored(int(found[0]), resource_id, found[1], found[2], _version_id(found[3]))


def find_by_canonical(conn: Connection, resource_type: str, url: str, version: str | None) -> list[Stored]:
    if resource_type == "CodeSystem":
        every = q.all_code_systems(conn)
        rows = [r for r in every if r.url == url and (version is None or r.version == version)]
        ids = cs_ops.resource_ids(every) if rows else {}
        return [Stored(r.code_system_id, ids[r.code_system_id], r.url, r.version, _version_id(r.resource_json))
                for r in rows]
    table, key = _TABLE[resource_type]
    clause = "" if version is None else " AND version = :version"
    found = conn.execute(text(f"SELECT {key}, resource_id, url, version, resource_json FROM {table} "
                              f"WHERE url = :url{clause}"), {"url": url, "version": version}).all()
    return [Stored(int(r[0]), r[1] or str(r[0]), r[2], r[3], _version_id(r[4])) for r in found]


def existing_for(engine: Engine, resource_type: str, *, resource_id: str | None = None,
                 canonical: tuple[str, str | None] | None = None) -> bool:
    """Whether a PUT would update (True) or create (False): decides the scope to ask for before the body
    is even read. `save` decides again inside its transaction."""
    with engine.connect() as conn:
        if canonical is not None:
            return bool(find_by_canonical(conn, resource_type, *canonical))
        return resource_id is not None and find_by_id(conn, resource_type, resource_id) is not None


def _now() -> tuple[datetime, str]:
    now = datetime.now(UTC)
    return now, now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_if_match(if_match: str | None, existing: Stored | None) -> None:
    if if_match is None:
        return
    wanted = if_match.strip().removeprefix("W/").strip('"')
    if existing is None or str(existing.version_id) != wanted:
        have = f"version {existing.version_id}" if existing else "no resource"
        raise TermsvcError(f"If-Match {if_match} does not match the stored {have}", "conflict", 412)


def _check_clash(conn: Connection, resource_type: str, resource: dict[str, Any], existing: Stored | None) -> None:
    version = str(resource.get("version") or "")
    for other in find_by_canonical(conn, resource_type, resource["url"], version):
        if existing is None or other.key != existing.key:
            raise Conflict(f"{resource_type} {resource['url']}|{version} already exists as {resource_type}/"
                           f"{other.resource_id}: update that resource (PUT {resource_type}/{other.resource_id} or "
                           f"PUT {resource_type}?url=...&version=...) instead")


def _remove(conn: Connection, resource_type: str, stored: Stored) -> None:
    if resource_type == "CodeSystem":
        delete_code_system_version(conn, stored.key)
    elif resource_type == "ConceptMap":
        delete_concept_map(conn, stored.key)
    else:
        conn.execute(text("DELETE FROM value_set WHERE value_set_id = :id"), {"id": stored.key})


def _repick_current(conn: Connection, url: str) -> None:
    """After a code system version is removed, keep one of the remaining versions current."""
    rows = conn.execute(text("SELECT code_system_id, is_current FROM code_system WHERE url = :url"),
                        {"url": url}).all()
    if rows and not any(r.is_current for r in rows):
        pick_current(conn, url, int(rows[0].code_system_id), None)


def _locked(engine: Engine, wait: float, resources: list[str]) -> AbstractContextManager[Connection]:
    """One transaction holding the resource's own locks (on SQLite, the store's one write lock), waiting at
    most `wait` seconds for them, so two writes of one resource take turns and a write never waits on a load
    of other content on PostgreSQL. ValueSets and ConceptMaps use this rather than a load run: a load run ends
    with ANALYZE of the concept tables, which a single resource does not need and which costs seconds on a
    full-size store."""
    return write_transaction(engine, "a load is in progress; try the write again when it has finished",
                             wait=wait, load_lock=False, resources=resources)


def lock_keys(resource_type: str, *, resource_id: str | None = None, url: str | None = None) -> list[str]:
    """The keys of the resource locks a write takes: its id and its canonical url."""
    keys = [f"{resource_type}#{resource_id}"] if resource_id else []
    return keys + ([f"{resource_type}|{url}"] if url else [])


@contextmanager
def _transaction(engine: Engine, resource_type: str, source: str, wait: float,
                 resources: list[str]) -> Iterator[tuple[Connection, LoadRun | None]]:
    """A load run for CodeSystems (concepts, hierarchy and closure are built by the loader, which needs the
    store to itself), else `_locked`."""
    if resource_type == "CodeSystem":
        with load_run(engine, "fhir", source, wait=wait) as run:
            yield run.conn, run
    else:
        with _locked(engine, wait, resources) as conn:
            yield conn, None
            bump(conn)


def _write(conn: Connection, run: LoadRun | None, resource_type: str, resource: dict[str, Any]) -> None:
    if run is not None:
        run.position.file = f"{resource_type}/{resource['id']}"
        try:
            write_code_system(run, resource, current=None)
        except LoadError as exc:
            path = exc.path or "CodeSystem"
            raise Invalid(f"The CodeSystem is not valid: {path}: {exc.message}", status=422,
                          expression=[path]) from None
    elif resource_type == "ValueSet":
        store_value_set(conn, resource)
    else:
        store_concept_map(conn, resource)


def save(engine: Engine, resource_type: str, resource: dict[str, Any], *, authorise: Authorise,
         resource_id: str | None = None, canonical: tuple[str, str | None] | None = None,
         if_match: str | None = None, wait: float = 10.0) -> Written:
    """Create (no id or canonical), create-or-update by id, or conditionally by url (+ version). Waits at most
    `wait` seconds for the store (Busy after that)."""
    source = f"API write {resource_type}/{resource_id or resource.get('id') or 'new'}"
    keys = lock_keys(resource_type, resource_id=resource_id or resource.get("id"),
                     url=canonical[0] if canonical else resource.get("url"))
    if canonical is not None and resource.get("url") and resource["url"] != canonical[0]:
        keys += lock_keys(resource_type, url=resource["url"])
    with _transaction(engine, resource_type, source, wait, keys) as (conn, run):
        existing: Stored | None = None
        if canonical is not None:
            matches = find_by_canonical(conn, resource_type, *canonical)
            if len(matches) > 1:
                raise TermsvcError(f"{len(matches)} {resource_type} resources match url {canonical[0]}"
                                   + ("" if canonical[1] is None else f" version {canonical[1]}")
                                   + ": give a version that picks one", "multiple-matches", 412)
            existing = matches[0] if matches else None
            body_id = resource.get("id")
            if existing is not None and body_id and body_id != existing.resource_id:
                raise Invalid(f"The body's id {body_id!r} differs from the matching {resource_type}/"
                              f"{existing.resource_id}", expression=[f"{resource_type}.id"])
            if existing is None and body_id and find_by_id(conn, resource_type, body_id) is not None:
                raise Conflict(f"No {resource_type} matches the url and version, and the body's id {body_id!r} is "
                               f"taken by another {resource_type}")
            resource_id = existing.resource_id if existing else (body_id or str(uuid.uuid4()))
        elif resource_id is not None:
            existing = find_by_id(conn, resource_type, resource_id)
        else:
            resource_id = str(uuid.uuid4())  # create: the server assigns the id, any id in the body is ignored
        interaction = "update" if existing else "create"
        authorise(interaction)
        _check_if_match(if_match, existing)
        _check_clash(conn, resource_type, resource, existing)
        version_id = str(existing.version_id + 1 if existing else 1)
        _, last_updated = _now()
        meta = dict(resource.get("meta") or {})
        meta.update({"versionId": version_id, "lastUpdated": last_updated})
        stored = {"resourceType": resource_type, "id": resource_id, "meta": meta,
                  **{k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}}
        if existing is not None:
            _remove(conn, resource_type, existing)
        _write(conn, run, resource_type, stored)
        if resource_type == "CodeSystem" and existing is not None and existing.url != stored["url"]:
            _repick_current(conn, existing.url)
    return Written(interaction, stored, resource_id, version_id, last_updated)


def delete(engine: Engine, resource_type: str, resource_id: str, *, wait: float = 10.0) -> Stored | None:
    """Remove `{type}/{id}`; None when there was nothing to remove (delete is idempotent)."""
    with _transaction(engine, resource_type, f"API delete {resource_type}/{resource_id}", wait,
                      lock_keys(resource_type, resource_id=resource_id)) as (conn, run):
        existing = find_by_id(conn, resource_type, resource_id)
        if existing is None:
            return None
        _remove(conn, resource_type, existing)
        if run is not None:
            _repick_current(conn, existing.url)
            run.counts[f"deleted {resource_type}"] = 1
    return existing
