"""A standard FHIR client (fhirpy) against a real running server (`termsvc serve` in a subprocess) over the
bundled FHIR samples, on SQLite and PostgreSQL: the README's operations, search by _id, paging, a write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from termsvc.auth.tokens import issue
from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from tests.conftest import ENGINES, SAMPLES
from tests.server_support import serving

COLOURS = "http://example.org/fhir/CodeSystem/colours"
PRIMARY = "http://example.org/fhir/ValueSet/primary-colours"
TO_OTHER = "http://example.org/fhir/ConceptMap/colours-to-other"


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    """(FHIR base URL, a write token) of a server over a store holding the bundled FHIR samples (one server
    per engine for the module: starting one and loading the samples costs seconds)."""
    store_url = new_store_url(str(request.param))
    engine = make_engine(store_url, pool_size=1)
    try:
        run_load(engine, "fhir", SAMPLES / "fhir")
        token = issue(engine, "fhirpy", "system/*.cud")
    finally:
        engine.dispose()
    with serving(store_url, via_cli=True) as base:
        yield f"{base}/fhir", token


@pytest.fixture
def client(server: tuple[str, str]) -> SyncFHIRClient:
    return SyncFHIRClient(server[0], extra_headers={"Accept": "application/fhir+json"})


def _value(parameters: dict[str, Any], name: str) -> Any:
    found = next(p for p in parameters["parameter"] if p["name"] == name)
    return next(v for k, v in found.items() if k.startswith("value"))


def test_search_by_id_gets_only_that_resource(client: SyncFHIRClient) -> None:
    found = client.resources("CodeSystem").search(_id="example-colours").fetch()
    assert [r["id"] for r in found] == ["example-colours"]
    assert client.resources("ValueSet").search(_id="example-primary-colours").count() == 1
    assert client.resources("ConceptMap").search(_id="no-such-map").fetch() == []


def test_search_by_url_and_reading_by_id(client: SyncFHIRClient) -> None:
    value_set = client.resources("ValueSet").search(url=PRIMARY).first()
    assert value_set is not None and value_set["id"] == "example-primary-colours"
    assert client.reference("ValueSet", "example-primary-colours").to_resource()["url"] == PRIMARY


def test_paging_follows_next_links_to_every_code_system(client: SyncFHIRClient) -> None:
    total = client.resources("CodeSystem").count()
    everything = client.resources("CodeSystem").limit(7).fetch_all()
    assert len(everything) == total > 7
    assert len({r["id"] for r in everything}) == total


def test_lookup_and_validate_code(client: SyncFHIRClient) -> None:
    lookup = client.execute("CodeSystem/$lookup", method="get", params={"system": COLOURS, "code": "red"})
    assert _value(lookup, "display") == "Red"
    valid = client.execute("ValueSet/$validate-code", method="get",
                           params={"url": PRIMARY, "system": COLOURS, "code": "red"})
    assert _value(valid, "result") is True


def test_expand_translate_and_subsumes(client: SyncFHIRClient) -> None:
    expansion = client.execute("ValueSet/$expand", method="get", params={"url": PRIMARY})
    assert "red" in {c["code"] for c in expansion["expansion"]["contains"]}
    translated = client.execute("ConceptMap/$translate", params={}, data={"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": TO_OTHER}, {"name": "system", "valueUri": COLOURS},
        {"name": "code", "valueCode": "red"}]})
    assert _value(translated, "result") is True
    subsumes = client.execute("CodeSystem/$subsumes", method="get",
                              params={"system": COLOURS, "codeA": "red", "codeB": "crimson"})
    assert _value(subsumes, "outcome") == "subsumes"


def test_an_unknown_code_is_a_not_found_operation_outcome(client: SyncFHIRClient) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        client.execute("CodeSystem/$lookup", method="get", params={"system": COLOURS, "code": "no-such-code"})
    assert '"resourceType":"OperationOutcome"' in str(caught.value)


def test_a_write_with_a_token_then_read_back(server: tuple[str, str]) -> None:
    base, token = server
    writer = SyncFHIRClient(base, authorization=f"Bearer {token}")
    concept_map = writer.resource("ConceptMap", url="http://example.org/fhir/ConceptMap/fhirpy", version="1",
                                  status="draft", name="FhirpyMap", group=[{
                                      "source": COLOURS, "target": "http://example.org/other",
                                      "element": [{"code": "red", "target": [{"code": "R", "equivalence": "equivalent"}]}]}])
    concept_map.save()
    assert concept_map["id"]
    found = writer.resources("ConceptMap").search(_id=concept_map["id"]).fetch()
    assert [r["url"] for r in found] == ["http://example.org/fhir/ConceptMap/fhirpy"]

