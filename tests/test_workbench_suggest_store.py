"""build_index over a real store (SQLite and PostgreSQL): the LOINC sample loaded by the LOINC loader, read back
with its axes; parts and answers are not targets; deprecated terms are not suggested."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from termsvc.errors import NotFound
from termsvc.ops.loading import run_load
from termsvc.workbench.suggest import LocalTerm, build_index

SAMPLE = Path(__file__).resolve().parents[1] / "data-samples" / "loinc"
LOINC = "http://loinc.org"


@pytest.fixture
def loinc_store(engine: Engine) -> Engine:
    run_load(engine, "loinc", SAMPLE, version="2.80")
    return engine


def test_index_reads_terms_with_their_axes(loinc_store: Engine) -> None:
    with loinc_store.connect() as conn:
        index = build_index(conn, LOINC, "2.80")
    potassium = next(c for c in index.candidates if c.code == "6298-4")
    assert potassium.first("PROPERTY") == "SCnc"
    assert potassium.first("SYSTEM") == "Bld"
    assert "Potassium Bld-sCnc" in potassium.designations


def test_parts_and_answers_are_not_targets(loinc_store: Engine) -> None:
    with loinc_store.connect() as conn:
        index = build_index(conn, LOINC, None)
    assert index.candidates
    assert not [c.code for c in index.candidates if c.code.startswith(("LP", "LA", "LL"))]


def test_units_steer_potassium_in_the_loaded_release(loinc_store: Engine) -> None:
    with loinc_store.connect() as conn:
        index = build_index(conn, LOINC, None, local_names=["K", "K BLOOD"])
    assert index.suggest(LocalTerm("K", "K", units="mmol/L", specimen="whole blood"))[0].target_code == "6298-4"
    assert index.suggest(LocalTerm("K", "K", units="mg/dL", specimen="whole blood"))[0].target_code == "75940-7"


def test_deprecated_term_is_not_suggested(loinc_store: Engine) -> None:
    with loinc_store.connect() as conn:
        index = build_index(conn, LOINC, "2.80")
    assert "10550-2" not in [s.target_code for s in index.suggest(LocalTerm("T", "Temazepam serum"))]


def test_unknown_version_is_named_in_the_error(loinc_store: Engine) -> None:
    with loinc_store.connect() as conn, pytest.raises(NotFound, match=r"version 9\.99"):
        build_index(conn, LOINC, "9.99")
