"""ConceptMap/$translate (R4 4.0.1, also accepting the R5 parameter names the ecosystem tests send).

Matches come from the flattened `concept_map_element` rows: forward by (source_system, source_code), reverse
by (target_system, target_code), both indexed. An inline `conceptMap` is flattened in memory with the same
function the store uses, so both paths apply the same rules. No models are built per request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import Invalid, NotFound
from termsvc.ops.params import OpParams
from termsvc.store.resources import concept_map_rows

# equivalences that say the target does NOT stand for the source (R4 ConceptMap equivalence)
NOT_A_MATCH = {"unmatched", "disjoint"}

_COLUMNS = ("e.source_system, e.source_version, e.source_code, e.source_display, e.target_system, "
            "e.target_version, e.target_code, e.target_display, e.equivalence, e.comment, e.depends_on, "
            "e.product, m.url, m.version, m.concept_map_id")
_FORWARD = text(f"SELECT {_COLUMNS} FROM concept_map_element e JOIN concept_map m "
                "ON m.concept_map_id = e.concept_map_id WHERE e.source_code = :code AND e.source_system = :system "
                "ORDER BY m.url, m.version, e.concept_map_element_id")
_REVERSE = text(f"SELECT {_COLUMNS} FROM concept_map_element e JOIN concept_map m "
                "ON m.concept_map_id = e.concept_map_id WHERE e.target_code = :code AND e.target_system = :system "
                "ORDER BY m.url, m.version, e.concept_map_element_id")


@dataclass(frozen=True)
class Row:
    source_system: str | None
    source_version: str | None
    source_code: str | None
    source_display: str | None
    target_system: str | None
    target_version: str | None
    target_code: str | None
    target_display: str | None
    equivalence: str
    comment: str | None
    depends_on: str | None
    product: str | None
    map_url: str
    map_version: str
    concept_map_id: int = 0


@dataclass(frozen=True)
class MapScope:
    """Which maps a request may use: one stored map (by id), some url's versions, or any current map."""

    concept_map_ids: frozenset[int] = frozenset()
    inline: tuple[dict[str, Any], ...] = ()


def _split_canonical(value: str) -> tuple[str, str | None]:
    url, _, version = value.partition("|")
    return url, (version or None)


def _scope_of(resource: dict[str, Any], prefix: str) -> str | None:
    for suffix in ("Uri", "Canonical", ""):
        value = resource.get(prefix + suffix)
        if isinstance(value, str):
            return _split_canonical(value)[0]
    return None


def resolve_scope(conn: Connection, params: OpParams, concept_map_id: int | None) -> MapScope:
    if concept_map_id is not None:
        return MapScope(concept_map_ids=frozenset((concept_map_id,)))
    inline = params.resources("conceptMap")
    if inline:
        resource = inline[0]
        if resource.get("resourceType") != "ConceptMap":
            raise Invalid("Parameter 'conceptMap' must be a ConceptMap resource", expression=["conceptMap"])
        return MapScope(inline=(resource,))
    if params.has("conceptMap"):
        raise Invalid("Parameter 'conceptMap' must be a ConceptMap resource", expression=["conceptMap"])
    url = params.string("url")
    version = params.string("conceptMapVersion")
    if url:
        url, pinned = _split_canonical(url)
        version = version or pinned
    wanted_scopes = {name: _split_canonical(value)[0] for name in ("source", "target")
                     if (value := params.string(name) or params.string(f"{name}Scope"))}
    # tx-resource maps are taken as sent, each on its own: two may share a url|version, which the store
    # (one row per url|version) could not hold side by side
    sent = [r for r in params.resources("tx-resource") if r.get("resourceType") == "ConceptMap"
            and (not url or r.get("url") == url) and (not version or str(r.get("version") or "") == version)
            and all(_scope_of(r, name) == value for name, value in wanted_scopes.items())]
    sent_keys = {(r.get("url"), str(r.get("version") or "")) for r in sent}
    clauses, bind = [], {}
    if url:
        clauses.append("url = :url")
        bind["url"] = url
    if version:
        clauses.append("version = :version")
        bind["version"] = version
    else:
        clauses.append("is_current = true")
    for name, value in wanted_scopes.items():
        column = f"{name}_scope"
        clauses.append(f"({column} = :{name} OR {column} LIKE :{name}_versioned)")
        bind[name] = value
        bind[f"{name}_versioned"] = value + "|%"
    found = conn.execute(text("SELECT concept_map_id, url, version FROM concept_map WHERE " + " AND ".join(clauses)),
                         bind).all()
    ids = frozenset(int(r[0]) for r in found if (r[1], r[2]) not in sent_keys)
    if url and not ids and not sent:
        shown = f"{url}|{version}" if version else url
        raise NotFound(f"ConceptMap {shown} is not known", expression=["url"])
    return MapScope(concept_map_ids=ids, inline=tuple(sent))


