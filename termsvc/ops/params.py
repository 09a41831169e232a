"""Operation input as the services see it: the parameters of one call, from a query or a POSTed Parameters
resource (JSON or XML); `termsvc.api.params` reads them off the HTTP request.

Values stay as FHIR JSON: primitives as their JSON value, complex types (Coding, CodeableConcept, ...) as
dicts, and `resource` parameters as resources. No models are built: this is on the hot path."""

from __future__ import annotations

import re
from typing import Any

import orjson

from termsvc.errors import Invalid

MAX_INTEGER = 2**31 - 1  # the largest FHIR integer
# a JSON string escape of NUL (not an escaped backslash followed by 'u0000')
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
NUL_REFUSED = "The request body holds a NUL character, which no FHIR string may contain"


class OpParams:
    """The parameters of one operation call, in order, with typed accessors."""

    def __init__(self, items: list[tuple[str, str, Any]]) -> None:
        # (name, FHIR type suffix of value[x] or 'resource' / 'part' / 'query', value)
        self.items = items

    def names(self) -> set[str]:
        return {name for name, _, _ in self.items}

    def has(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.items)

    def all(self, name: str) -> list[Any]:
        return [value for n, _, value in self.items if n == name]

    def typed(self, name: str) -> list[tuple[str, Any]]:
        return [(kind, value) for n, kind, value in self.items if n == name]

    def string(self, name: str) -> str | None:
        for n, _, value in self.items:
            if n == name:
                if isinstance(value, dict | list):
                    raise Invalid(f"Parameter '{name}' must be a simple value", expression=[name])
                return value if isinstance(value, str) else _lexical(value)
        return None

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        value = self.string(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise Invalid(f"Parameter '{name}' must be true or false, not {value!r}", expression=[name])

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.string(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise Invalid(f"Parameter '{name}' must be an integer, not {value!r}", expression=[name]) from None
        if not -MAX_INTEGER - 1 <= number <= MAX_INTEGER:
            # FHIR integer is 32-bit; larger values would overflow the store's integer columns
            raise Invalid(f"Parameter '{name}' is out of range: {value!r} (FHIR integers are 32-bit)",
                          expression=[name])
        return number

    def complex(self, name: str) -> dict[str, Any] | None:
        for n, kind, value in self.items:
            if n == name:
                if isinstance(value, dict):
                    return value
                raise Invalid(f"Parameter '{name}' must be a {kind or 'complex value'}", expression=[name])
        return None

    def resources(self, name: str) -> list[dict[str, Any]]:
        return [value for n, kind, value in self.items if n == name and kind == "resource"]


def _lexical(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def from_parameters(resource: Any) -> OpParams:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Parameters":
        found = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
        raise Invalid(f"The request body must be a Parameters resource, not {found}", expression=["Parameters"])
    items: list[tuple[str, str, Any]] = []
    for index, parameter in enumerate(resource.get("parameter") or []):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise Invalid(f"Parameters.parameter[{index}] has no name", expression=[f"Parameters.parameter[{index}]"])
        name = parameter["name"]
        where = f"Parameters.parameter[{index}]"
        if "resource" in parameter:
            resource_value = parameter["resource"]
            if not isinstance(resource_value, dict) or not isinstance(resource_value.get("resourceType"), str):
                raise Invalid(f"Parameter '{name}' holds no resource (a JSON object with a resourceType)",
                              expression=[f"{where}.resource"])
            items.append((name, "resource", resource_value))
            continue
        if "part" in parameter:
            parts = parameter["part"]
            if not isinstance(parts, list) or not all(isinstance(part, dict) for part in parts):
                raise Invalid(f"Parameter '{name}' has parts that are not parameters", expression=[f"{where}.part"])
            items.append((name, "part", parts))
            continue
        for key, value in parameter.items():
            if key.startswith("value") and len(key) > 5:
                items.append((name, key[5:], value))
                break
        else:
            raise Invalid(f"Parameter '{name}' has no value", expression=[where])
    return OpParams(items)


def parse_body(body: bytes, content_type: str) -> Any:
    """A FHIR resource from a request body, JSON or XML (by content type, else by its first byte). A NUL
    character is refused (400): FHIR strings cannot hold one, and PostgreSQL text cannot store one."""
    if b"\x00" in body or (b"\\u0000" in body and _JSON_NUL.search(body)):
        raise Invalid(NUL_REFUSED)
    is_xml = "xml" in content_type or (not content_type.endswith("json") and body.lstrip()[:1] == b"<")
    if is_xml:
        from termsvc.fhir_xml_read import from_xml

        return from_xml(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"The request body is not valid JSON: {exc}") from None
