"""Running a compiled value set: the total, one page of concepts in a stable order, and what each entry of
`expansion.contains` shows (display by language, designations, flags)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from termsvc.store import queries as q
from termsvc.valuesets.compose import Compiled
from termsvc.valuesets.sql import SqlBuilder

COLUMNS = "c.concept_id, c.code_system_id, c.code, c.display, c.definition, c.active, c.abstract, c.status"


@dataclass(frozen=True)
class Row:
    concept_id: int
    code_system_id: int
    code: str
    display: str | None
    definition: str | None
    active: bool
    abstract: bool
    status: str | None


@dataclass
class Query:
    compiled: Compiled
    active_only: bool = False
    text_filter: str | None = None
    # code_system_id -> place in the order, for code systems used in several versions (lowest first)
    rank: dict[int, int] | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        params = dict(self.compiled.params)
        where = self.compiled.condition
        if self.active_only:
            where += " AND c.active"
        if self.text_filter:
            for index, word in enumerate(self.text_filter.lower().split()):
                start, inner = f"tf{index}", f"tfi{index}"
                params[start] = _like(word) + "%"
                params[inner] = "% " + _like(word) + "%"
                where += (f" AND (LOWER(c.display) LIKE :{start} ESCAPE '\\' OR LOWER(c.display) LIKE :{inner} "
                          f"ESCAPE '\\' OR LOWER(c.code) LIKE :{start} ESCAPE '\\' OR EXISTS (SELECT 1 FROM "
                          f"designation d WHERE d.concept_id = c.concept_id AND (LOWER(d.value) LIKE :{start} "
                          f"ESCAPE '\\' OR LOWER(d.value) LIKE :{inner} ESCAPE '\\')))")
        return where, params

    def total(self, conn: Connection) -> int:
        where, params = self.where()
        return int(conn.execute(text(f"SELECT COUNT(*) FROM concept c WHERE {where}"), params).scalar_one())

    def page(self, conn: Connection, offset: int, count: int | None) -> list[Row]:
        where, params = self.where()
        order = "c.concept_id"
        if self.text_filter:
            # relevance: the display equal to the text, then starting with it, then shorter displays
            params["tfx"] = self.text_filter.lower()
            params["tfs"] = _like(self.text_filter.lower()) + "%"
            order = ("CASE WHEN LOWER(c.display) = :tfx THEN 0 WHEN LOWER(c.display) LIKE :tfs ESCAPE '\\' "
                     "THEN 1 ELSE 2 END, LENGTH(c.display), c.concept_id")
        if self.rank and not self.text_filter:
            cases = " ".join(f"WHEN {int(cs_id)} THEN {int(place)}" for cs_id, place in self.rank.items())
            order = f"CASE c.code_system_id {cases} ELSE {len(self.rank)} END, {order}"
        sql = f"SELECT {COLUMNS} FROM concept c WHERE {where} ORDER BY {order}"
        if count is not None:
            sql += " LIMIT :lim"
            params["lim"] = count
        if offset:
            if count is None:
                sql += " LIMIT -1" if conn.dialect.name == "sqlite" else ""
            sql += " OFFSET :off"
            params["off"] = offset
        return [Row(int(r[0]), int(r[1]), r[2], r[3], r[4], bool(r[5]), bool(r[6]), r[7])
                for r in conn.execute(text(sql), params)]


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _in_ids(conn: Connection, column: str, ids: list[int]) -> tuple[str, dict[str, Any]]:
    """`column IN (the ids)`, the ids bound as one parameter: an expansion of thousands of codes is not
    thousands of bound parameters (each costs SQLAlchemy and the driver more than the rows it finds)."""
    sql = SqlBuilder(conn.dialect.name)
    return f"{column} IN ({sql.id_set(ids)})", sql.params


def designations_for(conn: Connection, ids: list[int]) -> dict[int, list[q.DesignationRow]]:
    if not ids:
        return {}
    out: dict[int, list[q.DesignationRow]] = {}
    where, params = _in_ids(conn, "concept_id", ids)
    rows = conn.execute(text("SELECT concept_id, language, use_system, use_code, use_display, value, preferred "
                             f"FROM designation WHERE {where} ORDER BY designation_id"), params).all()
    for r in rows:
        out.setdefault(int(r[0]), []).append(
            q.DesignationRow(r[1], r[2], r[3], r[4], r[5], None if r[6] is None else bool(r[6])))
    return out


def properties_for(conn: Connection, ids: list[int], names: list[str]) -> dict[int, list[q.PropertyRow]]:
    if not ids or not names:
        return {}
    out: dict[int, list[q.PropertyRow]] = {}
    where, params = _in_ids(conn, "concept_id", ids)
    pbinds = ", ".join(f":n{n}" for n in range(len(names)))
    params.update({f"n{n}": v for n, v in enumerate(names)})
    rows = conn.execute(text("SELECT concept_id, code, type, value, value_system, value_display FROM "
                             f"concept_property WHERE {where} AND code IN ({pbinds}) "
                             "ORDER BY concept_property_id"), params).all()
    for r in rows:
        out.setdefault(int(r[0]), []).append(q.PropertyRow(r[1], r[2], r[3], r[4], r[5]))
    return out


def parent_edges(conn: Connection, ids: list[int]) -> list[tuple[int, int]]:
    """(parent_id, child_id) of the direct is-a links into the given concepts."""
    if not ids:
        return []
    where, params = _in_ids(conn, "child_id", ids)
    rows = conn.execute(text(f"SELECT parent_id, child_id FROM concept_edge WHERE {where} "
                             "ORDER BY child_id, parent_id"), params).all()
    return [(int(r[0]), int(r[1])) for r in rows]
