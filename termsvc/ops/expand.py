"""ValueSet/$expand: parameters in, a ValueSet with its expansion out (plain dicts, no models).

The value set (by url, inline `valueSet`, or the instance addressed) is compiled to one SQL condition
(valuesets.compose); the total is counted and only the requested page is read, so paging has no cap and
costs the same at any offset. An unpaged expansion larger than the threshold is refused as too costly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, text

from termsvc.concept_extensions import CARRIED_EXTENSIONS
from termsvc.errors import Invalid, TooCostly
from termsvc.ops import expansion_cache
from termsvc.ops import snomed as sct
from termsvc.ops import snomed_expressions as expressions
from termsvc.ops.codesystems import language_matches, parse_languages
from termsvc.ops.params import OpParams
from termsvc.store import queries as q
from termsvc.store.cache import GenerationCache, cached
from termsvc.store.versions import version_key
from termsvc.valuesets.compose import Compiled, Compiler
from termsvc.valuesets.expand import Query, Row, designations_for, parent_edges, properties_for
from termsvc.valuesets.finder import find_value_set
from termsvc.valuesets.supplements import (
    required_supplements,
    resolve_supplements,
    supplement_concepts,
    supplement_system_ids,
)
from termsvc.valuesets.versions import VersionRules

# request parameters echoed in expansion.parameter, as the reference servers do
ECHOED = ("activeOnly", "count", "offset", "excludeNested", "includeDesignations", "includeDefinition",
          "displayLanguage", "filter", "designation", "excludeNotForUI", "excludePostCoordinated",
          "force-system-version", "limitedExpansion",
          "default-to-latest-version", "incomplete-ok")
_VALUE_TYPE = {"activeOnly": "Boolean", "count": "Integer", "offset": "Integer", "excludeNested": "Boolean",
               "includeDesignations": "Boolean", "includeDefinition": "Boolean", "displayLanguage": "Code",
               "filter": "String", "designation": "String", "excludeNotForUI": "Boolean",
               "excludePostCoordinated": "Boolean", "force-system-version": "Uri", "property": "String", "limitedExpansion": "Boolean",
               "default-to-latest-version": "Boolean", "incomplete-ok": "Boolean"}


@dataclass
class ExpandRequest:
    value_set: dict[str, Any]
    offset: int = 0
    count: int | None = None
    active_only: bool = False
    text_filter: str | None = None
    include_designations: bool = False
    include_definition: bool = False
    languages: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    rules: VersionRules | None = None
    threshold: int = 1_000_000
    exclude_nested: bool = False
    header_language: str | None = None
    # `designation` parameters naming languages (urn:ietf:bcp:47|xx): only those designations are shown
    designation_languages: tuple[str, ...] = ()
    # displayLanguage ruled out every other language (`*; q=0`): no display rather than one in another language
    hard_language: bool = False

# the value set elements an expansion repeats (the reference servers leave out compose, text, extensions)
KEPT = ("resourceType", "id", "language", "url", "version", "name", "title", "status", "experimental", "date",
        "publisher")


def _strings(params: OpParams, name: str) -> list[str]:
    return [str(v) for v in params.all(name) if not isinstance(v, dict | list)]


def value_set_of(conn: Connection, params: OpParams, instance: dict[str, Any] | None) -> dict[str, Any]:
    if instance is not None:
        return instance
    inline = params.resources("valueSet")
    if inline:
        return inline[0]
    url = params.string("url") or params.string("context")
    if not url:
        raise Invalid("Unable to find the value set to expand: supply url, valueSet or an id", issue_code="required",
                      expression=["url"])
    url, _, embedded = url.partition("|")
    return find_value_set(conn, url, params.string("valueSetVersion") or embedded or None)


def request_from(conn: Connection, params: OpParams, instance: dict[str, Any] | None, *,
                 accept_language: str | None, threshold: int) -> ExpandRequest:
    offset = params.integer("offset", 0) or 0
    count = params.integer("count")
    if offset < 0 or (count is not None and count < 0):
        raise Invalid("offset and count must not be negative", expression=["offset" if offset < 0 else "count"])
    value_set = value_set_of(conn, params, instance)
    defaults = compose_parameters(value_set)
    language = params.string("displayLanguage") or accept_language
    header_language = None if params.has("displayLanguage") else accept_language
    if not language and defaults.get("displayLanguage"):
        language = header_language = defaults["displayLanguage"]
    return ExpandRequest(
        value_set=value_set, offset=offset, count=count,
        active_only=params.boolean("activeOnly", False) is True, text_filter=params.string("filter") or None,
        include_designations=params.boolean("includeDesignations", False) is True,
        include_definition=params.boolean("includeDefinition", False) is True,
        languages=tuple(parse_languages(language)), properties=tuple(_strings(params, "property")),
        rules=VersionRules.from_lists(_strings(params, "force-system-version"), _strings(params, "system-version"),
                                      _strings(params, "check-system-version"),
                                      _strings(params, "default-valueset-version")),
        threshold=threshold, exclude_nested=params.boolean("excludeNested", False) is True,
        header_language=header_language, hard_language=_refuses_others(language), designation_languages=tuple(
            d.partition("|")[2] for d in _strings(params, "designation") if d.startswith("urn:ietf:bcp:47|")))


EXPANSION_PARAMETER = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"


def _refuses_others(language: str | None) -> bool:
    """A language list with `*;q=0` accepts only the languages it names."""
    for item in (language or "").split(","):
        tag, _, rest = item.partition(";")
        if tag.strip() == "*" and rest.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            return True
    return False


def compose_parameters(value_set: dict[str, Any]) -> dict[str, str]:
    """Default expansion parameters a value set's compose sets (the valueset-expansion-parameter extension)."""
    out: dict[str, str] = {}
    compose = value_set.get("compose") or {}
    for ext in compose.get("extension", []) or [] if isinstance(compose, dict) else []:
        if not isinstance(ext, dict) or ext.get("url") != EXPANSION_PARAMETER:
            continue
        parts = {e.get("url"): e for e in ext.get("extension", []) or [] if isinstance(e, dict)}
        name = (parts.get("name") or {}).get("valueCode")
        value = next((v for k, v in (parts.get("value") or {}).items() if k.startswith("value")), None)
        if isinstance(name, str) and value is not None:
            out[name] = str(value)
    return out


