"""Finding a value set by canonical url (+ version): stored (inline ones included, they are written to the
store for the request) or implicit."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, text

from termsvc.errors import NotFound
from termsvc.store.cache import GenerationCache, cached
from termsvc.store.versions import version_key
from termsvc.valuesets.implicit import implicit_value_set
from termsvc.valuesets.versions import version_matches

# the stored versions of a value set url, as (version, resource JSON): parsed again for each caller, who may change it
_VERSIONS: GenerationCache[tuple[tuple[str | None, str], ...]] = GenerationCache("value set versions", 4096)
_BY_URL = text("SELECT version, resource_json FROM value_set WHERE url = :url")


def _versions(conn: Connection, url: str) -> tuple[tuple[str | None, str], ...]:
    return tuple((r[0], r[1]) for r in conn.execute(_BY_URL, {"url": url}))


def stored_value_set(conn: Connection, url: str, version: str | None) -> dict[str, Any] | None:
    stored = cached(_VERSIONS, conn, url, lambda: _versions(conn, url))
    rows = list(stored)
    if version:
        rows = [r for r in rows if r[0] == version] or [r for r in rows if version_matches(r[0] or "", version)]
    if not rows:
        return None
    best = max(rows, key=lambda r: version_key(r[0] or ""))
    resource: dict[str, Any] = orjson.loads(best[1])
    return resource


def find_value_set(conn: Connection, url: str, version: str | None) -> dict[str, Any]:
    found = stored_value_set(conn, url, version) or implicit_value_set(conn, url, version)
    if found is None:
        shown = f"{url}|{version}" if version else url
        error = NotFound(f"A definition for the value Set '{shown}' could not be found",
                         message_id="Unable_to_resolve_value_Set_")
        error.details_code = "not-found"
        raise error
    return found
