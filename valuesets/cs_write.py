"""Writing an inline FHIR CodeSystem resource (a `tx-resource`) through a load run.

A local adapter until `termsvc.loaders.fhir_resources.write_code_system` exists; `writer_for` prefers
that one, so inline and loaded code systems are stored the same way once it lands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from termsvc.store.loadrun import CodeSystemWriter, LoadRun

# status words that FHIR's concept-properties `status` uses for a concept no longer in use
_INACTIVE_STATUS = {"retired", "inactive"}
_VALUE_KEYS = {"valueCode": "code", "valueString": "string", "valueBoolean": "boolean", "valueInteger": "integer",
               "valueDecimal": "decimal", "valueDateTime": "dateTime", "valueCoding": "Coding"}


def writer_for() -> Callable[[LoadRun, dict[str, Any]], None]:
    try:
        from termsvc.loaders.fhir_resources import write_code_system  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return write_code_system_locally

    def write(run: LoadRun, resource: dict[str, Any]) -> None:
        write_code_system(run, resource, current=True)
    return write


def _lexical(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _edge(writer: CodeSystemWriter, edges: set[tuple[str, str]], parent: str, child: str) -> None:
    # a parent given both by nesting and by a `parent` property is one edge
    if (parent, child) not in edges:
        edges.add((parent, child))
        writer.add_edge(parent, child)


def _add_concept(writer: CodeSystemWriter, concept: dict[str, Any], parent: str | None, path: str,
                 edges: set[tuple[str, str]]) -> None:
    code = concept.get("code")
    writer.position.path = path
    if not isinstance(code, str):
        from termsvc.errors import LoadError
        raise LoadError(writer.position.file, "concept has no code", path=path, field_name="code")
    active, abstract, status = True, False, None
    for prop in concept.get("property", []) or []:
        pcode = prop.get("code")
        key = next((k for k in prop if k.startswith("value")), None)
        if not pcode or key is None:
            continue
        value = prop[key]
        if pcode == "status" and isinstance(value, str):
            status = value
            active = active and value not in _INACTIVE_STATUS
        elif pcode == "inactive" and value is True:
            active = False
        elif pcode == "notSelectable" and value is True:
            abstract = True
        if pcode in ("parent", "subsumedBy") and isinstance(value, str):
            _edge(writer, edges, value, code)
        if key == "valueCoding" and isinstance(value, dict):
            writer.add_property(code, pcode, str(value.get("code", "")), type="Coding", system=value.get("system"),
                                display=value.get("display"))
        else:
            writer.add_property(code, pcode, _lexical(value), type=_VALUE_KEYS.get(key, "string"))
    writer.add_concept(code, concept.get("display"), active=active, abstract=abstract, status=status,
                       definition=concept.get("definition"))
    for designation in concept.get("designation", []) or []:
        use = designation.get("use") or {}
        if isinstance(designation.get("value"), str):
            writer.add_designation(code, designation["value"], language=designation.get("language"),
                                   use=(use.get("system"), use.get("code"), use.get("display")) if use else None)
    if parent is not None:
        _edge(writer, edges, parent, code)
    for index, child in enumerate(concept.get("concept", []) or []):
        _add_concept(writer, child, code, f"{path}.concept[{index}]", edges)


def write_code_system_locally(run: LoadRun, resource: dict[str, Any]) -> None:
    writer = run.code_system({k: v for k, v in resource.items() if k != "concept"}, current=True)
    edges: set[tuple[str, str]] = set()
    for index, concept in enumerate(resource.get("concept", []) or []):
        _add_concept(writer, concept, None, f"CodeSystem.concept[{index}]", edges)
    # fragments and supplements may name codes they do not define
    writer.finish(require_defined=resource.get("content", "complete") == "complete")