@dataclass(frozen=True)
class Query:
    system: str | None
    code: str
    version: str | None
    reverse: bool
    # the system the answer must be in (R4 targetsystem; R5 sourceSystem when reversing)
    wanted_system: str | None
    # R5 requests (targetCode etc.) report the source coding of each match as `source`
    r5_reverse: bool


def _codings_of(params: OpParams, prefix: str) -> list[tuple[str | None, str, str | None]]:
    """(system, code, version) candidates from a <prefix>coding or <prefix>codeableConcept parameter."""
    found: list[tuple[str | None, str, str | None]] = []
    names = ("coding", "codeableConcept") if not prefix else (f"{prefix}Coding", f"{prefix}CodeableConcept")
    coding = params.complex(names[0])
    codings = [coding] if coding else []
    concept = params.complex(names[1])
    if concept is not None:
        inner = concept.get("coding")
        if not isinstance(inner, list) or not inner:
            raise Invalid(f"Parameter '{names[1]}' has no coding", expression=[names[1]])
        codings.extend(inner)
    for index, item in enumerate(codings):
        where = f"{names[1]}.coding[{index}]" if not coding else names[0]
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise Invalid(f"Parameter '{names[0] if coding else names[1]}' has a coding without a code",
                          expression=[where])
        wrong = next((key for key in ("system", "version") if not isinstance(item.get(key), str | None)), None)
        if wrong:
            raise Invalid(f"Coding.{wrong} must be a string", expression=[f"{where}.{wrong}"])
        found.append((item.get("system"), item["code"], item.get("version")))
    return found


def queries_of(params: OpParams) -> list[Query]:
    r5_reverse = any(params.has(n) for n in ("targetCode", "targetCoding", "targetCodeableConcept"))
    if r5_reverse:
        system, code = params.string("targetSystem"), params.string("targetCode")
        candidates = [(system, code, None)] if code else _codings_of(params, "target")
        wanted = params.string("sourceSystem")
        reverse = True
    else:
        reverse = bool(params.boolean("reverse", False))
        system = params.string("system") or params.string("sourceSystem")
        code = params.string("code") or params.string("sourceCode")
        version = params.string("version")
        candidates = [(system, code, version)] if code else (_codings_of(params, "") + _codings_of(params, "source"))
        wanted = params.string("targetsystem") or params.string("targetSystem")
    if not candidates:
        raise Invalid("$translate needs a code (system and code, coding or codeableConcept)", expression=["code"])
    queries = []
    for cand_system, cand_code, cand_version in candidates:
        if not cand_system:
            raise Invalid(f"The code {cand_code!r} has no system", expression=["system"])
        queries.append(Query(cand_system, cand_code, cand_version, reverse, wanted, r5_reverse))
    return queries


def _inline_rows(resource: dict[str, Any]) -> list[Row]:
    url = resource.get("url") or ""
    version = str(resource.get("version") or "")
    return [_row(row[2:14], url, version, 0) for row in concept_map_rows(0, resource)]


def _row(element: tuple[Any, ...], url: str, version: str, concept_map_id: int) -> Row:
    (source_system, source_version, source_code, source_display, target_system, target_version, target_code,
     target_display, equivalence, comment, depends_on, product) = element
    return Row(source_system, source_version, source_code, source_display, target_system, target_version,
               target_code, target_display, equivalence, comment, depends_on, product, url, version, concept_map_id)


def _given_depends_on(params: OpParams) -> list[tuple[str | None, set[tuple[str | None, str]]]]:
    """(element/property, {(system, code)}) from each dependsOn parameter."""
    given = []
    for value in params.all("dependsOn"):
        if not isinstance(value, list):
            raise Invalid("Parameter 'dependsOn' must have parts (element, concept)", expression=["dependsOn"])
        element: str | None = None
        codes: set[tuple[str | None, str]] = set()
        for part in value:
            name = part.get("name") if isinstance(part, dict) else None
            if name in ("element", "attribute"):
                element = part.get("valueUri") or part.get("valueString")
            elif name == "concept":
                concept = part.get("valueCodeableConcept") or {}
                coding = part.get("valueCoding")
                for item in ([coding] if coding else []) + list(concept.get("coding") or []):
                    if isinstance(item, dict) and item.get("code"):
                        codes.add((item.get("system"), item["code"]))
            elif name == "value" or (isinstance(name, str) and name.startswith("value")):
                for key, raw in part.items():
                    if key.startswith("value") and isinstance(raw, str):
                        codes.add((None, raw))
        given.append((element, codes))
    return given


