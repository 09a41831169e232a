"""Publishing: the approved mappings become the next version of the project's ConceptMap in the store, at
once the current one for $translate; earlier versions stay stored and readable by version."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from termsvc.errors import Invalid
from termsvc.store.generation import bump
from termsvc.store.resources import store_concept_map
from termsvc.store.versions import version_key
from termsvc.workbench.conceptmap import build
from termsvc.workbench.projects import Project
from termsvc.workbench.targets import target_version


@dataclass(frozen=True)
class Published:
    url: str
    version: str
    concept_map_id: int
    elements: int


def next_version(conn: Connection, url: str) -> str:
    versions = conn.execute(text("SELECT version FROM concept_map WHERE url = :u"), {"u": url}).scalars().all()
    numbers = [int(v) for v in versions if v.isdecimal()]
    if versions and not numbers:
        latest = max(versions, key=version_key)
        raise Invalid(f"ConceptMap {url} has non-numeric versions (latest {latest!r}); cannot number the next one")
    return str(max(numbers, default=0) + 1)


def publish(conn: Connection, project: Project) -> Published:
    target = target_version(conn, project)
    version = next_version(conn, project.map_url)
    resource = build(conn, project, target, version)
    if not resource["group"]:
        raise Invalid(f"project {project.name!r} has no approved or rejected codes to publish")
    concept_map_id = store_concept_map(conn, resource)
    # $translate without a version uses the current map of a url: only the newest is current
    conn.execute(text("UPDATE concept_map SET is_current = (concept_map_id = :id) WHERE url = :u"),
                 {"id": concept_map_id, "u": project.map_url})
    bump(conn)
    return Published(project.map_url, version, concept_map_id, len(resource["group"][0]["element"]))


def published_map(conn: Connection, project: Project, version: str | None = None) -> str | None:
    """The stored resource JSON of a published version (the current one by default)."""
    which = "version = :v" if version else "is_current = true"
    row = conn.execute(text(f"SELECT resource_json FROM concept_map WHERE url = :u AND {which}"),
                       {"u": project.map_url, "v": version}).first()
    return str(row[0]) if row is not None else None
