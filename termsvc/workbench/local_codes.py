"""Storing imported local codes. One import = one transaction: re-importing adds new codes and updates the
context and counts of known ones (replaced, or accumulated across periods); decisions are never touched."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from termsvc.workbench.projects import Project, now


@dataclass
class ImportedCode:
    """One local code as read from a source file; `count` is its frequency in that source."""

    code: str
    display: str
    units: str | None = None
    specimen: str | None = None
    category: str | None = None
    count: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    source_file: str | None = None
    warning: str | None = None  # imported, but the user should know (e.g. an empty name)


@dataclass(frozen=True)
class StoredCode:
    local_code_id: int
    code: str
    display: str
    units: str | None
    specimen: str | None
    category: str | None
    count: int
    extra: Mapping[str, str]


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    warnings: list[str] = field(default_factory=list)


def store_codes(conn: Connection, project: Project, codes: Iterable[ImportedCode], *,
                add_counts: bool = False) -> ImportSummary:
    """Counts are replaced by the source's count (a newer extract of the same period must not double them),
    or added to the known count with `add_counts` (extracts of different periods); empty context fields keep
    what an earlier import knew."""
    existing = {row[1]: int(row[0]) for row in conn.execute(
        text("SELECT local_code_id, code FROM local_code WHERE project_id = :p"), {"p": project.project_id})}
    summary = ImportSummary()
    stamp = now()
    inserts, updates = [], []
    for item in codes:
        values = {"p": project.project_id, "code": item.code, "display": item.display, "units": item.units,
                  "specimen": item.specimen, "category": item.category, "count": item.count,
                  "extra": json.dumps(item.extra, ensure_ascii=False, sort_keys=True),
                  "source": item.source_file, "at": stamp}
        if item.code in existing:
            values["id"] = existing[item.code]
            updates.append(values)
        else:
            inserts.append(values)
    if inserts:
        conn.execute(text("INSERT INTO local_code (project_id, code, display, units, specimen, category, count, "
                          "extra, source_file, updated_at) VALUES (:p, :code, :display, :units, :specimen, "
                          ":category, :count, :extra, :source, :at)"), inserts)
    if updates:
        count = "count + :count" if add_counts else ":count"
        conn.execute(text("UPDATE local_code SET display = :display, units = COALESCE(:units, units), "
                          "specimen = COALESCE(:specimen, specimen), category = COALESCE(:category, category), "
                          f"count = {count}, extra = :extra, source_file = :source, updated_at = :at "
                          "WHERE local_code_id = :id"), updates)
    summary.added, summary.updated = len(inserts), len(updates)
    return summary


_COLUMNS = "local_code_id, code, display, units, specimen, category, count, extra"


def _stored(r: Any) -> StoredCode:
    return StoredCode(int(r[0]), str(r[1]), str(r[2]), r[3], r[4], r[5], int(r[6]), json.loads(str(r[7]) or "{}"))


def all_codes(conn: Connection, project: Project) -> list[StoredCode]:
    """Most frequent first: the order of review."""
    return [_stored(r) for r in conn.execute(text(
        f"SELECT {_COLUMNS} FROM local_code WHERE project_id = :p ORDER BY count DESC, code"),
        {"p": project.project_id})]


def code_by_value(conn: Connection, project: Project, code: str) -> StoredCode | None:
    row = conn.execute(text(f"SELECT {_COLUMNS} FROM local_code WHERE project_id = :p AND code = :c"),
                       {"p": project.project_id, "c": code}).first()
    return _stored(row) if row is not None else None
