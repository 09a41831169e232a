"""A FHIR CodeSystem resource (a dict) written through a load run: concepts, nested concepts and
`parent`/`child` properties as is-a edges, typed properties, designations, status.

Status follows the FHIR concept properties (http://hl7.org/fhir/concept-properties), recognised by their
declared uri or, when undeclared, by their code: `inactive` true or `status` retired/inactive make a
concept inactive; `status` (or `deprecated`, a date) is kept as its status word; `notSelectable` makes it
abstract. `content` decides what is stored: complete, example and fragment with their concepts, not-present
with none, supplement with its concepts under its own url and `supplements` set. In a fragment or example,
a `parent`/`child` property naming a code the resource does not hold is kept as a property, not an edge
(the rest of the system is elsewhere); in a complete code system it is an error.

A code defined twice is an error, unless the caller passes `duplicates="first"` (the loader does so for
published NPM packages, which the user cannot correct: hl7.fhir.r4b.core 4.3.0 defines
`indicated-only-before` twice in therapy-relationship-type). Then the first definition wins, the later one
is dropped (its sub-concepts are kept, under the first), and the load's counts say so under
`duplicate codes dropped:<url>|<version>`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from termsvc.concept_extensions import CARRIED_EXTENSIONS, EXTENSION_PROPERTIES
from termsvc.errors import LoadError
from termsvc.store.loadrun import CodeSystemWriter, LoadRun

CONCEPT_PROPERTIES = "http://hl7.org/fhir/concept-properties#"
# the concept properties http://hl7.org/fhir/concept-properties defines
KNOWN_PROPERTIES = frozenset({"inactive", "deprecated", "notSelectable", "parent", "child", "partOf", "synonym",
                              "comment", "itemWeight", "status", "effectiveDate", "retirementDate", "alternateCode"})
CONTENT = ("not-present", "example", "fragment", "complete", "supplement")
INACTIVE_STATUS = frozenset({"retired", "inactive"})
# value[x] key -> (property type stored, Python types the JSON value must have)
VALUE_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "valueCode": ("code", (str,)),
    "valueCoding": ("Coding", (dict,)),
    "valueString": ("string", (str,)),
    "valueInteger": ("integer", (int,)),
    "valueBoolean": ("boolean", (bool,)),
    "valueDateTime": ("dateTime", (str,)),
    "valueDecimal": ("decimal", (int, float)),
}


@dataclass
class _Link:
    parent: str
    child: str
    path: str
    from_property: bool


def write_code_system(run: LoadRun, resource: dict[str, Any], *, current: bool | None = None) -> None:
    """Write one CodeSystem resource into `run` (no files involved: the API writes inline `tx-resource`
    code systems this way). Errors are LoadErrors naming the element path."""
    CodeSystemLoad(run, resource, "CodeSystem", None).write(current)


class CodeSystemLoad:
    def __init__(self, run: LoadRun, resource: dict[str, Any], path: str, lines: dict[str, int] | None, *,
                 duplicates: str = "error") -> None:
        self.run = run
        self.keep_first = duplicates == "first"
        self.dropped = 0
        self.resource = resource
        self.base = path
        self.lines = lines
        self.meanings = self._meanings()

    def _at(self, path: str) -> None:
        position = self.run.position
        position.path = path
        position.line = self.lines.get(path) if self.lines else None

    def _error(self, message: str, path: str, field_name: str | None = None) -> LoadError:
        self._at(path)
        return LoadError(self.run.position.file, message, line=self.run.position.line, path=path,
                         field_name=field_name)

    def _meanings(self) -> dict[str, str]:
        """Property code -> its FHIR concept-property meaning (by declared uri, else by the code)."""
        out: dict[str, str] = {}
        declared = self.resource.get("property") or []
        if not isinstance(declared, list):
            raise self._error("property is not a list", f"{self.base}.property")
        for index, prop in enumerate(declared):
            if not isinstance(prop, dict) or not isinstance(prop.get("code"), str):
                raise self._error("property has no code", f"{self.base}.property[{index}]", "code")
            uri = prop.get("uri")
            # a uri naming no property the spec defines (a typo, a local one) says nothing: the code decides,
            # as it does on the reference servers
            if isinstance(uri, str) and uri.startswith(CONCEPT_PROPERTIES) and \
                    uri[len(CONCEPT_PROPERTIES):] in KNOWN_PROPERTIES:
                out[prop["code"]] = uri[len(CONCEPT_PROPERTIES):]
        return out

    def _check_header(self) -> str:
        r = self.resource
        if not isinstance(r.get("url"), str) or not r["url"]:
            raise self._error("CodeSystem has no url", f"{self.base}.url", "url")
        content = r.get("content", "complete")
        if content not in CONTENT:
            raise self._error(f"content {content!r} is not one of {', '.join(CONTENT)}", f"{self.base}.content",
                              "content")
        if content == "supplement" and not isinstance(r.get("supplements"), str):
            raise self._error("a supplement (content = supplement) must say which code system it supplements",
                              f"{self.base}.supplements", "supplements")
        return str(content)

    def write(self, current: bool | None) -> None:
        content = self._check_header()
        self._at(self.base)
        writer = self.run.code_system(self.resource, current=current)
        concepts = [] if content == "not-present" else self.resource.get("concept") or []
        if not isinstance(concepts, list):
            raise self._error("concept is not a list", f"{self.base}.concept")
        links: list[_Link] = []
        stack: list[tuple[Any, str, str | None]] = [
            (c, f"{self.base}.concept[{i}]", None) for i, c in reversed(list(enumerate(concepts)))]
        while stack:  # explicit stack: deep hierarchies must not hit the recursion limit
            concept, path, parent = stack.pop()
            code = self._concept(writer, concept, path, links)
            if parent is not None:
                links.append(_Link(parent, code, path, False))
            children = concept.get("concept") or []
            if not isinstance(children, list):
                raise self._error("concept.concept is not a list", f"{path}.concept")
            stack.extend((c, f"{path}.concept[{i}]", code) for i, c in reversed(list(enumerate(children))))
        self._edges(writer, links, partial=content in ("fragment", "example", "supplement"))
        if self.dropped:
            self.run.counts[f"duplicate codes dropped:{writer.url}|{writer.version}"] = self.dropped
        self._at(self.base)
        try:
            writer.finish()
        except LoadError as exc:
            raise LoadError(self.run.position.file, exc.message, line=exc.line, path=exc.path or self.base,
                            field_name=exc.field_name) from None

    def _edges(self, writer: CodeSystemWriter, links: list[_Link], *, partial: bool) -> None:
        seen: set[tuple[str, str]] = set()
        for link in links:
            missing = next((c for c in (link.parent, link.child) if not writer.has_code(c)), None)
            if missing is not None:
                if partial and link.from_property:
                    continue
                raise self._error(f"{'parent' if missing == link.parent else 'child'} code {missing!r} is not "
                                  f"defined in {writer.url}|{writer.version}", link.path, "value")
            if (link.parent, link.child) in seen:
                continue
            seen.add((link.parent, link.child))
            self._at(link.path)
            writer.add_edge(link.parent, link.child)

    def _concept(self, writer: CodeSystemWriter, concept: Any, path: str, links: list[_Link]) -> str:
        self._at(path)
        if not isinstance(concept, dict):
            raise self._error("concept is not an object", path)
        code = concept.get("code")
        if not isinstance(code, str) or not code:
            raise self._error("concept has no code", f"{path}.code", "code")
        if self.keep_first and writer.has_code(code):
            self.dropped += 1
            return code
        for name in ("display", "definition"):
            if name in concept and not isinstance(concept[name], str):
                raise self._error(f"{name} is not a string", f"{path}.{name}", name)
        active, abstract, status = True, False, None
        properties = concept.get("property") or []
        if not isinstance(properties, list):
            raise self._error("property is not a list", f"{path}.property")
        typed = [self._property(p, f"{path}.property[{i}]") for i, p in enumerate(properties)]
        for prop_code, prop_type, value, _system, _display, _ in typed:
            meaning = self.meanings.get(prop_code, prop_code)
            if meaning == "inactive" and prop_type == "boolean" and value == "true":
                active = False
            elif meaning == "status" and prop_type in ("code", "string"):
                status = value
                if value in INACTIVE_STATUS:
                    active = False
            elif meaning == "deprecated" and status is None:
                status = "deprecated"
            elif meaning == "notSelectable" and prop_type == "boolean":
                abstract = value == "true"
        if status is None and _standards_status(concept) == "deprecated":
            # the concept's own standards-status extension deprecates it just as a status property would
            status = "deprecated"
        self._at(f"{path}.code")
        writer.add_concept(code, concept.get("display"), active=active, abstract=abstract, status=status,
                           definition=concept.get("definition"))
        for prop_code, prop_type, value, system, display, prop_path in typed:
            writer.add_property(code, prop_code, value, type=prop_type, system=system, display=display)
            meaning = self.meanings.get(prop_code, prop_code)
            names_code = prop_type == "code" or (prop_type == "Coding" and system in (None, writer.url))
            if meaning in ("parent", "child") and names_code:
                parent, child = (value, code) if meaning == "parent" else (code, value)
                links.append(_Link(parent, child, prop_path, True))
        self._extensions(writer, code, concept.get("extension") or [], path)
        self._designations(writer, code, concept.get("designation") or [], path)
        return code

    def _extensions(self, writer: CodeSystemWriter, code: str, extensions: Any, path: str) -> None:
        if not isinstance(extensions, list):
            raise self._error("extension is not a list", f"{path}.extension")
        for index, ext in enumerate(extensions):
            url = ext.get("url") if isinstance(ext, dict) else None
            if url not in EXTENSION_PROPERTIES and url not in CARRIED_EXTENSIONS:
                continue  # other extensions say nothing the store keeps
            assert isinstance(ext, dict)
            value = next((v for k, v in ext.items() if k.startswith("value")), None)
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise self._error(f"extension {url} has no simple value", f"{path}.extension[{index}]", "value")
            if url in EXTENSION_PROPERTIES:
                prop_code, prop_type, meaning = EXTENSION_PROPERTIES[url]
                writer.declare_property(prop_code, prop_type, uri=CONCEPT_PROPERTIES + meaning)
            else:
                prop_code, prop_type = url, "string"
            writer.add_property(code, prop_code, str(value), type=prop_type)

    def _property(self, prop: Any, path: str) -> tuple[str, str, str, str | None, str | None, str]:
        """(code, type, lexical value, Coding system, Coding display, path) of one concept property."""
        if not isinstance(prop, dict) or not isinstance(prop.get("code"), str) or not prop["code"]:
            raise self._error("property has no code", f"{path}.code", "code")
        keys = [k for k in prop if k.startswith("value") and k in VALUE_TYPES]
        if len(keys) != 1:
            unknown = [k for k in prop if k.startswith("value") and k not in VALUE_TYPES]
            what = f"unsupported {unknown[0]}" if unknown else ("no value" if not keys else "several values")
            raise self._error(f"property {prop['code']!r} has {what}", path, "value")
        key = keys[0]
        prop_type, allowed = VALUE_TYPES[key]
        value: Any = prop[key]
        # bool is an int in Python: only valueBoolean may hold one
        if not isinstance(value, allowed) or (isinstance(value, bool) and key != "valueBoolean"):
            raise self._error(f"{key} of property {prop['code']!r} has the wrong type ({value!r})",
                              f"{path}.{key}", key)
        if key == "valueCoding":
            coding: dict[str, Any] = prop[key]
            if not isinstance(coding.get("code"), str):
                raise self._error("valueCoding has no code", f"{path}.valueCoding.code", "valueCoding")
            return prop["code"], prop_type, coding["code"], coding.get("system"), coding.get("display"), path
        lexical = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return prop["code"], prop_type, lexical, None, None, path

    def _designations(self, writer: CodeSystemWriter, code: str, designations: Any, path: str) -> None:
        if not isinstance(designations, list):
            raise self._error("designation is not a list", f"{path}.designation")
        for index, designation in enumerate(designations):
            where = f"{path}.designation[{index}]"
            if not isinstance(designation, dict) or not isinstance(designation.get("value"), str):
                raise self._error("designation has no value", f"{where}.value", "value")
            use = designation.get("use")
            if use is not None and not isinstance(use, dict):
                raise self._error("designation.use is not a Coding", f"{where}.use", "use")
            self._at(where)
            writer.add_designation(code, designation["value"], language=designation.get("language"),
                                   use=(use.get("system"), use.get("code"), use.get("display")) if use else None)


STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"


def _standards_status(element: dict[str, Any]) -> str | None:
    for ext in element.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == STANDARDS_STATUS and isinstance(ext.get("valueCode"), str):
            return str(ext["valueCode"])
    return None
