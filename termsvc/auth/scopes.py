"""SMART App Launch scopes for a resource server: v2 `system/Type.cruds` (any ordered subset of c r u d s,
optionally with `?param=value` restrictions) and v1 `system/Type.read|write|*`. Only `system/` scopes count:
this server acts for back-end clients, not on behalf of a user or patient.

A v2 scope with search restrictions (`system/ValueSet.rs?status=active`) is not granted for anything here:
the restriction cannot be checked against writes of whole terminology resources, and granting it unrestricted
would give more than the issuer meant."""

from __future__ import annotations

import re

# interaction -> SMART v2 permission letter
CREATE, READ, UPDATE, DELETE, SEARCH = "c", "r", "u", "d", "s"

_V2 = re.compile(r"^c?r?u?d?s?$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^system/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<perm>[a-z*]+)(?P<query>\?.*)?$")


def permissions(scope: str, resource_type: str) -> str:
    """The permission letters one scope string grants on `resource_type` ('' when none)."""
    match = _SCOPE.match(scope)
    if match is None or match["query"]:
        return ""
    if match["type"] not in ("*", resource_type):
        return ""
    perm = match["perm"]
    if perm in _V1:
        return _V1[perm]
    return perm if _V2.match(perm) else ""


def allows(scopes: tuple[str, ...] | list[str], resource_type: str, permission: str) -> bool:
    return any(permission in permissions(scope, resource_type) for scope in scopes)


def parse_scope_string(raw: str | list[str] | None) -> tuple[str, ...]:
    """Scopes from an OAuth `scope` claim (space separated) or a `scp` claim (a list or a string)."""
    if raw is None:
        return ()
    if isinstance(raw, list):
        return tuple(str(s) for s in raw if str(s))
    return tuple(s for s in str(raw).split() if s)


def needed_scope(resource_type: str, permission: str) -> str:
    return f"system/{resource_type}.{permission}"
