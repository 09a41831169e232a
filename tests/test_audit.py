"""The audit trail: every write attempt (success, refusal for authorisation or validation) is recorded with who,
what, when, outcome and source, and is readable and searchable as FHIR R4 AuditEvent, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from termsvc.api.app import create_app
from termsvc.auth import tokens
from termsvc.settings import Settings

MAP = {"resourceType": "ConceptMap", "url": "http://example.org/cm/a", "version": "3", "status": "active",
       "group": [{"source": "http://example.org/a", "target": "http://example.org/b",
                  "element": [{"code": "1", "target": [{"code": "one", "equivalence": "equivalent"}]}]}]}


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


@pytest.fixture
def writer(engine: Engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.issue(engine, 'mapper', 'system/*.cud')}"}


@pytest.fixture
def auditor(engine: Engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.issue(engine, 'auditor', 'system/AuditEvent.rs')}"}


def _events(client: TestClient, auditor: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get("/fhir/AuditEvent", params=params, headers=auditor)
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def test_a_successful_create_is_recorded_as_an_audit_event(client: TestClient, writer: dict[str, str],
                                                           auditor: dict[str, str]) -> None:
    created = client.put("/fhir/ConceptMap/a", json=MAP, headers=writer)
    assert created.status_code == 201
    [event] = _events(client, auditor)
    assert event["resourceType"] == "AuditEvent"
    assert event["type"]["system"] == "http://terminology.hl7.org/CodeSystem/audit-event-type"
    assert event["type"]["code"] == "rest"
    assert event["subtype"][0]["code"] == "create"
    assert event["action"] == "C" and event["outcome"] == "0"
    assert event["agent"][0]["who"]["display"] == "token:mapper"
    assert event["agent"][0]["requestor"] is True
    assert event["agent"][0]["network"]["address"]
    assert event["entity"][0]["what"]["reference"] == "ConceptMap/a"
    assert event["entity"][0]["what"]["display"] == "http://example.org/cm/a|3"
    recorded = datetime.fromisoformat(event["recorded"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - recorded) < timedelta(minutes=5)


def test_update_and_delete_are_recorded_with_their_actions(client: TestClient, writer: dict[str, str],
                                                           auditor: dict[str, str]) -> None:
    client.put("/fhir/ConceptMap/a", json=MAP, headers=writer)
    client.put("/fhir/ConceptMap/a", json=MAP, headers=writer)
    client.delete("/fhir/ConceptMap/a", headers=writer)
    assert [e["action"] for e in _events(client, auditor)] == ["D", "U", "C"]


def test_a_write_without_a_token_is_recorded_as_a_minor_failure(client: TestClient,
                                                                auditor: dict[str, str]) -> None:
    assert client.post("/fhir/ConceptMap", json=MAP).status_code == 401
    [event] = _events(client, auditor)
    assert event["outcome"] == "4"
    assert event["agent"][0]["who"]["display"] == "anonymous:anonymous"
    assert "token" in event["outcomeDesc"]


def test_a_refused_scope_is_recorded_with_the_caller(client: TestClient, engine: Engine,
                                                     auditor: dict[str, str]) -> None:
    weak = tokens.issue(engine, "weak", "system/ValueSet.c")
    client.post("/fhir/ConceptMap", json=MAP, headers={"Authorization": f"Bearer {weak}"})
    [event] = _events(client, auditor)
    assert event["outcome"] == "4" and event["agent"][0]["who"]["display"] == "token:weak"


def test_a_validation_failure_is_recorded_and_nothing_written(client: TestClient, writer: dict[str, str],
                                                              auditor: dict[str, str]) -> None:
    bad = {**MAP, "status": "wobbly"}
    assert client.put("/fhir/ConceptMap/a", json=bad, headers=writer).status_code == 422
    [event] = _events(client, auditor)
    assert event["outcome"] == "4"
    assert "ConceptMap.status" in event["outcomeDesc"]
    assert client.get("/fhir/ConceptMap/a").status_code == 404


def test_audit_events_are_searchable_by_agent_entity_and_date(client: TestClient, engine: Engine,
                                                              writer: dict[str, str],
                                                              auditor: dict[str, str]) -> None:
    other = {"Authorization": f"Bearer {tokens.issue(engine, 'other', 'system/*.cud')}"}
    client.put("/fhir/ConceptMap/a", json=MAP, headers=writer)
    client.put("/fhir/ConceptMap/b", json={**MAP, "version": "4"}, headers=other)
    assert len(_events(client, auditor, agent="token:other")) == 1
    assert len(_events(client, auditor, agent="mapper")) == 1
    [event] = _events(client, auditor, entity="ConceptMap/b")
    assert event["agent"][0]["who"]["display"] == "token:other"
    today = datetime.now(UTC).date()
    assert len(_events(client, auditor, date=f"ge{today.isoformat()}")) == 2
    assert _events(client, auditor, date=f"lt{today.isoformat()}") == []
    assert len(_events(client, auditor, date=f"gt{(today - timedelta(days=1)).isoformat()}")) == 2
    assert len(_events(client, auditor, _count="1")) == 1


def test_an_audit_event_is_readable_by_id(client: TestClient, writer: dict[str, str],
                                          auditor: dict[str, str]) -> None:
    client.put("/fhir/ConceptMap/a", json=MAP, headers=writer)
    [event] = _events(client, auditor)
    read = client.get(f"/fhir/AuditEvent/{event['id']}", headers=auditor)
    assert read.status_code == 200 and read.json() == event
    assert client.get("/fhir/AuditEvent/999999", headers=auditor).status_code == 404


def test_reading_the_audit_trail_needs_an_audit_scope(client: TestClient, writer: dict[str, str]) -> None:
    assert client.get("/fhir/AuditEvent").status_code == 401
    assert client.get("/fhir/AuditEvent", headers=writer).status_code == 403


def test_a_bad_date_search_value_is_400(client: TestClient, auditor: dict[str, str]) -> None:
    response = client.get("/fhir/AuditEvent", params={"date": "yesterday"}, headers=auditor)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["date"]


def test_audit_events_are_searchable_by_id(client: TestClient, writer: dict[str, str],
                                           auditor: dict[str, str]) -> None:
    client.put("/fhir/ConceptMap/a", json=MAP, headers=writer)
    client.put("/fhir/ConceptMap/b", json={**MAP, "version": "4"}, headers=writer)
    first = _events(client, auditor)[-1]
    assert [e["id"] for e in _events(client, auditor, _id=first["id"])] == [first["id"]]
    assert _events(client, auditor, _id="not-a-number") == []
    assert _events(client, auditor, _id="9" * 40) == []


def test_audit_search_refuses_unknown_parameters_when_strict(client: TestClient, auditor: dict[str, str]) -> None:
    strict = client.get("/fhir/AuditEvent", params={"colour": "red"}, headers={**auditor, "Prefer": "handling=strict"})
    assert strict.status_code == 400
    lenient = client.get("/fhir/AuditEvent", params={"colour": "red"}, headers=auditor).json()
    assert [e["search"]["mode"] for e in lenient["entry"]] == ["outcome"]
