"""The ECL abstract syntax: frozen dataclasses, so trees compare by value (the parser round-trip tests rely on
it). Terms (`|...|`) are kept for printing but never evaluated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True)
class Concept:
    code: str
    term: str | None = None


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class AltId:
    scheme: str
    code: str


@dataclass(frozen=True)
class Hierarchy:
    """A constraint operator: `<`, `<<`, `<!`, `<<!`, `>`, `>>`, `>!`, `>>!`, `!!>` (top), `!!<` (bottom)."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class MemberOf:
    operand: Expr
    fields: tuple[str, ...] | None = None  # `^ [field, ...] refset`: member field selection
    filters: tuple[Filters, ...] = ()  # {{ M ... }} blocks


@dataclass(frozen=True)
class Filtered:
    operand: Expr
    filters: tuple[Filters, ...]  # {{ D ... }} and {{ C ... }} blocks


@dataclass(frozen=True)
class History:
    operand: Expr
    profile: str | None = None  # MIN, MOD, MAX or None (= MAX)
    subset: Expr | None = None  # {{ +HISTORY (<association refsets>) }}


@dataclass(frozen=True)
class Compound:
    op: str  # AND, OR, MINUS
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Refined:
    focus: Expr
    refinement: Refinement


@dataclass(frozen=True)
class Dotted:
    focus: Expr
    attributes: tuple[Expr, ...]


Expr: TypeAlias = Concept | Wildcard | AltId | Hierarchy | MemberOf | Filtered | History | Compound | Refined | Dotted


@dataclass(frozen=True)
class Cardinality:
    min: int
    max: int | None  # None: many (*)


@dataclass(frozen=True)
class SearchTerm:
    kind: str  # match or wild
    text: str


@dataclass(frozen=True)
class Number:
    text: str  # the lexical form, e.g. "2.5"


@dataclass(frozen=True)
class Boolean:
    value: bool


@dataclass(frozen=True)
class Strings:
    terms: tuple[SearchTerm, ...]


Value: TypeAlias = Expr | Number | Boolean | Strings


@dataclass(frozen=True)
class Attribute:
    name: Expr
    op: str  # = != < <= > >=
    value: Value
    cardinality: Cardinality | None = None
    reverse: bool = False


@dataclass(frozen=True)
class Group:
    body: Refinement
    cardinality: Cardinality | None = None


@dataclass(frozen=True)
class RefinementSet:
    op: str  # AND, OR
    items: tuple[Refinement, ...]


Refinement: TypeAlias = Attribute | Group | RefinementSet


@dataclass(frozen=True)
class Dialect:
    """One dialect of a dialect filter: an alias (en-gb) or a language refset, with wanted acceptabilities
    (prefer/accept tokens or acceptability concept ids)."""

    dialect: str
    acceptability: tuple[str, ...] = ()


FilterValue: TypeAlias = Expr | SearchTerm | Number | Boolean | Dialect | str


@dataclass(frozen=True)
class Filter:
    """One filter of a {{ }} block: name (lower-cased keyword or member field), operator, values (a set of
    alternatives)."""

    name: str
    op: str
    values: tuple[FilterValue, ...]


@dataclass(frozen=True)
class Filters:
    kind: str  # D (description), C (concept), M (member)
    items: tuple[Filter, ...]
