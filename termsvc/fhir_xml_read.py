"""FHIR R4 XML -> the resource's FHIR JSON dict form.

XML alone does not say which elements repeat (JSON arrays) or which primitives are booleans and numbers,
so that is learned once per type from the fhir.resources R4B model classes' field metadata (no model
instance is ever built: request bodies are parsed on hot paths). Parsing is safe: no DTD, no entity
expansion, no network, so no XXE and no billion laughs. Every error is an `Invalid` carrying the line and
the element path (`CodeSystem.concept[3].concept[0].code`)."""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from lxml import etree

from termsvc.errors import Invalid

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[-+]?[0-9]+")


class FhirXmlError(Invalid):
    """Invalid FHIR XML; `line` and `path` say where, so loaders can name the place in the file."""

    def __init__(self, message: str, *, line: int | None, path: str | None) -> None:
        where = ", ".join(part for part in (f"line {line}" if line else "", f"at {path}" if path else "")
                          if part)
        super().__init__(f"{where}: {message}" if where else message, expression=[path] if path else [])
        self.line = line
        self.path = path
        self.detail = message


@dataclass(frozen=True)
class Field:
    """How one element of a type appears: kind is primitive | complex | resource | xhtml; `base` is the
    JSON form of a primitive (bool, int, decimal or str); `model` the type of a complex element."""

    kind: str
    repeats: bool
    base: str = "str"
    model: type | None = None


_parsers = threading.local()


