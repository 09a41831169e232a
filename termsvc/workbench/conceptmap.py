"""The FHIR R4 ConceptMap of a project's current decisions: approved codes map to their target (and any
additional targets, each with its own equivalence) with the chosen equivalence; rejected codes are published as `unmatched`, so a receiver knows they were reviewed.
Pending and flagged codes are left out: they are not decisions yet."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import all_codes
from termsvc.workbench.projects import Project
from termsvc.workbench.targets import TargetVersion

# R4 cmd-1: narrower and inexact maps SHALL say why in a comment
NEEDS_COMMENT = ("narrower", "inexact")


def _name(project: Project) -> str:
    words = re.split(r"[^A-Za-z0-9]+", project.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name if name[:1].isalpha() else "Map" + name


def resource_id(project: Project, version: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9\-.]+", "-", project.name).strip("-.")[:50] or "map"
    return f"{slug}-{version}"[:64]


def _target(state: d.State, reviewers: dict[int, str]) -> dict[str, Any]:
    mapped: dict[str, Any] = {}
    if state.target_code:
        mapped["code"] = state.target_code
        if state.target_display:
            mapped["display"] = state.target_display
    equivalence = mapped["equivalence"] = state.equivalence or ("equivalent" if state.target_code else "unmatched")
    comment = state.comment
    if not comment and equivalence in NEEDS_COMMENT:
        comment = f"{equivalence} match, approved by {reviewers.get(state.decision_id or 0, 'a reviewer')}"
    if comment:
        mapped["comment"] = comment
    return mapped


def build(conn: Connection, project: Project, target: TargetVersion, version: str, *, status: str = "active"
          ) -> dict[str, Any]:
    states = d.current_states(conn, project)
    extras = d.additional_targets(conn, project)
    reviewers: dict[int, str] = dict(conn.execute(text(
        "SELECT decision_id, reviewer FROM decision WHERE project_id = :p"), {"p": project.project_id}).all())
    elements: list[dict[str, Any]] = []
    for code in sorted(all_codes(conn, project), key=lambda c: c.code):
        state = states.get(code.local_code_id)
        if state is None or state.state not in (d.APPROVED, d.REJECTED):
            continue
        if state.state == d.APPROVED and state.target_code:
            targets = [_target(s, reviewers) for s in (state, *extras.get(code.local_code_id, ()))]
        else:
            targets = [_target(d.State(d.REJECTED, equivalence="unmatched", comment=state.comment,
                                       decision_id=state.decision_id), reviewers)]
        elements.append({"code": code.code, "display": code.display, "target": targets})
    group: dict[str, Any] = {"source": project.local_system, "target": target.url}
    if target.version:
        group["targetVersion"] = target.version
    group["element"] = elements
    return {
        "resourceType": "ConceptMap", "id": resource_id(project, version), "url": project.map_url,
        "version": version, "name": _name(project), "title": f"{project.name}: local codes to {target.url}",
        "status": status, "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sourceUri": project.local_system, "targetUri": target.url, "group": [group] if elements else [],
    }
