"""Read queries over the store: plain SQL returning tuples and dicts, no ORM objects.

Why plain SQL: these run on every $lookup / $validate-code request, where building models per row would
cost more than the indexed queries themselves. Every function takes the caller's Connection, so the same
queries see code systems written inside a transaction that is later rolled back (inline resources)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from termsvc.store.cache import GenerationCache, cached

CODE_SYSTEM_COLUMNS = ("code_system_id, url, version, resource_id, name, title, status, content, "
                       "case_sensitive, is_current, concept_count, resource_json")


@dataclass(frozen=True)
class CodeSystemRow:
    code_system_id: int
    url: str
    version: str
    resource_id: str | None
    name: str | None
    title: str | None
    status: str
    content: str
    case_sensitive: bool | None
    is_current: bool
    concept_count: int
    resource_json: str


@dataclass(frozen=True)
class ConceptRow:
    concept_id: int
    code: str
    display: str | None
    definition: str | None
    active: bool
    abstract: bool
    status: str | None


@dataclass(frozen=True)
class DesignationRow:
    language: str | None
    use_system: str | None
    use_code: str | None
    use_display: str | None
    value: str
    preferred: bool | None


@dataclass(frozen=True)
class PropertyRow:
    code: str
    type: str
    value: str
    value_system: str | None
    value_display: str | None


def _code_system(row: Any) -> CodeSystemRow:
    return CodeSystemRow(int(row[0]), row[1], row[2] or "", row[3], row[4], row[5], row[6] or "active",
                         row[7] or "complete", None if row[8] is None else bool(row[8]), bool(row[9]),
                         int(row[10] or 0), row[11])


_VERSIONS = text(f"SELECT {CODE_SYSTEM_COLUMNS} FROM code_system WHERE url = :url "
                 "ORDER BY is_current DESC, code_system_id DESC")
# code system metadata by url, for reads of committed data (termsvc.store.cache); rows are immutable
_VERSIONS_CACHE: GenerationCache[tuple[CodeSystemRow, ...]] = GenerationCache("code system versions", 4096)


def code_system_versions(conn: Connection, url: str) -> list[CodeSystemRow]:
    """Every stored version of `url`, current first."""
    rows = cached(_VERSIONS_CACHE, conn, url,
                  lambda: tuple(_code_system(r) for r in conn.execute(_VERSIONS, {"url": url})))
    return list(rows)


def all_code_systems(conn: Connection) -> list[CodeSystemRow]:
    rows = conn.execute(text(f"SELECT {CODE_SYSTEM_COLUMNS} FROM code_system ORDER BY url, version")).all()
    return [_code_system(r) for r in rows]


def code_system_by_id(conn: Connection, code_system_id: int) -> CodeSystemRow | None:
    row = conn.execute(text(f"SELECT {CODE_SYSTEM_COLUMNS} FROM code_system WHERE code_system_id = :id"),
                       {"id": code_system_id}).first()
    return _code_system(row) if row is not None else None


def _canonical_where(filters: dict[str, str], key: str | None = None, keys: list[int] | None = None
                     ) -> tuple[str, dict[str, Any]]:
    """FHIR search over canonical resources: `url`, `version`, `status` exact; `name`, `title`
    case-insensitive starts-with; `keys` (the rows `_id` named, resolved by the caller) by primary key."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for column in ("url", "version", "status"):
        if column in filters:
            clauses.append(f"{column} = :{column}")
            params[column] = filters[column]
    for column in ("name", "title"):
        if column in filters:
            clauses.append(f"LOWER({column}) LIKE :{column} ESCAPE '\\'")
            params[column] = _like_prefix(filters[column].lower())
    if keys is not None:
        binds = [f":k{n}" for n in range(len(keys))]
        clauses.append(f"{key} IN ({', '.join(binds)})" if keys else "1 = 0")
        params.update({f"k{n}": value for n, value in enumerate(keys)})
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


SORT_COLUMNS = ("url", "version", "name", "title", "status")


