"""The set form of an ECL condition, for expansions: where a construct has a natural set of concept ids (the
closure below a concept, the edges under it, a reference set's rows, the concepts having a refinement's
attribute value), the top-level condition names it as `column IN (SELECT ...)`, so the engine starts from that set (SQLite iterates it and
fetches concepts by primary key) instead of scanning every concept of the edition and probing each.
Everything else, and every nested constraint, stays the correlated probe the compiler makes. Checking one code
keeps the probe form throughout: an IN (SELECT ...) would be materialised whole for a single row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

from termsvc.store.words import prefix_range, search_words
from termsvc.valuesets.ecl import ast as a
from termsvc.valuesets.ecl.filter_sql import REFSET

if TYPE_CHECKING:
    from termsvc.valuesets.ecl.compile import EclCompiler


def _hierarchy(compiler: EclCompiler, node: a.Hierarchy, col: str) -> str | None:
    if not isinstance(node.operand, a.Concept):
        return None
    focus, sql = compiler.sql.bind(compiler.concept_id(node.operand.code)), compiler.sql
    k = sql.alias("k")
    if node.op in ("<", "<<"):
        proper = f" AND {k}.descendant_id <> {k}.ancestor_id" if node.op == "<" else ""
        return f"{col} IN (SELECT {k}.descendant_id FROM closure {k} WHERE {k}.ancestor_id = {focus}{proper})"
    if node.op in ("<!", "<<!"):
        children = f"{col} IN (SELECT {k}.child_id FROM concept_edge {k} WHERE {k}.parent_id = {focus})"
        return children if node.op == "<!" else f"({children} OR {col} = {focus})"
    return None


def _member_of(compiler: EclCompiler, node: a.MemberOf, col: str) -> str | None:
    if not isinstance(node.operand, a.Concept) or node.fields:
        return None
    compiler.concept_id(node.operand.code)  # an unknown refset is an error, as in the probe form
    refset, cs = compiler.sql.bind(node.operand.code), compiler.cs
    p, q = compiler.sql.alias("p"), compiler.sql.alias("p")
    rows = (f"SELECT {p}.concept_id FROM concept_property {p} WHERE {p}.code_system_id = {cs} AND {p}.code = "
            f"'{REFSET}' AND {p}.value = {refset} UNION ALL SELECT {q}.concept_id FROM concept_property {q} WHERE "
            f"{q}.code_system_id = {cs} AND {q}.code = {refset} AND {q}.role_group IS NULL")
    # member filters are checked by the probe form on the rows the set yields
    probe = compiler.expr(node, col) if node.filters else None
    return f"{col} IN ({rows})" + (f" AND {probe}" if probe else "")


# an attribute's value range leads the refinement when it holds at most this many concepts (one bounded count of
# the closure decides, at compile time)
LEADING_VALUES = 2000


def _value_codes(compiler: EclCompiler, value: a.Value) -> str | None:
    """The codes an attribute value constraint allows, as a list or subquery, where it is a concept or the
    hierarchy below one."""
    if isinstance(value, a.Concept):
        compiler.concept_id(value.code)
        return f"({compiler.sql.bind(value.code)})"
    if isinstance(value, a.Hierarchy) and value.op in ("<", "<<") and isinstance(value.operand, a.Concept):
        top = compiler.concept_id(value.operand.code)
        below = compiler.conn.execute(text("SELECT COUNT(*) FROM (SELECT 1 FROM closure WHERE ancestor_id = :a "
                                           "LIMIT :n) x"), {"a": top, "n": LEADING_VALUES + 1}).scalar_one()
        if below > LEADING_VALUES:
            return None  # a wide value range (most body structures): the focus hierarchy leads instead
        k, v = compiler.sql.alias("k"), compiler.sql.alias("v")
        proper = f" AND {k}.descendant_id <> {k}.ancestor_id" if value.op == "<" else ""
        return (f"(SELECT {v}.code FROM closure {k} JOIN concept {v} ON {v}.concept_id = {k}.descendant_id WHERE "
                f"{k}.ancestor_id = {compiler.sql.bind(compiler.concept_id(value.operand.code))}{proper})")
    return None


def _having(compiler: EclCompiler, refinement: a.Refinement, col: str) -> str | None:
    """The concepts with an attribute the refinement requires, from the attribute's values: for a refinement
    such as `363698007 = << 39057004` the few concepts with such a finding site, found through the property
    index, rather than every concept of the focus hierarchy probed for it."""
    if isinstance(refinement, a.RefinementSet):
        if refinement.op != "AND":
            return None
        return next((found for item in refinement.items if (found := _having(compiler, item, col))), None)
    if isinstance(refinement, a.Group):
        return _having(compiler, refinement.body, col) if refinement.cardinality is None or \
            refinement.cardinality.min >= 1 else None
    if (refinement.reverse or refinement.op != "=" or not isinstance(refinement.name, a.Concept)
            or (refinement.cardinality is not None and refinement.cardinality.min == 0)):
        return None
    values = _value_codes(compiler, refinement.value)
    if values is None:
        return None
    p = compiler.sql.alias("p")
    return (f"{col} IN (SELECT {p}.concept_id FROM concept_property {p} WHERE {p}.code_system_id = {compiler.cs} AND "
            f"{p}.code = {compiler.sql.bind(refinement.name.code)} AND {p}.value IN {values})")


# a term filter's word index matches lead the expansion when they are at most this many concepts (bounded counts of
# the index ranges decide, at compile time): more, and the operand's set leads as before
LEADING_WORDS = 20_000


def _lookup_words(term: a.SearchTerm) -> list[str]:
    """Words some word of every description the term matches starts with: for `match`, the term's words; for
    `wild`, the first word of the text before the first `*` (the description starts with it), unless that is
    empty or starts with white space."""
    if term.kind == "match":
        return search_words(term.text)
    head = term.text.split("*", 1)[0]
    return search_words(head)[:1] if head and not head[0].isspace() else []


def _term_words(node: a.Filtered) -> list[list[str]] | None:
    """The lookup words of the first `term = ` filter of the description filters each of whose terms has some:
    one list of words per alternative term. None when there is no such filter."""
    for block in node.filters:
        if block.kind != "D":
            continue
        for flt in block.items:
            if flt.name != "term" or flt.op != "=":
                continue
            found = [_lookup_words(v) if isinstance(v, a.SearchTerm) else [] for v in flt.values]
            if found and all(found):
                return found
    return None


def _word_matches(compiler: EclCompiler, node: a.Filtered, col: str) -> str | None:
    """`col IN (the concepts with a designation word starting with each search word)`, from the designation word
    index (SNOMED CT only), where a term filter allows it and the matches are few enough to lead. The filter itself
    is still checked on these candidates (all the words in one designation, language, type, dialect)."""
    found = _term_words(node)
    if found is None:  # ECL is only evaluated over SNOMED CT versions (valuesets.filters), which loads index
        return None
    bound, sql, cs = 0, compiler.sql, compiler.cs
    alternatives = []
    for term in found:
        ranges = []
        for word in term:
            lo, hi = prefix_range(word)
            ranges.append(f"SELECT concept_id FROM designation_word WHERE code_system_id = {cs} AND word >= "
                          f"{sql.bind(lo)} AND word < {sql.bind(hi)}")
        bound += min(_bounded_count(compiler, word) for word in term)
        alternatives.append(" INTERSECT ".join(ranges))
    if bound > LEADING_WORDS:
        return None
    return f"{col} IN ({' UNION '.join(alternatives)})"


def _bounded_count(compiler: EclCompiler, word: str) -> int:
    lo, hi = prefix_range(word)
    return int(compiler.conn.execute(text(
        "SELECT COUNT(*) FROM (SELECT 1 FROM designation_word WHERE code_system_id = :cs AND word >= :lo AND word < "
        ":hi LIMIT :n) x"), {"cs": compiler.code_system_id, "lo": lo, "hi": hi, "n": LEADING_WORDS + 1}).scalar_one())


def driving(compiler: EclCompiler, node: a.Expr, col: str) -> str:
    """The condition on `col` for `node`, led by a set where one is at hand."""
    found: str | None = None
    if isinstance(node, a.Hierarchy):
        found = _hierarchy(compiler, node, col)
    elif isinstance(node, a.MemberOf):
        found = _member_of(compiler, node, col)
    elif isinstance(node, a.Compound):
        first, *rest = node.items
        if node.op == "OR":
            found = "(" + " OR ".join(driving(compiler, i, col) for i in node.items) + ")"
        elif node.op == "AND":
            found = "(" + " AND ".join([driving(compiler, first, col), *(compiler.expr(i, col) for i in rest)]) + ")"
        else:
            found = f"({driving(compiler, first, col)} AND NOT ({compiler.expr(rest[0], col)}))"
    elif isinstance(node, a.Refined):
        having = _having(compiler, node.refinement, col)
        focus = compiler.expr(node.focus, col) if having else driving(compiler, node.focus, col)
        found = "(" + " AND ".join([*([having] if having else []), focus,
                                    compiler.refinement(node.refinement, col, None)]) + ")"
    elif isinstance(node, a.Filtered):
        words = _word_matches(compiler, node, col)
        if words is not None:
            found = f"({words} AND {compiler.expr(node, col)})"
        elif not isinstance(node.operand, a.Wildcard):
            found = compiler.filtered(node, col, driving(compiler, node.operand, col))
    return found if found is not None else compiler.expr(node, col)