@cache
def _model(name: str) -> type:
    """The R4B model class for a FHIR type; imported late, so importing this module stays cheap."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(name)


def _safe_parser() -> etree.XMLParser:
    """One parser per thread (lxml parsers are not thread-safe; making one per request costs more than
    parsing a small Parameters body). The same protections as loaders.base.safe_xml_parser, which
    termsvc must not import."""
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
            remove_comments=True, remove_pis=True)
    return parser


def _field(annotation: Any) -> Field | None:
    repeats = False
    metadata: tuple[Any, ...] = ()
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Union or origin is types.UnionType:
            annotation = next(a for a in args if a is not type(None))
        elif origin is list:
            repeats, annotation = True, args[0]
        elif origin is typing.Annotated:
            annotation, metadata = args[0], annotation.__metadata__
        else:
            break
    if any(type(m).__name__ == "Xhtml" for m in metadata):
        return Field("xhtml", repeats)
    if annotation is bool:
        return Field("primitive", repeats, "bool")
    if annotation is int:
        return Field("primitive", repeats, "int")
    if annotation is Decimal:
        return Field("primitive", repeats, "decimal")
    get_model = getattr(annotation, "get_model_klass", None)
    if get_model is not None:
        model = get_model()
        if model is _resource_base():
            return Field("resource", repeats)
        if model.__name__ == "FHIRPrimitiveExtension":
            return None
        return Field("complex", repeats, model=model)
    return Field("primitive", repeats, "str")


@cache
def _resource_base() -> type:
    return _model("Resource")


@cache
def fields_of(model: type) -> dict[str, Field]:
    """Element name -> Field for one model class (JSON names, which XML shares)."""
    out: dict[str, Field] = {}
    for info in model.model_fields.values():  # type: ignore[attr-defined]
        name = info.alias
        if not name or name.startswith("_") or name == "fhir_comments":
            continue
        found = _field(info.annotation)
        if found is not None:
            out[name] = found
    return out


@cache
def resource_model(name: str) -> type | None:
    try:
        model = _model(name)
    except (ValueError, KeyError):
        return None
    return model if issubclass(model, _resource_base()) else None


_FHIR_PREFIX = "{" + FHIR_NS + "}"
_XHTML_PREFIX = "{" + XHTML_NS + "}"


def _local(element: etree._Element, path: str) -> str:
    tag = element.tag
    if isinstance(tag, str) and tag.startswith(_FHIR_PREFIX):
        return tag[len(_FHIR_PREFIX):]
    if not isinstance(tag, str):
        raise FhirXmlError("entity references are not allowed in FHIR XML", line=element.sourceline, path=path)
    raise FhirXmlError(f"element <{etree.QName(element).localname}> is not in the FHIR namespace ({FHIR_NS})",
                       line=element.sourceline, path=path)


class _Reader:
    def __init__(self, positions: dict[str, int] | None) -> None:
        self.positions = positions

    def resource(self, element: etree._Element, path: str) -> dict[str, Any]:
        name = _local(element, path)
        model = resource_model(name)
        if model is None:
            raise FhirXmlError(f"<{name}> is not a FHIR R4 resource type", line=element.sourceline, path=path)
        self._check_attributes(element, path, allowed=())
        out: dict[str, Any] = {"resourceType": name}
        self._children(element, model, out, path or name, is_resource=True)
        return out

    def _check_attributes(self, element: etree._Element, path: str, allowed: tuple[str, ...]) -> None:
        for attribute in element.attrib:
            # namespaced attributes (xsi:schemaLocation and the like) carry no FHIR content
            if not attribute.startswith("{") and attribute not in allowed:
                raise FhirXmlError(f"unexpected attribute {attribute!r}", line=element.sourceline, path=path)

    def _children(self, element: etree._Element, model: type, out: dict[str, Any], path: str, *,
                  is_resource: bool) -> None:
        fields = fields_of(model)
        if element.text and element.text.strip():
            raise FhirXmlError("unexpected text content", line=element.sourceline, path=path)
        for child in element:
            if child.tail and child.tail.strip():
                raise FhirXmlError("unexpected text content", line=child.sourceline, path=path)
            if isinstance(child.tag, str) and child.tag.startswith(_XHTML_PREFIX) and "div" in fields:
                name = "div"
            else:
                name = _local(child, path)
            spec = fields.get(name)
            if spec is None or (name == "id" and not is_resource):
                raise FhirXmlError(f"unknown element <{name}> in {model.__name__}", line=child.sourceline,
                                   path=f"{path}.{name}")
            existing = out.get(name)
            if spec.repeats:
                index = len(existing) if isinstance(existing, list) else 0
                child_path = f"{path}.{name}[{index}]"
            else:
                child_path = f"{path}.{name}"
                if name in out or "_" + name in out:
                    raise FhirXmlError(f"<{name}> appears more than once but does not repeat",
                                       line=child.sourceline, path=child_path)
            if self.positions is not None:
                self.positions[child_path] = child.sourceline or 0
            self._element(child, name, spec, out, child_path)

    def _element(self, child: etree._Element, name: str, spec: Field, out: dict[str, Any], path: str) -> None:
        if spec.kind == "primitive":
            value, extra = self._primitive(child, spec, path)
            if spec.repeats:
                values = out.setdefault(name, [])
                extras = out.get("_" + name)
                if extra is not None and extras is None:
                    extras = out["_" + name] = [None] * len(values)
                values.append(value)
                if extras is not None:
                    extras.append(extra)
            else:
                if value is not None:
                    out[name] = value
                if extra is not None:
                    out["_" + name] = extra
            return
        if spec.kind == "xhtml":
            value = _xhtml(child, path)
        elif spec.kind == "resource":
            value = self._wrapped_resource(child, path)
        else:
            value = self._complex(child, spec, name, path)
        if spec.repeats:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value

    def _complex(self, child: etree._Element, spec: Field, name: str, path: str) -> dict[str, Any]:
        assert spec.model is not None
        # an extension's url is an attribute, not an element
        has_url = spec.model.__name__ == "Extension"
        self._check_attributes(child, path, allowed=("id", "url") if has_url else ("id",))
        value: dict[str, Any] = {}
        if "id" in child.attrib:
            value["id"] = child.get("id")
        if has_url and "url" in child.attrib:
            value["url"] = child.get("url")
        self._children(child, spec.model, value, path, is_resource=False)
        if not value:
            raise FhirXmlError(f"<{name}> is empty", line=child.sourceline, path=path)
        return value

    def _wrapped_resource(self, child: etree._Element, path: str) -> dict[str, Any]:
        self._check_attributes(child, path, allowed=())
        if child.text and child.text.strip():
            raise FhirXmlError("unexpected text content", line=child.sourceline, path=path)
        inner = list(child)
        if len(inner) != 1:
            raise FhirXmlError(f"expected exactly one resource inside, found {len(inner)} elements",
                               line=child.sourceline, path=path)
        return self.resource(inner[0], path)

    def _primitive(self, child: etree._Element, spec: Field, path: str) -> tuple[Any, dict[str, Any] | None]:
        self._check_attributes(child, path, allowed=("id", "value"))
        raw = child.get("value")
        value = None if raw is None else _convert(raw, spec.base, child.sourceline, path)
        extra: dict[str, Any] = {}
        if "id" in child.attrib:
            extra["id"] = child.get("id")
        extension_field = _extension_field()
        if child.text and child.text.strip():
            raise FhirXmlError("unexpected text content (a primitive's value goes in its value attribute)",
                               line=child.sourceline, path=path)
        for index, sub in enumerate(child):
            sub_path = f"{path}.extension[{index}]"
            if _local(sub, path) != "extension":
                raise FhirXmlError(f"a primitive may hold only <extension>, not <{etree.QName(sub).localname}>",
                                   line=sub.sourceline, path=sub_path)
            extra.setdefault("extension", []).append(self._complex(sub, extension_field, "extension", sub_path))
        if value is None and not extra:
            raise FhirXmlError("element has no value attribute and no extension", line=child.sourceline,
                               path=path)
        return value, (extra or None)


@cache
def _extension_field() -> Field:
    return Field("complex", True, model=_model("Extension"))


def _convert(raw: str, base: str, line: int | None, path: str) -> Any:
    if base == "str":
        return raw
    if base == "bool":
        if raw in ("true", "false"):
            return raw == "true"
        raise FhirXmlError(f"{raw!r} is not a boolean (true or false)", line=line, path=path)
    if base == "int":
        # FHIR integers (and positiveInt, unsignedInt) are 32-bit
        if _INTEGER.fullmatch(raw) and -2**31 <= int(raw) < 2**31:
            return int(raw)
        raise FhirXmlError(f"{raw!r} is not an integer (32-bit)", line=line, path=path)
    if _DECIMAL.fullmatch(raw):
        # what a JSON parser makes of the same number, so XML and JSON input give equal dicts
        number = json.loads(raw)
        in_range = math.isfinite(number) if isinstance(number, float) else -2**63 <= number < 2**63
        if not in_range:
            raise FhirXmlError(f"{raw!r} is out of range for a decimal", line=line, path=path)
        return number
    raise FhirXmlError(f"{raw!r} is not a decimal", line=line, path=path)


def _xhtml(element: etree._Element, path: str) -> str:
    qname = etree.QName(element)
    if qname.namespace != XHTML_NS or qname.localname != "div":
        raise FhirXmlError(f"narrative must be an XHTML <div> in {XHTML_NS}", line=element.sourceline,
                           path=path)
    if any(e.prefix for e in element.iter(etree.Element)):
        rebuilt = _rebuild(element)
    else:
        rebuilt = copy.deepcopy(element)
        rebuilt.tail = None
    etree.cleanup_namespaces(rebuilt)
    return str(etree.tostring(rebuilt, encoding="unicode", with_tail=False))


def _rebuild(element: etree._Element) -> etree._Element:
    """Copy with XHTML as the default namespace: FHIR JSON requires `<div xmlns="...xhtml">`."""
    out = etree.Element(element.tag, nsmap={None: XHTML_NS})

    def fill(source: etree._Element, target: etree._Element) -> None:
        target.text = source.text
        for key, value in source.attrib.items():
            target.set(key, value)
        for child in source:
            if isinstance(child.tag, str):
                copied = etree.SubElement(target, child.tag)
                fill(child, copied)
            else:
                copied = copy.copy(child)
                target.append(copied)
            copied.tail = child.tail

    fill(element, out)
    return out


def from_xml(data: bytes, *, positions: dict[str, int] | None = None) -> dict[str, Any]:
    """Parse one FHIR R4 resource in XML into its JSON dict form. When `positions` is given, it is filled
    with element path -> line, so a caller that finds a problem later can still name the line."""
    if not data.strip():
        raise FhirXmlError("empty document: expected a FHIR resource in XML", line=None, path=None)
    try:
        root = etree.fromstring(data, parser=_safe_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else exc.lineno
        raise FhirXmlError(f"malformed XML: {exc.msg}", line=line, path=None) from None
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        raise FhirXmlError("a DOCTYPE is not allowed in FHIR XML", line=1, path=None)
    if positions is not None:
        positions[etree.QName(root).localname] = root.sourceline or 0
    return _Reader(positions).resource(root, "")