def _display(row: Row, designations: list[q.DesignationRow], languages: tuple[str, ...],
             cs_language: str | None) -> q.DesignationRow | None:
    """The designation that replaces the concept's display for the requested languages, if any."""
    for wanted in languages:
        if cs_language and language_matches(cs_language, wanted):
            return None
        for d in designations:
            if d.language and language_matches(d.language, wanted) and d.use_code in (None, "display"):
                return d
    return None


# properties every expansion shows where concepts have them (concept extensions the loader keeps as
# properties: codesystem-conceptOrder, itemWeight, codesystem-label), as the reference servers do
ALWAYS_SHOWN = ("order", "weight", "label")
CARRIED = CARRIED_EXTENSIONS

PREFERRED_FOR_LANGUAGE = {"system": "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra",
                          "code": "preferredForLanguage", "display": "Preferred For Language"}


def _coding_value(prop: q.PropertyRow) -> dict[str, Any]:
    if prop.type == "Coding":
        coding = {"system": prop.value_system, "code": prop.value, "display": prop.value_display}
        return {"valueCoding": {k: v for k, v in coding.items() if v}}
    if prop.type == "boolean":
        return {"valueBoolean": prop.value == "true"}
    if prop.type == "integer":
        return {"valueInteger": int(prop.value)}
    if prop.type == "decimal":
        # the lexical form decides: "6" stays 6, "1.20" is 1.2
        lexical = prop.value.strip()
        return {"valueDecimal": int(lexical) if lexical.lstrip("+-").isdecimal() else float(lexical)}
    key = {"code": "valueCode", "dateTime": "valueDateTime"}.get(prop.type, "valueString")
    return {key: prop.value}


