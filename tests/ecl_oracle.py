"""The ECL test fixture read straight from its RF2 files into plain Python sets, and the answers the tests
expect computed from those rows alone (no SQL, no project code), so the evaluator is checked against an
independent reading of the release."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "data" / "SnomedCT_ECLFixture_INT_20250131"
IS_A = "116680003"


def _rows(folder: Path, pattern: str) -> list[dict[str, str]]:
    """Active rows (every concept row) of the Snapshot files matching the pattern; none when there is no such
    file. Comment and blank lines (in the snowstorm-lite sample) are not rows."""
    out: list[dict[str, str]] = []
    for path in sorted(p for p in folder.glob(f"**/{pattern}") if "Snapshot" in p.name):
        with path.open(encoding="utf-8", newline="") as handle:
            lines = (line for line in handle if line.strip() and not line.startswith("#"))
            out.extend(r for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
                       if r["active"] == "1" or "definitionStatusId" in r)
    return out


@dataclass
class Release:
    active: dict[str, bool] = field(default_factory=dict)
    defined: dict[str, bool] = field(default_factory=dict)
    effective: dict[str, str] = field(default_factory=dict)
    parents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    rels: list[tuple[str, str, str, int]] = field(default_factory=list)  # source, type, destination/value, group
    descriptions: list[dict[str, str]] = field(default_factory=list)
    acceptability: dict[tuple[str, str], str] = field(default_factory=dict)  # (description, refset) -> id
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # refset -> concepts
    associations: list[tuple[str, str, str]] = field(default_factory=list)  # refset, member, target

    def ancestors(self, code: str) -> set[str]:
        seen: set[str] = set()
        todo = [code]
        while todo:
            for parent in self.parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    def descendants(self, code: str) -> set[str]:
        return {c for c in self.active if code in self.ancestors(c)}

    def all(self) -> set[str]:
        return set(self.active)


def read(folder: Path = FIXTURE) -> Release:
    """The release as the loader keeps it: rows naming concepts that are not in it are left out."""
    release = Release()
    for r in _rows(folder, "sct2_Concept_Snapshot*"):
        release.active[r["id"]] = r["active"] == "1"
        release.defined[r["id"]] = r["definitionStatusId"] == "900000000000073002"
        release.effective[r["id"]] = r["effectiveTime"]
    known = release.active
    for r in _rows(folder, "sct2_Relationship_Snapshot*"):
        if not (r["sourceId"] in known and r["destinationId"] in known and r["typeId"] in known):
            continue
        if r["typeId"] == IS_A:
            release.parents[r["sourceId"]].add(r["destinationId"])
        else:
            release.rels.append((r["sourceId"], r["typeId"], r["destinationId"], int(r["relationshipGroup"])))
    for r in _rows(folder, "sct2_RelationshipConcreteValues_Snapshot*"):
        if r["sourceId"] in known and r["typeId"] in known:
            release.rels.append((r["sourceId"], r["typeId"], r["value"], int(r["relationshipGroup"])))
    release.descriptions = [d for d in _rows(folder, "sct2_Description_Snapshot*") if d["conceptId"] in known]
    for r in _rows(folder, "der2_cRefset_Language*"):
        release.acceptability[(r["referencedComponentId"], r["refsetId"])] = r["acceptabilityId"]
    for r in _rows(folder, "der2_Refset_*"):
        if r["referencedComponentId"] in known:
            release.members[r["refsetId"]].add(r["referencedComponentId"])
    for r in _rows(folder, "der2_cRefset_AttributeValue*"):
        if r["referencedComponentId"] in known:
            release.members[r["refsetId"]].add(r["referencedComponentId"])
    for r in _rows(folder, "der2_cRefset_Association*"):
        if r["referencedComponentId"] in known:
            release.associations.append((r["refsetId"], r["referencedComponentId"], r["targetComponentId"]))
            release.members[r["refsetId"]].add(r["referencedComponentId"])
    return release
