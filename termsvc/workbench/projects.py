"""Mapping projects: which local code system is mapped to which target code system (and version), by whom."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from termsvc.errors import Conflict, Invalid, NotFound


@dataclass(frozen=True)
class Project:
    project_id: int
    name: str
    local_system: str
    target_system: str
    target_version: str
    reviewers: tuple[str, ...]
    map_url: str


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def default_map_url(local_system: str, name: str) -> str:
    # the map belongs to the local system's publisher, so it lives under that URI
    return f"{local_system.rstrip('/')}/ConceptMap/{name}"


def create_project(conn: Connection, name: str, local_system: str, target_system: str, *,
                   target_version: str = "", reviewers: tuple[str, ...] = (), map_url: str | None = None) -> Project:
    if not name.strip() or not local_system.strip() or not target_system.strip():
        raise Invalid("a project needs a name, a local system URI and a target system URI")
    if conn.execute(text("SELECT 1 FROM project WHERE name = :n"), {"n": name}).first():
        raise Conflict(f"project {name!r} already exists")
    url = map_url or default_map_url(local_system, name)
    project_id = conn.execute(text(
        "INSERT INTO project (name, local_system, target_system, target_version, reviewers, map_url, created_at) "
        "VALUES (:n, :l, :t, :v, :r, :u, :c) RETURNING project_id"),
        {"n": name, "l": local_system, "t": target_system, "v": target_version, "r": json.dumps(list(reviewers)),
         "u": url, "c": now()}).scalar_one()
    return Project(int(project_id), name, local_system, target_system, target_version, tuple(reviewers), url)


def get_project(conn: Connection, name: str) -> Project:
    row = conn.execute(text("SELECT project_id, name, local_system, target_system, target_version, reviewers, "
                            "map_url FROM project WHERE name = :n"), {"n": name}).first()
    if row is None:
        raise NotFound(f"no mapping project named {name!r} (create it with `termsvc workbench project`)")
    return Project(int(row[0]), row[1], row[2], row[3], row[4] or "", tuple(json.loads(row[5])), row[6])


def list_projects(conn: Connection) -> list[Project]:
    names = conn.execute(text("SELECT name FROM project ORDER BY name")).scalars().all()
    return [get_project(conn, name) for name in names]


def check_reviewer(project: Project, reviewer: str) -> None:
    if not reviewer.strip():
        raise Invalid("a decision needs a reviewer name")
    if project.reviewers and reviewer not in project.reviewers:
        raise Invalid(f"{reviewer!r} is not a reviewer of project {project.name!r} "
                      f"(reviewers: {', '.join(project.reviewers)})")