def _contains(conn: Connection, request: ExpandRequest, compiled: Compiled, rows: list[Row],
              supplements: list[int]) -> list[dict[str, Any]]:
    ids = [r.concept_id for r in rows]
    # the concepts of the supplements in use, by the base concept they add to
    extra = supplement_concepts(conn, supplements, [
        (r.concept_id, compiled.used_systems[r.code_system_id].url, r.code) for r in rows
        if r.code_system_id in compiled.used_systems])
    extra_ids = [i for more in extra.values() for i in more]
    need_designations = request.include_designations or bool(request.languages)
    designations = designations_for(conn, ids + extra_ids) if need_designations else {}
    properties = properties_for(conn, ids + extra_ids, [*request.properties, *ALWAYS_SHOWN, *CARRIED])
    for concept_id, more in extra.items():
        for added in more:
            designations.setdefault(concept_id, []).extend(designations.pop(added, []))
            properties.setdefault(concept_id, []).extend(properties.pop(added, []))
    languages = {cs_id: _cs_language(cs) for cs_id, cs in compiled.used_systems.items()}
    multi_version = _multi_version(compiled)
    out: list[dict[str, Any]] = []
    for row in rows:
        cs = compiled.used_systems.get(row.code_system_id)
        entry: dict[str, Any] = {"system": cs.url if cs else None}
        if cs and cs.version and multi_version.get(cs.url):
            entry["version"] = cs.version
        if row.abstract:
            entry["abstract"] = True
        if not row.active:
            entry["inactive"] = True
        entry["code"] = row.code
        own = compiled.compose_displays.get((row.code_system_id, row.code))
        replaced = None if own and own.display else _display(
            row, designations.get(row.concept_id, []), request.languages, languages.get(row.code_system_id))
        display = own.display if own and own.display else (replaced.value if replaced else row.display)
        cs_language = languages.get(row.code_system_id)
        dropped = (request.hard_language and replaced is None and not (own and own.display) and request.languages
                   and not (cs_language and any(language_matches(cs_language, w) for w in request.languages)))
        if dropped:
            display = None
        if display:
            entry["display"] = display
        if own and own.extensions:
            entry["extension"] = list(own.extensions)
        if request.include_designations:
            own_rows = designations.get(row.concept_id, [])
            if cs and cs.url == sct.SNOMED:  # one per description, in its language (see ops.snomed)
                own_rows = sct.designations(own_rows, row.display)
            listed = [_designation(d) for d in own_rows if d is not replaced]
            if (replaced is not None or dropped) and row.display:
                # the display given up for another language stays visible as a designation
                original: dict[str, Any] = {"use": PREFERRED_FOR_LANGUAGE, "value": row.display}
                if languages.get(row.code_system_id):
                    original = {"language": languages[row.code_system_id], **original}
                listed.insert(0, original)
            if own:
                listed.extend(own.designations)
            if request.designation_languages:
                # a `designation` language names exactly the language wanted: de asks for de, not de-CH
                listed = [d for d in listed if str(d.get("language") or "").lower() in
                          {w.lower() for w in request.designation_languages}]
            if listed:
                entry["designation"] = listed
        props: list[tuple[str, dict[str, Any]]] = []
        if "definition" in request.properties and row.definition:
            props.append(("definition", {"valueString": row.definition}))
        props.extend((p.code, _coding_value(p)) for p in properties.get(row.concept_id, [])
                     if p.code != "status" and p.code not in CARRIED)
        carried = [{"url": p.code, "valueString": p.value} for p in properties.get(row.concept_id, [])
                   if p.code in CARRIED]
        if carried:
            entry["extension"] = entry.get("extension", []) + carried
        if _unusual(row.status):
            props.append(("status", {"valueCode": row.status}))
        if props:
            entry["extension"] = entry.get("extension", []) + [{
                "url": CONTAINS_PROPERTY, "extension": [{"url": "code", "valueCode": code}, {"url": "value", **value}]}
                for code, value in props]
        out.append(entry)
    return out


def _unusual(status: str | None) -> bool:
    """A status worth a property on the code: not active. Publishers spell it their way (LOINC: ACTIVE, a
    status every active code has, which the request did not ask for)."""
    return bool(status) and str(status).lower() != "active"


