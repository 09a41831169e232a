"""ICD-10-CM code forms and the code system's shape, shared by the tabular-XML and order-file readers.

Codes are stored in the dotted form FHIR uses (`E11.9`, `S00.00XA`): the release's own code list and the
CMS order file write them undotted, the tabular XML writes them dotted. Chapters (`1`..`22`) and blocks
(`A00-A09`) are not codes of the classification proper and keep the tabular's spelling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

SYSTEM: Final = "http://hl7.org/fhir/sid/icd-10-cm"

# A category is a letter and two digits or letters (C7A, D3A, QA0); up to four more characters follow
# the dot, the last of which may be a 7th character; X is the placeholder that pads short codes.
_DOTTED: Final = re.compile(r"^[A-Z][0-9A-Z]{2}(\.[0-9A-Z]{1,4})?$")
_UNDOTTED: Final = re.compile(r"^[A-Z][0-9A-Z]{2}[0-9A-Z]{0,4}$")
_SEVENTH_CHAR: Final = re.compile(r"^[0-9A-Z]$")

BILLABLE: Final = "billable"
KIND: Final = "kind"

# Instructional notes of the tabular list, by the XML element that holds their <note>s; each becomes a
# repeated string property named after that element so nothing is renamed between the release and the API.
NOTE_PROPERTIES: Final[dict[str, str]] = {
    "inclusionTerm": "Inclusion term: a condition classified to this code",
    "includes": "Includes note: further defines or gives examples of the content",
    "excludes1": "Excludes1 note: NOT CODED HERE, never used together with this code",
    "excludes2": "Excludes2 note: not included here, may be coded together with this code",
    "codeFirst": "Code first note: the underlying condition is sequenced first",
    "useAdditionalCode": "Use additional code note: a further code is added to describe the condition",
    "codeAlso": "Code also note: two codes may be needed, sequenced by the circumstances",
    "notes": "Other instructional note",
    "sevenChrNote": "Note on the 7th characters that apply to this code and the codes below it",
}

KINDS: Final = ("chapter", "block", "category", "subcategory", "code")


def undotted(code: str) -> str:
    return code.replace(".", "")


def dotted(code: str) -> str:
    """`S0000XA` -> `S00.00XA`; three-character categories have no dot."""
    plain = undotted(code)
    return plain if len(plain) <= 3 else f"{plain[:3]}.{plain[3:]}"


def is_code(code: str) -> bool:
    """True for a well-formed ICD-10-CM code in dotted form (not a chapter number or block range)."""
    return bool(_DOTTED.match(code)) and (len(code) <= 3 or code[3] == ".")


def is_undotted_code(code: str) -> bool:
    return bool(_UNDOTTED.match(code))


def with_seventh(code: str, character: str) -> str:
    """The code a 7th-character rule generates: pad with the placeholder X to six characters, then add
    the 7th (`T07` + `A` -> `T07.XXXA`, `S00.00` + `A` -> `S00.00XA`)."""
    plain = undotted(code)
    if len(plain) > 6:
        raise ValueError(f"{code} already has seven characters; a 7th character cannot be added")
    if not _SEVENTH_CHAR.match(character):
        raise ValueError(f"7th character {character!r} is not a single letter or digit")
    return dotted(plain.ljust(6, "X") + character)


def kind_of(code: str, billable: bool) -> str:
    """`category` for three characters, `code` for any longer valid-for-submission code, `subcategory`
    for a longer header."""
    if len(undotted(code)) == 3:
        return "category"
    return "code" if billable else "subcategory"


def code_system_resource(version: str) -> dict[str, Any]:
    """The CodeSystem resource (without concepts) and its property declarations.

    Headers (codes with codes below them) stay selectable: value sets such as US Core's list them, and
    the classification uses them in notes (`Z16.-`); `billable` = false tells them apart from the codes
    valid for submission (HIPAA transactions). Chapters and blocks are groupings only: notSelectable."""
    properties: list[dict[str, Any]] = [
        {"code": BILLABLE, "type": "boolean",
         "description": "Valid for submission on a claim (true) or a header with codes below it (false); "
                        "chapters and blocks are false"},
        {"code": KIND, "type": "code",
         "description": "Level in the tabular list: " + ", ".join(KINDS)},
    ]
    properties += [{"code": code, "type": "string", "description": text} for code, text in NOTE_PROPERTIES.items()]
    return {
        "resourceType": "CodeSystem",
        "url": SYSTEM,
        "version": version,
        "name": "ICD10CM",
        "title": "International Classification of Diseases, Tenth Revision, Clinical Modification (ICD-10-CM)",
        "status": "active",
        "experimental": False,
        "publisher": "National Center for Health Statistics (NCHS), Centers for Disease Control and Prevention",
        "copyright": "ICD-10-CM is in the public domain (US Government).",
        "caseSensitive": True,
        "hierarchyMeaning": "is-a",
        "content": "complete",
        "property": properties,
    }


@dataclass(frozen=True)
class SeventhException:
    """A 7th-character rule's exception, which the tabular states only as a note, e.g. "7th characters D
    and S do not apply to codes in category S06 with 6th character 7 - death ..., or 8 - death ...".
    `scope` is undotted; `position` counts characters from 1."""

    scope: str
    position: int
    values: frozenset[str]
    characters: frozenset[str]

    def excludes(self, code: str, character: str) -> bool:
        plain = undotted(code)
        return (character in self.characters and plain.startswith(self.scope) and len(plain) >= self.position
                and plain[self.position - 1] in self.values)


_EXCEPTION: Final = re.compile(
    r"7th characters? (?P<chars>[0-9A-Z](?:(?:,| and| or|, and|, or) [0-9A-Z])*) do(?:es)? not apply to "
    r"codes in (?:category|subcategory|subcategories|categories) (?P<scope>[A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]+)?) "
    r"with (?P<position>[4-6])(?:th) character (?P<rest>.*)$")
# "7 - death due to ..., or 8 - death due to ..." / "7 or 8"
_VALUE: Final = re.compile(r"(?:^|, or |, | or | and )([0-9A-Z])(?= -|,| or| and|\.|$)")


def parse_seventh_exception(note: str) -> SeventhException | None:
    found = _EXCEPTION.search(" ".join(note.split()))
    if found is None:
        return None
    values = frozenset(_VALUE.findall(found["rest"]))
    characters = frozenset(re.findall(r"\b[0-9A-Z]\b", found["chars"]))
    if not values or not characters:
        return None
    return SeventhException(undotted(found["scope"]), int(found["position"]), values, characters)