def _depends_on_met(row: Row, given: list[tuple[str | None, set[tuple[str | None, str]]]]) -> bool:
    if not row.depends_on:
        return True
    for needed in json.loads(row.depends_on):
        prop, system, value = needed.get("property"), needed.get("system"), needed.get("value")
        satisfied = any(
            (element is None or prop is None or element == prop)
            and any(code == value and (system is None or csys is None or csys == system) for csys, code in codes)
            for element, codes in given)
        if not satisfied:
            return False
    return True


def _coding(system: str | None, code: str | None, display: str | None, version: str | None) -> dict[str, Any]:
    coding: dict[str, Any] = {}
    if system:
        coding["system"] = system
    if version:
        coding["version"] = version
    if code:
        coding["code"] = code
    if display:
        coding["display"] = display
    return coding


def _match(row: Row, query: Query) -> dict[str, Any]:
    forward_concept = not query.reverse or query.r5_reverse
    if forward_concept:
        concept = _coding(row.target_system, row.target_code, row.target_display, row.target_version)
    else:
        concept = _coding(row.source_system, row.source_code, row.source_display, row.source_version)
    canonical = f"{row.map_url}|{row.map_version}" if row.map_version else row.map_url
    parts: list[dict[str, Any]] = []
    if concept.get("code"):
        parts.append({"name": "concept", "valueCoding": concept})
    parts.append({"name": "equivalence", "valueCode": row.equivalence})
    parts.append({"name": "originMap", "valueCanonical": canonical})
    for product in json.loads(row.product) if row.product else []:
        parts.append({"name": "product", "part": [
            {"name": "element", "valueUri": product.get("property")},
            {"name": "concept", "valueCoding": _coding(product.get("system"), product.get("value"),
                                                       product.get("display"), None)}]})
    if query.r5_reverse:
        parts.append({"name": "source", "valueCoding": _coding(row.source_system, row.source_code, None, None)})
    if row.comment:
        parts.append({"name": "comment", "valueString": row.comment})
    return {"name": "match", "part": parts}


def _rows_for(conn: Connection, scope: MapScope, query: Query) -> list[Row]:
    candidates = [row for resource in scope.inline for row in _inline_rows(resource)]
    if query.reverse:
        rows = [r for r in candidates if r.target_code == query.code and r.target_system == query.system]
    else:
        rows = [r for r in candidates if r.source_code == query.code and r.source_system == query.system]
    if scope.concept_map_ids:
        statement = _REVERSE if query.reverse else _FORWARD
        result = conn.execute(statement, {"code": query.code, "system": query.system})
        rows += [_row(tuple(r[:12]), r[12], r[13] or "", int(r[14])) for r in result
                if int(r[14]) in scope.concept_map_ids]
    if query.version:
        side = "target_version" if query.reverse else "source_version"
        rows = [r for r in rows if getattr(r, side) in (None, query.version)]
    if query.wanted_system:
        side = "source_system" if query.reverse else "target_system"
        rows = [r for r in rows if getattr(r, side) == query.wanted_system]
    return rows


def translate(conn: Connection, params: OpParams, concept_map_id: int | None = None) -> dict[str, Any]:
    queries = queries_of(params)
    scope = resolve_scope(conn, params, concept_map_id)
    given = _given_depends_on(params)
    matches: list[dict[str, Any]] = []
    result = False
    for query in queries:
        for row in _rows_for(conn, scope, query):
            if not _depends_on_met(row, given):
                continue
            if row.equivalence not in NOT_A_MATCH:
                result = True
            matches.append(_match(row, query))
    parameters: list[dict[str, Any]] = [{"name": "result", "valueBoolean": result}]
    if not result:
        shown = ", ".join(f"{q.system}#{q.code}" for q in queries)
        parameters.append({"name": "message",
                           "valueString": f"No translations found for {shown}" + (
                               f" into {queries[0].wanted_system}" if queries[0].wanted_system else "")})
    parameters.extend(matches)
    return {"resourceType": "Parameters", "parameter": parameters}
