"""Checks a CodeSystem, ValueSet or ConceptMap must pass before it is written through the API: the R4B
models of fhir.resources (structure and datatypes; writes only, never on a hot path), then the rules the
models leave out but the store and the operations rely on. Every problem names its element (FHIRPath-like
expression); all are reported at once, as 422."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from termsvc.errors import Invalid

# R4 ConceptMap.group.element.target.equivalence (http://hl7.org/fhir/concept-map-equivalence)
EQUIVALENCE = frozenset({"relatedto", "equivalent", "equal", "wider", "subsumes", "narrower", "specializes",
                         "inexact", "unmatched", "disjoint"})
PUBLICATION_STATUS = frozenset({"draft", "active", "retired", "unknown"})
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_REPORTED = 20

Problems = list[tuple[str, str]]  # (expression, message)


def _model(resource_type: str) -> Any:
    if resource_type == "CodeSystem":
        from fhir.resources.R4B.codesystem import CodeSystem

        return CodeSystem
    if resource_type == "ValueSet":
        from fhir.resources.R4B.valueset import ValueSet

        return ValueSet
    from fhir.resources.R4B.conceptmap import ConceptMap

    return ConceptMap


def _expression(resource_type: str, loc: tuple[Any, ...]) -> str:
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _FIELD.match(part):
            out += f".{part}"
        # other parts are pydantic's validator labels, not elements
    return out


def _model_problems(resource_type: str, resource: dict[str, Any]) -> Problems:
    try:
        _model(resource_type).model_validate(resource)
    except ValidationError as exc:
        return [(_expression(resource_type, tuple(e.get("loc", ()))), str(e.get("msg"))) for e in exc.errors()]
    except (TypeError, ValueError) as exc:
        return [(resource_type, str(exc))]
    return []


def _list(holder: dict[str, Any], key: str) -> list[Any]:
    value = holder.get(key)
    return value if isinstance(value, list) else []


def _common(resource_type: str, resource: dict[str, Any]) -> Problems:
    problems: Problems = []
    if not isinstance(resource.get("url"), str) or not resource["url"]:
        # the store and every operation find terminology resources by canonical url
        problems.append((f"{resource_type}.url", "a url is required"))
    status = resource.get("status")
    if not isinstance(status, str) or status not in PUBLICATION_STATUS:
        problems.append((f"{resource_type}.status", "status is required: draft, active, retired or unknown"))
    return problems


def _code_system(resource: dict[str, Any]) -> Problems:
    problems: Problems = []
    seen: dict[str, str] = {}
    stack = [(c, f"CodeSystem.concept[{i}]") for i, c in reversed(list(enumerate(_list(resource, "concept"))))]
    while stack:
        concept, path = stack.pop()
        if not isinstance(concept, dict):
            continue
        code = concept.get("code")
        if not isinstance(code, str) or not code:
            problems.append((f"{path}.code", "concept has no code"))
        elif code in seen:
            problems.append((f"{path}.code", f"code {code!r} is defined twice (first at {seen[code]})"))
        else:
            seen[code] = path
        stack.extend((c, f"{path}.concept[{i}]") for i, c in reversed(list(enumerate(_list(concept, "concept")))))
    return problems


def _value_set(resource: dict[str, Any]) -> Problems:
    problems: Problems = []
    compose = resource.get("compose")
    if not isinstance(compose, dict):
        return problems
    if not _list(compose, "include"):
        problems.append(("ValueSet.compose.include", "compose has no include"))
    for part in ("include", "exclude"):
        for i, rule in enumerate(_list(compose, part)):
            path = f"ValueSet.compose.{part}[{i}]"
            if not isinstance(rule, dict):
                continue
            if not rule.get("system") and not _list(rule, "valueSet"):
                problems.append((path, "names neither a system nor a valueSet (vsd-1)"))
            if (_list(rule, "concept") or _list(rule, "filter")) and not rule.get("system"):
                problems.append((f"{path}.system", "concepts and filters need a system (vsd-2)"))
            if _list(rule, "concept") and _list(rule, "filter"):
                problems.append((path, "has both concepts and filters (vsd-3)"))
            for j, concept in enumerate(_list(rule, "concept")):
                if not isinstance(concept, dict) or not concept.get("code"):
                    problems.append((f"{path}.concept[{j}].code", "concept has no code"))
            for j, rule_filter in enumerate(_list(rule, "filter")):
                for key in ("property", "op", "value"):
                    if not isinstance(rule_filter, dict) or rule_filter.get(key) in (None, ""):
                        problems.append((f"{path}.filter[{j}].{key}", f"filter has no {key}"))
    return problems


def _concept_map(resource: dict[str, Any]) -> Problems:
    problems: Problems = []
    for i, group in enumerate(_list(resource, "group")):
        path = f"ConceptMap.group[{i}]"
        if not isinstance(group, dict):
            continue
        for key in ("source", "target"):
            # $translate matches on the group's systems: a group without them can never be used
            if not group.get(key):
                problems.append((f"{path}.{key}", f"group has no {key} system"))
        for j, element in enumerate(_list(group, "element")):
            where = f"{path}.element[{j}]"
            if not isinstance(element, dict):
                continue
            if not element.get("code"):
                problems.append((f"{where}.code", "element has no code"))
            for k, target in enumerate(_list(element, "target")):
                at = f"{where}.target[{k}]"
                if not isinstance(target, dict):
                    continue
                equivalence = target.get("equivalence")
                if equivalence is None:
                    problems.append((f"{at}.equivalence", "target has no equivalence"))
                elif not isinstance(equivalence, str) or equivalence not in EQUIVALENCE:
                    problems.append((f"{at}.equivalence", f"{equivalence!r} is not an R4 concept-map-equivalence "
                                     "code"))
                if not target.get("code") and equivalence != "unmatched":
                    problems.append((f"{at}.code", "target has no code (only an unmatched target may omit it)"))
    return problems


_SPECIFIC = {"CodeSystem": _code_system, "ValueSet": _value_set, "ConceptMap": _concept_map}


def validate(resource_type: str, resource: dict[str, Any]) -> None:
    problems = _model_problems(resource_type, resource) + _common(resource_type, resource)
    problems += _SPECIFIC[resource_type](resource)
    if problems:
        shown = problems[:MAX_REPORTED]
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        message = f"The {resource_type} is not valid: " + "; ".join(f"{e}: {m}" for e, m in shown) + more
        raise Invalid(message, status=422, issue_code="invalid", expression=list(dict.fromkeys(e for e, _ in shown)))
