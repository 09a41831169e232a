"""SNOMED CT Compositional Grammar (SCG 2.x): post-coordinated expressions such as
`=== 64572001 |Disease| : 116676008 |Associated morphology| = 72704001 |Fracture|`, parsed with Lark from the
specification's ABNF and rendered back.

The grammar follows the ABNF rule for rule (expression, subExpression, definitionStatus, focusConcept,
conceptReference, refinement, attributeGroup, attributeSet, attribute, attributeValue, expressionValue,
concrete string/numeric/boolean values), with whitespace and `/* comments */` between tokens. One departure
keeps it LALR(1): a refinement is read as any sequence of attributes and groups, and "ungrouped attributes come
first" is then checked on the tree, which gives a clearer message than a parse failure would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from lark import Lark, Token, Transformer, UnexpectedEOF, UnexpectedInput, UnexpectedToken, v_args

GRAMMAR: Final = r"""
start: [STATUS] sub_expression
sub_expression: focus [":" refinement]
focus: concept_ref ("+" concept_ref)*
concept_ref: SCTID [PIPE TERM PIPE]
refinement: refinement_item (","? refinement_item)*
?refinement_item: attribute | group
group: "{" attribute ("," attribute)* "}"
attribute: concept_ref "=" value
?value: concept_ref
      | "(" sub_expression ")"
      | STRING -> string
      | "#" NUMBER -> number
      | BOOLEAN -> boolean

STATUS: "===" | "<<<"
PIPE: "|"
TERM: /[^|]+/
SCTID: /[1-9][0-9]{5,17}/
NUMBER: /[+-]?(0|[1-9][0-9]*)(\.[0-9]+)?/
STRING: /"(?:[^"\\]|\\.)*"/
BOOLEAN: "true" | "false"
COMMENT: /\/\*(.|\n)*?\*\//
%ignore /[ \t\r\n]+/
%ignore COMMENT
"""

_PARSER: Final = Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)


class ExpressionError(ValueError):
    """Not an expression: `position` is the 1-based character the problem is at."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class ConceptRef:
    id: str
    term: str | None = None


@dataclass(frozen=True)
class Concrete:
    kind: str  # string, integer, decimal, boolean
    text: str  # as written (strings without their quotes, unescaped)


@dataclass(frozen=True)
class Attribute:
    name: ConceptRef
    value: ConceptRef | SubExpression | Concrete


@dataclass(frozen=True)
class SubExpression:
    focus: tuple[ConceptRef, ...]
    ungrouped: tuple[Attribute, ...] = ()
    groups: tuple[tuple[Attribute, ...], ...] = ()


@dataclass(frozen=True)
class Expression:
    status: str | None  # "===" (equivalent to), "<<<" (subtype of) or None
    body: SubExpression


@v_args(inline=True)
class _Build(Transformer[Token, Expression]):
    def start(self, status: Token | None, body: SubExpression) -> Expression:
        return Expression(str(status) if status is not None else None, body)

    def sub_expression(self, focus: tuple[ConceptRef, ...], refinement: list[Attribute | tuple[Attribute, ...]] | None
                       ) -> SubExpression:
        items = refinement or []
        ungrouped = tuple(i for i in items if isinstance(i, Attribute))
        groups = tuple(i for i in items if isinstance(i, tuple))
        first_group = next((n for n, i in enumerate(items) if isinstance(i, tuple)), len(items))
        if any(isinstance(i, Attribute) for i in items[first_group:]):
            raise ExpressionError("ungrouped attributes must come before the attribute groups")
        return SubExpression(focus, ungrouped, groups)

    def focus(self, *refs: ConceptRef) -> tuple[ConceptRef, ...]:
        return refs

    def concept_ref(self, sctid: Token, _open: Token | None, term: Token | None, _close: Token | None
                    ) -> ConceptRef:
        return ConceptRef(str(sctid), " ".join(str(term).split()) if term is not None else None)

    def refinement(self, *items: Attribute | tuple[Attribute, ...]) -> list[Attribute | tuple[Attribute, ...]]:
        return list(items)

    def group(self, *attributes: Attribute) -> tuple[Attribute, ...]:
        return attributes

    def attribute(self, name: ConceptRef, value: ConceptRef | SubExpression | Concrete) -> Attribute:
        return Attribute(name, value)

    def string(self, token: Token) -> Concrete:
        body = str(token)[1:-1]
        return Concrete("string", body.replace('\\"', '"').replace("\\\\", "\\"))

    def number(self, token: Token) -> Concrete:
        return Concrete("decimal" if "." in token else "integer", str(token))

    def boolean(self, token: Token) -> Concrete:
        return Concrete("boolean", str(token))


