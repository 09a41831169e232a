"""A closure big enough that SQLite re-creates the closure's secondary indexes after writing it: the indexes
are all there afterwards, the rows are right, and a load that fails after the closure leaves both as they were."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from termsvc.store.closure import MIN_DEFERRED_ROWS
from termsvc.store.loadrun import load_run

DEPTH = 460  # a chain of this many concepts has DEPTH * (DEPTH + 1) / 2 closure rows, self-rows included
assert DEPTH * (DEPTH + 1) // 2 >= MIN_DEFERRED_ROWS


def _chain(engine: Engine, version: str, *, fail: bool = False) -> None:
    with load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"resourceType": "CodeSystem", "url": "http://example.org/chain", "version": version,
                              "content": "complete"})
        for i in range(DEPTH):
            cs.add_concept(f"c{i}", f"Level {i}")
            if i:
                cs.add_edge(f"c{i - 1}", f"c{i}")
        cs.finish()
        if fail:
            raise RuntimeError("failed after the closure was written")


def _indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'closure'"))
        else:
            rows = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'closure'"))
        return {row[0] for row in rows}


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_a_large_closure_keeps_every_index_and_every_pair(engine: Engine) -> None:
    before = _indexes(engine)
    _chain(engine, "1")
    assert _indexes(engine) == before
    assert _count(engine, "SELECT COUNT(*) FROM closure") == DEPTH * (DEPTH + 1) // 2
    # the deepest concept has every concept as an ancestor, found through the descendant index
    assert _count(engine, "SELECT COUNT(*) FROM closure k JOIN concept d ON d.concept_id = k.descendant_id "
                          f"WHERE d.code = 'c{DEPTH - 1}'") == DEPTH


def test_a_load_failing_after_a_large_closure_leaves_rows_and_indexes_as_they_were(engine: Engine) -> None:
    _chain(engine, "1")
    indexes = _indexes(engine)
    with pytest.raises(RuntimeError):
        _chain(engine, "2", fail=True)
    assert _indexes(engine) == indexes
    assert _count(engine, "SELECT COUNT(*) FROM closure") == DEPTH * (DEPTH + 1) // 2
    assert _count(engine, "SELECT COUNT(*) FROM code_system") == 1
