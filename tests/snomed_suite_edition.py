"""A small RF2 release in the shape of the edition the tx-ecosystem suite's snomed mode was written against
(`http://snomed.info/xsct/31000003106/version/20250909`, a test subset of the International Edition), holding
the concepts, terms and relationships its expression, lookup and inactive-display tests name, with the terms
their expected responses show. Written in the genuine RF2 layout (Snapshot/Terminology, Snapshot/Refset/Language,
exact headers, CRLF) with valid SCTIDs, so the strict loader reads it as it reads a real release."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Final

from termsvc.loaders.snomed_ids import verhoeff_digit

DATE: Final = "20250909"
INT: Final = "900000000000207008"
MODULE: Final = "31000003106"
VERSION: Final = f"http://snomed.info/xsct/{MODULE}/version/{DATE}"
IS_A: Final = "116680003"
FSN: Final = "900000000000003001"
SYNONYM: Final = "900000000000013009"
US: Final = "900000000000509007"
PREFERRED: Final = "900000000000548007"
ACCEPTABLE: Final = "900000000000549004"

# code -> (preferred term, semantic tag, parents, effectiveTime, other synonyms)
CONCEPTS: Final[dict[str, tuple[str, str, tuple[str, ...], str, tuple[str, ...]]]] = {
    "138875005": ("SNOMED CT Concept", "SNOMED RT+CTV3", (), "20020131", ()),
    INT: ("SNOMED CT core", "core metadata concept", ("138875005",), "20020131", ()),
    MODULE: ("SNOMED CT test module", "core metadata concept", ("138875005",), DATE, ()),
    "106237007": ("Linkage concept", "linkage concept", ("138875005",), "20020131", ()),
    "410662002": ("Concept model attribute", "attribute", ("106237007",), "20020131", ()),
    IS_A: ("Is a", "attribute", ("410662002",), "20020131", ()),
    "363698007": ("Finding site", "attribute", ("410662002",), "20020131", ()),
    "272741003": ("Laterality", "attribute", ("410662002",), "20020131", ()),
    "260686004": ("Method", "attribute", ("410662002",), "20020131", ()),
    "405813007": ("Procedure site - Direct", "attribute", ("410662002",), "20020131", ()),
    "404684003": ("Clinical finding", "finding", ("138875005",), "20020131", ()),
    "128241005": ("Inflammatory disease of liver", "disorder", ("404684003",), "20020131", ()),
    "197271008": ("Acute hepatitis - non-infective", "disorder", ("128241005",), "20020131", ()),
    "10200004": ("Liver structure", "body structure", ("123037004",), "20020131", ()),
    "71388002": ("Procedure", "procedure", ("138875005",), "20020131", ()),
    "119657005": ("Hand repair", "procedure", ("71388002",), "20020131", ()),
    "274059009": ("Hand tendon operation", "procedure", ("71388002",), "20020131", ()),
    "281760001": ("Repair of tendon of upper limb", "procedure", ("71388002",), "20020131", ()),
    "367430006": ("Repair of tendon of hand", "procedure", ("119657005", "274059009", "281760001"), "20050131",
                  ("Tenoplasty of hand",)),
    "123037004": ("Body structure", "body structure", ("138875005",), "20020131", ()),
    "181268008": ("Entire liver", "body structure", ("123037004",), "20020131", ()),
    "362185005": ("Entire hepatic capsule", "body structure", ("123037004",), "20020131", ()),
    "118632007": ("Structure of tendon within hand", "body structure", ("123037004",), "20020131", ()),
    "362981000": ("Qualifier value", "qualifier value", ("138875005",), "20020131", ()),
    "24028007": ("Right", "qualifier value", ("362981000",), "20020131", ()),
    "257903006": ("Repair - action", "qualifier value", ("362981000",), "20020131", ()),
    "410607006": ("Organism", "organism", ("138875005",), "20020131", ()),
    "42463004": ("Opisthorchis", "organism", ("410607006",), "20020131",
                 ("Genus Opisthorchis", "Opisthorchis species")),
}
CHILDREN_OF_TENDON_REPAIR: Final = {
    "18701002": "Repair of tendon of hand with graft", "214433003": "Repair of ruptured tendon of hand",
    "243234005": "Repair of tendon of hand by transfer or transplantation",
    "26731003": "Repair of tendon of hand by suture", "27106001": "Reconstruction of tendon pulley of hand",
    "45810006": "Reattachment of tendon of hand", "709291000": "Repair of flexor tendon of hand",
    "712638006": "Repair of extensor tendon of hand", "76340004": "Plication of tendon of hand",
    "90650008": "Lengthening of tendon of hand", "90907001": "Shortening of tendon of hand",
    "91092007": "Myotenontoplasty of hand"}
# (source, attribute, destination, group)
ATTRIBUTES: Final = (("367430006", "260686004", "257903006", "1"), ("367430006", "405813007", "118632007", "1"))
# a simple reference set the implicit ?fhir_vs=refset/ test names, and its members
REFSET: Final = ("734139008", ("128241005",))
# inactive descriptions: (concept, term)
RETIRED: Final = (("42463004", "Genus: Opisthorchis"),)
# FSNs that are not "preferred term (tag)"
FSNS: Final = {"42463004": "Genus Opisthorchis (organism)"}


class _Ids:
    def __init__(self) -> None:
        self.next = 1000

    def make(self, partition: str) -> str:
        self.next += 1
        body = f"{self.next}{partition}"
        return body + verhoeff_digit(body)


def _file(path: Path, header: str, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join([header, *("\t".join(r) for r in rows)]) + "\r\n").encode("utf-8"))


def write(root: Path) -> Path:
    """The release package under `root`; returns its folder."""
    ids = _Ids()
    concepts = {**CONCEPTS, **{code: (term, "procedure", ("367430006",), "20020131", ())
                               for code, term in CHILDREN_OF_TENDON_REPAIR.items()}}
    concept_rows, description_rows, language_rows, relationship_rows = [], [], [], []
    for code, (term, tag, parents, date, synonyms) in concepts.items():
        module = MODULE if code == MODULE else INT
        concept_rows.append([code, date, "1", module, "900000000000074008"])
        for text, type_id, acceptability in ((FSNS.get(code, f"{term} ({tag})"), FSN, PREFERRED),
                                             (term, SYNONYM, PREFERRED),
                                             *((s, SYNONYM, ACCEPTABLE) for s in synonyms)):
            description = ids.make("01")
            description_rows.append([description, date, "1", module, code, "en", type_id, text,
                                     "900000000000448009"])
            language_rows.append([str(uuid.uuid5(uuid.NAMESPACE_OID, description)), date, "1", module, US,
                                  description, acceptability])
        for parent in parents:
            relationship_rows.append([ids.make("02"), date, "1", module, code, parent, "0", IS_A,
                                      "900000000000011006", "900000000000451002"])
    for source, attribute, destination, group in ATTRIBUTES:
        relationship_rows.append([ids.make("02"), "20050131", "1", INT, source, destination, group, attribute,
                                  "900000000000011006", "900000000000451002"])
    for code, text in RETIRED:
        description_rows.append([ids.make("01"), "20020131", "0", INT, code, "en", SYNONYM, text,
                                 "900000000000448009"])
    package = root / f"SnomedCT_TestSubsetRF2_PRODUCTION_{DATE}T120000Z"
    terminology, language = package / "Snapshot" / "Terminology", package / "Snapshot" / "Refset" / "Language"
    _file(terminology / f"sct2_Concept_Snapshot_INT_{DATE}.txt", "id\teffectiveTime\tactive\tmoduleId\t"
          "definitionStatusId", concept_rows)
    _file(terminology / f"sct2_Description_Snapshot-en_INT_{DATE}.txt", "id\teffectiveTime\tactive\tmoduleId\t"
          "conceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId", description_rows)
    _file(terminology / f"sct2_Relationship_Snapshot_INT_{DATE}.txt", "id\teffectiveTime\tactive\tmoduleId\t"
          "sourceId\tdestinationId\trelationshipGroup\ttypeId\tcharacteristicTypeId\tmodifierId", relationship_rows)
    refset, members = REFSET
    _file(package / "Snapshot" / "Refset" / "Content" / f"der2_Refset_SimpleSnapshot_INT_{DATE}.txt",
          "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId",
          [[str(uuid.uuid5(uuid.NAMESPACE_OID, refset + m)), DATE, "1", INT, refset, m] for m in members])
    _file(language / f"der2_cRefset_LanguageSnapshot-en_INT_{DATE}.txt", "id\teffectiveTime\tactive\tmoduleId\t"
          "refsetId\treferencedComponentId\tacceptabilityId", language_rows)
    return package
