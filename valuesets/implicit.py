"""Value sets defined by a url rather than stored: SNOMED CT `?fhir_vs` forms, all of LOINC, and the
`valueSet` element of any stored code system (all its codes). Each becomes an ordinary compose."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from sqlalchemy import Connection, text

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def _value_set(url: str, include: dict[str, Any], name: str, title: str | None = None) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": url, "name": name, **({"title": title} if title else {}),
            "status": "active", "compose": {"include": [include]}}


def _snomed(url: str) -> dict[str, Any] | None:
    base, _, query = url.partition("?")
    system = base if base == SNOMED else None
    if base.startswith(SNOMED + "/") and "/version/" in base:
        system = SNOMED
    if system is None or not query.startswith("fhir_vs"):
        return None
    include: dict[str, Any] = {"system": SNOMED}
    if "/version/" in base:
        include["version"] = base
    rest = query[len("fhir_vs"):]
    if rest.startswith("=isa/"):
        include["filter"] = [{"property": "concept", "op": "is-a", "value": rest[5:]}]
    elif rest.startswith("=refset/"):
        include["filter"] = [{"property": "refset", "op": "=", "value": rest[8:]}]
    elif rest.startswith("=ecl/"):
        # the ECL is URL-encoded inside the url (hl7.org/fhir/R4/snomedct.html#implicit)
        include["filter"] = [{"property": "constraint", "op": "=", "value": unquote(rest[5:])}]
    elif rest == "=refset":
        include["filter"] = [{"property": "refset", "op": "exists", "value": "true"}]
    elif rest:
        return None
    else:  # all of an edition: named as tx.fhir.org names it (the ecosystem suite's snomed mode)
        return _value_set(url, include, "ALLSNOMEDCT", "SNOMED CT Reference Set (All of SNOMED CT)")
    return _value_set(url, include, "SNOMED CT implicit value set")


# isa/X and refset/X name a concept and a reference set: naming neither, the url defines no value set
_NAMED = {("concept", "is-a"): "SELECT 1 FROM concept c JOIN code_system s ON s.code_system_id = c.code_system_id "
                               "WHERE s.url = :url AND c.code = :value",
          ("refset", "="): "SELECT 1 FROM concept_property p JOIN code_system s ON s.code_system_id = "
                           "p.code_system_id WHERE s.url = :url AND p.code = 'refset' AND p.value = :value"}


def _names_something(conn: Connection, value_set: dict[str, Any]) -> bool:
    for flt in value_set["compose"]["include"][0].get("filter", []):
        sql = _NAMED.get((flt["property"], flt["op"]))
        if sql and conn.execute(text(sql + " LIMIT 1"), {"url": SNOMED, "value": flt["value"]}).first() is None:
            return False
    return True


def implicit_value_set(conn: Connection, url: str, version: str | None) -> dict[str, Any] | None:
    found = _snomed(url)
    if found is not None:
        return found if _names_something(conn, found) else None
    if url == LOINC + "/vs":
        return _value_set(url, {"system": LOINC}, "All LOINC codes")
    # a code system's own `valueSet`: every code of that code system
    rows = conn.execute(text("SELECT url, version, resource_json FROM code_system WHERE resource_json LIKE :pat "
                             "ORDER BY is_current DESC"), {"pat": f'%"valueSet": "{url}"%'}).all()
    for row in rows:
        include: dict[str, Any] = {"system": row[0]}
        if version and row[1]:
            include["version"] = row[1]
        return _value_set(url, include, f"All codes of {row[0]}")
    return None
