"""Which version of a code system is current, and how versions compare."""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

_PARTS = re.compile(r"(\d+)")
# A SNOMED CT edition URI without its /version/ part names the edition's latest version (SNOMED CT URI spec)
_SNOMED_EDITION = re.compile(r"^http://snomed\.info/x?sct/\d+$")


def names_snomed_edition(stored: str, wanted: str) -> bool:
    """Whether `wanted` is an edition URI (`http://snomed.info/sct/{module}`, or xsct) of which `stored` is a
    version."""
    return bool(_SNOMED_EDITION.match(wanted)) and stored.startswith(wanted + "/version/")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order: '2.10' after '2.9', '20240131' after '20230731'; numbers sort before words."""
    key: list[tuple[int, int | str]] = []
    for part in _PARTS.split(version):
        if not part:
            continue
        key.append((0, int(part)) if part.isdecimal() else (1, part))
    return tuple(key)


def pick_current(conn: Connection, url: str, code_system_id: int, current: bool | None) -> None:
    """Mark one version of `url` current: the given one if `current` is True, the latest by version if
    None. With False, the new version is current only if nothing else is."""
    rows = conn.execute(text("SELECT code_system_id, version, is_current FROM code_system WHERE url = :url"),
                        {"url": url}).all()
    if current is True:
        chosen = code_system_id
    elif current is False:
        others = [r for r in rows if r.is_current and r.code_system_id != code_system_id]
        chosen = others[0].code_system_id if others else code_system_id
    else:
        chosen = max(rows, key=lambda r: (version_key(r.version), r.code_system_id)).code_system_id
    conn.execute(text("UPDATE code_system SET is_current = (code_system_id = :id) WHERE url = :url"),
                 {"id": chosen, "url": url})
