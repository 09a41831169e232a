"""Which version of a code system a value set include uses: `force-system-version` over the include's own
version over `system-version` over the current version; `check-system-version` refuses a mismatch."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from termsvc.errors import NotFound
from termsvc.store import queries as q
from termsvc.store.versions import names_snomed_edition, version_key


def _canonicals(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        url, _, version = value.partition("|")
        if url and version:
            out[url] = version
    return out


@dataclass
class VersionRules:
    force: dict[str, str] = field(default_factory=dict)
    default: dict[str, str] = field(default_factory=dict)
    check: dict[str, str] = field(default_factory=dict)
    # canonicals of the default (system-version) rules that chose a version, echoed in the expansion
    applied: list[str] = field(default_factory=list)
    # canonicals of check-system-version rules that chose the version of a versionless include
    checks_applied: list[str] = field(default_factory=list)
    # default-valueset-version: the version of an imported value set the import does not pin itself
    value_sets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_lists(cls, force: list[str], default: list[str], check: list[str],
                   value_sets: list[str] | None = None) -> VersionRules:
        return cls(_canonicals(force), _canonicals(default), _canonicals(check),
                   value_sets=_canonicals(value_sets or []))


def version_matches(stored: str, wanted: str) -> bool:
    """Exact, or with wildcard segments ('1.x', '1.0.*', '1.x.x'); a bare '1' does not match '1.0.0'."""
    if stored == wanted or names_snomed_edition(stored, wanted):
        return True
    parts = wanted.split(".")
    if not any(p in ("x", "X", "*") for p in parts):
        return False
    have = stored.split(".")
    if parts[-1] in ("x", "X", "*") and len(have) > len(parts):
        have = have[:len(parts)]
    return len(have) == len(parts) and all(p in ("x", "X", "*") or p == h for p, h in zip(parts, have, strict=True))


def pick_version(rows: list[q.CodeSystemRow], wanted: str | None) -> q.CodeSystemRow | None:
    if not rows:
        return None
    if not wanted:
        return rows[0]  # current first
    exact = [r for r in rows if r.version == wanted]
    if exact:
        return exact[0]
    matching = [r for r in rows if version_matches(r.version, wanted)]
    return max(matching, key=lambda r: version_key(r.version)) if matching else None


def resolve_system(conn: Connection, url: str, include_version: str | None, rules: VersionRules, *,
                   enforce_check: bool = True) -> q.CodeSystemRow:
    wanted = rules.force.get(url) or include_version or rules.default.get(url) or rules.check.get(url)
    if not rules.force.get(url) and not include_version and url in rules.default:
        canonical = f"{url}|{rules.default[url]}"
        if canonical not in rules.applied:
            rules.applied.append(canonical)
    if not rules.force.get(url) and not include_version and url not in rules.default and url in rules.check:
        canonical = f"{url}|{rules.check[url]}"
        if canonical not in rules.checks_applied:
            rules.checks_applied.append(canonical)
    rows = q.code_system_versions(conn, url)
    row = pick_version(rows, wanted)
    if row is None:
        if not rows:
            error = NotFound(f"A definition for CodeSystem '{url}' could not be found, so the value set cannot "
                             "be expanded", message_id="UNKNOWN_CODESYSTEM_EXP")
            error.details_code = "not-found"
            raise error
        known = sorted((r.version for r in rows), key=version_key)
        shown = known[0] if len(known) == 1 else ", ".join(known[:-1]) + " or " + known[-1]
        error = NotFound(f"A definition for CodeSystem '{url}' version '{wanted}' could not be found, so the value "
                         f"set cannot be expanded. Valid versions: {shown}",
                         message_id="UNKNOWN_CODESYSTEM_VERSION_EXP")
        error.details_code = "not-found"
        raise error
    checked = rules.check.get(url)
    if enforce_check and checked and not version_matches(row.version, checked):
        error = NotFound(f"The version '{row.version}' is not allowed for system '{url}': required to be "
                         f"'{checked}' by a version-check parameter", message_id="VALUESET_VERSION_CHECK")
        error.issue_code, error.status, error.details_code = "exception", 400, "version-error"
        raise error
    return row