def is_expression(code: str) -> bool:
    """Whether a SNOMED CT code is more than one concept id (so an expression, or nothing valid)."""
    return not code.isdecimal()


def parse(text: str) -> Expression:
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        at_end = isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END")
        position = len(text) + 1 if at_end or exc.pos_in_stream is None else exc.pos_in_stream + 1
        found = text[position - 1] if position and position <= len(text) else None
        near = f'next char = "{found}", in "{text}"' if found else f'at the end of "{text}"'
        raise ExpressionError(f"Concept not found ({near}) at character {position}"
                              if found and not found.isdecimal() else f"Syntax error ({near}) at character {position}",
                              position) from None
    try:
        return _Build().transform(tree)
    except Exception as exc:  # lark wraps errors raised in callbacks (VisitError)
        cause = getattr(exc, "orig_exc", exc)
        if isinstance(cause, ExpressionError):
            raise cause from None
        raise


def concepts(node: Expression | SubExpression) -> list[ConceptRef]:
    """Every concept reference in the expression, in the order written."""
    body = node.body if isinstance(node, Expression) else node
    out: list[ConceptRef] = list(body.focus)
    for attribute in (*body.ungrouped, *(a for g in body.groups for a in g)):
        out.append(attribute.name)
        if isinstance(attribute.value, ConceptRef):
            out.append(attribute.value)
        elif isinstance(attribute.value, SubExpression):
            out.extend(concepts(attribute.value))
    return out


def attributes(node: Expression | SubExpression) -> list[Attribute]:
    """Every attribute, nested ones included, in the order written."""
    body = node.body if isinstance(node, Expression) else node
    out: list[Attribute] = []
    for attribute in (*body.ungrouped, *(a for g in body.groups for a in g)):
        out.append(attribute)
        if isinstance(attribute.value, SubExpression):
            out.extend(attributes(attribute.value))
    return out


def _ref(ref: ConceptRef, terms: dict[str, str] | None) -> str:
    term = terms.get(ref.id) if terms is not None else ref.term
    return f"{ref.id}|{term}|" if term else ref.id


def _value(value: ConceptRef | SubExpression | Concrete, terms: dict[str, str] | None) -> str:
    if isinstance(value, ConceptRef):
        return _ref(value, terms)
    if isinstance(value, SubExpression):
        return f"({_sub(value, terms)})"
    if value.kind == "string":
        return '"' + value.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value.kind == "boolean":
        return value.text
    return f"#{value.text}"


def _attribute(attribute: Attribute, terms: dict[str, str] | None) -> str:
    return f"{_ref(attribute.name, terms)}={_value(attribute.value, terms)}"


def _sub(body: SubExpression, terms: dict[str, str] | None) -> str:
    text = "+".join(_ref(f, terms) for f in body.focus)
    items = [_attribute(a, terms) for a in body.ungrouped]
    items += ["{" + ",".join(_attribute(a, terms) for a in g) + "}" for g in body.groups]
    return f"{text}:{','.join(items)}" if items else text


def render(expression: Expression, terms: dict[str, str] | None = None) -> str:
    """The expression written compactly; with `terms`, each concept carries its term from there (the
    preferred terms of the edition), otherwise the terms it was written with."""
    return (expression.status or "") + _sub(expression.body, terms)
