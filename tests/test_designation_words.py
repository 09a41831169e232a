"""The designation word index (store.words): written by a SNOMED CT load in its transaction, replaced by a
reload, absent after a failed load; ECL term filters read it (tests/test_ecl_eval.py checks their answers)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ecl_oracle import FIXTURE
from sqlalchemy import Connection, Engine, text

from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from termsvc.store.loadrun import load_run
from termsvc.store.words import SCT, prefix_range, words

MI, FINDING = "22298006", "404684003"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(new_store_url(request.param), pool_size=2)
    yield engine
    engine.dispose()


def codes_with_word_prefix(engine: Engine, prefix: str) -> set[str]:
    lo, hi = prefix_range(prefix)
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text(
            "SELECT c.code FROM designation_word w JOIN concept c ON c.concept_id = w.concept_id WHERE "
            "w.word >= :lo AND w.word < :hi"), {"lo": lo, "hi": hi})}


def words_of(engine: Engine, code: str) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text(
            "SELECT w.word FROM designation_word w JOIN concept c ON c.concept_id = w.concept_id AND "
            "c.code_system_id = w.code_system_id WHERE c.code = :code"), {"code": code})}


def row_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM designation_word")).scalar_one())


def test_tokeniser_keeps_distinct_lower_case_words() -> None:
    assert words("Myocardial  infarction\tMYOCARDIAL (disorder)") == {"myocardial", "infarction", "(disorder)"}


def test_a_loaded_description_is_found_by_a_prefix_of_any_of_its_words(store: Engine) -> None:
    run_load(store, "snomed", FIXTURE)
    assert MI in codes_with_word_prefix(store, "infarc")
    assert MI in codes_with_word_prefix(store, "myocardial")
    assert MI not in codes_with_word_prefix(store, "nfarction")


def test_the_words_of_a_concept_are_those_of_its_descriptions(store: Engine) -> None:
    run_load(store, "snomed", FIXTURE)
    with store.connect() as conn:
        values = [r[0] for r in conn.execute(text(
            "SELECT d.value FROM designation d JOIN concept c ON c.concept_id = d.concept_id WHERE c.code = :c"),
            {"c": FINDING})]
    assert values
    assert words_of(store, FINDING) == set().union(*(words(v) for v in values))


def test_a_reload_replaces_the_words(store: Engine, tmp_path: Path) -> None:
    run_load(store, "snomed", FIXTURE)
    changed = tmp_path / FIXTURE.name
    shutil.copytree(FIXTURE, changed)
    descriptions = next(changed.rglob("sct2_Description_Snapshot*.txt"))
    lines = descriptions.read_text(encoding="utf-8").splitlines(keepends=True)
    descriptions.write_text("".join(line.replace("\tClinical finding\t", "\tZebra observation\t") for line in lines),
                            encoding="utf-8")
    before = row_count(store)
    run_load(store, "snomed", changed, replace=True)
    assert {"zebra", "observation"} <= words_of(store, FINDING)
    assert codes_with_word_prefix(store, "zebr") == {FINDING}
    assert row_count(store) == before + 2  # 'zebra' and 'observation' in; 'clinical', 'finding' kept by the FSN
    with store.connect() as conn:
        stale = conn.execute(text("SELECT COUNT(*) FROM designation_word w WHERE NOT EXISTS (SELECT 1 FROM "
                                  "code_system s WHERE s.code_system_id = w.code_system_id)")).scalar_one()
    assert stale == 0


def test_a_failed_load_leaves_no_words(store: Engine) -> None:
    with pytest.raises(RuntimeError), load_run(store, "snomed", "failing") as run:
        writer = run.code_system({"url": SCT, "version": "http://snomed.info/sct/900000000000207008/version/1"})
        writer.add_concept("1", "Heart attack")
        writer.add_designation("1", "Heart attack")
        writer.finish()
        assert words_with_prefix_in(run.conn, "hear") == 1
        raise RuntimeError("the load fails after its words were written")
    assert row_count(store) == 0


def test_other_code_systems_get_no_word_index(store: Engine) -> None:
    with load_run(store, "fhir", "local") as run:
        writer = run.code_system({"url": "http://example.org/cs", "version": "1"})
        writer.add_concept("a", "Heart attack")
        writer.add_designation("a", "Heart attack")
        writer.finish()
    assert row_count(store) == 0


def words_with_prefix_in(conn: Connection, prefix: str) -> int:
    lo, hi = prefix_range(prefix)
    return int(conn.execute(text(
        "SELECT COUNT(*) FROM designation_word WHERE word >= :lo AND word < :hi"), {"lo": lo, "hi": hi}).scalar_one())
