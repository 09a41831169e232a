"""Local codes from FHIR Observations (NDJSON, a Bundle, or one resource): the codings of Observation.code
in systems that are not a standard terminology, with units from valueQuantity, specimen and category."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from termsvc.errors import LoadError
from termsvc.workbench.files import utf8_text
from termsvc.workbench.local_codes import ImportedCode

STANDARD_SYSTEMS = frozenset({
    "http://loinc.org", "http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10", "http://unitsofmeasure.org",
    "http://www.ama-assn.org/go/cpt", "http://hl7.org/fhir/sid/ndc", "http://hl7.org/fhir/sid/cvx"})


def is_standard(system: str | None) -> bool:
    if not system:
        return False
    return system in STANDARD_SYSTEMS or system.startswith(("http://hl7.org/fhir/", "http://terminology.hl7.org/"))


def _resources(path: Path) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
    """(line, path in file, resource) for every Observation."""
    file = str(path)
    content = utf8_text(path, hint="FHIR JSON must be UTF-8")
    if path.suffix.lower() == ".ndjson":
        for line, text in enumerate(content.splitlines(), start=1):
            if text.strip():
                yield line, "", _parse(text, file, line)
        return
    resource = _parse(content, file, None)
    if resource.get("resourceType") == "Bundle":
        for i, entry in enumerate(resource.get("entry") or []):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield None, f"Bundle.entry[{i}].resource", entry["resource"]
    else:
        yield None, resource.get("resourceType", ""), resource


def _parse(text: str, file: str, line: int | None) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(file, f"invalid JSON: {exc.msg}", line=line if line is not None else exc.lineno) from None
    if not isinstance(value, dict):
        raise LoadError(file, "expected a JSON object (a FHIR resource)", line=line)
    return value


def _text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return str(concept.get("text") or "")


def _coded_parts(resource: dict[str, Any], where: str) -> Iterator[tuple[dict[str, Any], Any, str]]:
    """Observation.code and each component's code (panels such as blood pressure carry local codes there),
    with the value that goes with it and where it sits."""
    yield resource.get("code") or {}, resource.get("valueQuantity"), f"{where or 'Observation'}.code"
    for i, component in enumerate(resource.get("component") or []):
        if isinstance(component, dict):
            yield component.get("code") or {}, component.get("valueQuantity"), \
                f"{where or 'Observation'}.component[{i}].code"


def read_observations(paths: list[Path], local_system: str | None = None) -> list[ImportedCode]:
    found: dict[str, ImportedCode] = {}
    units: dict[str, Counter[str]] = {}
    for path in paths:
        for line, where, resource in _resources(path):
            if resource.get("resourceType") != "Observation":
                continue
            for code, quantity, place in _coded_parts(resource, where):
                key = _record(found, units, path, line, place, resource, code, local_system)
                if key and isinstance(quantity, dict) and (quantity.get("unit") or quantity.get("code")):
                    units[key][str(quantity.get("code") or quantity.get("unit"))] += 1
    for key, item in found.items():
        if units[key]:
            item.units = units[key].most_common(1)[0][0]
    return list(found.values())


def _record(found: dict[str, ImportedCode], units: dict[str, Counter[str]], path: Path, line: int | None,
            place: str, resource: dict[str, Any], code: Any, local_system: str | None = None) -> str | None:
    """Counts one local coding of a CodeableConcept; returns its code (None if it has only standard codings)."""
    codings = [c for c in (code.get("coding") if isinstance(code, dict) else None) or []
               if isinstance(c, dict) and c.get("code")]
    local = [c for c in codings if c.get("system") == local_system] or \
        [c for c in codings if not is_standard(c.get("system"))]
    if not local:
        return None
    coding = local[0]
    display = str(coding.get("display") or code.get("text") or "").strip()
    if not display:
        raise LoadError(str(path), f"local code {coding['code']!r} has no display and the concept has no text",
                        line=line, path=place.rsplit(".code", 1)[0] if line is None else None, field_name=place)
    key = str(coding["code"])
    item = found.get(key)
    if item is None:
        hint = next((c["code"] for c in codings if c.get("system") == "http://loinc.org"), None)
        extra = {"coding_system": str(coding.get("system") or "")}
        if hint:
            extra["loinc_hint"] = str(hint)
        specimen = resource.get("specimen") or {}
        item = found[key] = ImportedCode(
            key, display, specimen=(specimen.get("display") if isinstance(specimen, dict) else None),
            category=_text((resource.get("category") or [None])[0]) or None, extra=extra, source_file=str(path))
        units[key] = Counter()
    item.count += 1
    return key


def fhir_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in (".json", ".ndjson"))
    return [path]
