"""The set form of an ECL condition, for expansions: where a construct has a natural set of concept ids (the
closure below a concept, the edges under it, a reference set's rows, the historical associations), the top-level
condition names it as `column IN (SELECT ...)`, so the engine starts from that set (SQLite iterates it and
fetches concepts by primary key) instead of scanning every concept of the edition and probing each.
Everything else, and every nested constraint, stays the correlated probe the compiler makes. Checking one code
keeps the probe form throughout: an IN (SELECT ...) would be materialised whole for a single row."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        found = f"({driving(compiler, node.focus, col)} AND {compiler.refinement(node.refinement, col, None)})"
    elif isinstance(node, a.Filtered) and not isinstance(node.operand, a.Wildcard):
        found = compiler.filtered(node, col, driving(compiler, node.operand, col))
    return found if found is not None else compiler.expr(node, col)