def _order_by(sort: list[tuple[str, bool]], key: str) -> str:
    """`_sort` as ORDER BY (columns from SORT_COLUMNS only), NULLs last on both engines, then url, version and
    the key so that pages never overlap."""
    terms = []
    for column, descending in sort:
        if column not in SORT_COLUMNS:
            raise ValueError(f"cannot sort by {column!r}")
        terms.append(f"CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column}{' DESC' if descending else ''}")
    return " ORDER BY " + ", ".join([*terms, "url", "version", key])


def search_code_systems(conn: Connection, filters: dict[str, str], *, offset: int, count: int,
                        keys: list[int] | None = None, sort: list[tuple[str, bool]] | None = None,
                        with_total: bool = True) -> tuple[int | None, list[CodeSystemRow]]:
    """(total, one page) of code system versions matching the filters (see `_canonical_where`); no total
    (and no COUNT query) unless `with_total`."""
    where, params = _canonical_where(filters, "code_system_id", keys)
    total = (int(conn.execute(text(f"SELECT COUNT(*) FROM code_system{where}"), params).scalar_one())
             if with_total else None)
    if count <= 0:
        return total, []
    rows = conn.execute(text(f"SELECT {CODE_SYSTEM_COLUMNS} FROM code_system{where}"
                             f"{_order_by(sort or [], 'code_system_id')} LIMIT :limit OFFSET :offset"),
                        {**params, "limit": count, "offset": offset}).all()
    return total, [_code_system(r) for r in rows]


def search_stored_resources(conn: Connection, table: str, key: str, filters: dict[str, str], *, offset: int,
                            count: int, keys: list[int] | None = None, sort: list[tuple[str, bool]] | None = None,
                            with_total: bool = True) -> tuple[int | None, list[Any]]:
    """(total, page of (key, resource_id, resource_json)) of value_set or concept_map rows matching the filters."""
    where, params = _canonical_where(filters, key, keys)
    total = (int(conn.execute(text(f"SELECT COUNT(*) FROM {table}{where}"), params).scalar_one())
             if with_total else None)
    if count <= 0:
        return total, []
    rows = conn.execute(text(f"SELECT {key}, resource_id, resource_json FROM {table}{where}"
                             f"{_order_by(sort or [], key)} LIMIT :limit OFFSET :offset"),
                        {**params, "limit": count, "offset": offset}).all()
    return total, list(rows)


# how a read picks the row an id names, when several versions share it (as the routers' reads do)
_READ_ORDER = {"value_set": "value_set_id DESC", "concept_map": "is_current DESC, concept_map_id DESC"}


def keys_for_ids(conn: Connection, table: str, key: str, ids: list[str]) -> list[int]:
    """The rows `_id` names: for each id, the row a read of that id answers with (the resource's own id, or
    the row's key when it has none, which is how search entries are named)."""
    found: list[int] = []
    for resource_id in ids:
        row = conn.execute(text(f"SELECT {key} FROM {table} WHERE resource_id = :id ORDER BY {_READ_ORDER[table]}"),
                           {"id": resource_id}).first()
        if row is None and resource_id.isascii() and resource_id.isdecimal() and len(resource_id) < 18:
            row = conn.execute(text(f"SELECT {key} FROM {table} WHERE {key} = :k AND resource_id IS NULL"),
                               {"k": int(resource_id)}).first()
        if row is not None:
            found.append(int(row[0]))
    return found


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_CONCEPT = "SELECT concept_id, code, display, definition, active, abstract, status FROM concept "


def _concept(row: Any) -> ConceptRow:
    return ConceptRow(int(row[0]), row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6])


_FIND_CONCEPT = text(_CONCEPT + "WHERE code_system_id = :cs AND code = :code")


def find_concept(conn: Connection, code_system_id: int, code: str) -> ConceptRow | None:
    """Exact (case-sensitive) match: one probe of the (code_system_id, code) unique index."""
    row = conn.execute(_FIND_CONCEPT, {"cs": code_system_id, "code": code}).first()
    return _concept(row) if row is not None else None


