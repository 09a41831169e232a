"""Whether a post-coordinated SNOMED CT expression (compositional grammar) belongs to an ECL set or to a value set
compose of SNOMED CT filters, without listing the set.

The expression is read with the ECL parser (compositional grammar's focus concepts and refinements are ECL's
concept references and refinements; `===`/`<<<` prefixes are dropped and `+`-joined focus concepts split) and
treated as a concept of its own: a proper descendant of its focus concepts, with their relationships plus its
own attributes (its groups numbered apart from theirs). Against that virtual concept each ECL construct asks the
store only about the focus concepts and attribute values, one indexed query each. As tx.fhir.org answers:
an expression is in `<<`/`<` of a set its focus concepts are in `<<` of, never a child, parent, ancestor or
reference set member, and matches a refinement when its own and inherited attributes do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import Invalid, NotSupported
from termsvc.valuesets.compose import Compiled
from termsvc.valuesets.ecl import ast as a
from termsvc.valuesets.ecl.compile import EclCompiler
from termsvc.valuesets.ecl.parser import parse
from termsvc.valuesets.sql import SqlBuilder

SNOMED = "http://snomed.info/sct"
_OWN_GROUPS = 1_000_000  # the expression's own groups are numbered from here, apart from inherited ones
_PREFIX = re.compile(r"^\s*(===|<<<)\s*")


@dataclass(frozen=True)
class Attribute:
    group: int
    type: str
    value: str  # a concept id, or a concrete value: #number or the string itself
    concrete: str | None = None  # integer/decimal/string for concrete values


@dataclass(frozen=True)
class Expression:
    foci: tuple[str, ...]
    attributes: tuple[Attribute, ...]


def is_expression(code: str) -> bool:
    """A code that is not a bare SCTID: a post-coordinated expression (or something malformed)."""
    return not code.strip().isdecimal()


def _value(value: a.Value) -> tuple[str, str | None]:
    if isinstance(value, a.Concept):
        return value.code, None
    if isinstance(value, a.Refined) and isinstance(value.focus, a.Concept):
        return value.focus.code, None  # a nested expression as value: its focus concept
    if isinstance(value, a.Number):
        return value.text, "decimal" if "." in value.text else "integer"
    if isinstance(value, a.Strings) and len(value.terms) == 1:
        return value.terms[0].text, "string"
    raise Invalid(f"The expression has an attribute value that is not a concept or concrete value: {value}")


def _attributes(refinement: a.Refinement, group: int, counter: list[int]) -> list[Attribute]:
    if isinstance(refinement, a.Attribute):
        if not isinstance(refinement.name, a.Concept) or refinement.op != "=" or refinement.reverse:
            raise Invalid("An expression's attributes are written 'attribute = value'")
        code, concrete = _value(refinement.value)
        return [Attribute(group, refinement.name.code, code, concrete)]
    if isinstance(refinement, a.Group):
        counter[0] += 1
        return _attributes(refinement.body, _OWN_GROUPS + counter[0], counter)
    if refinement.op != "AND":
        raise Invalid("An expression's refinement lists attributes and groups separated by commas")
    return [x for item in refinement.items for x in _attributes(item, group, counter)]


def parse_expression(code: str) -> Expression:
    body = re.sub(r"\|[^|]*\|", "", _PREFIX.sub("", code))  # terms are not evaluated and may hold : or +
    head, colon, rest = body.partition(":")
    foci = tuple(f.strip() for f in head.split("+"))
    if not all(f.isdecimal() for f in foci):
        raise Invalid(f"The expression '{code}' does not start with focus concept ids")
    if not colon:
        return Expression(foci, ())
    tree = parse(f"{foci[0]} :{rest}")
    if not isinstance(tree, a.Refined):
        raise Invalid(f"The expression '{code}' is not a focus concept with a refinement")
    return Expression(foci, tuple(_attributes(tree.refinement, 0, [0])))


class ExpressionMatcher:
    def __init__(self, conn: Connection, code_system_id: int, version: str, expression: Expression) -> None:
        self.conn, self.cs, self.version, self.expression = conn, code_system_id, version, expression
        self._inherited: tuple[Attribute, ...] | None = None

    # -- the store, asked about concrete concepts

    def member(self, code: str, node: a.Expr) -> bool:
        """Is the concept `code` in the ECL set `node`? One indexed query (the same SQL as $validate-code)."""
        if isinstance(node, a.Wildcard):
            return True
        sql = SqlBuilder(self.conn.dialect.name)
        condition = EclCompiler(self.conn, sql, self.cs, self.version).condition(node, "c.concept_id")
        row = self.conn.execute(text(f"SELECT 1 FROM concept c WHERE c.code_system_id = :ecs AND c.code = :ecode "
                                     f"AND {condition}"), {**sql.params, "ecs": self.cs, "ecode": code}).first()
        return row is not None

    def attributes(self) -> tuple[Attribute, ...]:
        if self._inherited is None:
            foci = self.expression.foci
            binds = ", ".join(f":f{i}" for i in range(len(foci)))
            rows = self.conn.execute(text(
                "SELECT p.role_group, p.code, p.value, p.type FROM concept_property p JOIN concept c ON c.concept_id = "
                f"p.concept_id WHERE c.code_system_id = :cs AND c.code IN ({binds}) AND p.role_group IS NOT NULL"),
                {"cs": self.cs, **{f"f{i}": f for i, f in enumerate(foci)}}).all()
            inherited = tuple(Attribute(int(r[0]), r[1], r[2], None if r[3] == "code" else r[3]) for r in rows)
            self._inherited = inherited + self.expression.attributes
        return self._inherited

    # -- the expression as a concept

    def matches(self, node: a.Expr) -> bool:
        if isinstance(node, a.Wildcard):
            return True
        if isinstance(node, a.Compound):
            results = [self.matches(i) for i in node.items]
            if node.op == "AND":
                return all(results)
            if node.op == "OR":
                return any(results)
            return results[0] and not results[1]
        if isinstance(node, a.Hierarchy):
            return self._hierarchy(node)
        if isinstance(node, a.History):
            return self.matches(node.operand)
        if isinstance(node, a.Refined):
            return self.matches(node.focus) and self.refine(node.refinement, None)
        if isinstance(node, a.AltId):
            raise NotSupported("ECL alternate identifiers are not supported")
        # a concept id, a reference set's members, description/concept filters, dotted attribute values: an
        # expression is none of these
        return False

    def _hierarchy(self, node: a.Hierarchy) -> bool:
        foci = self.expression.foci
        if node.op in ("<", "<<"):
            return any(self.member(f, a.Hierarchy("<<", node.operand)) for f in foci)
        if node.op == "!!<":
            return self.matches(node.operand)
        if node.op == "!!>":
            return self.matches(node.operand) and not any(self.member(f, a.Hierarchy("<<", node.operand)) for f in foci)
        return False

    def refine(self, node: a.Refinement, group: int | None) -> bool:
        if isinstance(node, a.RefinementSet):
            results = (self.refine(i, group) for i in node.items)
            return all(results) if node.op == "AND" else any(results)
        if isinstance(node, a.Group):
            groups = sorted({x.group for x in self.attributes() if x.group > 0})
            count = sum(1 for g in groups if self.refine(node.body, g))
            return _within(node.cardinality, count)
        if node.reverse:
            return _within(node.cardinality, 0)
        scope = [x for x in self.attributes() if group is None or x.group == group]
        count = sum(1 for x in scope if self._name(x, node.name) and self._value(x, node.op, node.value))
        return _within(node.cardinality, count)

    def _name(self, attribute: Attribute, name: a.Expr) -> bool:
        if isinstance(name, a.Concept):
            return attribute.type == name.code
        return self.member(attribute.type, name)

    def _value(self, attribute: Attribute, op: str, value: a.Value) -> bool:
        if isinstance(value, a.Number):
            if attribute.concrete not in ("integer", "decimal"):
                return False
            try:
                mine, wanted = Decimal(attribute.value), Decimal(value.text)
            except InvalidOperation:
                return False
            return {"=": mine == wanted, "!=": mine != wanted, "<": mine < wanted, "<=": mine <= wanted,
                    ">": mine > wanted, ">=": mine >= wanted}[op]
        if isinstance(value, a.Strings):
            if attribute.concrete != "string":
                return False
            found = any(t.text == attribute.value for t in value.terms if t.kind == "match") or any(
                re.fullmatch(re.escape(t.text.lower()).replace(r"\*", ".*"), attribute.value.lower())
                for t in value.terms if t.kind == "wild")
            return found if op == "=" else not found
        if isinstance(value, a.Boolean):
            return attribute.concrete == "boolean" and (attribute.value == str(value.value).lower()) == (op == "=")
        if attribute.concrete is not None:
            return False
        inside = self.member(attribute.value, value)
        return inside if op == "=" else not inside


def _within(card: a.Cardinality | None, count: int) -> bool:
    low, high = (1, None) if card is None else (card.min, card.max)
    return count >= low and (high is None or count <= high)


def expression_in_ecl(conn: Connection, code_system_id: int, version: str, ecl: str, code: str) -> bool:
    return ExpressionMatcher(conn, code_system_id, version, parse_expression(code)).matches(parse(ecl))


def _same_expression(listed: str, code: str) -> bool:
    def bare(x: str) -> str:
        return re.sub(r"\s+", "", re.sub(r"\|[^|]*\|", "", x))
    return bare(listed) == bare(code)


def _in_include(matcher: ExpressionMatcher, include: dict[str, Any], code: str) -> bool:
    listed = [c.get("code") for c in include.get("concept", []) or [] if isinstance(c, dict)]
    if listed:
        return any(isinstance(x, str) and _same_expression(x, code) for x in listed)
    for flt in include.get("filter", []) or []:
        prop, op, value = flt.get("property"), flt.get("op"), str(flt.get("value", ""))
        if (prop, op) in (("constraint", "="), ("expression", "=")):
            ok = matcher.matches(parse(value))
        elif prop == "concept" and op in ("is-a", "descendent-of"):
            ok = matcher.matches(a.Hierarchy("<<" if op == "is-a" else "<", a.Concept(value.strip())))
        elif prop == "expressions" and op == "=":
            ok = value.strip().lower() == "true"
        else:
            ok = False
        if not ok:
            return False
    return True


def expression_member(conn: Connection, compiled: Compiled, version: str | None, code: str) -> bool:
    """Membership of an expression in the compiled value set (the top one of `compiled.used_value_sets`), in the
    SNOMED CT version it uses (the coding's version when it names one)."""
    systems = [cs for cs in compiled.used_systems.values() if cs.url == SNOMED and (not version or cs.version == version)]
    if not systems or not compiled.used_value_sets:
        return False
    try:
        return expression_in_compose(conn, compiled.used_value_sets[0], systems[0].code_system_id,
                                     systems[0].version, code)
    except Invalid:
        return False  # a malformed expression is in no value set; validating the code itself says what is wrong


def expression_in_compose(conn: Connection, value_set: dict[str, Any], code_system_id: int, version: str,
                          code: str) -> bool:
    """Is the expression in the value set's SNOMED CT includes (and not its excludes)? Imported value sets
    (include.valueSet) hold no expressions here."""
    matcher = ExpressionMatcher(conn, code_system_id, version, parse_expression(code))
    compose = value_set.get("compose") or {}

    def selects(part: dict[str, Any]) -> bool:
        return part.get("system") == SNOMED and not part.get("valueSet") and _in_include(matcher, part, code)
    return any(selects(i) for i in compose.get("include", []) or []) and not any(
        selects(e) for e in compose.get("exclude", []) or [])
