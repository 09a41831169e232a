"""Curated abbreviations of pharmacy practice, and the few laboratory words LOINC does not carry (general knowledge,
not taken from any gold set). Expansion appends the long form to the short one, so names written either way meet in the n-gram space and the
short forms LOINC itself uses (SHORTNAME, RELATEDNAMES2) still match."""

from __future__ import annotations

import re
from typing import Final

# Laboratory words LOINC does not carry, so the release's own names cannot teach them (lexicon.py learns the rest:
# "Bld", "Hgb", "K", "WBC", ... from SHORTNAME, DisplayName and RELATEDNAMES2). Word -> (what it stands for, why).
LAB_RESIDUE: Final[dict[str, tuple[str, str]]] = {
    "flua": ("influenza a", "vendors run the virus and its type together; LOINC writes 'Influenza virus A'"),
    "flub": ("influenza b", "as 'flua'"),
    "infa": ("influenza a", "as 'flua', the other vendor spelling"),
    "infb": ("influenza b", "as 'infa'"),
    "sc2": ("sars-cov-2", "a vendor shorthand for SARS-CoV-2 that LOINC's synonyms do not list"),
    "ddimer": ("d-dimer", "run together; LOINC writes 'D-dimer'"),
    "tbili": ("bilirubin total", "run together; LOINC writes 'Bilirubin.total'"),
    "dbili": ("bilirubin direct", "run together; LOINC writes 'Bilirubin.direct'"),
    "hgba1c": ("hemoglobin a1c", "run together; LOINC writes 'Hemoglobin A1c'"),
    "hba1c": ("hemoglobin a1c", "as 'hgba1c'"),
    "pcr": ("nucleic acid amplification naa", "LOINC lists PCR among the synonyms of amplification methods with and "
            "without probe alike; NAA, the class its long names use, is what a local 'PCR' result is coded to"),
    "naat": ("nucleic acid amplification naa", "as 'pcr': the test's name for LOINC's NAA method class"),
    "rt": ("reverse transcription", "RT-PCR: the step before amplification, which LOINC's NAA includes"),
}
LAB: Final[dict[str, str]] = {word: long for word, (long, _) in LAB_RESIDUE.items()}

DRUG: Final[dict[str, str]] = {
    "tab": "tablet", "tabs": "tablet", "tb": "tablet", "cap": "capsule", "caps": "capsule",
    "inj": "injection injectable", "injection": "injection injectable", "soln": "solution", "sol": "solution",
    "susp": "suspension", "syr": "syrup", "oint": "ointment", "crm": "cream", "supp": "suppository",
    "er": "extended release", "xr": "extended release", "xl": "extended release", "sr": "extended release",
    "cr": "extended release", "la": "extended release", "dr": "delayed release", "ec": "delayed release enteric",
    "odt": "orally disintegrating tablet", "iv": "intravenous", "im": "intramuscular", "sc": "subcutaneous",
    "subq": "subcutaneous", "po": "oral", "pr": "rectal", "sl": "sublingual", "top": "topical",
    "ophth": "ophthalmic", "oph": "ophthalmic", "otic": "otic", "neb": "inhalation nebulizer", "inh": "inhalation",
    "mdi": "metered dose inhaler", "hfa": "inhalant", "pf": "preservative free", "mcg": "mcg", "ug": "mcg",
    "gm": "g", "gms": "g", "unt": "unt units", "units": "unt units", "u": "unt units", "iu": "unt units",
    "meq": "meq", "ml": "ml", "qd": "daily", "bid": "twice daily", "tid": "three times daily",
    "qid": "four times daily", "prn": "as needed", "hcl": "hydrochloride",
    "d5w": "dextrose 5 water", "ns": "sodium chloride 0.9", "kcl": "potassium chloride", "asa": "aspirin",
    "apap": "acetaminophen", "hctz": "hydrochlorothiazide", "mvi": "multivitamin", "ntg": "nitroglycerin",
    "amp": "ampule injection", "vl": "vial injection", "pfs": "prefilled syringe", "chew": "chewable",
    "liq": "liquid solution", "elix": "elixir", "pwd": "powder", "pwdr": "powder", "patch": "transdermal patch",
}

# Several spellings of one name, folded to one before matching (both the local names and the targets').
# Each comes with words one of which the text must hold before the pattern is tried (most names hold none).
PHRASES: Final[list[tuple[tuple[str, ...], re.Pattern[str], str]]] = [
    (("sars", "ncov", "covid"),
     re.compile(r"\bsars[ -]?(?:coronavirus|cov)[ -]?2\b|\b(?:2019[ -]?)?ncov(?:[ -]?2019)?\b|\bcovid[ -]?19\b"),
     "sars-cov-2"),
    (("syncytial",), re.compile(r"\brespiratory syncytial virus\b"), "rsv respiratory syncytial virus"),
    (("flu ",), re.compile(r"\bflu ([ab])\b"), r"influenza \1"),
    (("a1c",), re.compile(r"\bhemoglobin a1c\b|\bhb a1c\b"), "hemoglobin a1c"),
    # LOINC writes a superscript as sup(x) ("Fy sup(a) Ag", "Jk sup(b)"); laboratories write it inline ("Fya")
    (("sup ",), re.compile(r"\b([a-z]+) sup ([a-z0-9]+)\b"), r"\1\2"),
]
# Words vendors add to test names that say nothing about the test ("SARS-CoV-2 Result Interpretation").
NOISE: Final[frozenset[str]] = frozenset({"result", "results", "test", "assay", "report", "final", "interpretation",
                                          "interp", "value", "level", "lvl", "panel", "screen", "the", "of", "for"})

ALL: Final[dict[str, str]] = {**DRUG, **LAB}  # lab wins where both define a token
