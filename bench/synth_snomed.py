"""Write a full-size synthetic SNOMED CT International Edition RF2 Snapshot, deterministic from a seed.

The layout, file names, headers, tab separation and CRLF line endings follow the SNOMED CT Release File
Specification as the International Edition ships it. Content is made up; identifiers are valid SCTIDs
(item identifier, partition 00/01/02, Verhoeff check digit). Metadata concepts use their real SCTIDs so a
loader that knows them (Is a, FSN, US English, ...) sees the values it would see in a genuine release.

Usage: python bench/synth_snomed.py [--out DIR] [--seed N] [--scale F] [--active N] ...
Sizes: see bench/README.md (figures from the International Edition 2024-2025 releases)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from array import array
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth_common import Out, Rng, common_args, make_words, mark_generated, scaled, sctid

EOL = "\r\n"
ROOT = "138875005"
IS_A = "116680003"
CORE = "900000000000207008"
MODEL = "900000000000012004"
MAP_MODULE = "449080006"
FSN, SYN, DEF = "900000000000003001", "900000000000013009", "900000000000550004"
PRIMITIVE, DEFINED = "900000000000074008", "900000000000073002"
CI, CS, INITIAL_CI = "900000000000448009", "900000000000017005", "900000000000020002"
INFERRED, EXISTENTIAL = "900000000000011006", "900000000000451002"
US, GB = "900000000000509007", "900000000000508004"
PREFERRED, ACCEPTABLE = "900000000000548007", "900000000000549004"
SAME_AS, REPLACED_BY, POSS_EQUIV, WAS_A = ("900000000000527005", "900000000000526001", "900000000000523009",
                                           "900000000000528000")
INACTIVATION = "900000000000489007"
DUPLICATE, OUTDATED, AMBIGUOUS, ERRONEOUS = ("900000000000482003", "900000000000483008", "900000000000484002",
                                             "900000000000485001")
LATERALIZABLE = "723264001"
ICD10_MAP = "447562003"
OWL_AXIOM = "733073007"
MODULE_DEPENDENCY = "900000000000534007"
COUNT_OF_INGREDIENT = "1142140007"

# Metadata concepts with their real SCTIDs: (id, FSN, parent). Model component module.
METADATA: list[tuple[str, str, str]] = [
    ("900000000000441003", "SNOMED CT Model Component (metadata)", ROOT),
    ("106237007", "Linkage concept (linkage concept)", ROOT),
    ("246061005", "Attribute (attribute)", "106237007"),
    ("410662002", "Concept model attribute (attribute)", "246061005"),
    (IS_A, "Is a (attribute)", "410662002"),
    ("762705008", "Concept model object attribute (attribute)", "410662002"),
    ("762706009", "Concept model data attribute (attribute)", "410662002"),
    (COUNT_OF_INGREDIENT, "Count of active ingredient (attribute)", "762706009"),
    ("900000000000442005", "Core metadata concept (core metadata concept)", "900000000000441003"),
    ("900000000000443000", "Module (core metadata concept)", "900000000000442005"),
    ("900000000000445007", "International Health Terminology Standards Development Organisation maintained module "
                           "(core metadata concept)", "900000000000443000"),
    (CORE, "SNOMED CT core module (core metadata concept)", "900000000000445007"),
    (MODEL, "SNOMED CT model component module (core metadata concept)", "900000000000445007"),
    (MAP_MODULE, "SNOMED CT to ICD-10 rule-based mapping module (core metadata concept)", "900000000000445007"),
    ("900000000000444006", "Definition status (core metadata concept)", "900000000000442005"),
    (PRIMITIVE, "Primitive (core metadata concept)", "900000000000444006"),
    (DEFINED, "Defined (core metadata concept)", "900000000000444006"),
    ("900000000000446008", "Description type (core metadata concept)", "900000000000442005"),
    (FSN, "Fully specified name (core metadata concept)", "900000000000446008"),
    (SYN, "Synonym (core metadata concept)", "900000000000446008"),
    (DEF, "Definition (core metadata concept)", "900000000000446008"),
    ("900000000000447004", "Case significance (core metadata concept)", "900000000000442005"),
    (CI, "Entire term case insensitive (core metadata concept)", "900000000000447004"),
    (CS, "Entire term case sensitive (core metadata concept)", "900000000000447004"),
    (INITIAL_CI, "Only initial character case insensitive (core metadata concept)", "900000000000447004"),
    ("900000000000449001", "Characteristic type (core metadata concept)", "900000000000442005"),
    (INFERRED, "Inferred relationship (core metadata concept)", "900000000000449001"),
    ("900000000000010007", "Stated relationship (core metadata concept)", "900000000000449001"),
    ("900000000000450001", "Modifier (core metadata concept)", "900000000000442005"),
    (EXISTENTIAL, "Existential restriction modifier (core metadata concept)", "900000000000450001"),
    ("900000000000454005", "Foundation metadata concept (foundation metadata concept)", "900000000000441003"),
    ("900000000000455006", "Reference set (foundation metadata concept)", "900000000000454005"),
    ("900000000000506000", "Language type reference set (foundation metadata concept)", "900000000000455006"),
    (US, "United States of America English language reference set (foundation metadata concept)",
     "900000000000506000"),
    (GB, "Great Britain English language reference set (foundation metadata concept)", "900000000000506000"),
    ("900000000000521006", "Association type reference set (foundation metadata concept)", "900000000000455006"),
    (SAME_AS, "SAME AS association reference set (foundation metadata concept)", "900000000000521006"),
    (REPLACED_BY, "REPLACED BY association reference set (foundation metadata concept)", "900000000000521006"),
    (POSS_EQUIV, "POSSIBLY EQUIVALENT TO association reference set (foundation metadata concept)",
     "900000000000521006"),
    (WAS_A, "WAS A association reference set (foundation metadata concept)", "900000000000521006"),
    ("900000000000480006", "Attribute value type reference set (foundation metadata concept)",
     "900000000000455006"),
    (INACTIVATION, "Concept inactivation indicator reference set (foundation metadata concept)",
     "900000000000480006"),
    ("446609009", "Simple type reference set (foundation metadata concept)", "900000000000455006"),
    (LATERALIZABLE, "Lateralizable body structure reference set (foundation metadata concept)", "446609009"),
    ("609331003", "Extended map type reference set (foundation metadata concept)", "900000000000455006"),
    (ICD10_MAP, "ICD-10 complex map reference set (foundation metadata concept)", "609331003"),
    ("762676003", "OWL expression type reference set (foundation metadata concept)", "900000000000455006"),
    (OWL_AXIOM, "OWL axiom reference set (foundation metadata concept)", "762676003"),
    (MODULE_DEPENDENCY, "Module dependency reference set (foundation metadata concept)", "900000000000455006"),
    ("900000000000511003", "Acceptability (foundation metadata concept)", "900000000000454005"),
    (PREFERRED, "Preferred (foundation metadata concept)", "900000000000511003"),
    (ACCEPTABLE, "Acceptable (foundation metadata concept)", "900000000000511003"),
    ("900000000000481005", "Concept inactivation value (foundation metadata concept)", "900000000000454005"),
    (DUPLICATE, "Duplicate component (foundation metadata concept)", "900000000000481005"),
    (OUTDATED, "Outdated component (foundation metadata concept)", "900000000000481005"),
    (AMBIGUOUS, "Ambiguous component (foundation metadata concept)", "900000000000481005"),
    (ERRONEOUS, "Erroneous component (foundation metadata concept)", "900000000000481005"),
    ("447247004", "SNOMED CT source code to target map code correlation value (foundation metadata concept)",
     "900000000000454005"),
    ("447561005", "SNOMED CT source code to target map code correlation not specified (foundation metadata "
                  "concept)", "447247004"),
    ("447634004", "ICD-10 map category value (foundation metadata concept)", "900000000000454005"),
    ("447637006", "Map source concept is properly classified (foundation metadata concept)", "447634004"),
    ("447638001", "Map source concept cannot be classified with available data (foundation metadata concept)",
     "447634004"),
    ("447639009", "Map of source concept is context dependent (foundation metadata concept)", "447634004"),
]


@dataclass(frozen=True)
class Hierarchy:
    top: str
    name: str
    tag: str
    share: float  # share of active content concepts, after the International Edition's hierarchy sizes


HIERARCHIES = [
    Hierarchy("404684003", "Clinical finding", "disorder", 0.345),
    Hierarchy("71388002", "Procedure", "procedure", 0.165),
    Hierarchy("123037004", "Body structure", "body structure", 0.105),
    Hierarchy("410607006", "Organism", "organism", 0.095),
    Hierarchy("105590001", "Substance", "substance", 0.075),
    Hierarchy("373873005", "Pharmaceutical / biologic product", "medicinal product", 0.05),
    Hierarchy("260787004", "Physical object", "physical object", 0.04),
    Hierarchy("362981000", "Qualifier value", "qualifier value", 0.03),
    Hierarchy("363787002", "Observable entity", "observable entity", 0.03),
    Hierarchy("48176007", "Social context", "social concept", 0.013),
    Hierarchy("243796009", "Situation with explicit context", "situation", 0.012),
    Hierarchy("272379006", "Event", "event", 0.01),
    Hierarchy("123038009", "Specimen", "specimen", 0.005),
    Hierarchy("308916002", "Environment or geographical location", "environment / location", 0.005),
    Hierarchy("254291000", "Staging and scales", "staging scale", 0.005),
    Hierarchy("419891008", "Record artifact", "record artifact", 0.0015),
    Hierarchy("78621006", "Physical force", "physical force", 0.0005),
    Hierarchy("370115009", "Special concept", "special concept", 0.0003),
]

# Attribute types (real SCTIDs) by domain hierarchy: (type id, FSN, range hierarchy tops, mean per concept).
ATTRIBUTES: dict[str, list[tuple[str, str, tuple[str, ...], float]]] = {
    "404684003": [("363698007", "Finding site (attribute)", ("123037004",), 1.4),
                  ("116676008", "Associated morphology (attribute)", ("123037004",), 1.3),
                  ("246075003", "Causative agent (attribute)", ("410607006", "105590001"), 0.4),
                  ("42752001", "Due to (attribute)", ("404684003",), 0.2),
                  ("370135005", "Pathological process (attribute)", ("362981000",), 0.25),
                  ("363714003", "Interprets (attribute)", ("363787002",), 0.3)],
    "71388002": [("260686004", "Method (attribute)", ("362981000",), 1.5),
                 ("405813007", "Procedure site - Direct (attribute)", ("123037004",), 1.3),
                 ("363701004", "Direct substance (attribute)", ("105590001", "373873005"), 0.4)],
    "373873005": [("127489000", "Has active ingredient (attribute)", ("105590001",), 1.5),
                  ("411116001", "Has manufactured dose form (attribute)", ("362981000",), 1.0)],
    "363787002": [("246093002", "Component (attribute)", ("105590001",), 1.0),
                  ("704327008", "Direct site (attribute)", ("123037004",), 0.7)],
    "123037004": [("272741003", "Laterality (attribute)", ("362981000",), 0.3)],
    "243796009": [("246090004", "Associated finding (attribute)", ("404684003",), 1.0)],
    "123038009": [("370133003", "Specimen substance (attribute)", ("105590001",), 1.0)],
}

DIALECT = [("color", "colour"), ("anemia", "anaemia"), ("tumor", "tumour"), ("hemorrhage", "haemorrhage"),
           ("edema", "oedema"), ("esophageal", "oesophageal"), ("leukemia", "leukaemia"), ("fetal", "foetal"),
           ("pediatric", "paediatric"), ("hematoma", "haematoma")]
QUALIFIERS = ("acute", "chronic", "left", "right", "bilateral", "primary", "secondary", "congenital", "recurrent",
              "partial", "total", "open", "closed", "deep", "superficial", "upper", "lower", "anterior",
              "posterior", "lateral", "medial", "benign", "malignant", "severe", "mild", "traumatic")
LINKS = ("of", "of", "of", "with", "due to", "in", "by", "and")
MAP_LETTERS = "ABCDEFGHIJKLMNOPQRSTZ"


def release_times(release: str) -> list[str]:
    """Effective times of International releases up to `release`: Jan/Jul from 2002, monthly from 2022."""
    times = [f"{y}{m}" for y in range(2002, 2022) for m in ("0131", "0731")]
    times += [f"{y}{m:02d}01" for y in range(2022, 2027) for m in range(1, 13)]
    return [t for t in times if t <= release] or [release]


class Ids:
    """Hands out SCTIDs per partition, skipping the metadata identifiers used verbatim."""

    def __init__(self, rng: Rng, reserved: set[str]) -> None:
        self.rng = rng
        self.reserved = reserved
        self.next_item = {"00": 10_000, "01": 10_000, "02": 100_000}

    def new(self, partition: str) -> str:
        while True:
            item = self.next_item[partition]
            self.next_item[partition] = item + (1 if partition != "00" else self.rng.randint(1, 9))
            value = sctid(item, partition)
            if value not in self.reserved:
                return value


def generate(out: Path, *, seed: int, active: int, inactive: int, descriptions: int, attributes: int,
             release: str, max_depth: int = 30) -> dict[str, int]:
    rng = Rng(seed)
    if out.exists():
        shutil.rmtree(out)
    root_dir = out / f"SnomedCT_InternationalRF2_PRODUCTION_{release}T120000Z"
    snap = root_dir / "Snapshot"
    term_dir, refset_dir = snap / "Terminology", snap / "Refset"
    times = release_times(release)
    words = make_words(rng, 6000)

    def tsv(path: Path, header: str) -> Out:
        return Out(path, header.split(" "), sep="\t", eol=EOL)

    concepts = tsv(term_dir / f"sct2_Concept_Snapshot_INT_{release}.txt",
                   "id effectiveTime active moduleId definitionStatusId")
    descs = tsv(term_dir / f"sct2_Description_Snapshot-en_INT_{release}.txt",
                "id effectiveTime active moduleId conceptId languageCode typeId term caseSignificanceId")
    textdefs = tsv(term_dir / f"sct2_TextDefinition_Snapshot-en_INT_{release}.txt",
                   "id effectiveTime active moduleId conceptId languageCode typeId term caseSignificanceId")
    rels = tsv(term_dir / f"sct2_Relationship_Snapshot_INT_{release}.txt",
               "id effectiveTime active moduleId sourceId destinationId relationshipGroup typeId "
               "characteristicTypeId modifierId")
    concrete = tsv(term_dir / f"sct2_RelationshipConcreteValues_Snapshot_INT_{release}.txt",
                   "id effectiveTime active moduleId sourceId value relationshipGroup typeId characteristicTypeId "
                   "modifierId")
    stated = tsv(term_dir / f"sct2_StatedRelationship_Snapshot_INT_{release}.txt",
                 "id effectiveTime active moduleId sourceId destinationId relationshipGroup typeId "
                 "characteristicTypeId modifierId")
    owl = tsv(term_dir / f"sct2_sRefset_OWLExpressionSnapshot_INT_{release}.txt",
              "id effectiveTime active moduleId refsetId referencedComponentId owlExpression")
    lang = tsv(refset_dir / "Language" / f"der2_cRefset_LanguageSnapshot-en_INT_{release}.txt",
               "id effectiveTime active moduleId refsetId referencedComponentId acceptabilityId")
    assoc = tsv(refset_dir / "Content" / f"der2_cRefset_AssociationSnapshot_INT_{release}.txt",
                "id effectiveTime active moduleId refsetId referencedComponentId targetComponentId")
    attrval = tsv(refset_dir / "Content" / f"der2_cRefset_AttributeValueSnapshot_INT_{release}.txt",
                  "id effectiveTime active moduleId refsetId referencedComponentId valueId")
    simple = tsv(refset_dir / "Content" / f"der2_Refset_SimpleSnapshot_INT_{release}.txt",
                 "id effectiveTime active moduleId refsetId referencedComponentId")
    extmap = tsv(refset_dir / "Map" / f"der2_iisssccRefset_ExtendedMapSnapshot_INT_{release}.txt",
                 "id effectiveTime active moduleId refsetId referencedComponentId mapGroup mapPriority mapRule "
                 "mapAdvice mapTarget correlationId mapCategoryId")
    moddep = tsv(refset_dir / "Metadata" / f"der2_ssRefset_ModuleDependencySnapshot_INT_{release}.txt",
                 "id effectiveTime active moduleId refsetId referencedComponentId sourceEffectiveTime "
                 "targetEffectiveTime")
    files = [concepts, descs, textdefs, rels, concrete, stated, owl, lang, assoc, attrval, simple, extmap, moddep]

    attribute_names = {type_id: name for specs in ATTRIBUTES.values() for type_id, name, _, _ in specs}
    fixed = [(ROOT, "SNOMED CT Concept (SNOMED RT+CTV3)", "")]
    fixed += [(h.top, f"{h.name} ({h.tag if h.top != '404684003' else 'finding'})", ROOT) for h in HIERARCHIES]
    fixed += METADATA
    fixed += [(type_id, name, "762705008") for type_id, name in attribute_names.items()]
    reserved = {code for code, _, _ in fixed}
    ids = Ids(rng, reserved)

    def lang_rows(desc_id: str, us: str | None, gb: str | None, when: str) -> None:
        if us:
            lang.row((rng.uuid4(), when, "1", CORE, US, desc_id, us))
        if gb:
            lang.row((rng.uuid4(), when, "1", CORE, GB, desc_id, gb))

    def describe(concept: str, fsn: str, pt: str, module: str, when: str, synonyms: list[str],
                 gb_pt: str | None = None) -> None:
        case = CI if rng.random() < 0.85 else (INITIAL_CI if rng.random() < 0.66 else CS)
        d = ids.new("01")
        descs.row((d, when, "1", module, concept, "en", FSN, fsn, case))
        lang_rows(d, PREFERRED, PREFERRED, when)
        d = ids.new("01")
        descs.row((d, when, "1", module, concept, "en", SYN, pt, case))
        lang_rows(d, PREFERRED, None if gb_pt else PREFERRED, when)
        if gb_pt:
            d = ids.new("01")
            descs.row((d, when, "1", module, concept, "en", SYN, gb_pt, case))
            lang_rows(d, None, PREFERRED, when)
        for synonym in synonyms:
            d = ids.new("01")
            descs.row((d, rng.choice(times), "1", module, concept, "en", SYN, synonym, CI))
            lang_rows(d, ACCEPTABLE, ACCEPTABLE, when)

    def isa(source: str, parent: str, when: str, module: str, active_flag: str = "1") -> None:
        rels.row((ids.new("02"), when, active_flag, module, source, parent, "0", IS_A, INFERRED, EXISTENTIAL))

    # Root, top-level concepts, metadata and attribute types.
    first = times[0]
    for code, fsn, parent in fixed:
        module = CORE if parent in {"", ROOT} and code != "900000000000441003" else MODEL
        concepts.row((code, first, "1", module, PRIMITIVE))
        describe(code, fsn, fsn.rsplit(" (", 1)[0], module, first, [])
        if parent:
            isa(code, parent, first, module)
            owl.row((rng.uuid4(), first, "1", module, OWL_AXIOM, code, f"SubClassOf(:{code} :{parent})"))

    # Content concepts, hierarchy by hierarchy: each new concept picks parents among the earlier ones of its
    # hierarchy (so the graph is acyclic by construction), uniformly with a pull towards recent ones that
    # gives long chains; depth is capped at max_depth below the root.
    members: dict[str, list[str]] = {}
    total_share = sum(h.share for h in HIERARCHIES)
    sizes = {h.top: max(1, round(active * h.share / total_share)) for h in HIERARCHIES}
    sizes[HIERARCHIES[0].top] += active - sum(sizes.values())
    expected_attrs = sum(sizes[top] * sum(spec[3] for spec in specs) for top, specs in ATTRIBUTES.items())
    attr_factor = attributes / expected_attrs if expected_attrs else 0.0
    total_concepts = len(fixed) + active + inactive
    synonym_mean = max(0.0, (descriptions - 2 * total_concepts - 0.08 * active) / max(1, active))
    counts = {"active_concepts": len(fixed), "max_depth": 0}
    dialect_index = 0

    def term(tag_words: int) -> str:
        parts = [rng.choice(words) for _ in range(tag_words)]
        if rng.random() < 0.4:
            parts.insert(0, rng.choice(QUALIFIERS))
        if len(parts) > 2 and rng.random() < 0.5:
            parts.insert(len(parts) - 1, rng.choice(LINKS))
        text_ = " ".join(parts)
        return text_[0].upper() + text_[1:]

    for h in HIERARCHIES:
        ids_here: list[str] = [h.top]
        depths = bytearray([1])
        first_parent = array("i", [-1])  # index of each concept's first parent, -1 for the top concept
        children: list[list[int]] = [[]]  # first-parent children of each concept
        for _ in range(sizes[h.top]):
            code = ids.new("00")
            when = rng.choice(times)
            n = len(ids_here)
            parents: list[int] = []
            while not parents:
                i = n - 1 - rng.randrange(60) if rng.random() < 0.15 and n > 60 else rng.randrange(n)
                if depths[i] < max_depth:
                    parents.append(i)
            extra = (1 if rng.random() < 0.45 else 0) + (1 if rng.random() < 0.12 else 0)
            for _ in range(extra):
                # Extra parents are mostly near the first one (a child of its parent or grandparent), as in
                # SNOMED CT where a concept's parents share most of their ancestors; a few are anywhere.
                i = rng.randrange(n)
                if rng.random() < 0.8:
                    up = parents[0]
                    for _ in range(rng.randint(1, 2)):
                        up = first_parent[up] if first_parent[up] >= 0 else up
                    if children[up]:
                        i = rng.choice(children[up])
                if depths[i] < max_depth and i not in parents:
                    parents.append(i)
            first_parent.append(parents[0])
            children.append([])
            children[parents[0]].append(n)
            depth = 1 + max(depths[i] for i in parents)
            counts["max_depth"] = max(counts["max_depth"], depth)
            defined = DEFINED if rng.random() < 0.3 else PRIMITIVE
            concepts.row((code, when, "1", CORE, defined))
            base = term(rng.randint(1, 3))
            gb_pt = None
            if rng.random() < 0.03:
                us_word, gb_word = DIALECT[dialect_index % len(DIALECT)]
                dialect_index += 1
                gb_pt = f"{base} {gb_word}"
                base = f"{base} {us_word}"
            tag = h.tag if h.top != "404684003" or rng.random() < 0.7 else "finding"
            synonyms = [term(rng.randint(1, 3)) for _ in range(rng.poisson_small(synonym_mean))]
            describe(code, f"{base} ({tag})", base, CORE, when, synonyms, gb_pt)
            if rng.random() < 0.08:
                d = ids.new("01")
                descs.row((d, rng.choice(times), "0", CORE, code, "en", SYN, term(2), CI))
            if rng.random() < 0.03:
                d = ids.new("01")
                textdefs.row((d, when, "1", CORE, code, "en", DEF, f"{base}: a {term(3).lower()} "
                              f"characterised by {term(2).lower()}.", CS))
                lang_rows(d, PREFERRED, PREFERRED, when)
            parent_codes = [ids_here[i] for i in parents]
            for parent in parent_codes:
                isa(code, parent, when, CORE)
            axiom = (f":{parent_codes[0]}" if len(parent_codes) == 1 else
                     "ObjectIntersectionOf(" + " ".join(f":{p}" for p in parent_codes) + ")")
            owl.row((rng.uuid4(), when, "1", CORE, OWL_AXIOM, code, f"SubClassOf(:{code} {axiom})"))
            ids_here.append(code)
            depths.append(depth)
        members[h.top] = ids_here
        counts["active_concepts"] += sizes[h.top]

    # Attribute relationships, once every range hierarchy exists; grouped as the International Edition does
    # (group 0 for ungrouped attributes such as laterality, numbered role groups otherwise).
    for top, specs in ATTRIBUTES.items():
        for code in members[top][1:]:
            group = 0
            for type_id, _, ranges, mean in specs:
                for _ in range(rng.poisson_small(mean * attr_factor)):
                    target_pool = members[rng.choice(ranges)]
                    group = 0 if type_id == "272741003" else (group + 1 if rng.random() < 0.3 or group == 0
                                                              else group)
                    rels.row((ids.new("02"), rng.choice(times), "1", CORE, code, rng.choice(target_pool),
                              str(group), type_id, INFERRED, EXISTENTIAL))
            if top == "373873005" and rng.random() < 0.6:
                concrete.row((ids.new("02"), rng.choice(times), "1", CORE, code, f"#{rng.randint(1, 3)}", "0",
                              COUNT_OF_INGREDIENT, INFERRED, EXISTENTIAL))

    # Lateralizable body structures: a simple refset over part of the body structure hierarchy.
    for code in members["123037004"][1:]:
        if rng.random() < 0.4:
            simple.row((rng.uuid4(), rng.choice(times), "1", CORE, LATERALIZABLE, code))

    # ICD-10 extended map for clinical findings, with the rule-based shapes the map uses.
    for code in members["404684003"][1:]:
        if rng.random() >= 0.65:
            continue
        when = rng.choice(times)
        groups = 2 if rng.random() < 0.12 else 1
        for group in range(1, groups + 1):
            target = f"{rng.choice(MAP_LETTERS)}{rng.randint(0, 99):02d}.{rng.randint(0, 9)}"
            if rng.random() < 0.1:
                extmap.row((rng.uuid4(), when, "1", MAP_MODULE, ICD10_MAP, code, str(group), "1",
                            "IFA 248152002 | Female (finding) |", f"IF FEMALE CHOOSE {target} | MAP OF SOURCE "
                            "CONCEPT IS CONTEXT DEPENDENT", target, "447561005", "447639009"))
                extmap.row((rng.uuid4(), when, "1", MAP_MODULE, ICD10_MAP, code, str(group), "2",
                            "OTHERWISE TRUE", "MAP SOURCE CONCEPT CANNOT BE CLASSIFIED WITH AVAILABLE DATA", "",
                            "447561005", "447638001"))
            else:
                extmap.row((rng.uuid4(), when, "1", MAP_MODULE, ICD10_MAP, code, str(group), "1", "TRUE",
                            f"ALWAYS {target}", target, "447561005", "447637006"))

    # Inactive concepts: descriptions kept, an inactivation reason, historical associations to active
    # concepts, and their former is-a rows present but inactive, as in a genuine snapshot.
    tops = [h.top for h in HIERARCHIES]
    weights = [sizes[t] for t in tops]
    for _ in range(inactive):
        top = rng.choices(tops, weights)[0]
        pool = members[top]
        code = ids.new("00")
        when = rng.choice(times)
        concepts.row((code, when, "0", CORE, PRIMITIVE))
        base = term(rng.randint(1, 3))
        describe(code, f"{base} ({HIERARCHIES[tops.index(top)].tag})", base, CORE, rng.choice(times), [])
        isa(code, rng.choice(pool), when, CORE, active_flag="0")
        r = rng.random()
        reason, targets = ((DUPLICATE, [(SAME_AS, 1)]) if r < 0.35 else
                           (OUTDATED, [(REPLACED_BY, 1)]) if r < 0.6 else
                           (AMBIGUOUS, [(POSS_EQUIV, rng.randint(1, 3))]) if r < 0.85 else
                           (ERRONEOUS, [(REPLACED_BY, 1), (WAS_A, 1)]))
        attrval.row((rng.uuid4(), when, "1", CORE, INACTIVATION, code, reason))
        for refset, n in targets:
            for target in {rng.choice(pool) for _ in range(n)}:
                assoc.row((rng.uuid4(), when, "1", CORE, refset, code, target))

    for module, target in ((CORE, MODEL), (MAP_MODULE, CORE), (MAP_MODULE, MODEL)):
        moddep.row((rng.uuid4(), release, "1", module, MODULE_DEPENDENCY, target, release, release))

    for f in files:
        f.close()
    (root_dir / "release_package_information.json").write_text(json.dumps({
        "effectiveTime": release, "deltaFromDate": None, "deltaToDate": None,
        "includedFiles": sorted(str(f.path.relative_to(root_dir)) for f in files),
        "licenceStatement": "Synthetic content generated for benchmarking; not SNOMED CT content.",
    }, indent=2), encoding="utf-8")
    counts.update({f.path.name.rsplit("_", 2)[0]: f.rows for f in files})
    counts["inactive_concepts"] = inactive
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = common_args(__doc__ or "", "snomed")
    parser.add_argument("--active", type=int, default=370_000, help="active content concepts")
    parser.add_argument("--inactive", type=int, default=150_000, help="inactive concepts")
    parser.add_argument("--descriptions", type=int, default=1_600_000, help="rows in the Description file")
    parser.add_argument("--attributes", type=int, default=1_500_000,
                        help="active inferred non-is-a relationships")
    parser.add_argument("--release", default="20251101", help="effective time of the release (yyyymmdd)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.out, seed=args.seed, active=scaled(args.active, args.scale),
                      inactive=scaled(args.inactive, args.scale),
                      descriptions=scaled(args.descriptions, args.scale),
                      attributes=scaled(args.attributes, args.scale), release=args.release)
    mark_generated(args.out, args.seed, args.scale, time.perf_counter() - started)
    print(json.dumps(counts, indent=1))
    print(f"written to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
