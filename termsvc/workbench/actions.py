"""The reviewer's actions on one local code, shared by the review loop and the non-interactive commands."""

from __future__ import annotations

from sqlalchemy import Connection

from termsvc.errors import Invalid, NotFound
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import StoredCode, code_by_value
from termsvc.workbench.projects import Project
from termsvc.workbench.targets import require_active_target, target_version


def local_code(conn: Connection, project: Project, code: str) -> StoredCode:
    found = code_by_value(conn, project, code)
    if found is None:
        raise NotFound(f"local code {code!r} is not in project {project.name!r} (import it first)")
    return found


def approve(conn: Connection, project: Project, code: StoredCode, target_code: str, reviewer: str, *,
            equivalence: str = "equivalent", comment: str | None = None) -> int:
    target = require_active_target(conn, target_version(conn, project), target_code)
    return d.record(conn, project, code.local_code_id, reviewer, "approve",
                    d.State(d.APPROVED, target.code, target.display, equivalence, comment))


def add_target(conn: Connection, project: Project, code: StoredCode, target_code: str, reviewer: str, *,
               equivalence: str = "equivalent", comment: str | None = None) -> int:
    """A further target of an approved code (a local code may need several, e.g. one `narrower` per part)."""
    target = require_active_target(conn, target_version(conn, project), target_code)
    return d.add_target(conn, project, code.local_code_id, reviewer,
                        d.State(d.APPROVED, target.code, target.display, equivalence, comment))


def reject(conn: Connection, project: Project, code: StoredCode, reviewer: str, *, comment: str | None = None) -> int:
    """No target fits: published as `unmatched` so receivers know the code was looked at."""
    return d.record(conn, project, code.local_code_id, reviewer, "reject",
                    d.State(d.REJECTED, None, None, "unmatched", comment))


def flag(conn: Connection, project: Project, code: StoredCode, reviewer: str, comment: str) -> int:
    if not comment.strip():
        raise Invalid("a flag needs a comment saying what is in doubt", expression=["comment"])
    current = d.current_state(conn, code.local_code_id)
    return d.record(conn, project, code.local_code_id, reviewer, "flag",
                    d.State(d.FLAGGED, current.target_code, current.target_display, current.equivalence, comment))


def set_equivalence(conn: Connection, project: Project, code: StoredCode, reviewer: str, equivalence: str) -> int:
    """Qualifies the first approved target; additional targets keep theirs."""
    current, extras = d.state_at(conn, code.local_code_id)
    if current.state != d.APPROVED:
        raise Invalid(f"local code {code.code!r} has no approved target to qualify (state {current.state})")
    return d.record(conn, project, code.local_code_id, reviewer, "equivalence",
                    d.State(current.state, current.target_code, current.target_display, equivalence,
                            current.comment), extras)
