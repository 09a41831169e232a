"""What validators expect of a SNOMED CT server (the FHIR SNOMED CT page and the tx-ecosystem suite's snomed
mode), over real HTTP on both engines, against the genuine MiniCT sample: $lookup's name, designations by
language, default and requested properties, attribute relationships named by their attribute; flat, unclosed
expansions; the implicit all-concepts value set's name; an inactive description as display is a warning."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.loaders.snomed_ids import verhoeff_digit
from termsvc.ops import scg
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from termsvc.store.engine import make_engine
from tests import snomed_suite_edition
from tests.conftest import ENGINES, shared_path

SCT = "http://snomed.info/sct"
VERSION = f"{SCT}/900000000000207008/version/20180731"
UNCLOSED = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed"
UNCLOSED_REASON = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed-reason"


@pytest.fixture(scope="module", params=ENGINES)
def client(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[TestClient]:
    engine: Engine = make_engine(new_store_url(request.param), pool_size=2)
    run_load(engine, "snomed", shared_path("data", "snomed", "snowstorm-MiniCT_INT_20180731", "MiniCT",
                                           "RF2Release"))
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        yield test_client
    engine.dispose()


def _lookup(client: TestClient, code: str, *properties: str) -> list[dict[str, Any]]:
    params: list[tuple[str, str]] = [("system", SCT), ("code", code), *(("property", p) for p in properties)]
    response = client.get("/fhir/CodeSystem/$lookup", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["parameter"])


def _parts(parameter: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in parameter["part"]}


def _properties(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_parts(p) for p in parameters if p["name"] == "property"]


def _expand(client: TestClient, value_set: dict[str, Any] | None = None, **params: str) -> dict[str, Any]:
    if value_set is None:
        response = client.get("/fhir/ValueSet/$expand", params=params)
    else:
        response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
            {"name": "valueSet", "resource": value_set}]})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _value_set(include: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": "http://example.org/vs", "status": "active",
            "compose": {"include": [{"system": SCT, **include}]}}


# --- $lookup -----------------------------------------------------------------------------------------------

def test_lookup_name_is_system_and_edition_version(client: TestClient) -> None:
    name = next(p for p in _lookup(client, "404684003") if p["name"] == "name")
    assert name["valueString"] == f"{SCT}|{VERSION}"


def test_designations_carry_the_description_language_not_the_dialect(client: TestClient) -> None:
    designations = [_parts(p) for p in _lookup(client, "404684003") if p["name"] == "designation"]
    assert {d["language"] for d in designations} == {"en"}
    assert [(d["use"]["code"], d["value"]) for d in designations] == [
        ("900000000000013009", "Clinical finding"), ("900000000000003001", "Clinical finding (finding)")]


def test_default_properties_are_those_the_ecosystem_expects(client: TestClient) -> None:
    codes = {p["code"] for p in _properties(_lookup(client, "404684003"))}
    assert codes == {"inactive", "effectiveTime", "module", "parent", "child"}


def test_module_property_is_described_by_the_module_term(client: TestClient) -> None:
    module = next(p for p in _properties(_lookup(client, "404684003")) if p["code"] == "module")
    assert module["value"] == "900000000000207008"
    assert module["description"] == "SNOMED CT core"


def test_attribute_relationship_is_a_property_named_by_the_attribute(client: TestClient) -> None:
    attribute = next(p for p in _properties(_lookup(client, "131148009")) if p["code"] == "116676008")
    assert attribute == {"code": "116676008", "code-display": "Associated morphology", "description": "Haemorrhage",
                         "value": "50960005"}


def test_parent_and_child_carry_the_related_concept_term(client: TestClient) -> None:
    found = _properties(_lookup(client, "404684003"))
    assert {"code": "parent", "description": "SNOMED CT Concept", "value": "138875005"} in found
    assert {"code": "child", "description": "Disease", "value": "64572001"} in found


def test_properties_the_page_defines_are_returned_when_asked_for(client: TestClient) -> None:
    found = {p["code"]: p["value"] for p in _properties(_lookup(client, "64572001", "sufficientlyDefined",
                                                                "moduleId", "inactive"))}
    assert found == {"sufficientlyDefined": False, "moduleId": "900000000000207008", "inactive": False}


def test_historical_associations_are_not_attributes_and_shown_when_asked(client: TestClient) -> None:
    by_default = {p["code"] for p in _properties(_lookup(client, "246188002"))}
    assert "900000000000526001" not in by_default
    asked = _properties(_lookup(client, "246188002", "900000000000526001"))
    assert asked == [{"code": "900000000000526001", "description": "Clinical finding", "value": "404684003"}]


def test_inactive_concept_says_so(client: TestClient) -> None:
    inactive = next(p for p in _properties(_lookup(client, "246188002")) if p["code"] == "inactive")
    assert inactive["value"] is True


# --- expansions --------------------------------------------------------------------------------------------

def test_is_a_expansion_is_flat_and_unclosed(client: TestClient) -> None:
    expansion = _expand(client, _value_set({"filter": [{"property": "concept", "op": "is-a",
                                                        "value": "404684003"}]}))["expansion"]
    assert {"url": UNCLOSED, "valueBoolean": True} in expansion["extension"]
    assert not any(e["url"] == UNCLOSED_REASON for e in expansion["extension"])
    assert not any("contains" in entry for entry in expansion["contains"])
    assert len(expansion["contains"]) == expansion["total"] > 3


def test_enumerated_expansion_is_closed(client: TestClient) -> None:
    expansion = _expand(client, _value_set({"concept": [{"code": "404684003"}, {"code": "64572001"}]}))["expansion"]
    assert not any(e["url"] == UNCLOSED for e in expansion.get("extension", []))
    assert expansion["total"] == 2


def test_all_concepts_value_set_is_named_and_unclosed_for_its_grammar(client: TestClient) -> None:
    expanded = _expand(client, url=f"{SCT}?fhir_vs", count="0")
    assert expanded["name"] == "ALLSNOMEDCT"
    assert expanded["title"] == "SNOMED CT Reference Set (All of SNOMED CT)"
    assert {"url": UNCLOSED_REASON, "valueString": f"The code System '{SCT}' has a grammar and so has infinite "
            "members"} in expanded["expansion"]["extension"]
    assert expanded["expansion"]["total"] == 102


def test_implicit_is_a_value_set_keeps_its_generic_name(client: TestClient) -> None:
    expanded = _expand(client, url=f"{SCT}?fhir_vs=isa/404684003", count="0")
    assert expanded["name"] != "ALLSNOMEDCT"


# --- inactive displays -------------------------------------------------------------------------------------

def _with_retired_term(tmp_path: Path) -> Path:
    """MiniCT with an inactive synonym "Clinical findings (old)" for 404684003 |Clinical finding|."""
    release = tmp_path / "MiniCT"
    shutil.copytree(shared_path("data", "snomed", "snowstorm-MiniCT_INT_20180731", "MiniCT", "RF2Release",
                                "Snapshot"), release / "Snapshot")
    descriptions = next(release.rglob("sct2_Description_Snapshot*.txt"))
    identifier = "99123401" + verhoeff_digit("99123401")
    with descriptions.open("a", encoding="utf-8", newline="") as handle:
        handle.write(f"{identifier}\t20180731\t0\t900000000000207008\t404684003\ten\t900000000000013009\t"
                     "Clinical findings (old)\t900000000000448009\r\n")
    return release


def _validate(client: TestClient, code: str, display: str) -> dict[str, Any]:
    response = client.get("/fhir/CodeSystem/$validate-code", params={"url": SCT, "code": code, "display": display})
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["parameter"]}


def test_inactive_display_is_a_warning_not_an_error(engine: Engine, tmp_path: Path) -> None:
    run_load(engine, "snomed", _with_retired_term(tmp_path))
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        found = _validate(test_client, "404684003", "Clinical findings (old)")
    assert found["result"]["valueBoolean"] is True
    assert "message" not in found
    [issue] = found["issues"]["resource"]["issue"]
    assert issue["severity"] == "warning" and issue["code"] == "invalid"
    assert issue["details"]["coding"][0]["code"] == "display-comment"
    assert issue["details"]["text"] == (
        "'Clinical findings (old)' is no longer considered a correct display for code '404684003' (status = "
        "inactive). The correct display is one of \"Clinical finding\",\"Clinical finding (finding)\".")


def test_inactive_term_is_not_a_designation(engine: Engine, tmp_path: Path) -> None:
    run_load(engine, "snomed", _with_retired_term(tmp_path))
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        values = {_parts(p)["value"] for p in _lookup(test_client, "404684003") if p["name"] == "designation"}
    assert "Clinical findings (old)" not in values


def test_wrong_display_is_still_an_error(client: TestClient) -> None:
    found = _validate(client, "404684003", "Clinical findings (old)")
    assert found["result"]["valueBoolean"] is False
    assert found["issues"]["resource"]["issue"][0]["severity"] == "error"


def test_replacing_a_version_removes_its_inactive_designations(engine: Engine, tmp_path: Path) -> None:
    release = _with_retired_term(tmp_path)

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM inactive_designation")).scalar_one())

    run_load(engine, "snomed", release)
    first = count()
    run_load(engine, "snomed", release, replace=True)
    assert count() == first > 1


def test_expansion_designations_carry_the_description_language(client: TestClient) -> None:
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": _value_set({"concept": [{"code": "404684003"}]})},
        {"name": "includeDesignations", "valueBoolean": True}]})
    assert response.status_code == 200, response.text
    [entry] = response.json()["expansion"]["contains"]
    assert [(d["language"], d["value"]) for d in entry["designation"]] == [
        ("en", "Clinical finding"), ("en", "Clinical finding (finding)")]


# --- normal forms ------------------------------------------------------------------------------------------

def test_normal_forms_give_parents_and_relationship_groups(engine: Engine, tmp_path: Path) -> None:
    run_load(engine, "snomed", snomed_suite_edition.write(tmp_path), experimental=True)
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as test_client:
        found = {p["code"]: p["value"] for p in _properties(
            _lookup(test_client, "367430006", "normalForm", "normalFormTerse"))}
    assert found == {
        "normalFormTerse": "<<<119657005+274059009+281760001:{260686004=257903006,405813007=118632007}",
        "normalForm": "<<<119657005|Hand repair|+274059009|Hand tendon operation|+281760001|Repair of tendon of upper "
                      "limb|:{260686004|Method|=257903006|Repair - action|,405813007|Procedure site - Direct|="
                      "118632007|Structure of tendon within hand|}"}
    assert scg.render(scg.parse(found["normalForm"]), {}) == found["normalFormTerse"]


def test_normal_form_of_an_ungrouped_attribute(client: TestClient) -> None:
    found = {p["code"]: p["value"] for p in _properties(_lookup(client, "131148009", "normalFormTerse"))}
    assert found["normalFormTerse"].endswith("404684003:116676008=50960005")


def test_normal_forms_are_not_shown_unasked(client: TestClient) -> None:
    codes = {p["code"] for p in _properties(_lookup(client, "131148009"))}
    assert not codes & {"normalForm", "normalFormTerse"}


@pytest.mark.parametrize("url", [f"{SCT}?fhir_vs=isa/123456001", f"{SCT}?fhir_vs=refset/404684003"])
def test_implicit_value_set_naming_no_concept_or_refset_is_not_found(client: TestClient, url: str) -> None:
    response = client.get("/fhir/ValueSet/$expand", params={"url": url})
    assert response.status_code == 404, response.text
    assert url in response.text
