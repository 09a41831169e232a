"""ECL filters and value comparisons as SQL: description filters {{ D }} over `designation`, concept filters
{{ C }} over the concept's properties, member filters {{ M }} over the refset property row, and the helpers the
expression compiler shares (negation, code sets, search terms). What the store does not keep is refused as not
supported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from termsvc.errors import Invalid, NotSupported
from termsvc.store.engine import UNICODE_LOWER
from termsvc.valuesets.ecl import ast as a
from termsvc.valuesets.sql import SqlBuilder

Pred = Callable[[str], str]
REFSET = "refset"  # the property naming a simple or map refset a concept is in
FSN, SYNONYM, DEFINITION = "900000000000003001", "900000000000013009", "900000000000550004"
TYPE_TOKENS = {"fsn": FSN, "syn": SYNONYM, "def": DEFINITION}
PREFERRED, ACCEPTABLE = "900000000000548007", "900000000000549004"
ACCEPTABILITY = {"prefer": True, PREFERRED: True, "accept": False, ACCEPTABLE: False}
PRIMITIVE, DEFINED = "900000000000074008", "900000000000073002"
DEFINITION_STATUS = {"primitive": "false", PRIMITIVE: "false", "defined": "true", DEFINED: "true"}
# language refsets whose designations the loader tags with a dialect (snomed_rf2.KNOWN_DIALECTS)
DIALECT_REFSETS = {"900000000000509007": "en-us", "900000000000508004": "en-gb"}


class FilterSql:
    sql: SqlBuilder
    cs: str  # the bound code system id

    def expr(self, node: a.Expr, col: str) -> str:
        raise NotImplementedError

    def _member_filter(self, flt: a.Filter, p: str, col: str) -> str:
        name = flt.name.lower()
        if name == "active":
            if all(isinstance(v, a.Boolean) and v.value for v in flt.values) and flt.op == "=":
                return "1=1"
            raise NotSupported("ECL member filter active = false is not supported: inactive reference set members "
                               "are not kept")
        if name == "referencedcomponentid":
            return self._negate(flt.op, self._any_of(flt.values, col))
        if name in ("targetcomponentid", "valueid"):
            return f"{p}.code <> '{REFSET}' AND " + self._negate(flt.op, self._code_in(f"{p}.value", flt.values))
        raise NotSupported(f"ECL member filter on field '{flt.name}' is not supported: only referencedComponentId, "
                           "targetComponentId, valueId and active = true are kept for reference set members")

    def _negate(self, op: str, cond: str) -> str:
        if op == "=":
            return cond
        if op == "!=":
            return f"NOT ({cond})"
        raise Invalid(f"the operator {op} cannot compare concepts")

    def _any_of(self, values: tuple[Any, ...], col: str) -> str:
        return "(" + " OR ".join(self.expr(v, col) for v in values) + ")"

    def _code_in(self, code_col: str, values: tuple[Any, ...]) -> str:
        """The text column holds the code of a concept matching one of the values."""
        direct = [v.code for v in values if isinstance(v, a.Concept)]
        other = [v for v in values if not isinstance(v, a.Concept)]
        parts = [f"{code_col} IN {self.sql.values(direct)}"] if direct else []
        if other:
            v = self.sql.alias("v")
            parts.append(f"EXISTS (SELECT 1 FROM concept {v} WHERE {v}.code_system_id = {self.cs} AND {v}.code = "
                         f"{code_col} AND {self._any_of(tuple(other), f'{v}.concept_id')})")
        return "(" + " OR ".join(parts) + ")"

    def _like(self, column: str, pattern: str) -> str:
        """Case-insensitive LIKE: SQLite's LIKE already folds case (ASCII, as its LOWER does); on PostgreSQL
        LOWER() LIKE, which scans a third faster than ILIKE."""
        if self.sql.dialect == "postgresql":
            return f"LOWER({column}) LIKE {self.sql.bind(pattern.lower())} ESCAPE '\\'"
        if not pattern.isascii():  # beyond ASCII, SQLite's LIKE does not fold case: fold both sides in Python
            return f"{UNICODE_LOWER}({column}) LIKE {self.sql.bind(pattern.lower())} ESCAPE '\\'"
        return f"{column} LIKE {self.sql.bind(pattern)} ESCAPE '\\'"

    def _string_match(self, column: str, term: a.SearchTerm, *, exact: bool = False) -> str:
        if term.kind == "wild":
            return self._like(column, _like(term.text).replace("*", "%"))
        if exact:
            return f"{column} = {self.sql.bind(term.text)}"
        words = term.text.split()
        if not words:
            raise Invalid("an empty search term")
        # each word starts a word of the term: one LIKE on the term with a space in front
        spaced = f"(' ' || {column})"
        return "(" + " AND ".join(self._like(spaced, "% " + _like(word) + "%") for word in words) + ")"

    def _description_filter(self, flt: a.Filter, d: str) -> str:
        name, values = flt.name, flt.values
        if name == "term":
            match = " OR ".join(self._string_match(f"{d}.value", t) for t in values if isinstance(t, a.SearchTerm))
            return self._negate(flt.op, f"({match})")
        if name == "language":
            langs = [str(v) for v in values]
            cond = " OR ".join(f"(LOWER({d}.language) = {self.sql.bind(x)} OR LOWER({d}.language) LIKE "
                               f"{self.sql.bind(_like(x) + '-%')} ESCAPE '\\')" for x in langs)
            return self._negate(flt.op, f"({cond})")
        if name == "type":
            unknown = [str(v) for v in values if str(v) not in TYPE_TOKENS]
            if unknown:
                raise Invalid(f"ECL description type {unknown[0]!r} is not one of fsn, syn, def")
            return self._negate(flt.op, f"{d}.use_code IN {self.sql.values([TYPE_TOKENS[str(v)] for v in values])}")
        if name == "typeid":
            return self._negate(flt.op, self._code_in(f"{d}.use_code", values))
        if name in ("dialect", "dialectid"):
            return self._negate(flt.op, "(" + " OR ".join(self._dialect(v, d, name) for v in values
                                                          if isinstance(v, a.Dialect)) + ")")
        if name == "active":
            if flt.op == "=" and all(isinstance(v, a.Boolean) and v.value for v in values):
                return "1=1"
            raise NotSupported("ECL description filter active = false is not supported: inactive descriptions are "
                               "not kept")
        raise NotSupported(f"ECL description filter '{name}' is not supported: descriptions are kept without their "
                           "identifier, module and effective time")

    def _dialect(self, dialect: a.Dialect, d: str, name: str) -> str:
        tag = DIALECT_REFSETS.get(dialect.dialect) if name == "dialectid" else dialect.dialect.lower()
        if tag is None:
            raise NotSupported(f"ECL dialectId {dialect.dialect} is not supported: only the en-US "
                               "(900000000000509007) and en-GB (900000000000508004) language refsets are kept by id; "
                               "use dialect = <alias>")
        cond = f"LOWER({d}.language) = {self.sql.bind(tag)} AND {d}.preferred IS NOT NULL"
        wanted = {ACCEPTABILITY.get(x) for x in dialect.acceptability}
        if None in wanted:
            raise Invalid(f"ECL acceptability {dialect.acceptability} is not prefer/accept or "
                          f"{PREFERRED}/{ACCEPTABLE}")
        if len(wanted) == 1:
            cond += f" AND {d}.preferred = {self.sql.bind(wanted.pop())}"
        return f"({cond})"

    def _property_is(self, col: str, code: str, value_cond: Pred) -> str:
        p = self.sql.alias("p")
        return (f"EXISTS (SELECT 1 FROM concept_property {p} WHERE {p}.concept_id = {col} AND {p}.code = '{code}' "
                f"AND {value_cond(f'{p}.value')})")

    def _concept_filter(self, flt: a.Filter, col: str) -> str:
        name, values = flt.name, flt.values
        if name in ("definitionstatus", "definitionstatusid"):
            keys = [v.code if isinstance(v, a.Concept) else str(v) for v in values]
            if any(k not in DEFINITION_STATUS for k in keys):
                raise Invalid(f"ECL definition status {keys} is not primitive/defined or {PRIMITIVE}/{DEFINED}")
            wanted = self.sql.values(sorted({DEFINITION_STATUS[k] for k in keys}))
            return self._negate(flt.op, self._property_is(col, "sufficientlyDefined", lambda v: f"{v} IN {wanted}"))
        if name == "moduleid":
            return self._negate(flt.op, self._property_is(col, "moduleId", lambda v: self._code_in(v, values)))
        if name == "effectivetime":
            dates = [f"{v[:4]}-{v[4:6]}-{v[6:]}" for v in map(str, values) if len(v) == 8 and v.isdecimal()]
            if len(dates) != len(values):
                raise Invalid("ECL effectiveTime values are dates written \"YYYYMMDD\"")
            if len(dates) > 1:
                listed = self.sql.values(dates)
                return self._negate(flt.op, self._property_is(col, "effectiveTime", lambda v: f"{v} IN {listed}"))
            sql_op, date = "<>" if flt.op == "!=" else flt.op, self.sql.bind(dates[0])
            return self._property_is(col, "effectiveTime", lambda v: f"{v} {sql_op} {date}")
        if name == "active":
            x = self.sql.alias("x")
            state = values[0].value if isinstance(values[0], a.Boolean) else True
            is_active = state if flt.op == "=" else not state
            return f"EXISTS (SELECT 1 FROM concept {x} WHERE {x}.concept_id = {col} AND {x}.active = {self.sql.bind(is_active)})"
        raise NotSupported(f"ECL concept filter '{name}' is not supported")


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
