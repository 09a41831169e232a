"""The transitive closure of is-a, built set-wise in SQL after a version's edges are written.

One recursive query per version (UNION removes duplicate paths and ends on cycles), then a check that no
concept reached itself, then the self-rows. Both engines run the same SQL."""

from __future__ import annotations

from sqlalchemy import Connection, text

from termsvc.errors import LoadError

_CLOSURE_SQL = """
INSERT INTO closure (ancestor_id, descendant_id, code_system_id)
WITH RECURSIVE anc(descendant_id, ancestor_id) AS (
    SELECT child_id, parent_id FROM concept_edge WHERE code_system_id = :cs
    UNION
    SELECT anc.descendant_id, e.parent_id
    FROM anc JOIN concept_edge e ON e.child_id = anc.ancestor_id
)
SELECT ancestor_id, descendant_id, :cs FROM anc
"""


def build_closure(conn: Connection, code_system_id: int) -> int:
    has_edges = conn.execute(text("SELECT 1 FROM concept_edge WHERE code_system_id = :cs LIMIT 1"),
                             {"cs": code_system_id}).scalar()
    if has_edges:
        conn.execute(text(_CLOSURE_SQL), {"cs": code_system_id})
        cycle = conn.execute(text(
            "SELECT c.code FROM closure k JOIN concept c ON c.concept_id = k.descendant_id "
            "WHERE k.code_system_id = :cs AND k.ancestor_id = k.descendant_id LIMIT 1"),
            {"cs": code_system_id}).scalar()
        if cycle is not None:
            raise LoadError("<hierarchy>", f"is-a cycle: code {cycle!r} is its own ancestor")
    conn.execute(text("INSERT INTO closure (ancestor_id, descendant_id, code_system_id) "
                      "SELECT concept_id, concept_id, code_system_id FROM concept WHERE code_system_id = :cs"),
                 {"cs": code_system_id})
    return int(conn.execute(text("SELECT COUNT(*) FROM closure WHERE code_system_id = :cs"),
                            {"cs": code_system_id}).scalar_one())
