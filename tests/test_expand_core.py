"""The FHIR R4 core terminology the server ships: loaded once into a store, on both engines, and used by
value sets that import core value sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from termsvc.store.loadrun import load_run
from termsvc.valuesets.fhir_core import BUNDLE, core_resources, ensure_core
from termsvc.valuesets.fhir_core_build import R4_VERSION, build
from tests.conftest import SHARED
from tests.test_valueset_engine import expand_codes, vs

GENDER = "http://hl7.org/fhir/administrative-gender"
GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"


def test_core_is_loaded_once(engine: Engine) -> None:
    assert ensure_core(engine) is True
    assert ensure_core(engine) is False
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT COUNT(*) FROM load_run WHERE kind = 'fhir-core'")).scalar_one()
        versions = conn.execute(text("SELECT version FROM code_system WHERE url = :u"), {"u": GENDER}).scalars().all()
    assert runs == 1
    assert versions == [R4_VERSION]


def test_a_value_set_importing_a_core_value_set_expands(engine: Engine) -> None:
    ensure_core(engine)
    value_set = vs({"valueSet": [GENDER_VS]}, exclude=[{"system": GENDER, "concept": [{"code": "other"}]}])
    assert expand_codes(engine, value_set) == {"male", "female", "unknown"}


def test_core_keeps_a_version_an_operator_already_loaded(engine: Engine) -> None:
    with load_run(engine, "test", "mine") as run:
        writer = run.code_system({"url": GENDER, "version": R4_VERSION, "content": "complete"})
        writer.add_concept("mine", "Mine")
        writer.finish()
    ensure_core(engine)
    assert expand_codes(engine, vs({"system": GENDER})) == {"mine"}


def test_bundle_holds_r4_core_systems_labelled_4_0_1() -> None:
    resources = core_resources(BUNDLE)
    systems = {r["url"]: r for r in resources if r["resourceType"] == "CodeSystem"}
    assert systems[GENDER]["version"] == R4_VERSION
    assert {c["code"] for c in systems[GENDER]["concept"]} == {"male", "female", "other", "unknown"}
    assert any(r["resourceType"] == "ValueSet" and r["url"] == GENDER_VS for r in resources)


def test_bundle_is_what_the_build_makes_from_the_published_packages() -> None:
    packages = SHARED / "data" / "fhir-packages"
    r4, r4b = packages / "hl7.fhir.r4.expansions-4.0.1.tgz", packages / "hl7.fhir.r4b.core-4.3.0.tgz"
    if not (r4.exists() and r4b.exists()):
        pytest.skip("the FHIR packages are not in ../shared")
    built = build(Path(r4), Path(r4b))
    assert sorted((r["resourceType"], r["url"]) for r in built) == sorted(
        (r["resourceType"], r["url"]) for r in core_resources(BUNDLE))
