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

# Common laboratory abbreviations ("WBC", "Hgb", "K", "BUN", "TSH", ...; general practice, not taken from any gold
# set), for the releases that do not teach them: a subset, or terms known only by their long common names (most
# codes of a FHIR package's value sets). A full release carries most of them in SHORTNAME and RELATEDNAMES2, but
# only 37 of these words occur in the genuine LOINC subset we hold, so the rest are not checked against LOINC's
# files. Used below what the loaded release teaches, never instead of it: where both read a word, both readings
# are kept.
LAB_ATTESTED: Final[dict[str, str]] = {
    "k": "potassium", "na": "sodium", "cl": "chloride", "ca": "calcium", "mg": "magnesium", "phos": "phosphate",
    "co2": "carbon dioxide", "hco3": "bicarbonate", "bicarb": "bicarbonate", "gluc": "glucose", "glu": "glucose",
    "hgb": "hemoglobin", "hb": "hemoglobin", "hct": "hematocrit", "wbc": "leukocytes white blood cell",
    "rbc": "erythrocytes red blood cell", "plt": "platelets", "plts": "platelets", "bun": "urea nitrogen",
    "creat": "creatinine", "cr": "creatinine", "tsh": "thyrotropin thyroid stimulating hormone",
    "alt": "alanine aminotransferase", "sgpt": "alanine aminotransferase", "ast": "aspartate aminotransferase",
    "sgot": "aspartate aminotransferase", "alp": "alkaline phosphatase", "alk": "alkaline",
    "ldl": "ldl cholesterol low density lipoprotein", "hdl": "hdl cholesterol high density lipoprotein",
    "chol": "cholesterol", "trig": "triglyceride", "tg": "triglyceride", "a1c": "hemoglobin a1c",
    "pt": "prothrombin time", "inr": "inr coagulation", "ptt": "partial thromboplastin time",
    "aptt": "activated partial thromboplastin time", "ck": "creatine kinase", "cpk": "creatine kinase",
    "ldh": "lactate dehydrogenase", "ld": "lactate dehydrogenase", "ggt": "gamma glutamyl transferase",
    "t4": "thyroxine", "ft4": "free thyroxine", "t3": "triiodothyronine", "ft3": "free triiodothyronine",
    "psa": "prostate specific antigen", "crp": "c reactive protein", "hscrp": "c reactive protein high sensitivity",
    "esr": "erythrocyte sedimentation rate", "mcv": "erythrocyte mean corpuscular volume",
    "mch": "erythrocyte mean corpuscular hemoglobin",
    "mchc": "erythrocyte mean corpuscular hemoglobin concentration", "rdw": "erythrocyte distribution width",
    "mpv": "platelet mean volume", "bili": "bilirubin", "alb": "albumin", "tp": "protein total", "prot": "protein",
    "ua": "urinalysis", "uric": "urate", "fe": "iron", "tibc": "iron binding capacity", "ferr": "ferritin",
    "b12": "cobalamin vitamin b12", "vit": "vitamin", "hiv": "human immunodeficiency virus",
    "hcv": "hepatitis c virus", "hbv": "hepatitis b virus", "hbsag": "hepatitis b virus surface antigen",
    "rsv": "respiratory syncytial virus", "flu": "influenza", "sars": "severe acute respiratory syndrome",
    "cov": "coronavirus", "covid": "sars-cov-2", "ncov": "sars-cov-2", "ag": "antigen", "ab": "antibody",
    "abs": "antibodies", "igg": "igg antibody", "igm": "igm antibody", "iga": "iga antibody", "rna": "rna",
    "dna": "dna", "abo": "abo group", "rh": "rh type", "bnp": "natriuretic peptide b", "trop": "troponin",
    "tni": "troponin i", "tnt": "troponin t", "fib": "fibrinogen", "lytes": "electrolytes", "neut": "neutrophils",
    "lymph": "lymphocytes", "lymphs": "lymphocytes", "mono": "monocytes", "monos": "monocytes", "eos": "eosinophils",
    "baso": "basophils", "retic": "reticulocytes", "egfr": "glomerular filtration rate",
    "gfr": "glomerular filtration rate", "po2": "oxygen partial pressure", "pco2": "carbon dioxide partial pressure",
    "o2": "oxygen", "sat": "saturation", "lac": "lactate", "amy": "amylase", "lip": "lipase", "mb": "mb",
    "qn": "quantitative", "ql": "qualitative", "qual": "qualitative", "quant": "quantitative",
    "conc": "concentration", "tot": "total", "dir": "direct", "ind": "indirect", "ser": "serum", "plas": "plasma",
    "bld": "blood", "ur": "urine", "csf": "cerebral spinal fluid", "np": "nasopharyngeal", "nph": "nasopharynx",
    "abg": "arterial blood gas", "vbg": "venous blood gas", "ctrl": "control", "pos": "positive", "neg": "negative",
    "interp": "interpretation",
}

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
# Words vendors add to test names that say nothing about the test ("SARS-CoV-2 Result Interpretation"), and the words
# that join others ("Antibodies to SARS-CoV-2", "Cholesterol in LDL"): a name is not less covered for leaving them out.
NOISE: Final[frozenset[str]] = frozenset({"result", "results", "test", "assay", "report", "final", "interpretation",
                                          "interp", "value", "level", "lvl", "panel", "screen", "the", "of", "for",
                                          "to", "in", "on", "at", "with", "and", "or", "by", "from", "per", "vs"})

ALL: Final[dict[str, str]] = {**DRUG, **LAB}  # lab wins where both define a token
