"""Supplements a value set requires (the valueset-supplement extension) or a request asks for
(`useSupplement`): each must be stored, or the operation cannot be done as asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import NotFound
from termsvc.store.versions import version_key

SUPPLEMENT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/valueset-supplement"


def required_supplements(value_set: dict[str, Any], requested: list[str]) -> list[str]:
    wanted = [str(e.get("valueCanonical")) for e in value_set.get("extension", []) or []
              if isinstance(e, dict) and e.get("url") == SUPPLEMENT_EXTENSION and e.get("valueCanonical")]
    return wanted + [r for r in requested if r not in wanted]


def resolve_supplements(conn: Connection, canonicals: list[str]) -> list[str]:
    """`url|version` of each supplement; a missing one is an error naming it."""
    found: list[str] = []
    for canonical in canonicals:
        url, _, version = canonical.partition("|")
        rows = conn.execute(text("SELECT version FROM code_system WHERE url = :url"), {"url": url}).all()
        versions = [r[0] or "" for r in rows if not version or r[0] == version]
        if not versions:
            error = NotFound(f"Required supplement not found: {canonical}", issue_code="not-found",
                             message_id="VALUESET_SUPPLEMENT_MISSING")
            error.details_code = "not-found"
            raise error
        best = max(versions, key=version_key)
        found.append(f"{url}|{best}" if best else url)
    return found


def supplement_system_ids(conn: Connection, canonicals: list[str]) -> list[int]:
    """code_system ids of the supplements (`url|version`, as resolve_supplements gives them)."""
    out: list[int] = []
    for canonical in canonicals:
        url, _, version = canonical.partition("|")
        row = conn.execute(text("SELECT code_system_id FROM code_system WHERE url = :url AND version = :version"),
                           {"url": url, "version": version}).first()
        if row is not None:
            out.append(int(row[0]))
    return out


def supplement_concepts(conn: Connection, supplements: list[int],
                        concepts: list[tuple[int, str, str]]) -> dict[int, list[int]]:
    """base concept id -> the concept ids of the same code in the supplements of its code system
    (`concepts` are (concept id, code system url, code))."""
    if not supplements or not concepts:
        return {}
    out: dict[int, list[int]] = {}
    for supplement in supplements:
        target = conn.execute(text("SELECT supplements FROM code_system WHERE code_system_id = :id"),
                              {"id": supplement}).scalar()
        url = str(target or "").partition("|")[0]
        bases: dict[str, list[int]] = {}
        for concept_id, system, code in concepts:
            if system == url:
                bases.setdefault(code, []).append(concept_id)
        if not bases:
            continue
        rows = conn.execute(text("SELECT concept_id, code FROM concept WHERE code_system_id = :id"),
                            {"id": supplement}).all()
        for added, code in rows:
            for base in bases.get(code, []):
                out.setdefault(base, []).append(int(added))
    return out
