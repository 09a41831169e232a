"""The project's target code system version as stored: which codes exist, are active, and what they are called."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from termsvc.errors import Invalid, NotFound
from termsvc.workbench.projects import Project


@dataclass(frozen=True)
class TargetVersion:
    code_system_id: int
    url: str
    version: str

    @property
    def shown(self) -> str:
        """url|version, as FHIR writes a versioned canonical (the bare url when the version has none)."""
        return f"{self.url}|{self.version}" if self.version else self.url


@dataclass(frozen=True)
class TargetConcept:
    code: str
    display: str | None
    active: bool
    status: str | None


def target_version(conn: Connection, project: Project, version: str | None = None) -> TargetVersion:
    """The pinned version when the project (or caller) names one, else the current version."""
    wanted = version if version is not None else project.target_version
    if wanted:
        row = conn.execute(text("SELECT code_system_id, version FROM code_system WHERE url = :u AND version = :v"),
                           {"u": project.target_system, "v": wanted}).first()
    else:
        row = conn.execute(text("SELECT code_system_id, version FROM code_system WHERE url = :u AND is_current "
                                "= true"), {"u": project.target_system}).first()
    if row is None:
        shown = f"{project.target_system}|{wanted}" if wanted else project.target_system
        raise NotFound(f"target code system {shown} is not loaded in this store (load it first)")
    return TargetVersion(int(row[0]), project.target_system, str(row[1] or ""))


def find_target(conn: Connection, target: TargetVersion, code: str) -> TargetConcept | None:
    row = conn.execute(text("SELECT code, display, active, status FROM concept WHERE code_system_id = :cs "
                            "AND code = :c"), {"cs": target.code_system_id, "c": code}).first()
    return TargetConcept(row[0], row[1], bool(row[2]), row[3]) if row is not None else None


def require_active_target(conn: Connection, target: TargetVersion, code: str) -> TargetConcept:
    """Approvals must point at a code a receiver can use: known and active in the target version."""
    concept = find_target(conn, target, code)
    if concept is None:
        raise Invalid(f"target code {code!r} does not exist in {target.shown}", expression=["target"])
    if not concept.active:
        raise Invalid(f"target code {code!r} is inactive in {target.shown} (status {concept.status or 'inactive'}); "
                      "choose an active replacement", expression=["target"])
    return concept
