"""Errors raised below the web layer. Each carries what an OperationOutcome needs; only
`termsvc.api.handlers` turns them into HTTP responses, and only `termsvc.cli` into exit codes.

Leaf module: imports nothing from the project."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TermsvcError(Exception):
    """Base: a message for people, an OperationOutcome issue code, and an HTTP status."""

    message: str
    issue_code: str = "processing"
    status: int = 400
    expression: list[str] = field(default_factory=list)
    # tx-ecosystem message id (the `message-id` extension), where one applies
    message_id: str | None = None
    severity: str = "error"
    # tx-ecosystem issue type (http://hl7.org/fhir/tools/CodeSystem/tx-issue-type) for issue.details.coding
    details_code: str | None = None

    def __str__(self) -> str:
        return self.message


class NotFound(TermsvcError):
    def __init__(self, message: str, *, issue_code: str = "not-found", expression: list[str] | None = None,
                 message_id: str | None = None) -> None:
        super().__init__(message, issue_code, 404, expression or [], message_id)


class Invalid(TermsvcError):
    """The request is malformed (400) or semantically unprocessable (422, pass status=422)."""

    def __init__(self, message: str, *, status: int = 400, issue_code: str = "invalid",
                 expression: list[str] | None = None, message_id: str | None = None) -> None:
        super().__init__(message, issue_code, status, expression or [], message_id)


class NotSupported(TermsvcError):
    def __init__(self, message: str, *, expression: list[str] | None = None,
                 message_id: str | None = None) -> None:
        super().__init__(message, "not-supported", 400, expression or [], message_id)


class TooCostly(TermsvcError):
    def __init__(self, message: str, *, message_id: str | None = None) -> None:
        super().__init__(message, "too-costly", 422, [], message_id)


class Conflict(TermsvcError):
    """A write that clashes with what is stored (a version that exists, a load under way)."""

    def __init__(self, message: str, *, issue_code: str = "duplicate") -> None:
        super().__init__(message, issue_code, 409)


class Busy(TermsvcError):
    """The store's write lock stayed taken (a load, another write) for longer than a write may wait: 409
    lock-error (the request clashes with the store's state, not a server fault), with the seconds after which
    to try again (the Retry-After header)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, "lock-error", 409)
        self.retry_after = retry_after


class Unauthorized(TermsvcError):
    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message, "security", status)


@dataclass
class LoadError(Exception):
    """Bad release input. Names the file, the place in it (line, or element path) and the field."""

    file: str
    message: str
    line: int | None = None
    field_name: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.path:
            where += f", at {self.path}"
        if self.field_name:
            where += f", field {self.field_name}"
        return f"{where}: {self.message}"
