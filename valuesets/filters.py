"""`compose.include.filter` compiled to SQL conditions over one concept alias.

Hierarchy filters use the closure table (ancestor/descendant, self-rows included) and the direct edges;
property filters use concept_property; `regex` is matched in Python (see safe_regex) and bound as an id set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import Invalid, NotSupported
from termsvc.store.queries import CodeSystemRow
from termsvc.valuesets.ecl.compile import ecl_condition
from termsvc.valuesets.safe_regex import compile_safe
from termsvc.valuesets.sql import SqlBuilder

HIERARCHY_PROPERTIES = {"concept", "code"}
HIERARCHY_OPS = {"is-a", "descendent-of", "is-not-a", "child-of", "descendent-leaf", "generalizes"}
SNOMED = "http://snomed.info/sct"
# SNOMED CT filters whose value is an expression constraint (hl7.org/fhir/R4/snomedct.html#filters)
ECL_FILTERS = {("constraint", "="), ("expression", "=")}


def _codes(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _ancestor(sql: SqlBuilder, cs_id: int, code: str) -> str:
    return (f"(SELECT a.concept_id FROM concept a WHERE a.code_system_id = {sql.bind(cs_id)} "
            f"AND a.code = {sql.bind(code)})")


def _hierarchy(sql: SqlBuilder, cs: CodeSystemRow, op: str, value: str, alias: str) -> str:
    anc = _ancestor(sql, cs.code_system_id, value)
    col = f"{alias}.concept_id"
    # Correlated EXISTS rather than `IN (SELECT descendant_id ...)`: checking one code (validate-code) is then
    # one probe of the closure's (descendant, ancestor) index instead of SQLite materialising every
    # descendant (130k for a SNOMED CT top-level hierarchy, ~50 ms a request); PostgreSQL plans both as a
    # semi-join for whole expansions.
    if op in ("is-a", "is-not-a"):
        cond = f"EXISTS (SELECT 1 FROM closure k WHERE k.descendant_id = {col} AND k.ancestor_id IN {anc})"
        return cond if op == "is-a" else f"NOT ({cond})"
    if op == "descendent-of":
        return (f"EXISTS (SELECT 1 FROM closure k WHERE k.descendant_id = {col} AND k.ancestor_id IN {anc} "
                "AND k.descendant_id <> k.ancestor_id)")
    if op == "child-of":
        return f"{col} IN (SELECT e.child_id FROM concept_edge e WHERE e.parent_id IN {anc})"
    if op == "descendent-leaf":
        return (f"EXISTS (SELECT 1 FROM closure k WHERE k.descendant_id = {col} AND k.ancestor_id IN {anc} "
                f"AND k.descendant_id <> k.ancestor_id) AND NOT EXISTS (SELECT 1 FROM concept_edge e "
                f"WHERE e.parent_id = {col})")
    # generalizes: the concept and everything it is-a
    desc = anc
    return f"EXISTS (SELECT 1 FROM closure k WHERE k.ancestor_id = {col} AND k.descendant_id IN {desc})"


def _ids_matching(conn: Connection, sql_query: str, params: dict[str, Any], pattern: str) -> list[int]:
    compiled = compile_safe(pattern)
    return [int(r[0]) for r in conn.execute(text(sql_query), params) if r[1] is not None and compiled.fullmatch(r[1])]


def _regex(conn: Connection, sql: SqlBuilder, cs: CodeSystemRow, prop: str, pattern: str, alias: str) -> str:
    params = {"cs": cs.code_system_id, "prop": prop}
    if prop in HIERARCHY_PROPERTIES:
        query = "SELECT concept_id, code FROM concept WHERE code_system_id = :cs"
    elif prop == "display":
        query = "SELECT concept_id, display FROM concept WHERE code_system_id = :cs"
    else:
        query = "SELECT concept_id, value FROM concept_property WHERE code_system_id = :cs AND code = :prop"
    ids = _ids_matching(conn, query, params, pattern)
    return f"{alias}.concept_id IN ({sql.id_set(ids)})"


def _boolean_column(sql: SqlBuilder, column: str, op: str, value: str, prop: str) -> str:
    lowered = value.strip().lower()
    if op == "exists":
        return "1=1" if lowered == "true" else "1=0"
    if op != "=" or lowered not in ("true", "false"):
        raise Invalid(f"The filter {prop} {op} '{value}' is not valid: {prop} is a boolean", issue_code="invalid")
    return column if lowered == "true" else f"NOT {column}"


def _property(sql: SqlBuilder, cs: CodeSystemRow, prop: str, op: str, value: str, alias: str,
              declared_type: str | None) -> str:
    col = f"{alias}.concept_id"
    base = (f"SELECT p.concept_id FROM concept_property p WHERE p.code_system_id = {sql.bind(cs.code_system_id)} "
            f"AND p.code = {sql.bind(prop)}")
    if op == "exists":
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise Invalid(f"The value of an 'exists' filter must be true or false, not '{value}'")
        cond = f"{col} IN ({base})"
        return cond if lowered == "true" else f"NOT ({cond})"
    if op == "=":
        return f"{col} IN ({base} AND p.value = {sql.bind(value)})"
    if op in ("in", "not-in"):
        cond = f"{col} IN ({base} AND p.value IN {sql.values(_codes(value))})"
        return cond if op == "in" else f"NOT ({cond})"
    raise NotSupported(f"The filter operation '{op}' is not supported on property '{prop}'")


def filter_sql(conn: Connection, sql: SqlBuilder, cs: CodeSystemRow, flt: dict[str, Any], alias: str,
               declared: dict[str, str], where: str = "ValueSet.compose.include.filter") -> str:
    prop, op, value = flt.get("property"), flt.get("op"), flt.get("value")
    if not isinstance(prop, str) or not isinstance(op, str) or not isinstance(value, str):
        error = Invalid(f"The system {cs.url} filter with property = {prop}, op = {op} has no value",
                        expression=[where], message_id="UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE")
        error.details_code = "vs-invalid"
        raise error
    if (prop, op) in ECL_FILTERS and cs.url == SNOMED:
        return ecl_condition(conn, sql, cs.code_system_id, cs.version, value, f"{alias}.concept_id")
    refsets = _codes(value)
    if (prop, op) == ("concept", "in") and cs.url == SNOMED and refsets and all(c.isdecimal() for c in refsets):
        # SNOMED CT: the active members of the reference set(s) named (hl7.org/fhir/snomedct.html)
        members = " OR ".join(f"^ {c}" for c in refsets)
        return ecl_condition(conn, sql, cs.code_system_id, cs.version, members, f"{alias}.concept_id")
    if prop == "expressions" and op == "=" and cs.url == SNOMED:
        # whether post-coordinated expressions may be members: either way every concept the other filters select
        # stays in (an expansion cannot list expressions; it says it is not closed instead)
        if value.strip().lower() not in ("true", "false"):
            raise Invalid(f"The filter expressions = '{value}' is not valid: the value is true or false")
        return "1=1"
    if prop == "constraint":
        raise NotSupported(f"The filter constraint = (an ECL expression) applies to SNOMED CT only, not to {cs.url}")
    if op == "regex":
        return _regex(conn, sql, cs, prop, value, alias)
    if prop in HIERARCHY_PROPERTIES:
        if op in HIERARCHY_OPS:
            return _hierarchy(sql, cs, op, value, alias)
        if op == "=":
            return f"{alias}.code = {sql.bind(value)}"
        if op in ("in", "not-in"):
            cond = f"{alias}.code IN {sql.values(_codes(value))}"
            return cond if op == "in" else f"NOT ({cond})"
        raise NotSupported(f"The filter operation '{op}' is not supported on the concept hierarchy")
    if prop == "parent" and op == "=":
        return _hierarchy(sql, cs, "child-of", value, alias)
    if prop == "child" and op == "=":
        return (f"{alias}.concept_id IN (SELECT e.parent_id FROM concept_edge e WHERE e.child_id IN "
                f"{_ancestor(sql, cs.code_system_id, value)})")
    if prop == "display" and op == "=":
        return f"{alias}.display = {sql.bind(value)}"
    if prop == "inactive" and "inactive" not in declared:
        return _boolean_column(sql, f"NOT {alias}.active", op, value, prop)
    if op in HIERARCHY_OPS:
        raise NotSupported(f"The filter operation '{op}' is not supported on property '{prop}'")
    return _property(sql, cs, prop, op, value, alias, declared.get(prop))
