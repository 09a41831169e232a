"""Specimen words to the LOINC SYSTEM axis. Each rule gives the systems that fit well and those that fit loosely
(a serum specimen fits Ser/Plas and Ser well, Ser/Plas/Bld loosely); a system outside both is a conflict. Several
respiratory sites together (a kit accepting nasal and nasopharyngeal swabs) point at the grouping systems."""

from __future__ import annotations

import re
from typing import Final

from termsvc.workbench.suggest.normalise import fold

_RESPIRATORY_GROUP: Final = frozenset({"Respiratory", "Respiratory.upper", "Respiratory.XXX", "XXX", "Specimen"})
_BLOOD_GROUP: Final = frozenset({"Bld", "BldV", "BldC", "BldA", "Ser/Plas/Bld", "Bld.dot"})

# (pattern, strong systems, loose systems, the site this is, for counting respiratory sites)
_RULES: Final[list[tuple[re.Pattern[str], frozenset[str], frozenset[str], str | None]]] = [
    (re.compile(r"\barterial\b|\bart\b|\bbld ?a\b"), frozenset({"BldA"}), frozenset({"Bld"}), None),
    (re.compile(r"\bvenous\b|\bbld ?v\b"), frozenset({"BldV", "Bld"}), _BLOOD_GROUP | {"Ser/Plas"}, None),
    (re.compile(r"\bcapillary\b|\bfinger ?stick\b|\bfinger\b|\bheel\b"), frozenset({"BldC", "Bld"}),
     _BLOOD_GROUP, None),
    (re.compile(r"\bcord\b"), frozenset({"BldCo"}), frozenset({"Bld"}), None),
    (re.compile(r"\bserum\b|\bser\b|\bsst\b"), frozenset({"Ser/Plas", "Ser"}),
     frozenset({"Ser/Plas/Bld", "Plas", "Bld", "XXX"}), None),
    (re.compile(r"\bplasma\b|\bplas\b|\bedta plasma\b"), frozenset({"Ser/Plas", "Plas"}),
     frozenset({"Ser/Plas/Bld", "Ser", "PPP", "Bld", "XXX"}), None),
    (re.compile(r"\bblood\b|\bbld\b|\bwb\b|\bedta\b"), frozenset({"Bld", "Ser/Plas/Bld"}),
     _BLOOD_GROUP | {"Ser/Plas", "XXX"}, None),
    (re.compile(r"\burine\b|\bur\b|\burin\b|\bua\b"), frozenset({"Ur"}), frozenset({"Ur+Ser/Plas", "Ur sed", "XXX"}),
     None),
    (re.compile(r"\bcsf\b|\bspinal\b|\bcerebrospinal\b"), frozenset({"CSF"}), frozenset({"XXX"}), None),
    (re.compile(r"\bstool\b|\bfeces\b|\bfaeces\b|\bfecal\b|\bfaecal\b"), frozenset({"Stool"}), frozenset({"XXX"}),
     None),
    (re.compile(r"\bnasopharyn\w*|\bnp\b|\bnph\b"), frozenset({"Nph"}), _RESPIRATORY_GROUP | {"Nose", "Thrt"},
     "nph"),
    (re.compile(r"\bnasal\b|\bnares\b|\bnose\b|\bturbinate\b|\bnostril\w*"), frozenset({"Nose"}),
     _RESPIRATORY_GROUP | {"Nph"}, "nose"),
    (re.compile(r"\boropharyn\w*|\bthroat\b|\bop\b|\bpharyn\w*"), frozenset({"Thrt"}),
     _RESPIRATORY_GROUP | {"Nph"}, "throat"),
    (re.compile(r"\bsaliva\b|\boral fluid\b"), frozenset({"Saliva"}), _RESPIRATORY_GROUP, "saliva"),
    (re.compile(r"\bsputum\b"), frozenset({"Sputum"}), _RESPIRATORY_GROUP, "sputum"),
    (re.compile(r"\bbronch\w*|\bbal\b|\blavage\b|\btracheal\b|\baspirate\b"), frozenset({"Bronchial", "BAL"}),
     _RESPIRATORY_GROUP, "lower"),
    (re.compile(r"\brespiratory\b"), frozenset({"Respiratory", "Respiratory.upper"}), _RESPIRATORY_GROUP, "resp"),
]

# LOINC long common names spell the system out ("in Serum or Plasma"); longest phrases first.
SYSTEM_PHRASES: Final[list[tuple[str, str]]] = sorted([
    ("serum or plasma", "Ser/Plas"), ("serum, plasma or blood", "Ser/Plas/Bld"), ("serum", "Ser"),
    ("plasma", "Plas"), ("blood", "Bld"), ("arterial blood", "BldA"), ("venous blood", "BldV"),
    ("capillary blood", "BldC"), ("cord blood", "BldCo"), ("urine", "Ur"), ("urine sediment", "Ur sed"),
    ("cerebral spinal fluid", "CSF"), ("stool", "Stool"), ("respiratory specimen", "Respiratory"),
    ("upper respiratory specimen", "Respiratory.upper"), ("lower respiratory specimen", "Respiratory.lower"),
    ("nasopharynx", "Nph"), ("nose", "Nose"), ("throat", "Thrt"), ("saliva", "Saliva"), ("sputum", "Sputum"),
    ("bronchoalveolar lavage", "BAL"), ("unspecified specimen", "XXX"), ("specimen", "XXX"),
    ("platelet poor plasma", "PPP"), ("dried blood spot", "Bld.dot"), ("isolate", "Isolate"),
    ("exhaled gas", "Exhl gas"),
], key=lambda pair: -len(pair[0]))
_IN_SYSTEM = re.compile(r"\bin ([a-z ,]+?)(?: by |\s*--|\s*\(|\s*$|\s*\[|,? ?(?:at|during|from) )")


def system_from_name(display: str) -> str | None:
    """The SYSTEM a LOINC long common name spells out, for candidates loaded without their axes."""
    match = _IN_SYSTEM.search(display.lower())
    if not match:
        return None
    phrase = match.group(1).strip()
    for words, system in SYSTEM_PHRASES:
        if phrase == words:
            return system
    for words, system in SYSTEM_PHRASES:
        if phrase.endswith(words):
            return system
    return None


def specimen_systems(specimen: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """(systems that fit well, systems that fit loosely) for a local specimen description; empty when unknown."""
    if not specimen:
        return frozenset(), frozenset()
    text = fold(specimen)
    strong: set[str] = set()
    loose: set[str] = set()
    sites: set[str] = set()
    for pattern, good, fair, site in _RULES:
        if pattern.search(text):
            strong |= good
            loose |= fair
            if site:
                sites.add(site)
    if len(sites) >= 2:  # a kit taking several respiratory sites is coded to the grouping systems, not one site
        loose |= strong | _RESPIRATORY_GROUP
        strong = {"Respiratory", "Respiratory.upper"}
    return frozenset(strong), frozenset(loose - strong)
