"""Who is calling: the identity a verified bearer token stands for, and what it may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from termsvc.errors import TermsvcError


@dataclass(frozen=True)
class Principal:
    name: str  # local token name, or the JWT's sub / client_id
    kind: str  # "token" (issued by `termsvc token`) or "jwt"
    scopes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def display(self) -> str:
        return f"{self.kind}:{self.name}"


ANONYMOUS = Principal("anonymous", "anonymous")


class AuthError(TermsvcError):
    """401 (no or bad token) or 403 (insufficient scope), with the RFC 6750 challenge to send back."""

    challenge: str

    def __init__(self, message: str, *, status: int = 401, error: str | None = None) -> None:
        super().__init__(message, "security" if status == 401 else "forbidden", status)
        challenge = 'Bearer realm="termsvc"'
        if error:
            challenge += f', error="{error}", error_description="{header_safe(message)}"'
        self.challenge = challenge


def header_safe(text: str) -> str:
    """`text` as RFC 6750 allows in error_description (printable ASCII but '"' and backslash): anything a
    client sent that reaches a message (CR LF would split the header, non-Latin-1 text cannot be sent at all)
    becomes '?'."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


def missing_token(message: str = "A bearer token is required") -> AuthError:
    # RFC 6750 3.1: no error code when the request carried no credentials at all
    return AuthError(message)


def invalid_token(message: str) -> AuthError:
    return AuthError(message, error="invalid_token")


def insufficient_scope(message: str) -> AuthError:
    return AuthError(message, status=403, error="insufficient_scope")
