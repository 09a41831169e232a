"""Local items written from LOINC's own terms, as laboratories write them: the component (or a short name the
release gives), sometimes with the specimen in the name or in its own column, units of the term's property and
answers of its scale. They teach the model what LOINC's structure means (a component match, an agreeing system,
units that fit the property) independently of any one laboratory's gold set, so a model held out by source still
knows the basics. Deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final

from termsvc.workbench.suggest.model import Candidate, LocalTerm
from termsvc.workbench.suggest.units import unit_properties
from termsvc.workbench.suggest.vocabulary import CURATED_PROPERTY_WORDS, duration_minutes, split_long_name

# UCUM units a lab reports; each is used for the property the units rules read from it (checked on use)
_UNITS: Final = ("mg/dL", "ng/mL", "ug/dL", "g/L", "pg/mL", "mmol/L", "umol/L", "nmol/L", "mEq/L", "U/L", "IU/L",
                 "mIU/mL", "kU/L", "U/mL", "10*3/uL", "/uL", "cells/uL", "%", "mmol/24 h", "mg/24 h", "s",
                 "mm/h", "/[HPF]", "ug/g", "mmol/kg", "mL")
_ORDINAL_ANSWERS: Final = ("Positive; Negative", "Detected; Not detected", "Reactive; Nonreactive")
_NOISE: Final = ("", "", "", " Result", " Level", " Test", " Screen")
_USUAL: Final = frozenset({"serum or plasma", "blood", "serum", "plasma"})
# A grouping system takes specimens from any of its sites (LOINC: "Respiratory system specimen" is any specimen of
# the respiratory tract); a lab lists the ones its kit accepts.
_RESPIRATORY_SPECIMENS: Final = ("nasopharyngeal swab", "anterior nasal swab", "mid-turbinate nasal swab",
                                 "oropharyngeal swab", "sputum", "bronchoalveolar lavage", "nasal wash")


def _specimen(system: str, rng: random.Random) -> str:
    """How a lab writes the specimen of a system: the system itself, each part of an 'X or Y' system, or for a
    respiratory grouping system a few of its sites."""
    if "respiratory" in system:
        return "; ".join(rng.sample(_RESPIRATORY_SPECIMENS, rng.randint(2, 4)))
    parts = [p.strip() for p in system.replace(",", " or ").split(" or ") if p.strip()]
    if len(parts) > 1 and rng.random() < 0.6:
        return "; ".join(parts)
    return _system_word(system)


def _units_for(prop: str | None, timing: str | None) -> list[str]:
    """Units of the property; a rate's over the term's own collection period (mmol/12 h for a 12 hour urine)."""
    minutes = duration_minutes(timing)
    hours = f"/{minutes // 60} h" if minutes and minutes % 60 == 0 else "/24 h"
    return [u.replace("/24 h", hours) for u in _UNITS if prop and unit_properties(u) == {prop}]


def _system_word(phrase: str) -> str:
    return phrase.split(" or ")[0].title() if " or " in phrase else phrase.title()


def synthetic_items(candidates: Sequence[Candidate], n: int, *, seed: int = 0,
                    properties: dict[str, str | None] | None = None) -> list[tuple[LocalTerm, str, str]]:
    """`n` (local item, target code, "loinc") triples from active candidates with a parseable long name.
    `properties` maps a code to its PROPERTY value where the caller knows it better than the long name."""
    rng = random.Random(seed)
    usable = [c for c in candidates if c.active and "[" in c.display]
    if not usable:
        return []
    out: list[tuple[LocalTerm, str, str]] = []
    for number in range(n):
        c = rng.choice(usable)
        component, word, system, timing, _ = split_long_name(c.display)
        shorts = [s for s in c.designations if ";" not in s and len(s) < 40]
        name = rng.choice(shorts) if shorts and rng.random() < 0.3 else component
        specimen = None
        # a lab leaves the specimen unsaid only for the usual one (a chemistry result is serum or plasma, a count
        # blood); any other specimen it names, in the name or in its own column
        if system and (system not in _USUAL or rng.random() < 0.5):
            if rng.random() < 0.5:
                name = f"{name}, {_system_word(system)}"
            else:
                specimen = _specimen(system, rng)
            if timing and rng.random() < 0.7:
                name = f"{name}, {timing}"
        name = name + rng.choice(_NOISE)
        if rng.random() < 0.3:
            name = name.upper()
        prop = (properties or {}).get(c.code) or c.first("PROPERTY")
        if prop is None and word:
            prop = CURATED_PROPERTY_WORDS.get(word)
        units = _units_for(prop, timing)
        extra: dict[str, str] = {}
        if prop in {"PrThr"} and rng.random() < 0.5:
            extra["result"] = rng.choice(_ORDINAL_ANSWERS)
        term = LocalTerm(f"S{number}", name, units=rng.choice(units) if units and rng.random() < 0.8 else None,
                         specimen=specimen, extra=extra)
        out.append((term, c.code, "loinc"))
    return out
