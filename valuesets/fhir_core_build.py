"""Building the FHIR R4 core terminology the server ships (valuesets/data/fhir-r4-core.json.gz).

An R4 server knows the code systems and value sets the FHIR R4 (4.0.1) specification defines, as every
reference server does. No R4 core package is published on the registry any more, so the bundle is made from
the two published packages that hold R4 terminology:
- hl7.fhir.r4.expansions 4.0.1: every R4 core ValueSet (its compose is kept, the expansion dropped) and, in
  the expansions, the codes of each core code system at version 4.0.1;
- hl7.fhir.r4b.core 4.3.0: the full CodeSystem resources (hierarchy, definitions, properties).
A core code system is taken from R4B, relabelled 4.0.1, only when its codes are exactly the codes R4's
expansions of the whole system list; otherwise it is rebuilt from the R4 expansion (codes, displays,
abstract and inactive flags), so what is shipped as 4.0.1 is what R4 published.

Run: python -m termsvc.valuesets.fhir_core_build R4_EXPANSIONS.tgz R4B_CORE.tgz OUT.json.gz"""

from __future__ import annotations

import gzip
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CORE_PREFIX = "http://hl7.org/fhir/"
R4_VERSION = "4.0.1"


def _resources(package: Path, kind: str) -> Iterator[dict[str, Any]]:
    with tarfile.open(package, "r:gz") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name.startswith(f"{kind}-") and name.endswith(".json"):
                handle = tar.extractfile(member)
                if handle is not None:
                    resource = json.loads(handle.read())
                    if resource.get("resourceType") == kind:
                        yield resource


def _flat(contains: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for entry in contains:
        yield entry
        yield from _flat(entry.get("contains", []) or [])


def _codes(concepts: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for concept in concepts:
        out.add(str(concept["code"]))
        out |= _codes(concept.get("concept", []) or [])
    return out


def _whole_system(value_set: dict[str, Any]) -> str | None:
    """The system a value set takes whole (one include, no codes, no filters), if it does."""
    includes = (value_set.get("compose") or {}).get("include", []) or []
    if len(includes) != 1 or (value_set.get("compose") or {}).get("exclude"):
        return None
    include = includes[0]
    if include.get("concept") or include.get("filter") or include.get("valueSet") or not include.get("system"):
        return None
    return str(include["system"])


def _rebuilt(system: str, value_set: dict[str, Any]) -> dict[str, Any]:
    concepts = []
    for entry in _flat(value_set["expansion"].get("contains", []) or []):
        if entry.get("system") != system or not entry.get("code"):
            continue
        concept: dict[str, Any] = {"code": entry["code"]}
        if entry.get("display"):
            concept["display"] = entry["display"]
        props = []
        if entry.get("abstract"):
            props.append({"code": "notSelectable", "valueBoolean": True})
        if entry.get("inactive"):
            props.append({"code": "status", "valueCode": "retired"})
        if props:
            concept["property"] = props
        concepts.append(concept)
    return {"resourceType": "CodeSystem", "id": system.rsplit("/", 1)[-1], "url": system, "version": R4_VERSION,
            "name": value_set.get("name"), "title": value_set.get("title"), "status": value_set.get("status", "active"),
            "publisher": value_set.get("publisher"), "description": value_set.get("description"),
            "content": "complete", "concept": concepts}


def build(r4_expansions: Path, r4b_core: Path) -> list[dict[str, Any]]:
    value_sets: list[dict[str, Any]] = []
    whole: dict[str, dict[str, Any]] = {}
    for vs in _resources(r4_expansions, "ValueSet"):
        system = _whole_system(vs)
        used = {str(p.get("valueUri")) for p in (vs.get("expansion") or {}).get("parameter", []) or []
                if p.get("name") == "version"}
        if system and system.startswith(CORE_PREFIX) and f"{system}|{R4_VERSION}" in used:
            whole.setdefault(system, vs)
        kept = {k: v for k, v in vs.items() if k not in ("expansion", "text", "meta")}
        value_sets.append(kept)
    code_systems: list[dict[str, Any]] = []
    for cs in _resources(r4b_core, "CodeSystem"):
        url = str(cs.get("url", ""))
        if url not in whole or cs.get("content") != "complete":
            continue
        expansion = whole.pop(url)
        r4_codes = {str(e["code"]) for e in _flat(expansion["expansion"].get("contains", []) or [])
                    if e.get("system") == url and e.get("code")}
        if _codes(cs.get("concept", []) or []) == r4_codes:
            code_systems.append({**{k: v for k, v in cs.items() if k not in ("text", "meta")}, "version": R4_VERSION})
        else:
            code_systems.append(_rebuilt(url, expansion))
    code_systems.extend(_rebuilt(url, vs) for url, vs in whole.items())
    return code_systems + value_sets


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: fhir_core_build R4_EXPANSIONS.tgz R4B_CORE.tgz OUT.json.gz")
    resources = build(Path(argv[0]), Path(argv[1]))
    with gzip.open(argv[2], "wt", encoding="utf-8") as out:
        json.dump({"resourceType": "Bundle", "type": "collection",
                   "entry": [{"resource": r} for r in resources]}, out, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(resources)} resources written to {argv[2]}")


if __name__ == "__main__":
    main(sys.argv[1:])
