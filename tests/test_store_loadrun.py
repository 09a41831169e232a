"""The load run: atomic, versions side by side, closure built set-wise, errors name the place."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from termsvc.errors import Conflict, LoadError
from termsvc.store.loadrun import load_run


def _tiny(engine: Engine, version: str = "1", *, replace: bool = False, fail: bool = False,
          current: bool | None = None) -> None:
    with load_run(engine, "fhir", "test", replace=replace) as run:
        cs = run.code_system({"resourceType": "CodeSystem", "url": "http://example.org/cs", "version": version,
                              "content": "complete",
                              "property": [{"code": "colour", "type": "string"}]}, current=current)
        cs.add_concept("root", "Root")
        cs.add_concept("a", "A")
        cs.add_concept("b", "B")
        cs.add_edge("root", "a")
        cs.add_edge("a", "b")
        cs.add_designation("a", "Ay", language="de")
        cs.add_property("b", "colour", "blue")
        if fail:
            raise RuntimeError("boom")
        cs.finish()


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_closure_holds_every_ancestor_and_self_rows(engine: Engine) -> None:
    _tiny(engine)
    with engine.connect() as conn:
        pairs = set(conn.execute(text(
            "SELECT a.code, d.code FROM closure k JOIN concept a ON a.concept_id = k.ancestor_id "
            "JOIN concept d ON d.concept_id = k.descendant_id")).all())
    assert pairs == {("root", "root"), ("a", "a"), ("b", "b"), ("root", "a"), ("a", "b"), ("root", "b")}


def test_failed_load_leaves_store_unchanged(engine: Engine) -> None:
    _tiny(engine, "1")
    before = _count(engine, "SELECT COUNT(*) FROM concept")
    with pytest.raises(RuntimeError):
        _tiny(engine, "2", fail=True)
    assert _count(engine, "SELECT COUNT(*) FROM concept") == before
    assert _count(engine, "SELECT COUNT(*) FROM code_system") == 1
    assert _count(engine, "SELECT COUNT(*) FROM load_run") == 1


def test_reloading_same_version_is_refused_without_replace(engine: Engine) -> None:
    _tiny(engine, "1")
    with pytest.raises(Conflict):
        _tiny(engine, "1")
    _tiny(engine, "1", replace=True)
    assert _count(engine, "SELECT COUNT(*) FROM code_system") == 1
    assert _count(engine, "SELECT COUNT(*) FROM concept") == 3


def test_latest_version_becomes_current_by_default(engine: Engine) -> None:
    _tiny(engine, "2")
    _tiny(engine, "10")
    _tiny(engine, "3")
    with engine.connect() as conn:
        current = conn.execute(text("SELECT version FROM code_system WHERE is_current")).scalars().all()
    assert current == ["10"]


def test_user_can_choose_the_current_version(engine: Engine) -> None:
    _tiny(engine, "2")
    _tiny(engine, "1", current=True)
    with engine.connect() as conn:
        current = conn.execute(text("SELECT version FROM code_system WHERE is_current")).scalars().all()
    assert current == ["1"]


def test_reference_to_undefined_code_is_an_error(engine: Engine) -> None:
    with pytest.raises(LoadError, match="'ghost' is referenced but not defined"), \
            load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"url": "http://example.org/cs", "version": "1"})
        cs.position.file = "cs.json"
        cs.add_concept("a", "A")
        cs.add_edge("ghost", "a")
        cs.finish()
    assert _count(engine, "SELECT COUNT(*) FROM concept") == 0


def test_duplicate_code_is_an_error_naming_the_code(engine: Engine) -> None:
    with pytest.raises(LoadError, match="duplicate code 'a'"), load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"url": "http://example.org/cs", "version": "1"})
        cs.add_concept("a", "A")
        cs.add_concept("a", "A again")


def test_is_a_cycle_is_an_error(engine: Engine) -> None:
    with pytest.raises(LoadError, match="cycle"), load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"url": "http://example.org/cs", "version": "1"})
        for code in "xyz":
            cs.add_concept(code, code)
        cs.add_edge("x", "y")
        cs.add_edge("y", "z")
        cs.add_edge("z", "x")
        cs.finish()
    assert _count(engine, "SELECT COUNT(*) FROM closure") == 0


def test_closure_of_a_diamond_with_a_long_side_path_has_each_pair_once(engine: Engine) -> None:
    # top -> a -> b -> c -> leaf and top -> leaf: leaf's depth comes from the longest path
    with load_run(engine, "fhir", "test") as run:
        cs = run.code_system({"url": "http://example.org/diamond", "version": "1"})
        for code in ("top", "a", "b", "c", "leaf"):
            cs.add_concept(code, code)
        for parent, child in (("top", "a"), ("a", "b"), ("b", "c"), ("c", "leaf"), ("top", "leaf")):
            cs.add_edge(parent, child)
        cs.finish()
    with engine.connect() as conn:
        ancestors = conn.execute(text(
            "SELECT a.code FROM closure k JOIN concept a ON a.concept_id = k.ancestor_id "
            "JOIN concept d ON d.concept_id = k.descendant_id WHERE d.code = 'leaf'")).scalars().all()
    assert sorted(ancestors) == ["a", "b", "c", "leaf", "top"]
