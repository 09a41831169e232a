"""Drug strings ("metoprolol tartrate 25 mg tab", "Nascobal 500mcg") as strengths and a dose form, to compare with
RxNorm names ("Metoprolol Tartrate 25 MG Oral Tablet"). Strengths are kept per unit family in a canonical unit
(mg for masses), so 500 mcg meets 0.5 MG."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from termsvc.workbench.suggest.normalise import fold

_MASS_IN_MG: Final = {"g": 1000.0, "gm": 1000.0, "mg": 1.0, "mcg": 0.001, "ug": 0.001, "ng": 0.000001}
_OTHER: Final = {"unt": "unt", "unit": "unt", "units": "unt", "u": "unt", "iu": "unt", "meq": "meq", "mmol": "mmol",
                 "%": "%", "ml": "ml", "actuat": "actuat"}
_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(g|gm|mg|mcg|ug|ng|unt|units?|u|iu|meq|mmol|%|ml)\b(?:\s*/\s*(ml|l|actuat|"
                       r"hr|h|g|mg|\d+(?:\.\d+)?\s*ml))?")
# dose form families: words in local strings or RxNorm names -> family
_FORMS: Final[list[tuple[re.Pattern[str], str]]] = [
    (re.compile(r"\b(tablet|tab|tabs|tb|caplet)\b"), "tablet"),
    (re.compile(r"\b(capsule|cap|caps)\b"), "capsule"),
    (re.compile(r"\b(injection|injectable|inj|vial|vl|amp|ampule|syringe|pfs|cartridge|pen|iv|im|ivpb)\b"),
     "injection"),
    (re.compile(r"\b(suspension|susp)\b"), "suspension"),
    (re.compile(r"\b(solution|soln|sol|liquid|liq|elixir|syrup|oral solution)\b"), "solution"),
    (re.compile(r"\b(cream|crm)\b"), "cream"), (re.compile(r"\b(ointment|oint)\b"), "ointment"),
    (re.compile(r"\b(gel|jelly)\b"), "gel"), (re.compile(r"\b(lotion)\b"), "lotion"),
    (re.compile(r"\b(patch|transdermal)\b"), "patch"),
    (re.compile(r"\b(inhaler|inhalation|inhalant|mdi|hfa|neb|nebulizer|actuat)\b"), "inhalation"),
    (re.compile(r"\b(spray)\b"), "spray"), (re.compile(r"\b(suppository|supp)\b"), "suppository"),
    (re.compile(r"\b(drops|ophthalmic|ophth|otic)\b"), "drops"), (re.compile(r"\b(powder|pwd|pwdr)\b"), "powder"),
]
_RELEASE = re.compile(r"\b(extended release|er|xr|xl|sr|cr|la|24 hr|12 hr|dr|delayed release|ec)\b")


@dataclass(frozen=True)
class DrugParts:
    strengths: frozenset[tuple[str, float]]  # (unit family, value in its canonical unit)
    form: str | None
    modified_release: bool


def _canonical(value: float, unit: str, per: str | None) -> tuple[str, float]:
    unit = unit.lower()
    if unit in _MASS_IN_MG:
        family, amount = "mg", value * _MASS_IN_MG[unit]
    else:
        family, amount = _OTHER.get(unit, unit), value
    if per:
        per = per.replace(" ", "")
        divisor = re.match(r"(\d+(?:\.\d+)?)ml", per)
        if divisor:  # "250 mg/5 ml" is 50 mg/ml
            amount /= float(divisor.group(1))
            per = "ml"
        family = f"{family}/{per}"
    return family, round(amount, 6)


def parse(text: str) -> DrugParts:
    folded = fold(text).replace(" / ", "/")
    strengths = {_canonical(float(m.group(1)), m.group(2), m.group(3)) for m in _STRENGTH.finditer(folded)}
    form = next((family for pattern, family in _FORMS if pattern.search(folded)), None)
    return DrugParts(frozenset(strengths), form, bool(_RELEASE.search(folded)))


def compare(local: DrugParts, target: DrugParts) -> tuple[float, list[str]]:
    """A score adjustment and its reasons: agreeing strengths and dose form raise a candidate, contradicting ones
    lower it; what one side does not say is not held against the other."""
    adjust = 0.0
    reasons: list[str] = []
    if local.strengths and target.strengths:
        common = local.strengths & target.strengths
        if common:
            adjust += 0.12 * len(common) / len(local.strengths | target.strengths) + 0.06
            reasons.append("strength matches")
        else:
            adjust -= 0.12
            reasons.append("strength differs")
    elif local.strengths and not target.strengths:
        adjust -= 0.04  # an ingredient or form with no strength is less specific than asked
    if local.form and target.form:
        if local.form == target.form:
            adjust += 0.06
            reasons.append(f"dose form {local.form}")
        else:
            adjust -= 0.06
            reasons.append(f"dose form {target.form} not {local.form}")
    if local.modified_release != target.modified_release and (local.strengths or local.form):
        adjust -= 0.03
    return adjust, reasons
