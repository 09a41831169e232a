"""OperationOutcome resources, built as plain dicts."""

from __future__ import annotations

from typing import Any

from termsvc.errors import TermsvcError

MESSAGE_ID_EXT = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"


def issue(severity: str, code: str, text: str, *, expression: list[str] | None = None,
          message_id: str | None = None, details_code: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if message_id:
        entry["extension"] = [{"url": MESSAGE_ID_EXT, "valueString": message_id}]
    entry["severity"] = severity
    entry["code"] = code
    details: dict[str, Any] = {"text": text}
    if details_code:
        details = {"coding": [{"system": "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type",
                               "code": details_code}], "text": text}
    entry["details"] = details
    if expression:
        entry["expression"] = expression
    return entry


def outcome(*issues: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


def from_error(error: TermsvcError) -> dict[str, Any]:
    return outcome(issue(error.severity, error.issue_code, error.message, expression=error.expression or None,
                         message_id=error.message_id, details_code=error.details_code))
