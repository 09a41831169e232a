"""How LOINC's release columns become FHIR: the CodeSystem resource, its properties (codes and URIs as
HL7's LOINC CodeSystem publishes them: http://loinc.org/property/<code>), and designation uses.

Choices, following HL7's LOINC CodeSystem and tx.fhir.org:
- display: LONG_COMMON_NAME for terms, PartName for parts, AnswerListName for lists, DisplayText for answers.
- designations use the Coding (http://loinc.org, <column name>): LONG_COMMON_NAME (preferred in its
  language), SHORTNAME, DisplayName, ConsumerName, RELATEDNAMES2, LinguisticVariantDisplayName; English
  ones are en-US, translations carry the variant's language (de-DE, ...).
- status: STATUS kept as the concept's status and as the STATUS property. DEPRECATED (and a part's
  INACTIVE) is inactive. DISCOURAGED and TRIAL stay active: HL7's LOINC CodeSystem treats only DEPRECATED
  as inactive; DISCOURAGED terms are valid codes whose use is advised against (validators warn on them).
- nothing is abstract: every LOINC code, parts and answer lists included, may be used in a Coding.
- the six axes and CLASS are Codings to part codes: from LoincPartLink_Primary.csv where it links the
  term, else the Loinc.csv text resolved through Part.csv (type + name); text no part carries is kept as
  a string, so no value is lost."""

from __future__ import annotations

from typing import Any

SYSTEM = "http://loinc.org"
PROPERTY_BASE = "http://loinc.org/property/"
COPYRIGHT = ("This material contains content from LOINC (http://loinc.org). LOINC is copyright (c) Regenstrief "
             "Institute, Inc. and the Logical Observation Identifiers Names and Codes (LOINC) Committee and is "
             "available at no cost under the license at http://loinc.org/license.")
EN = "en-US"
INACTIVE_STATUSES = frozenset({"DEPRECATED", "INACTIVE"})

# Loinc.csv axis column -> Part.csv PartTypeName of the parts it names
AXES: dict[str, str] = {"COMPONENT": "COMPONENT", "PROPERTY": "PROPERTY", "TIME_ASPCT": "TIME",
                        "SYSTEM": "SYSTEM", "SCALE_TYP": "SCALE", "METHOD_TYP": "METHOD", "CLASS": "CLASS"}
AXIS_BIT = {name: 1 << i for i, name in enumerate(AXES)}
PART_TYPES_FOR_AXES = frozenset(AXES.values())

# Loinc.csv columns that are designations (use code), not properties
NAME_COLUMNS = {"SHORTNAME": "SHORTNAME", "DisplayName": "DisplayName", "CONSUMER_NAME": "ConsumerName"}
# Loinc.csv columns holding ';'-separated LOINC codes: Codings to http://loinc.org
CODE_LIST_COLUMNS = frozenset({"AskAtOrderEntry", "AssociatedObservations", "MAP_TO"})
NOT_PROPERTIES = frozenset({"LOINC_NUM", "LONG_COMMON_NAME", *NAME_COLUMNS})

CLASSTYPE_MEANING = {"1": "Laboratory class", "2": "Clinical class", "3": "Claims attachments", "4": "Surveys"}

# Properties HL7's LOINC CodeSystem declares (code -> type); others met in a release are declared as found.
DECLARED: dict[str, str] = {
    **dict.fromkeys(AXES, "Coding"),
    **dict.fromkeys(["VersionLastChanged", "CHNG_TYPE", "DefinitionDescription", "STATUS", "CONSUMER_NAME",
                     "CLASSTYPE", "FORMULA", "EXMPL_ANSWERS", "SURVEY_QUEST_TEXT", "SURVEY_QUEST_SRC",
                     "UNITSREQUIRED", "RELATEDNAMES2", "SHORTNAME", "ORDER_OBS", "HL7_FIELD_SUBFIELD_ID",
                     "EXTERNAL_COPYRIGHT_NOTICE", "EXAMPLE_UNITS", "LONG_COMMON_NAME", "EXAMPLE_UCUM_UNITS",
                     "STATUS_REASON", "STATUS_TEXT", "CHANGE_REASON_PUBLIC", "COMMON_TEST_RANK",
                     "COMMON_ORDER_RANK", "HL7_ATTACHMENT_STRUCTURE", "EXTERNAL_COPYRIGHT_LINK", "PanelType",
                     "VersionFirstReleased", "ValidHL7AttachmentRequest", "DisplayName"], "string"),
    "AskAtOrderEntry": "Coding", "AssociatedObservations": "Coding", "MAP_TO": "Coding",
    "answer-list": "Coding",
}
# tx.fhir.org's properties for parts and answer lists
EXTRA: dict[str, tuple[str, str]] = {
    "PartTypeName": ("string", "The part's type (COMPONENT, SYSTEM, ...), from Part.csv"),
    "Answer": ("code", "An answer (LA code) in this answer list, in list order"),
    "AnswerList": ("code", "An answer list (LL code) this answer belongs to"),
    "answers-for": ("code", "A LOINC term this answer list is linked to"),
}
DESCRIPTIONS = {"CLASSTYPE": "1=Laboratory class; 2=Clinical class; 3=Claims attachments; 4=Surveys",
                "STATUS": "ACTIVE, TRIAL, DISCOURAGED or DEPRECATED; only DEPRECATED terms are inactive",
                "MAP_TO": "A replacement for a deprecated or discouraged term"}


def property_uri(code: str) -> str:
    return PROPERTY_BASE + code


def code_system_resource(version: str) -> dict[str, Any]:
    properties: list[dict[str, Any]] = [
        {"code": "parent", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code"},
        {"code": "child", "uri": "http://hl7.org/fhir/concept-properties#child", "type": "code"},
    ]
    for code, kind in DECLARED.items():
        entry: dict[str, Any] = {"code": code, "uri": property_uri(code), "type": kind}
        if code in DESCRIPTIONS:
            entry["description"] = DESCRIPTIONS[code]
        properties.append(entry)
    for code, (kind, description) in EXTRA.items():
        properties.append({"code": code, "uri": property_uri(code), "type": kind, "description": description})
    return {
        "resourceType": "CodeSystem", "id": "loinc", "url": SYSTEM, "version": version, "name": "LOINC",
        "title": "LOINC Code System", "status": "active", "experimental": False,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:2.16.840.1.113883.6.1"}],
        "publisher": "Regenstrief Institute, Inc.", "language": EN,
        "description": "LOINC is a freely available international standard for tests, measurements, and "
                       "observations",
        "copyright": COPYRIGHT, "caseSensitive": False, "valueSet": "http://loinc.org/vs",
        "hierarchyMeaning": "is-a", "compositional": False, "versionNeeded": False, "content": "complete",
        "property": properties,
    }


def use(code: str) -> tuple[str, str, str]:
    """A designation use: the LOINC column the text came from, as tx.fhir.org reports it."""
    return (SYSTEM, code, code)