def find_concept_ignoring_case(conn: Connection, code_system_id: int, code: str) -> ConceptRow | None:
    """For code systems that declare caseSensitive=false, after the exact probe missed. Scans the one
    code system (no index on lower(code)); only reached for codes sent in the wrong case."""
    row = conn.execute(text(_CONCEPT + "WHERE code_system_id = :cs AND LOWER(code) = :code "
                                       "ORDER BY concept_id LIMIT 1"),
                       {"cs": code_system_id, "code": code.lower()}).first()
    return _concept(row) if row is not None else None


def concepts_of(conn: Connection, code_system_id: int) -> list[ConceptRow]:
    rows = conn.execute(text(_CONCEPT + "WHERE code_system_id = :cs ORDER BY concept_id"),
                        {"cs": code_system_id}).all()
    return [_concept(r) for r in rows]


_DESIGNATIONS = text("SELECT language, use_system, use_code, use_display, value, preferred "
                     "FROM designation WHERE concept_id = :id ORDER BY designation_id")


def designations(conn: Connection, concept_id: int) -> list[DesignationRow]:
    rows = conn.execute(_DESIGNATIONS, {"id": concept_id}).all()
    return [DesignationRow(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else bool(r[5])) for r in rows]


def inactive_designations(conn: Connection, concept_id: int) -> list[str]:
    """The terms that are no longer displays of the concept (inactive SNOMED CT descriptions)."""
    rows = conn.execute(text("SELECT value FROM inactive_designation WHERE concept_id = :id"),
                        {"id": concept_id}).all()
    return [r[0] for r in rows]


def designations_of_system(conn: Connection, code_system_id: int) -> dict[int, list[DesignationRow]]:
    rows = conn.execute(text("SELECT d.concept_id, d.language, d.use_system, d.use_code, d.use_display, "
                             "d.value, d.preferred FROM designation d JOIN concept c ON c.concept_id = "
                             "d.concept_id WHERE c.code_system_id = :cs ORDER BY d.designation_id"),
                        {"cs": code_system_id}).all()
    out: dict[int, list[DesignationRow]] = {}
    for r in rows:
        out.setdefault(int(r[0]), []).append(
            DesignationRow(r[1], r[2], r[3], r[4], r[5], None if r[6] is None else bool(r[6])))
    return out


