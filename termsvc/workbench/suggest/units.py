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
_ENZYME: Final = {"u", "iu", "mu", "miu", "uiu", "ku", "kiu", "kat", "ukat", "nkat", "unt", "units", "unit", "au", "eu"}
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


# Every PROPERTY value these rules name is one the genuine release files use (tests check it). A unit whose
# property LOINC names otherwise (fL: EntVol, mm[Hg]: PPres) says nothing rather than something wrong; properties
# of one relation (ACnc and CCnc, NFr and VFr) agree in part through vocabulary.relation.
NAMED_PROPERTIES: Final = frozenset({"MCnc", "SCnc", "ACnc", "NCnc", "NFr", "Titr", "Time", "Vel", "MRat", "SRat",
                                     "VRat", "MCnt", "SCnt", "Naric", "Vol"})


def unit_properties(units: str | None) -> frozenset[str]:
    """LOINC PROPERTY values the units fit, by UCUM dimension (empty when the units say nothing we know). A
    percentage is a fraction (NFr: "/100 leukocytes"), never a count or an arbitrary concentration per volume."""
    if not units or not units.strip():
        return frozenset()
    raw = units.strip().lower()
    if raw in {"%", "percent", "pct", "/100", "/100{wbcs}", "/100 wbc", "%{abnormal}"}:
        return frozenset({"NFr"})
    if "titer" in raw:
        return frozenset({"Titr"})
    if raw in {"mm/h", "mm/hr", "mm/(h)", "mm/hour"}:
        return frozenset({"Vel"})
    numerator, denominator = _parts(units)
    if numerator in _TIME and not denominator:
        return frozenset({"Time"})
    if numerator in _VOLUME and not denominator:
        return frozenset({"Vol"})
    if denominator in _VOLUME:
        if numerator in _MASS:
            return frozenset({"MCnc"})
        if numerator in _SUBSTANCE:
            return frozenset({"SCnc"})
        if numerator in _ENZYME or numerator.endswith("u") or numerator.endswith("iu"):
            return frozenset({"ACnc"})
        if _COUNT.match(numerator):
            return frozenset({"NCnc"})
    if denominator in {"hpf", "lpf"}:
        return frozenset({"Naric"})
    if denominator in {"kg", "g"}:
        if numerator in _MASS:
            return frozenset({"MCnt"})
        if numerator in _SUBSTANCE:
            return frozenset({"SCnt"})
    if denominator in _TIME or denominator.startswith("24h"):
        if numerator in _MASS:
            return frozenset({"MRat"})
        if numerator in _SUBSTANCE:
            return frozenset({"SRat"})
        if numerator in _VOLUME:
            return frozenset({"VRat"})
    if numerator in _ENZYME and not denominator:
        return frozenset({"ACnc"})
    return frozenset()
