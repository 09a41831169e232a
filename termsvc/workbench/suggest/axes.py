"""A candidate's LOINC axes: from its loaded properties where the store has them, else read from the long common
name, whose form LOINC fixes ("Component [Property] in System by Method"). Also the scale and method a local
code's own words hint at (its answers, its device or method name)."""

from __future__ import annotations

import re
from typing import Final

from termsvc.workbench.suggest.model import Candidate
from termsvc.workbench.suggest.normalise import fold
from termsvc.workbench.suggest.specimen import system_from_name

_PROPERTY_WORDS: Final[dict[str, str]] = {
    "mass/volume": "MCnc", "moles/volume": "SCnc", "enzymatic activity/volume": "CCnc", "units/volume": "ACnc",
    "#/volume": "NCnc", "volume fraction": "VFr", "mass fraction": "MFr", "presence": "PrThr", "time": "Time",
    "entitic volume": "EntVol", "entitic mass": "EntMass", "titer": "Titr", "mass/time": "MRat",
    "moles/time": "SRat", "identifier": "Prid", "type": "Type", "ratio": "Ratio", "mass ratio": "MRto",
    "moles/mass": "SCnt", "mass/mass": "MCnt", "pressure": "PPres", "velocity": "Vel", "volume rate": "VRat",
    "osmolality": "Osmol", "units/mass": "ACnt", "#/area": "Naric", "interpretation": "Imp", "#": "Num",
    "number fraction": "NFr", "length": "Len", "mass": "Mass", "temperature": "Temp", "mass content": "MCnt",
    "moles/moles": "SRto", "relative time": "RelTime", "arbitrary concentration": "ACnc",
    "volume rate/area": "ArVRat", "catalytic activity/volume": "CCnc", "substance fraction": "SFr",
    "threshold cycle": "Threshold", "sequence": "Seq", "finding": "Find", "multisection": "Mult",
}
_BRACKET = re.compile(r"\[([^\]]+)\]")
_BY = re.compile(r"\bby (.+)$")
_ORDINAL: Final = frozenset({"PrThr", "Imp", "Type", "Find", "Prid", "Seq"})
_ORDINAL_ANSWERS = re.compile(r"\b(positive|negative|detected|not detected|reactive|nonreactive|non reactive|"
                              r"presumptive|invalid|inconclusive|indeterminate|equivocal|present|absent|pos|neg)\b")
_QUANTITATIVE_ANSWERS = re.compile(r"\b(numeric|index|value|ct|titer|concentration|\d+(?:\.\d+)?)\b")
# method families: a local word -> words of LOINC's method names that agree with it
METHOD_HINTS: Final[list[tuple[re.Pattern[str], tuple[str, ...]]]] = [
    (re.compile(r"\b(pcr|rt pcr|naat|naa|molecular|nucleic|amplification|lamp|tma|rna|dna)\b"), ("naa", "probe")),
    (re.compile(r"\b(antigen|ag|rapid|lateral flow|immunochromatographic)\b"), ("immunoassay", "rapid")),
    (re.compile(r"\b(antibody|antibodies|ab|igg|igm|iga|serology|elisa|eia|cia|immunoassay)\b"), ("immunoassay",)),
    (re.compile(r"\b(culture)\b"), ("culture", "organism specific culture")),
    (re.compile(r"\b(automated|analyzer|count)\b"), ("automated count",)),
    (re.compile(r"\b(sequencing|sequence|genotype)\b"), ("sequencing", "molgen")),
]


def candidate_property(candidate: Candidate) -> str | None:
    loaded = candidate.first("PROPERTY")
    if loaded:
        return loaded
    match = _BRACKET.search(candidate.display)
    return _PROPERTY_WORDS.get(match.group(1).strip().lower()) if match else None


def candidate_system(candidate: Candidate) -> str | None:
    return candidate.first("SYSTEM") or system_from_name(candidate.display)


def candidate_scale(candidate: Candidate) -> str | None:
    loaded = candidate.first("SCALE_TYP")
    if loaded:
        return loaded
    prop = candidate_property(candidate)
    if prop is None:
        return None
    return "Ord" if prop in _ORDINAL else "Qn"


def candidate_method(candidate: Candidate) -> str:
    loaded = candidate.first("METHOD_TYP")
    if loaded:
        return loaded.lower()
    match = _BY.search(candidate.display)
    return match.group(1).lower() if match else ""


def scale_hint(answers: str | None) -> str | None:
    """Ord when the local code's answers are findings (Positive/Not detected), Qn when numbers or values."""
    if not answers:
        return None
    text = fold(answers)
    ordinal = bool(_ORDINAL_ANSWERS.search(text))
    quantitative = bool(_QUANTITATIVE_ANSWERS.search(text))
    if ordinal and not quantitative:
        return "Ord"
    if quantitative and not ordinal:
        return "Qn"
    return None


def method_hints(text: str) -> tuple[str, ...]:
    folded = fold(text)
    out: list[str] = []
    for pattern, words in METHOD_HINTS:
        if pattern.search(folded):
            out.extend(words)
    return tuple(out)
