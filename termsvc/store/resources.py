"""Storing and removing whole terminology resources: code system versions, ValueSets, ConceptMaps.
Used by the loaders and by the API's writes alike, inside the caller's transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import Conflict, Invalid
from termsvc.store import tables as t
from termsvc.store.bulk import BulkWriter

ELEMENT_COLUMNS = ("concept_map_id", "group_index", "source_system", "source_version", "source_code",
                   "source_display", "target_system", "target_version", "target_code", "target_display",
                   "equivalence", "comment", "depends_on", "product")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def delete_code_system_version(conn: Connection, code_system_id: int) -> None:
    params = {"cs": code_system_id}
    concept_ids = "SELECT concept_id FROM concept WHERE code_system_id = :cs"
    conn.execute(text("DELETE FROM closure WHERE code_system_id = :cs"), params)
    conn.execute(text("DELETE FROM concept_edge WHERE code_system_id = :cs"), params)
    conn.execute(text("DELETE FROM designation_word WHERE code_system_id = :cs"), params)
    conn.execute(text(f"DELETE FROM designation WHERE concept_id IN ({concept_ids})"), params)
    conn.execute(text(f"DELETE FROM inactive_designation WHERE concept_id IN ({concept_ids})"), params)
    conn.execute(text("DELETE FROM concept_property WHERE code_system_id = :cs"), params)
    conn.execute(text("DELETE FROM code_system_property WHERE code_system_id = :cs"), params)
    conn.execute(text("DELETE FROM concept WHERE code_system_id = :cs"), params)
    conn.execute(text("DELETE FROM code_system WHERE code_system_id = :cs"), params)


def _upsert_target(conn: Connection, table: str, key: str, resource: dict[str, Any], replace: bool) -> int | None:
    """Delete the stored row with the same url+version when replacing; refuse otherwise."""
    url = resource.get("url")
    if not url:
        raise Invalid(f"{resource.get('resourceType', 'resource')} has no url", expression=["url"])
    version = str(resource.get("version") or "")
    existing = conn.execute(text(f"SELECT {key} FROM {table} WHERE url = :url AND version = :version"),
                            {"url": url, "version": version}).scalar()
    if existing is not None and not replace:
        raise Conflict(f"{url}|{version} already exists")
    return int(existing) if existing is not None else None


def store_value_set(conn: Connection, resource: dict[str, Any], *, load_id: int | None = None,
                    replace: bool = False) -> int:
    existing = _upsert_target(conn, "value_set", "value_set_id", resource, replace)
    if existing is not None:
        conn.execute(text("DELETE FROM value_set WHERE value_set_id = :id"), {"id": existing})
    row = {"url": resource["url"], "version": str(resource.get("version") or ""),
           "resource_id": resource.get("id"), "name": resource.get("name"), "title": resource.get("title"),
           "status": resource.get("status", "active"), "resource_json": json.dumps(resource, ensure_ascii=False),
           "load_id": load_id, "updated_at": _now()}
    return int(conn.execute(text(
        "INSERT INTO value_set (url, version, resource_id, name, title, status, resource_json, is_current, "
        "load_id, updated_at) VALUES (:url, :version, :resource_id, :name, :title, :status, :resource_json, "
        "true, :load_id, :updated_at) RETURNING value_set_id"), row).scalar_one())


VALUE_SET_COLUMNS = ("url", "version", "resource_id", "name", "title", "status", "resource_json", "is_current",
                     "load_id", "updated_at")


def store_value_sets(conn: Connection, resources: list[dict[str, Any]], *, load_id: int | None = None,
                     replace: bool = False) -> int:
    """Many ValueSets at once (a release's thousands of answer lists): one query finds the url+versions
    already stored, one batched insert writes them all, instead of two round trips each."""
    keys: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources:
        if not resource.get("url"):
            raise Invalid("ValueSet has no url", expression=["url"])
        keys[(resource["url"], str(resource.get("version") or ""))] = resource
    versions = {version for _, version in keys}
    clashes: list[int] = []
    for version in versions:
        for value_set_id, url in conn.execute(text("SELECT value_set_id, url FROM value_set WHERE version = :v"),
                                              {"v": version}).all():
            if (url, version) in keys:
                if not replace:
                    raise Conflict(f"{url}|{version} already exists")
                clashes.append(int(value_set_id))
    for start in range(0, len(clashes), 500):
        conn.execute(text("DELETE FROM value_set WHERE value_set_id IN (" +
                          ", ".join(str(i) for i in clashes[start:start + 500]) + ")"))
    now = _now()
    rows = [(url, version, r.get("id"), r.get("name"), r.get("title"), r.get("status", "active"),
             json.dumps(r, ensure_ascii=False), True, load_id, now) for (url, version), r in keys.items()]
    BulkWriter(conn).write(t.ValueSetResource.__table__, VALUE_SET_COLUMNS, rows)  # type: ignore[attr-defined]
    return len(rows)


def delete_concept_map(conn: Connection, concept_map_id: int) -> None:
    conn.execute(text("DELETE FROM concept_map_element WHERE concept_map_id = :id"), {"id": concept_map_id})
    conn.execute(text("DELETE FROM concept_map WHERE concept_map_id = :id"), {"id": concept_map_id})


def _scope(resource: dict[str, Any], prefix: str) -> str | None:
    for suffix in ("Uri", "Canonical", ""):
        value = resource.get(prefix + suffix)
        if isinstance(value, str):
            return value
    return None


def concept_map_rows(concept_map_id: int, resource: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Flatten an R4 ConceptMap's groups into element rows, one per source->target pair."""
    rows: list[tuple[Any, ...]] = []
    for group_index, group in enumerate(resource.get("group", []) or []):
        source_system, source_version = group.get("source"), group.get("sourceVersion")
        target_system, target_version = group.get("target"), group.get("targetVersion")
        for element in group.get("element", []) or []:
            targets = element.get("target") or [None]
            for target in targets:
                target = target or {}
                rows.append((
                    concept_map_id, group_index, source_system, source_version, element.get("code"),
                    element.get("display"), target_system, target_version, target.get("code"),
                    target.get("display"), target.get("equivalence") or ("unmatched" if not target else "equivalent"),
                    target.get("comment"),
                    json.dumps(target["dependsOn"]) if target.get("dependsOn") else None,
                    json.dumps(target["product"]) if target.get("product") else None,
                ))
    return rows


def store_concept_map(conn: Connection, resource: dict[str, Any], *, load_id: int | None = None,
                      replace: bool = False) -> int:
    existing = _upsert_target(conn, "concept_map", "concept_map_id", resource, replace)
    if existing is not None:
        delete_concept_map(conn, existing)
    row = {"url": resource["url"], "version": str(resource.get("version") or ""),
           "resource_id": resource.get("id"), "name": resource.get("name"), "title": resource.get("title"),
           "status": resource.get("status", "active"), "source_scope": _scope(resource, "source"),
           "target_scope": _scope(resource, "target"),
           "resource_json": json.dumps(resource, ensure_ascii=False), "load_id": load_id, "updated_at": _now()}
    concept_map_id = int(conn.execute(text(
        "INSERT INTO concept_map (url, version, resource_id, name, title, status, source_scope, target_scope, "
        "resource_json, is_current, load_id, updated_at) VALUES (:url, :version, :resource_id, :name, :title, "
        ":status, :source_scope, :target_scope, :resource_json, true, :load_id, :updated_at) "
        "RETURNING concept_map_id"), row).scalar_one())
    BulkWriter(conn).write(t.ConceptMapElement.__table__, ELEMENT_COLUMNS,  # type: ignore[attr-defined]
                           concept_map_rows(concept_map_id, resource))
    return concept_map_id