def nest(conn: Connection, rows: list[Row], contains: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hierarchy shown as nested `contains`: each code under its first direct parent that is also in
    the expansion (a parent left out promotes its children), the rest at the top."""
    ids = [r.concept_id for r in rows]
    entry_of = dict(zip(ids, contains, strict=True))
    parent_of: dict[int, int] = {}
    for parent_id, child_id in parent_edges(conn, ids):
        if parent_id in entry_of and child_id not in parent_of:
            parent_of[child_id] = parent_id
    top: list[dict[str, Any]] = []
    for concept_id in ids:
        parent = parent_of.get(concept_id)
        if parent is None:
            top.append(entry_of[concept_id])
        else:
            entry_of[parent].setdefault("contains", []).append(entry_of[concept_id])
    return top


CONTAINS_PROPERTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property"
EXPANSION_PROPERTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property"
CONCEPT_PROPERTIES = "http://hl7.org/fhir/concept-properties#"


def _property_extension(code: str, uri: str | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "code", "valueCode": code}]
    if uri:
        parts.append({"url": "uri", "valueUri": uri})
    return {"url": EXPANSION_PROPERTY, "extension": parts}


def _declared_properties(conn: Connection, compiled: Compiled, names: tuple[str, ...], rows: list[Row],
                         supplements: list[int]) -> list[dict[str, Any]]:
    """expansion.property (R5) as its R4 cross-version extension: the properties the contains entries carry
    (the requested ones the code systems declare, definition, and status where a concept has one)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = {"status", "definition"}
    if "definition" in names:
        out.append(_property_extension("definition", CONCEPT_PROPERTIES + "definition"))
    if any(_unusual(r.status) for r in rows):
        out.append(_property_extension("status", CONCEPT_PROPERTIES + "status"))
    for cs_id in [*supplements, *compiled.used_systems]:
        declared = conn.execute(text("SELECT code, uri FROM code_system_property WHERE code_system_id = :cs"),
                                {"cs": cs_id}).all()
        uris = {r[0]: r[1] for r in declared}
        for name in [*ALWAYS_SHOWN, *names]:
            if name in uris and name not in seen:
                seen.add(name)
                out.append(_property_extension(name, uris[name]))
    return out


STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"


def standards_status(resource: dict[str, Any]) -> str | None:
    for ext in resource.get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") == STANDARDS_STATUS and isinstance(ext.get("valueCode"), str):
            return str(ext["valueCode"])
    return None


def _status_parameters(compiled: Compiled) -> list[dict[str, Any]]:
    """used-valueset for imported value sets, and the warnings the ecosystem expects when something used is
    withdrawn, deprecated, draft or experimental."""
    out: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for index, vs in enumerate(compiled.used_value_sets):
        canonical = _canonical(vs)
        status = standards_status(vs)
        if index and vs.get("url"):
            out.append({"name": "used-valueset", "valueUri": canonical})
        if status in ("withdrawn", "deprecated"):
            warnings.append({"name": f"warning-{status}", "valueUri": canonical})
    for cs in compiled.used_systems.values():
        resource = orjson.loads(cs.resource_json) if cs.resource_json else {}
        canonical = f"{cs.url}|{cs.version}" if cs.version else cs.url
        status = standards_status(resource)
        if status in ("withdrawn", "deprecated"):
            warnings.append({"name": f"warning-{status}", "valueUri": canonical})
        if resource.get("experimental") is True:
            warnings.append({"name": "warning-experimental", "valueUri": canonical})
        if cs.status == "draft":
            warnings.append({"name": "warning-draft", "valueUri": canonical})
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in out + warnings:
        key = (p["name"], p["valueUri"])
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _multi_version(compiled: Compiled) -> dict[str, bool]:
    """Systems an expansion shows `contains.version` for: more than one version used, or named by the
    compose (a forced version may make them one, the reader still needs to know which it got)."""
    seen: dict[str, int] = {}
    for cs in compiled.used_systems.values():
        seen[cs.url] = seen.get(cs.url, 0) + 1
    return {url: n > 1 or len(compiled.named_versions.get(url, ())) > 1 for url, n in seen.items()}


def version_rank(compiled: Compiled) -> dict[int, int]:
    """The order of a code system's versions in an expansion that uses several: the versions the compose
    names, latest first, then those it reached without naming one (as the reference servers list them)."""
    rank: dict[int, int] = {}
    by_url: dict[str, list[q.CodeSystemRow]] = {}
    for cs in compiled.used_systems.values():
        by_url.setdefault(cs.url, []).append(cs)
    for url, versions in by_url.items():
        if len(versions) < 2:
            continue
        named = compiled.named_versions.get(url, set())
        ordered = sorted((cs for cs in versions if cs.version in named), key=lambda cs: version_key(cs.version),
                         reverse=True) + [cs for cs in versions if cs.version not in named]
        for place, cs in enumerate(ordered):
            rank[cs.code_system_id] = place
    return rank


def merge_versions(rows: list[Row], compiled: Compiled) -> list[Row]:
    best: dict[tuple[str, str], Row] = {}
    order: list[tuple[str, str]] = []
    for row in rows:
        cs = compiled.used_systems.get(row.code_system_id)
        key = (cs.url if cs else str(row.code_system_id), row.code)
        held = best.get(key)
        if held is None:
            order.append(key)
            best[key] = row
        elif cs and version_key(cs.version) > version_key(compiled.used_systems[held.code_system_id].version):
            best[key] = row
    return [best[key] for key in order]


def _cs_language(cs: q.CodeSystemRow) -> str | None:
    resource = orjson.loads(cs.resource_json) if cs.resource_json else {}
    language = resource.get("language") if isinstance(resource, dict) else None
    return language if isinstance(language, str) else None


def _designation(d: q.DesignationRow) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.language:
        out["language"] = d.language
    if d.use_system or d.use_code:
        out["use"] = {k: v for k, v in (("system", d.use_system), ("code", d.use_code), ("display", d.use_display))
                      if v}
    out["value"] = d.value
    return out


def _echo(params: OpParams) -> list[dict[str, Any]]:
    echoed: list[dict[str, Any]] = []
    for name, kind, value in params.items:
        if name not in ECHOED or isinstance(value, dict | list):
            continue
        value_type = _VALUE_TYPE[name] if kind in ("query", "", "part", "resource", "Canonical") else kind
        if value_type == "Boolean" and isinstance(value, str):
            value = value.lower() == "true"
        elif value_type == "Integer" and isinstance(value, str):
            value = int(value)
        echoed.append({"name": name, f"value{value_type}": value})
    return echoed


def _canonical(value_set: dict[str, Any]) -> str:
    url = value_set.get("url") or "??"
    return f"{url}|{value_set['version']}" if value_set.get("version") else str(url)


# finished expansions, by everything an answer depends on besides the store (which the generation stands for):
# the value set itself, the request's parameters, the languages it asked for and the size limit. Weighed in codes.
_FINISHED: GenerationCache[dict[str, Any]] = GenerationCache("expansions", 1024, max_weight=200_000)


def expand(conn: Connection, params: OpParams, request: ExpandRequest) -> dict[str, Any]:
    """The expansion (a dict the caller must not change: it may be served again). An expansion is the same
    for the same value set, parameters and store, so a finished one is kept until the store changes; it keeps
    its identifier and timestamp (R4 lets an expansion keep its identifier while those factors stay the same)."""
    key = orjson.dumps([request.value_set, params.items, request.languages, request.header_language,
                        request.hard_language, request.threshold], option=orjson.OPT_SORT_KEYS, default=str)
    return cached(_FINISHED, conn, key, lambda: _expand(conn, params, request), weight=_codes)


def _codes(result: dict[str, Any]) -> int:
    """Entries of an expansion, nested ones included: what an expansion costs to keep."""
    pending, count = list(result.get("expansion", {}).get("contains", [])), 0
    while pending:
        entry = pending.pop()
        count += 1
        pending.extend(entry.get("contains", []))
    return count + 1


def _expand(conn: Connection, params: OpParams, request: ExpandRequest) -> dict[str, Any]:
    request.rules = request.rules or VersionRules()
    compiler = Compiler(conn, request.rules, find_value_set)
    compiled = compiler.compile(request.value_set, "c")
    supplements = resolve_supplements(conn, required_supplements(request.value_set, _strings(params, "useSupplement")))
    query = expansion_cache.answering(conn, params, request.value_set, compiled,
                                      Query(compiled, active_only=request.active_only, text_filter=request.text_filter,
                                            rank=version_rank(compiled)))
    listed = expressions.listed_entries(conn, request.value_set, list(compiled.used_systems.values()),
                                        request.text_filter)
    total = query.total(conn) + len(listed)
    if request.count is None and total - request.offset > request.threshold:
        raise TooCostly(f"The value set '{_canonical(request.value_set)}' expansion has too many codes to produce "
                        f"(>{request.threshold})", message_id="VALUESET_TOO_COSTLY")
    if compiled.versions_match:
        # versionsMatch: one entry per code across the versions used, from the latest version holding it
        rows = merge_versions(query.page(conn, 0, None), compiled)
        total = len(rows) + len(listed)
        rows = rows[request.offset:None if request.count is None else request.offset + request.count]
    else:
        rows = query.page(conn, request.offset, request.count) if request.count != 0 else []
    parameters = _echo(params)
    if request.header_language:
        parameters.append({"name": "displayLanguage", "valueCode": request.header_language})
    for cs in sorted(compiled.used_systems.values(), key=lambda c: (c.url, c.version)):
        parameters.append({"name": "used-codesystem", "valueUri": f"{cs.url}|{cs.version}" if cs.version else cs.url})
    rules = request.rules or VersionRules()
    parameters.extend({"name": "system-version", "valueUri": c} for c in rules.applied)
    parameters.extend({"name": "check-system-version", "valueUri": c} for c in rules.checks_applied)
    parameters.extend({"name": "default-valueset-version", "valueUri": f"{url}|{version}"}
                      for url, version in rules.value_sets.items())
    if compiled.versions_match or compiled.matched_across_versions:
        parameters.append({"name": "versionsMatch", "valueBoolean": True})
    parameters.extend(_status_parameters(compiled))
    parameters.extend({"name": "used-supplement", "valueUri": s} for s in supplements)
    fragments = [cs for cs in compiled.used_systems.values() if cs.content == "fragment"]
    parameters.extend({"name": "used-fragment", "valueUri": f"{cs.url}|{cs.version}" if cs.version else cs.url}
                      for cs in fragments)
    expansion: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "total": total,
    }
    if fragments:
        expansion["extension"] = [
            {"url": "http://hl7.org/fhir/StructureDefinition/valueset-unclosed", "valueBoolean": True},
            {"url": "http://hl7.org/fhir/StructureDefinition/valueset-unclosed-reason",
             "valueString": "This extension is based on a fragment of the code system " + fragments[0].url}]
    open_to_expressions = sct.unclosed(request.value_set)
    if open_to_expressions and not fragments:
        expansion["extension"] = open_to_expressions
    if request.offset or request.count is not None:
        expansion["offset"] = request.offset
    if parameters:
        expansion["parameter"] = parameters
    supplement_ids = supplement_system_ids(conn, supplements)
    declared = _declared_properties(conn, compiled, request.properties, rows, supplement_ids)
    if declared:
        expansion["extension"] = expansion.get("extension", []) + declared
    contains = _contains(conn, request, compiled, rows, supplement_ids)
    if (contains and not request.exclude_nested and request.count is None and not request.offset
            and not compiled.enumerated and len(compiled.used_value_sets) == 1
            # with exclusions the hierarchy would have holes: listed flat, as the reference servers do
            and not (request.value_set.get("compose") or {}).get("exclude")
            and not (request.text_filter and compiled.whole_system)
            # SNOMED CT is a polyhierarchy with a grammar: listed flat, as tx.fhir.org and Ontoserver do
            and not any(cs.url == sct.SNOMED for cs in compiled.used_systems.values())):
        contains = nest(conn, rows, contains)
    # post-coordinated expressions the compose lists come after its concepts, in the same paging
    before = total - len(listed)
    contains = contains + listed[max(0, request.offset - before):
                                 None if request.count is None else max(0, request.offset + request.count - before)]
    if contains:
        expansion["contains"] = contains
    result = {k: request.value_set[k] for k in KEPT if k in request.value_set}
    result["resourceType"] = "ValueSet"
    result["expansion"] = expansion
    return result
