"""JWT access tokens from a configured OAuth 2.0 issuer: the signature is checked against the issuer's
published keys (JWKS, fetched and cached by PyJWKClient), then iss, aud, exp and nbf. Only asymmetric
algorithms are accepted: with HS256 anyone holding the (public) JWKS could mint tokens."""

from __future__ import annotations

from typing import Any

import jwt
from jwt import PyJWKClient
from jwt.types import Options

from termsvc.auth.principal import Principal, invalid_token
from termsvc.auth.scopes import parse_scope_string
from termsvc.errors import TermsvcError

ALGORITHMS = ["RS256", "ES256"]
# clocks of issuer and server drift a little; a few seconds of grace avoids spurious refusals
LEEWAY_SECONDS = 30


class JwtVerifier:
    def __init__(self, issuer: str, jwks_url: str, audience: str | None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.client = PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)

    def verify(self, token: str) -> Principal:
        try:
            key = self.client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise TermsvcError(f"The issuer's keys could not be fetched: {exc}", "transient", 503) from None
        except (jwt.PyJWKClientError, jwt.DecodeError):
            # the error names the token's kid, which is the caller's text: it is not echoed back
            raise invalid_token("The token's signing key (kid) is not known to the issuer, or the token is "
                                "malformed") from None
        options: Options = {"require": ["exp", "iss"], "verify_aud": self.audience is not None}
        try:
            claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=ALGORITHMS, issuer=self.issuer,
                                                audience=self.audience, leeway=LEEWAY_SECONDS, options=options)
        except jwt.ExpiredSignatureError:
            raise invalid_token("The token has expired") from None
        except jwt.ImmatureSignatureError:
            raise invalid_token("The token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise invalid_token(f"The token is not meant for this server (aud is not {self.audience})") from None
        except jwt.InvalidIssuerError:
            raise invalid_token(f"The token was not issued by {self.issuer}") from None
        except jwt.InvalidTokenError as exc:
            raise invalid_token(f"The token is not valid: {exc}") from None
        name = claims.get("sub") or claims.get("client_id") or "unknown"
        scopes = parse_scope_string(claims.get("scope")) or parse_scope_string(claims.get("scp"))
        return Principal(str(name), "jwt", scopes)


_VERIFIERS: dict[tuple[str, str, str | None], JwtVerifier] = {}


def verifier(issuer: str, jwks_url: str, audience: str | None) -> JwtVerifier:
    """One verifier (and so one key cache) per configuration, shared by all requests."""
    key = (issuer, jwks_url, audience)
    found = _VERIFIERS.get(key)
    if found is None:
        found = _VERIFIERS[key] = JwtVerifier(issuer, jwks_url, audience)
    return found
