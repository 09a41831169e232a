"""An ECL AST compiled into one SQL condition on a concept-id column, over the closure (is-a, self rows
included), concept_edge (direct is-a), concept_property (relationships and concrete values with their
role_group; refset membership; historical associations) and designation (descriptions) tables.

Every construct is a correlated predicate, so checking one code (ValueSet/$validate-code) is a handful of
index probes; for expansions the top level is led by a set where one is at hand (see drive.py), and the whole
is one statement the engine plans set-wise (PostgreSQL turns the EXISTS into semi-joins). Conventions, where the specification leaves room or the store keeps less than RF2:
- relationship group 0 is "ungrouped", not a group: `{ }` matches numbered groups only (as Snowstorm does);
- cardinality counts matching relationships (or groups);
- a concrete string value compares exactly (`=`, `!=`) or with `wild:`; numbers compare numerically;
- `*` is every active concept of the edition (inactive ones only with a concept filter on `active`);
- what the store does not keep (inactive descriptions and refset members, description modules and times,
  alternate identifiers, refset field selection) is refused as not supported, never answered empty."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import Invalid, NotSupported
from termsvc.valuesets.ecl import ast as a
from termsvc.valuesets.ecl.drive import driving
from termsvc.valuesets.ecl.errors import invalid_ecl
from termsvc.valuesets.ecl.filter_sql import REFSET, FilterSql, Pred
from termsvc.valuesets.ecl.parser import parse
from termsvc.valuesets.sql import SqlBuilder

# history supplement profiles (ECL 2.1, 6.11): the historical association refsets each one follows
SAME_AS, REPLACED_BY, WAS_A, PARTIALLY_EQUIVALENT = ("900000000000527005", "900000000000526001",
                                                     "900000000000528000", "1186924009")
HISTORY_MIN = (SAME_AS,)
HISTORY_MOD = (SAME_AS, REPLACED_BY, WAS_A, PARTIALLY_EQUIVALENT)
HISTORY_MAX = (*HISTORY_MOD, "900000000000523009", "900000000000524003", "900000000000525002",
               "900000000000529008", "900000000000530003", "900000000000531004", "1186921001")
HISTORY = {"MIN": HISTORY_MIN, "MOD": HISTORY_MOD, "MAX": HISTORY_MAX, None: HISTORY_MAX}
COMPARE = {"=", "!=", "<", "<=", ">", ">="}


def concept_codes(node: Any) -> set[str]:
    """Every concept id written in the expression."""
    if isinstance(node, a.Concept):
        return {node.code}
    found: set[str] = set()
    if is_dataclass(node):
        for f in fields(node):
            found |= concept_codes(getattr(node, f.name))
    elif isinstance(node, tuple):
        for item in node:
            found |= concept_codes(item)
    return found


class EclCompiler(FilterSql):
    def __init__(self, conn: Connection, sql: SqlBuilder, code_system_id: int, version: str) -> None:
        self.sql, self.version, self.conn = sql, version, conn
        self.cs, self.code_system_id = sql.bind(code_system_id), code_system_id
        self.code_system_id = code_system_id
        self.ids: dict[str, int] = {}
        self.real = "DOUBLE PRECISION" if sql.dialect == "postgresql" else "REAL"

    # -- entry point

    def condition(self, expr: a.Expr, column: str) -> str:
        codes = sorted(concept_codes(expr))
        if codes:
            rows = self.conn.execute(text(f"SELECT code, concept_id FROM concept WHERE code_system_id = :cs AND "
                                          f"code IN ({', '.join(f':c{i}' for i in range(len(codes)))})"),
                                     {"cs": self.code_system_id, **{f"c{i}": c for i, c in enumerate(codes)}})
            self.ids = {r[0]: int(r[1]) for r in rows}
        return self.expr(expr, column) if self.sql.membership else driving(self, expr, column)

    # -- expressions

    def expr(self, node: a.Expr, col: str) -> str:
        method: Callable[[Any, str], str] = getattr(self, f"_{type(node).__name__.lower()}")
        return method(node, col)

    def pred(self, node: a.Expr) -> Pred:
        return lambda col: self.expr(node, col)

    def concept_id(self, code: str) -> int:
        found = self.ids.get(code)
        if found is None:
            raise Invalid(f"Unknown SNOMED CT concept id {code}: it is not in {self.version}")
        return found

    def _concept(self, node: a.Concept, col: str) -> str:
        return f"{col} = {self.sql.bind(self.concept_id(node.code))}"

    def _wildcard(self, node: a.Wildcard, col: str) -> str:
        # every active concept of the edition (every column compiled here holds a concept of it), as Snowstorm and
        # tx.fhir.org answer `*`; `* {{ C active = false }}` reaches the inactive ones (see _filtered)
        x = self.sql.alias("x")
        return f"EXISTS (SELECT 1 FROM concept {x} WHERE {x}.concept_id = {col} AND {x}.active)"

    def _altid(self, node: a.AltId, col: str) -> str:
        raise NotSupported(f"ECL alternate identifiers ({node.scheme}#{node.code}) are not supported: the store "
                           "keeps no alternate identifier schemes for SNOMED CT")

    def _compound(self, node: a.Compound, col: str) -> str:
        parts = [self.expr(i, col) for i in node.items]
        if node.op == "MINUS":
            return f"({parts[0]} AND NOT ({parts[1]}))"
        return "(" + f" {node.op} ".join(parts) + ")"

    def _hierarchy(self, node: a.Hierarchy, col: str) -> str:
        inner, op = self.pred(node.operand), node.op
        k = self.sql.alias("k")
        if op in ("<", "<<"):
            proper = f" AND {k}.ancestor_id <> {k}.descendant_id" if op == "<" else ""
            return (f"EXISTS (SELECT 1 FROM closure {k} WHERE {k}.descendant_id = {col}{proper} AND "
                    f"{inner(f'{k}.ancestor_id')})")
        if op in (">", ">>"):
            proper = f" AND {k}.ancestor_id <> {k}.descendant_id" if op == ">" else ""
            return (f"EXISTS (SELECT 1 FROM closure {k} WHERE {k}.ancestor_id = {col}{proper} AND "
                    f"{inner(f'{k}.descendant_id')})")
        if op in ("<!", "<<!"):
            child = f"EXISTS (SELECT 1 FROM concept_edge {k} WHERE {k}.child_id = {col} AND {inner(f'{k}.parent_id')})"
            return child if op == "<!" else f"({inner(col)} OR {child})"
        if op in (">!", ">>!"):
            parent = f"EXISTS (SELECT 1 FROM concept_edge {k} WHERE {k}.parent_id = {col} AND {inner(f'{k}.child_id')})"
            return parent if op == ">!" else f"({inner(col)} OR {parent})"
        # top (!!>) / bottom (!!<) of the set: members with no proper ancestor / descendant in it
        mine, other = ("descendant_id", "ancestor_id") if op == "!!>" else ("ancestor_id", "descendant_id")
        return (f"({inner(col)} AND NOT EXISTS (SELECT 1 FROM closure {k} WHERE {k}.{mine} = {col} AND "
                f"{k}.{other} <> {col} AND {inner(f'{k}.{other}')}))")

    def _memberof(self, node: a.MemberOf, col: str) -> str:
        if node.fields:
            raise NotSupported("ECL member field selection (^ [fields] refset) is not supported: an expansion "
                               "lists concepts, not reference set fields")
        p = self.sql.alias("p")
        filters = " AND ".join(self._member_filter(f, p, col) for block in node.filters for f in block.items)
        extra = f" AND {filters}" if filters else ""
        refset = node.operand
        if isinstance(refset, a.Concept):
            code = self.sql.bind(refset.code)
            self.concept_id(refset.code)
            which = f"(({p}.code = '{REFSET}' AND {p}.value = {code}) OR ({p}.code = {code} AND {p}.role_group IS NULL))"
            return f"EXISTS (SELECT 1 FROM concept_property {p} WHERE {p}.concept_id = {col} AND {which}{extra})"
        r = self.sql.alias("r")
        return (f"EXISTS (SELECT 1 FROM concept_property {p} JOIN concept {r} ON {r}.code_system_id = "
                f"{p}.code_system_id AND {r}.code = CASE WHEN {p}.code = '{REFSET}' THEN {p}.value ELSE {p}.code END "
                f"WHERE {p}.concept_id = {col} AND ({p}.code = '{REFSET}' OR {p}.role_group IS NULL) AND "
                f"{self.expr(refset, f'{r}.concept_id')}{extra})")

    def _filtered(self, node: a.Filtered, col: str) -> str:
        states = isinstance(node.operand, a.Wildcard) and any(
            f.name == "active" for block in node.filters if block.kind == "C" for f in block.items)
        return self.filtered(node, col, "1=1" if states else self.expr(node.operand, col))

    def filtered(self, node: a.Filtered, col: str, operand: str) -> str:
        """The operand's condition (given) and the filters'."""
        parts = [operand]
        for block in node.filters:
            if block.kind == "D":
                d = self.sql.alias("d")
                conds = " AND ".join(self._description_filter(f, d) for f in block.items)
                parts.append(f"EXISTS (SELECT 1 FROM designation {d} WHERE {d}.concept_id = {col} AND {conds})")
            else:
                parts.extend(self._concept_filter(f, col) for f in block.items)
        return "(" + " AND ".join(parts) + ")"

    def _history(self, node: a.History, col: str) -> str:
        h, v = self.sql.alias("h"), self.sql.alias("v")
        if node.subset is not None:
            s = self.sql.alias("s")
            which = (f"{h}.code IN (SELECT {s}.code FROM concept {s} WHERE {s}.code_system_id = {self.cs} AND "
                     f"{self.expr(node.subset, f'{s}.concept_id')})")
        else:
            which = f"{h}.code IN {self.sql.values(list(HISTORY[node.profile]))}"
        return (f"({self.expr(node.operand, col)} OR EXISTS (SELECT 1 FROM concept_property {h} WHERE "
                f"{h}.concept_id = {col} AND {h}.role_group IS NULL AND {which} AND EXISTS (SELECT 1 FROM concept {v} "
                f"WHERE {v}.code_system_id = {self.cs} AND {v}.code = {h}.value AND "
                f"{self.expr(node.operand, f'{v}.concept_id')})))")

    def _refined(self, node: a.Refined, col: str) -> str:
        return f"({self.expr(node.focus, col)} AND {self.refinement(node.refinement, col, None)})"

    def _dotted(self, node: a.Dotted, col: str) -> str:
        *before, last = node.attributes
        source: a.Expr = a.Dotted(node.focus, tuple(before)) if before else node.focus
        p = self.sql.alias("p")
        return (f"EXISTS (SELECT 1 FROM concept_property {p} WHERE {p}.code_system_id = {self.cs} AND "
                f"{p}.role_group IS NOT NULL AND {p}.type = 'code' AND {p}.value = {self._code_of(col)} AND "
                f"{self._name(last, f'{p}.code')} AND {self.expr(source, f'{p}.concept_id')})")

    def _code_of(self, col: str) -> str:
        x = self.sql.alias("x")
        return f"(SELECT {x}.code FROM concept {x} WHERE {x}.concept_id = {col})"

    # -- refinements

    def refinement(self, node: a.Refinement, col: str, group: str | None) -> str:
        if isinstance(node, a.RefinementSet):
            return "(" + f" {node.op} ".join(self.refinement(i, col, group) for i in node.items) + ")"
        if isinstance(node, a.Group):
            return self._group(node, col)
        return self._attribute(node, col, group)

    def _counted(self, card: a.Cardinality | None, rows: str, count: str) -> str:
        low, high = (1, None) if card is None else (card.min, card.max)
        if high == 0:
            return f"NOT EXISTS (SELECT 1 {rows})"
        if low == 0 and high is None:
            return "1=1"
        if low == 1 and high is None:
            return f"EXISTS (SELECT 1 {rows})"
        upper = "" if high is None else f" AND (SELECT {count} {rows}) <= {int(high)}"
        return f"((SELECT {count} {rows}) >= {int(low)}{upper})"

    def _group(self, node: a.Group, col: str) -> str:
        q = self.sql.alias("q")
        key = f"{q}.role_group"
        body = self.refinement(node.body, col, key)
        rows = f"FROM concept_property {q} WHERE {q}.concept_id = {col} AND {q}.role_group > 0 AND {body}"
        return self._counted(node.cardinality, rows, f"COUNT(DISTINCT {key})")

    def _attribute(self, node: a.Attribute, col: str, group: str | None) -> str:
        p = self.sql.alias("p")
        in_group = f" AND {p}.role_group = {group}" if group else ""
        if node.reverse:
            if not isinstance(node.value, (a.Concept, a.Wildcard, a.Hierarchy, a.MemberOf, a.Filtered, a.History,
                                           a.Compound, a.Refined, a.Dotted)) or node.op != "=":
                raise Invalid("a reverse attribute (R) needs '=' and an expression constraint value")
            rows = (f"FROM concept_property {p} WHERE {p}.code_system_id = {self.cs} AND {p}.role_group IS NOT NULL "
                    f"AND {p}.type = 'code' AND {p}.value = {self._code_of(col)} AND {self._name(node.name, f'{p}.code')}"
                    f" AND {self.expr(node.value, f'{p}.concept_id')}{in_group}")
        else:
            rows = (f"FROM concept_property {p} WHERE {p}.concept_id = {col} AND {p}.role_group IS NOT NULL AND "
                    f"{self._name(node.name, f'{p}.code')} AND {self._value(node.op, node.value, p)}{in_group}")
        return self._counted(node.cardinality, rows, "COUNT(*)")

    def _name(self, name: a.Expr, code_col: str) -> str:
        if isinstance(name, a.Wildcard):
            return "1=1"
        if isinstance(name, a.Concept):
            self.concept_id(name.code)  # an attribute that is not in the edition is an error, not an empty answer
            self._check_grouped(name.code)
        return self._code_in(code_col, (name,))

    def _check_grouped(self, attribute: str) -> None:
        """Relationships loaded before migration 0006 have no role_group, and refinements (which read only
        relationship rows) would find none of them: say so rather than answer empty."""
        row = self.conn.execute(text("SELECT role_group FROM concept_property WHERE code_system_id = :cs AND code = "
                                     ":a LIMIT 1"), {"cs": self.code_system_id, "a": attribute}).first()
        if row is not None and row[0] is None:
            raise NotSupported(f"SNOMED CT {self.version} was loaded before relationship groups were kept: its "
                               f"{attribute} relationships cannot be told from other properties; load it again "
                               "(termsvc load snomed ... --replace) to evaluate ECL refinements")

    def _value(self, op: str, value: a.Value, p: str) -> str:
        if op not in COMPARE:
            raise Invalid(f"unknown comparison {op}")
        if isinstance(value, a.Number):
            number = self.sql.bind(float(value.text))
            sql_op = "<>" if op == "!=" else op
            return (f"{p}.type IN ('integer', 'decimal') AND CASE WHEN {p}.type IN ('integer', 'decimal') THEN "
                    f"CAST({p}.value AS {self.real}) END {sql_op} {number}")
        if op not in ("=", "!="):
            raise Invalid(f"the operator {op} compares numbers only (#value)")
        if isinstance(value, a.Boolean):
            return f"{p}.type = 'boolean' AND {p}.value {'=' if op == '=' else '<>'} '{str(value.value).lower()}'"
        if isinstance(value, a.Strings):
            match = " OR ".join(self._string_match(f"{p}.value", t, exact=True) for t in value.terms)
            return f"{p}.type = 'string' AND " + (f"({match})" if op == "=" else f"NOT ({match})")
        if isinstance(value, a.Wildcard):
            return f"{p}.type = 'code'" if op == "=" else "1=0"
        if isinstance(value, a.Concept):
            self.concept_id(value.code)  # likewise a value concept
        return f"{p}.type = 'code' AND " + self._negate(op, self._code_in(f"{p}.value", (value,)))

    # -- filters

def ecl_condition(conn: Connection, sql: SqlBuilder, code_system_id: int, version: str, ecl: str,
                  column: str) -> str:
    """The SQL condition on `column` (a concept id) that holds exactly for the concepts the ECL selects."""
    tree = parse(ecl)
    try:
        return EclCompiler(conn, sql, code_system_id, version).condition(tree, column)
    except NotSupported as exc:
        exc.message = f"The ECL expression '{ecl}' cannot be evaluated: {exc.message}"
        raise
    except Invalid as exc:
        raise invalid_ecl(ecl, exc.message) from None
