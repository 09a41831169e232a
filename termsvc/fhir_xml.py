"""FHIR JSON <-> XML. Writing XML needs no schema: FHIR's XML form follows from the JSON form (primitive
values become `value` attributes, `_name` companions carry ids and extensions, resources nest inside an
element named for their type). Reading XML needs to know which elements repeat and which primitives are
numbers or booleans; `termsvc.fhir_xml_read` learns that from the fhir.resources R4B models."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from lxml import etree

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"


def _lexical(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _tag(name: str) -> str:
    return f"{{{FHIR_NS}}}{name}"


# characters XML 1.0 cannot carry (controls, surrogates, U+FFFE/U+FFFF): an answer echoing such input (an
# error message quoting a parameter) shows U+FFFD in their place rather than failing to render
_NOT_XML = re.compile("[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _append_primitive(parent: etree._Element, name: str, value: Any, extra: dict[str, Any] | None) -> None:
    element = etree.SubElement(parent, _tag(name))
    if extra and extra.get("id"):
        element.set("id", str(extra["id"]))
    if value is not None:
        element.set("value", _NOT_XML.sub("\uFFFD", _lexical(value)))
    if extra:
        for ext in extra.get("extension", []) or []:
            _append_complex(element, "extension", ext)


def _append_complex(parent: etree._Element, name: str, value: dict[str, Any]) -> None:
    if "resourceType" in value and name != "root":
        holder = etree.SubElement(parent, _tag(name))
        _fill(etree.SubElement(holder, _tag(value["resourceType"])), value, is_resource=True)
        return
    element = etree.SubElement(parent, _tag(name))
    _fill(element, value, is_resource=False, is_extension=name in ("extension", "modifierExtension"))


def _fill(element: etree._Element, data: dict[str, Any], *, is_resource: bool, is_extension: bool = False) -> None:
    if not is_resource and "id" in data:
        element.set("id", str(data["id"]))
    if is_extension and "url" in data:
        element.set("url", str(data["url"]))
    for key, value in data.items():
        if key == "resourceType" or key.startswith("_"):
            continue
        if key == "id" and not is_resource:
            continue
        if key == "url" and is_extension:
            continue
        if key == "div" and isinstance(value, str):
            try:
                element.append(etree.fromstring(value.encode()))
            except etree.XMLSyntaxError:
                div = etree.SubElement(element, f"{{{XHTML_NS}}}div")
                div.text = value
            continue
        extra = data.get("_" + key)
        if isinstance(value, list):
            extras = extra if isinstance(extra, list) else [None] * len(value)
            for index, item in enumerate(value):
                item_extra = extras[index] if index < len(extras) else None
                if isinstance(item, dict):
                    _append_complex(element, key, item)
                else:
                    _append_primitive(element, key, item, item_extra)
        elif isinstance(value, dict):
            _append_complex(element, key, value)
        else:
            _append_primitive(element, key, value, extra if isinstance(extra, dict) else None)
    # primitives with only an id/extension and no value
    for key, extra in data.items():
        if key.startswith("_") and key[1:] not in data and isinstance(extra, dict):
            _append_primitive(element, key[1:], None, extra)


def to_xml(resource: dict[str, Any]) -> bytes:
    root = etree.Element(_tag(resource.get("resourceType", "Resource")), nsmap={None: FHIR_NS})
    _fill(root, resource, is_resource=True)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
