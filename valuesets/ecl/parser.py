"""ECL text -> AST (valuesets.ecl.ast), with Lark (LALR) over the grammar in ecl.lark. A syntax error becomes
an Invalid (HTTP 400) naming the character offset; nothing here looks at the store."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from termsvc.errors import Invalid
from termsvc.valuesets.ecl import ast as a
from termsvc.valuesets.ecl.errors import invalid_ecl

_GRAMMAR = Path(__file__).with_name("ecl.lark")


@cache
def _lark() -> Lark:
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", lexer="contextual", maybe_placeholders=False)


class _MemberMark:
    def __init__(self, fields: tuple[str, ...] | None) -> None:
        self.fields = fields


class _HistoryMark:
    def __init__(self, profile: str | None, subset: a.Expr | None) -> None:
        self.profile, self.subset = profile, subset


class _Conj:
    pass


class _NestedGroup(Exception):
    pass


def _unquote(token: str) -> str:
    body = token[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\")


def _no_tokens(items: list[Any]) -> list[Any]:
    return [i for i in items if not isinstance(i, (Token, _Conj))]


def _has_group(refinement: a.Refinement) -> bool:
    if isinstance(refinement, a.Group):
        return True
    return isinstance(refinement, a.RefinementSet) and any(_has_group(i) for i in refinement.items)


class _ToAst(Transformer[Token, a.Expr]):
    """One method per grammar rule (same names)."""

    def start(self, items: list[Any]) -> a.Expr:
        return items[0]  # type: ignore[no-any-return]

    def refined(self, items: list[Any]) -> a.Expr:
        return a.Refined(items[0], items[1])

    def conjunction(self, items: list[Any]) -> _Conj:
        return _Conj()

    def conjunction_ec(self, items: list[Any]) -> a.Expr:
        return a.Compound("AND", tuple(_no_tokens(items)))

    def disjunction_ec(self, items: list[Any]) -> a.Expr:
        return a.Compound("OR", tuple(_no_tokens(items)))

    def exclusion_ec(self, items: list[Any]) -> a.Expr:
        return a.Compound("MINUS", tuple(_no_tokens(items)))

    def dotted(self, items: list[Any]) -> a.Expr:
        return a.Dotted(items[0], tuple(items[1:]))

    def sub_expression(self, items: list[Any]) -> a.Expr:
        op = items.pop(0) if isinstance(items[0], str) else None
        member = items.pop(0) if isinstance(items[0], _MemberMark) else None
        expr: a.Expr = items.pop(0)
        history = items.pop() if items and isinstance(items[-1], _HistoryMark) else None
        member_filters = tuple(f for f in items if f.kind == "M")
        filters = tuple(f for f in items if f.kind != "M")
        if member is not None:
            expr = a.MemberOf(expr, member.fields, member_filters)
        elif member_filters:
            raise Invalid("member filters {{ M ... }} apply only to a member-of (^) constraint")
        if op is not None:
            expr = a.Hierarchy(op, expr)
        if filters:
            expr = a.Filtered(expr, filters)
        if history is not None:
            expr = a.History(expr, history.profile, history.subset)
        return expr

    def member_of(self, items: list[Any]) -> _MemberMark:
        return _MemberMark(items[0] if items else None)

    def member_fields(self, items: list[Any]) -> tuple[str, ...]:
        return tuple(str(i) for i in items) or ("*",)

    def concept_reference(self, items: list[Any]) -> a.Concept:
        term = str(items[1])[1:-1].strip() if len(items) > 1 else None
        return a.Concept(str(items[0]), term)

    def wildcard(self, items: list[Any]) -> a.Wildcard:
        return a.Wildcard()

    def alt_identifier(self, items: list[Any]) -> a.AltId:
        scheme, code = (str(i) for i in items)
        return a.AltId(_unquote(scheme) if scheme.startswith('"') else scheme,
                       _unquote(code) if code.startswith('"') else code)

    def constraint_operator(self, items: list[Any]) -> str:
        return str(items[0])

    def refinement(self, items: list[Any]) -> a.Refinement:
        return items[0]  # type: ignore[no-any-return]

    def refinement_and(self, items: list[Any]) -> a.Refinement:
        return a.RefinementSet("AND", tuple(_no_tokens(items)))

    def refinement_or(self, items: list[Any]) -> a.Refinement:
        return a.RefinementSet("OR", tuple(_no_tokens(items)))

    def group(self, items: list[Any]) -> a.Group:
        card = items[0] if isinstance(items[0], a.Cardinality) else None
        body = items[-1]
        if _has_group(body):
            raise _NestedGroup()
        return a.Group(body, card)

    def attribute(self, items: list[Any]) -> a.Attribute:
        card = items.pop(0) if isinstance(items[0], a.Cardinality) else None
        reverse = isinstance(items[0], Token) and items[0].type == "REVERSE"
        if reverse:
            items.pop(0)
        name, (op, value) = items
        return a.Attribute(name, op, value, card, reverse)

    def attribute_name(self, items: list[Any]) -> a.Expr:
        return items[0]  # type: ignore[no-any-return]

    def cardinality(self, items: list[Any]) -> a.Cardinality:
        low, high = str(items[0]), str(items[1])
        cardinality = a.Cardinality(int(low), None if high == "*" else int(high))
        if cardinality.max is not None and cardinality.max < cardinality.min:
            raise Invalid(f"cardinality [{low}..{high}]: the maximum is below the minimum")
        return cardinality

    def expression_comparison(self, items: list[Any]) -> tuple[str, a.Value]:
        return items[0], items[1]

    def numeric_comparison(self, items: list[Any]) -> tuple[str, a.Value]:
        return items[0], a.Number(str(items[-1]))

    def string_comparison(self, items: list[Any]) -> tuple[str, a.Value]:
        terms = items[1] if isinstance(items[1], tuple) else (items[1],)
        return items[0], a.Strings(terms)

    def boolean_comparison(self, items: list[Any]) -> tuple[str, a.Value]:
        return items[0], a.Boolean(str(items[1]).lower() == "true")

    def expr_op(self, items: list[Any]) -> str:
        return str(items[0])

    num_op = expr_op

    def typed_search_term(self, items: list[Any]) -> a.SearchTerm:
        kind = str(items[0]).lower()[:-1] if len(items) > 1 else "match"
        return a.SearchTerm(kind, _unquote(str(items[-1])))

    def typed_search_term_set(self, items: list[Any]) -> tuple[a.SearchTerm, ...]:
        return tuple(items)

    def _filters(self, kind: str, items: list[Any]) -> a.Filters:
        return a.Filters(kind, tuple(i for i in items if isinstance(i, a.Filter)))

    def description_filters(self, items: list[Any]) -> a.Filters:
        return self._filters("D", items)

    def concept_filters(self, items: list[Any]) -> a.Filters:
        return self._filters("C", items)

    def member_filter(self, items: list[Any]) -> a.Filters:
        return self._filters("M", items)

    def history(self, items: list[Any]) -> _HistoryMark:
        profile = next((str(i)[1:].upper() for i in items if isinstance(i, Token) and i.type == "HISTORY_PROFILE"),
                       None)
        subset = next((i for i in items if not isinstance(i, Token)), None)
        return _HistoryMark(profile, subset)

    @staticmethod
    def _filter(name: str, items: list[Any]) -> a.Filter:
        values = items[2] if isinstance(items[2], tuple) and len(items) == 3 else tuple(items[2:])
        return a.Filter(name, items[1], values)

    def term_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("term", items)

    def language_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("language", [*items[:2], *(str(w).lower() for w in _words(items[2:]))])

    def type_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("type", [*items[:2], *(str(w).lower() for w in _words(items[2:]))])

    def type_id_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("typeid", items)

    def dialect_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("dialect", items)

    def dialect_alias(self, items: list[Any]) -> a.Dialect:
        return a.Dialect(str(items[0]).lower(), items[1] if len(items) > 1 else ())

    def dialect_id_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("dialectid", items)

    def dialect_id(self, items: list[Any]) -> a.Dialect:
        return a.Dialect(items[0].code, items[1] if len(items) > 1 else ())

    def acceptability(self, items: list[Any]) -> tuple[str, ...]:
        return tuple(i.code if isinstance(i, a.Concept) else str(i).lower() for i in items)

    def id_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("id", [*items[:2], *(str(i) for i in items[2:])])

    def definition_status_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("definitionstatus", [*items[:2], *(str(w).lower() for w in _words(items[2:]))])

    def definition_status_id_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("definitionstatusid", items)

    def module_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("moduleid", items)

    def effective_time_filter(self, items: list[Any]) -> a.Filter:
        return self._filter("effectivetime", [*items[:2], *(_unquote(str(s)) for s in items[2:])])

    def active_filter(self, items: list[Any]) -> a.Filter:
        value = str(items[2]).lower()
        if value not in ("true", "false", "1", "0"):
            raise Invalid(f"active filter: '{items[2]}' is not one of true, false, 1, 0")
        return a.Filter("active", items[1], (a.Boolean(value in ("true", "1")),))

    def member_field_filter(self, items: list[Any]) -> a.Filter:
        value = items[2]
        if isinstance(value, Token):
            value = a.Boolean(str(value).lower() == "true") if value.type == "BOOLEAN" else a.Number(str(value))
        values = value if isinstance(value, tuple) else (value,)
        return a.Filter(str(items[0]), items[1], values)

    def word_set(self, items: list[Any]) -> tuple[str, ...]:
        return tuple(str(i) for i in items)

    def concept_set(self, items: list[Any]) -> tuple[a.Concept, ...]:
        return tuple(items)


def _words(items: list[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(item if isinstance(item, tuple) else [item])
    return out


def _position(exc: UnexpectedInput, text: str) -> int:
    pos = getattr(exc, "pos_in_stream", None)
    token = getattr(exc, "token", None)
    if isinstance(exc, UnexpectedEOF) or pos is None or pos < 0 or getattr(token, "type", None) == "$END":
        return len(text)
    return int(pos)


def parse(text: str) -> a.Expr:
    """Parse brief-syntax ECL; raise Invalid naming the character offset (0-based) of the first error."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        pos = _position(exc, text)
        kind = "character" if isinstance(exc, UnexpectedCharacters) else "token"
        what = f"unexpected {kind} {text[pos:pos + 12]!r}" if pos < len(text) else "the expression ends too early"
        raise invalid_ecl(text, f"syntax error at character offset {pos}: {what}") from None
    try:
        return _ToAst().transform(tree)
    except Exception as exc:  # lark wraps errors raised in transformer callbacks
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, Invalid):
            raise invalid_ecl(text, inner.message) from None
        if isinstance(inner, _NestedGroup):
            raise invalid_ecl(text, "an attribute group cannot hold another group") from None
        raise
