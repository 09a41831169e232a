"""The transitive closure of is-a, built after a version's edges are written.

The edges are read back, the closure is computed with integer arrays (store.closure_arrays: each concept's
ancestors once, in topological order, however many paths reach them), and the rows, self-rows included,
are appended in primary-key order through the bulk path (COPY on PostgreSQL). A cycle is reported by naming
a concept on it. Why not a recursive SQL query: it derives each pair once per path and was the longest stage
of a SNOMED CT load (see bench/README.md)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, text

from termsvc.errors import LoadError
from termsvc.store.bulk import write_int_columns
from termsvc.store.closure_arrays import CycleError, ancestor_pairs

CLOSURE_COLUMNS = ("ancestor_id", "descendant_id", "code_system_id")
WRITE_ROWS = 200_000  # rows per write: bounds the Python objects alive at once
MIN_DEFERRED_ROWS = 100_000  # below this, keeping the indexes up to date costs less than re-creating them


def _ids(conn: Connection, sql: str, width: int) -> np.ndarray:
    """Integer rows straight from the driver's cursor: plain tuples, no result-row objects (millions of them)."""
    driver_conn = conn.connection.driver_connection
    assert driver_conn is not None
    cursor = driver_conn.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


def build_closure(conn: Connection, code_system_id: int) -> int:
    """Write the closure rows of one code system version; return how many were written."""
    cs = int(code_system_id)  # an int in the SQL text: one statement for both drivers' parameter styles
    concepts = _ids(conn, f"SELECT concept_id FROM concept WHERE code_system_id = {cs}", 1)[:, 0]
    edges = _ids(conn, f"SELECT child_id, parent_id FROM concept_edge WHERE code_system_id = {cs}", 2)
    # dense indices in id order, so sorted dense keys are sorted ids; edges may name codes left undefined
    nodes = np.unique(np.concatenate([concepts, edges.reshape(-1)]))
    n = len(nodes)
    child = np.searchsorted(nodes, edges[:, 0])
    parent = np.searchsorted(nodes, edges[:, 1])
    del edges
    try:
        pairs = ancestor_pairs(child, parent, n)
    except CycleError as cycle:
        code = conn.execute(text("SELECT code FROM concept WHERE concept_id = :id"),
                            {"id": int(nodes[cycle.node])}).scalar()
        raise LoadError("<hierarchy>", f"is-a cycle: code {code!r} is its own ancestor") from None
    own = np.searchsorted(nodes, concepts)
    keys = np.concatenate([pairs, own * n + own])
    del pairs, own
    keys.sort()
    rebuild = _drop_secondary_indexes(conn, len(keys))
    for start in range(0, len(keys), WRITE_ROWS):
        chunk = keys[start:start + WRITE_ROWS]
        write_int_columns(conn, "closure", CLOSURE_COLUMNS,
                          [nodes[chunk // n], nodes[chunk % n], np.full(len(chunk), code_system_id)])
    for statement in rebuild:
        conn.exec_driver_sql(statement)
    return len(keys)


def _drop_secondary_indexes(conn: Connection, new_rows: int) -> list[str]:
    """SQLite only, and only when this version brings at least as many closure rows as the store holds: drop
    the closure's secondary indexes and return the statements that re-create them after the rows are in.
    Why: rows arrive in primary-key order, so the descendant index is filled at random; past the page cache
    every insert costs a page read and write (a full-size SNOMED CT closure spent most of its load there),
    while CREATE INDEX sorts once. Safe: the DDL is part of the load's transaction (a failed or killed load
    rolls it back) and WAL readers keep their snapshot with the indexes. Not on PostgreSQL, where DROP INDEX
    would block every reader of the table until the load commits."""
    if conn.dialect.name != "sqlite":
        return []
    existing = int(conn.exec_driver_sql("SELECT COUNT(*) FROM closure").scalar_one())
    if new_rows < max(existing, MIN_DEFERRED_ROWS):
        return []
    indexes = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'closure' AND sql IS NOT NULL"
    ).all()
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]
