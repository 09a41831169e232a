"""The one shape of an ECL error: message id INVALID_ECL, tx-issue-type vs-invalid, and a text that quotes the
expression and says why (the tx-ecosystem suite's sct-ecl tests match on the expression's text)."""

from __future__ import annotations

from termsvc.errors import Invalid


def invalid_ecl(ecl: str, reason: str) -> Invalid:
    error = Invalid(f"Invalid ECL expression: '{ecl}': ({reason})", issue_code="invalid", message_id="INVALID_ECL")
    error.details_code = "vs-invalid"
    return error
