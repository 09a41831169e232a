"""Units to the LOINC PROPERTY axis, from UCUM's dimensions: a mass over a volume is a mass concentration
(MCnc), an amount of substance over a volume a substance concentration (SCnc), an enzyme unit over a volume a
catalytic concentration (CCnc), a count over a volume a number concentration (NCnc), and so on. Only what the
units say is used; the gold sets never are."""

from __future__ import annotations

import re
from typing import Final

_MASS: Final = {"kg", "g", "gm", "mg", "ug", "mcg", "ng", "pg", "fg"}
_SUBSTANCE: Final = {"mol", "mmol", "umol", "nmol", "pmol", "fmol", "eq", "meq", "ueq", "osm", "mosm"}
_VOLUME: Final = {"l", "dl", "ml", "ul", "nl", "fl", "mm3", "cm3", "cc"}
_ENZYME: Final = {"u", "iu", "mu", "miu", "uiu", "kat", "ukat", "nkat", "unt", "units", "unit"}
_TIME: Final = {"s", "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "h", "hr", "hrs",
                "hour", "hours", "d", "day", "days", "wk", "mo", "a", "yr"}
_COUNT: Final = re.compile(r"^(?:10[*^e]\d+|x10[*^e]?\d+|k|m|thou|cells|cell|#|/)?$")
_MICRO = str.maketrans({"µ": "u", "μ": "u"})
_ANNOTATION = re.compile(r"\{[^}]*\}")


def _parts(units: str) -> tuple[str, str]:
    text = units.translate(_MICRO).lower().replace(" ", "").replace("[", "").replace("]", "")
    text = _ANNOTATION.sub("", text)
    numerator, _, denominator = text.partition("/")
    return numerator, denominator.split("/")[0]


def unit_properties(units: str | None) -> frozenset[str]:
    """LOINC PROPERTY codes the units fit (empty when the units say nothing we know)."""
    if not units or not units.strip():
        return frozenset()
    raw = units.strip().lower()
    if raw in {"%", "percent", "pct"}:
        return frozenset({"MFr", "NFr", "VFr", "SFr", "MFr.DF", "CFr", "ACnc"})
    if raw in {"ratio", "{ratio}", "1", "index", "{index}", "inr", "{inr}", "{index_val}"}:
        return frozenset({"Ratio", "MRto", "SRto", "NRto", "RelTime", "RelRto", "ACnc", "Fr", "Imp"})
    if "titer" in raw or "{titer}" in raw:
        return frozenset({"Titr"})
    if raw in {"mmhg", "mm[hg]", "mm hg", "kpa", "cmh2o"}:
        return frozenset({"PPres"})
    if raw in {"mm/h", "mm/hr", "mm/(h)", "mm/hour"}:
        return frozenset({"Vel"})
    if raw in {"fl", "um3"}:
        return frozenset({"EntVol"})
    if raw in {"pg", "pg/cell", "fmol"}:
        return frozenset({"EntMass", "EntSub"})
    if raw in {"cel", "degc", "°c", "c", "degf", "[degf]", "°f"}:
        return frozenset({"Temp"})
    if raw in {"kg", "g", "lb", "[lb_av]", "oz"}:
        return frozenset({"Mass"})
    if raw in {"cm", "m", "mm", "in", "[in_i]"}:
        return frozenset({"Len"})
    numerator, denominator = _parts(units)
    if numerator in _TIME and not denominator:
        return frozenset({"Time"})
    if "ml/min" in raw or "ml/s" in raw:
        return frozenset({"VRat", "ArVRat"})
    if denominator in _VOLUME:
        if numerator in _MASS:
            return frozenset({"MCnc"})
        if numerator in _SUBSTANCE:
            return frozenset({"SCnc", "Osmol"} if "osm" in numerator else {"SCnc"})
        if numerator in _ENZYME:
            return frozenset({"CCnc", "ACnc"})
        if _COUNT.match(numerator):
            return frozenset({"NCnc"})
    if denominator in {"hpf", "lpf"}:
        return frozenset({"Naric"})
    if denominator in {"kg", "g"}:
        if numerator in _MASS:
            return frozenset({"MCnt"})
        if numerator in _SUBSTANCE:
            return frozenset({"SCnt", "Osmol"} if "osm" in numerator else {"SCnt"})
        if numerator in _ENZYME:
            return frozenset({"CCnt", "ACnt"})
    if denominator in _TIME or denominator.startswith("24h"):
        if numerator in _MASS:
            return frozenset({"MRat"})
        if numerator in _SUBSTANCE:
            return frozenset({"SRat"})
        if numerator in _VOLUME:
            return frozenset({"VRat"})
    if numerator in _ENZYME and not denominator:
        return frozenset({"CCnc", "ACnc"})
    return frozenset()