def properties(conn: Connection, concept_id: int) -> list[PropertyRow]:
    rows = conn.execute(text("SELECT code, type, value, value_system, value_display FROM concept_property "
                             "WHERE concept_id = :id ORDER BY concept_property_id"), {"id": concept_id}).all()
    return [PropertyRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def properties_of_system(conn: Connection, code_system_id: int) -> dict[int, list[PropertyRow]]:
    rows = conn.execute(text("SELECT concept_id, code, type, value, value_system, value_display "
                             "FROM concept_property WHERE code_system_id = :cs ORDER BY concept_property_id"),
                        {"cs": code_system_id}).all()
    out: dict[int, list[PropertyRow]] = {}
    for r in rows:
        out.setdefault(int(r[0]), []).append(PropertyRow(r[1], r[2], r[3], r[4], r[5]))
    return out


def declared_properties(conn: Connection, code_system_id: int) -> dict[str, str]:
    """code -> type of the properties the code system declares."""
    rows = conn.execute(text("SELECT code, type FROM code_system_property WHERE code_system_id = :cs"),
                        {"cs": code_system_id}).all()
    return {r[0]: r[1] for r in rows}


def parents(conn: Connection, concept_id: int) -> list[tuple[str, str | None]]:
    """(code, display) of the direct parents."""
    rows = conn.execute(text("SELECT c.code, c.display FROM concept_edge e JOIN concept c ON c.concept_id = "
                             "e.parent_id WHERE e.child_id = :id ORDER BY c.code"), {"id": concept_id}).all()
    return [(r[0], r[1]) for r in rows]


def children(conn: Connection, concept_id: int) -> list[tuple[str, str | None]]:
    """(code, display) of the direct children (primary key of concept_edge leads with parent_id)."""
    rows = conn.execute(text("SELECT c.code, c.display FROM concept_edge e JOIN concept c ON c.concept_id = "
                             "e.child_id WHERE e.parent_id = :id ORDER BY c.code"), {"id": concept_id}).all()
    return [(r[0], r[1]) for r in rows]


def edges_of_system(conn: Connection, code_system_id: int) -> list[tuple[int, int]]:
    """(parent_id, child_id) of every direct is-a link of one version."""
    rows = conn.execute(text("SELECT parent_id, child_id FROM concept_edge WHERE code_system_id = :cs"),
                        {"cs": code_system_id}).all()
    return [(int(r[0]), int(r[1])) for r in rows]


# Hot-path statements are built once: text() parses its bind parameters on every construction.
_VERSIONS_WITH_CONCEPT = text(
    "SELECT " + ", ".join(f"s.{c.strip()}" for c in CODE_SYSTEM_COLUMNS.split(",")) + ", c.concept_id, c.code, "
    "c.display, c.definition, c.active, c.abstract, c.status "
    "FROM code_system s LEFT JOIN concept c ON c.code_system_id = s.code_system_id AND c.code = :code "
    "WHERE s.url = :url ORDER BY s.is_current DESC, s.code_system_id DESC")


def code_system_versions_with_concept(conn: Connection, url: str, code: str
                                      ) -> list[tuple[CodeSystemRow, ConceptRow | None]]:
    """Every version of `url` (current first), each with its concept for `code` if it has one: the code
    system and the concept in one round trip, for the hot paths."""
    rows = conn.execute(_VERSIONS_WITH_CONCEPT, {"url": url, "code": code}).all()
    return [(_code_system(r[:12]), _concept(r[12:]) if r[12] is not None else None) for r in rows]


@dataclass(frozen=True)
class ConceptDetails:
    designations: list[DesignationRow]
    properties: list[PropertyRow]
    parents: list[tuple[str, str | None]]
    children: list[tuple[str, str | None]]


_DETAILS = text(
    "SELECT 0 AS k, designation_id AS n, language, use_system, use_code, use_display, value, "
    "CAST(preferred AS VARCHAR) FROM designation WHERE concept_id = :id "
    "UNION ALL SELECT 1, concept_property_id, code, type, value, value_system, value_display, NULL "
    "FROM concept_property WHERE concept_id = :id "
    "UNION ALL SELECT 2, 0, c.code, c.display, NULL, NULL, NULL, NULL FROM concept_edge e "
    "JOIN concept c ON c.concept_id = e.parent_id WHERE e.child_id = :id "
    "UNION ALL SELECT 3, 0, c.code, c.display, NULL, NULL, NULL, NULL FROM concept_edge e "
    "JOIN concept c ON c.concept_id = e.child_id WHERE e.parent_id = :id "
    "ORDER BY 1, 2, 3")


def concept_details(conn: Connection, concept_id: int) -> ConceptDetails:
    """Designations, properties, parents and children of one concept in one round trip (UNION ALL of the
    four indexed lookups; every column as text so both engines accept the union)."""
    rows = conn.execute(_DETAILS, {"id": concept_id}).all()
    details = ConceptDetails([], [], [], [])
    for r in rows:
        kind = int(r[0])
        if kind == 0:
            preferred = None if r[7] is None else str(r[7]).lower() in ("true", "1", "t")
            details.designations.append(DesignationRow(r[2], r[3], r[4], r[5], r[6], preferred))
        elif kind == 1:
            details.properties.append(PropertyRow(r[2], r[3], r[4], r[5], r[6]))
        elif kind == 2:
            details.parents.append((r[2], r[3]))
        else:
            details.children.append((r[2], r[3]))
    return details
