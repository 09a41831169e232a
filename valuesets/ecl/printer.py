"""AST -> brief-syntax ECL text, parenthesising only where the grammar needs it, so that
parse(to_text(tree)) == tree (the round-trip property the parser tests check)."""

from __future__ import annotations

from termsvc.valuesets.ecl import ast as a

_SIMPLE = (a.Concept, a.Wildcard, a.AltId)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _focus(expr: a.Expr) -> str:
    return to_text(expr) if isinstance(expr, _SIMPLE) else f"({to_text(expr)})"


def _member(expr: a.MemberOf) -> str:
    fields = f"[{', '.join(expr.fields)}] " if expr.fields else ""
    return f"^ {fields}{_focus(expr.operand)}" + "".join(" " + _filters(f) for f in expr.filters)


def _sub(expr: a.Expr) -> str:
    """A subExpressionConstraint: operator, member-of, focus, filters, history, or a parenthesised whole."""
    return to_text(expr) if isinstance(expr, (*_SIMPLE, a.Hierarchy, a.MemberOf, a.Filtered, a.History)) \
        else f"({to_text(expr)})"


def _hierarchy(expr: a.Hierarchy) -> str:
    inner = expr.operand
    body = _member(inner) if isinstance(inner, a.MemberOf) else _focus(inner)
    return f"{expr.op} {body}"


def _filtered(expr: a.Filtered) -> str:
    inner = expr.operand
    body = to_text(inner) if isinstance(inner, (*_SIMPLE, a.Hierarchy, a.MemberOf)) else f"({to_text(inner)})"
    return body + "".join(" " + _filters(f) for f in expr.filters)


def _history(expr: a.History) -> str:
    inner = expr.operand
    body = to_text(inner) if isinstance(inner, (*_SIMPLE, a.Hierarchy, a.MemberOf, a.Filtered)) \
        else f"({to_text(inner)})"
    suffix = f"-{expr.profile}" if expr.profile else ""
    subset = f" ({to_text(expr.subset)})" if expr.subset is not None else ""
    return f"{body} {{{{ +HISTORY{suffix}{subset} }}}}"


def _value(value: a.Value) -> str:
    if isinstance(value, a.Number):
        return f"#{value.text}"
    if isinstance(value, a.Boolean):
        return "true" if value.value else "false"
    if isinstance(value, a.Strings):
        terms = [_term(t) for t in value.terms]
        return terms[0] if len(terms) == 1 else f"({' '.join(terms)})"
    return _sub(value)


def _term(term: a.SearchTerm) -> str:
    return f"{term.kind}:{_quote(term.text)}"


def _cardinality(card: a.Cardinality | None) -> str:
    if card is None:
        return ""
    return f"[{card.min}..{'*' if card.max is None else card.max}] "


def refinement_text(ref: a.Refinement) -> str:
    if isinstance(ref, a.Attribute):
        reverse = "R " if ref.reverse else ""
        return f"{_cardinality(ref.cardinality)}{reverse}{_sub(ref.name)} {ref.op} {_value(ref.value)}"
    if isinstance(ref, a.Group):
        return f"{_cardinality(ref.cardinality)}{{ {refinement_text(ref.body)} }}"
    parts = [refinement_text(i) if not isinstance(i, a.RefinementSet) else f"({refinement_text(i)})"
             for i in ref.items]
    return f" {ref.op} ".join(parts)


def _filter_value(value: a.FilterValue) -> str:
    if isinstance(value, a.SearchTerm):
        return _term(value)
    if isinstance(value, a.Dialect):
        return value.dialect + (f" ({' '.join(value.acceptability)})" if value.acceptability else "")
    if isinstance(value, a.Boolean):
        return "true" if value.value else "false"
    if isinstance(value, a.Number):
        return f"#{value.text}"
    if isinstance(value, str):
        return value
    return _sub(value)


_QUOTED = {"effectivetime"}
_KEYWORDS = {"effectivetime": "effectiveTime", "definitionstatus": "definitionStatus", "moduleid": "moduleId",
             "typeid": "typeId", "dialectid": "dialectId", "definitionstatusid": "definitionStatusId"}


def _filter(flt: a.Filter) -> str:
    values = [_quote(str(v)) if flt.name in _QUOTED else _filter_value(v) for v in flt.values]
    body = values[0] if len(values) == 1 else f"({' '.join(values)})"
    return f"{_KEYWORDS.get(flt.name, flt.name)} {flt.op} {body}"


def _filters(block: a.Filters) -> str:
    prefix = {"D": "", "C": "C ", "M": "M "}[block.kind]
    return "{{ " + prefix + ", ".join(_filter(f) for f in block.items) + " }}"


def to_text(expr: a.Expr) -> str:
    if isinstance(expr, a.Concept):
        return expr.code + (f" |{expr.term}|" if expr.term else "")
    if isinstance(expr, a.Wildcard):
        return "*"
    if isinstance(expr, a.AltId):
        return f"{_quote(expr.scheme)}#{_quote(expr.code)}"
    if isinstance(expr, a.Hierarchy):
        return _hierarchy(expr)
    if isinstance(expr, a.MemberOf):
        return _member(expr)
    if isinstance(expr, a.Filtered):
        return _filtered(expr)
    if isinstance(expr, a.History):
        return _history(expr)
    if isinstance(expr, a.Compound):
        return f" {expr.op} ".join(_sub(i) for i in expr.items)
    if isinstance(expr, a.Refined):
        return f"{_sub(expr.focus)} : {refinement_text(expr.refinement)}"
    return _sub(expr.focus) + "".join(f" . {_sub(attr)}" for attr in expr.attributes)
