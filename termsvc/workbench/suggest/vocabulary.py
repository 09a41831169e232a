"""LOINC's own vocabulary for the axes a local item states, read from the loaded release rather than hand lists.

A LOINC long common name follows a documented pattern, "Component [Property] in System by Method" (LOINC Users'
Guide, long common names), with the timing of a collection before the system ("in 24 hour Urine"). The systems the
engine knows are the system phrases of the release's own names and the SYSTEM values of its loaded terms (the
value and the phrase of one term pair the abbreviation "Ser/Plas" with "Serum or Plasma"); bracket words pair with
PROPERTY values the same way. Only what LOINC does not carry is curated below, each entry with its reason; a test
checks every curated value against the genuine release files."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from termsvc.workbench.suggest.model import Candidate
from termsvc.workbench.suggest.normalise import fold

# Local words for a specimen that LOINC names differently: word -> (LOINC's system phrase, why).
CURATED_SYSTEM_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "ascites": ("peritoneal fluid", "ascitic fluid is peritoneal fluid; LOINC names only the latter"),
    "ascitic": ("peritoneal fluid", "as 'ascites'"),
    "paracentesis": ("peritoneal fluid", "the fluid a paracentesis draws"),
    "joint": ("synovial fluid", "joint fluid is synovial fluid; LOINC has no 'joint' system"),
    "thoracentesis": ("pleural fluid", "the fluid a thoracentesis draws"),
    "spinal": ("cerebral spinal fluid", "labs shorten cerebrospinal fluid to 'spinal fluid'"),
    "cerebrospinal": ("cerebral spinal fluid", "the one-word spelling; LOINC writes 'Cerebral spinal fluid'"),
    "ur": ("urine", "labs abbreviate urine as 'Ur' (LOINC's own SYSTEM value before it became 'Urine')"),
    "urn": ("urine", "as 'ur'"),
    "feces": ("stool", "LOINC's system for feces is Stool"),
    "fecal": ("stool", "as 'feces'"),
    "faeces": ("stool", "British spelling of feces"),
    "nasal": ("nose", "the adjective of LOINC's 'Nose'"),
    "nares": ("nose", "the nostrils are the nose"),
    "turbinate": ("nose", "a mid-turbinate swab is a nasal specimen"),
    "oropharyngeal": ("throat", "LOINC codes oropharyngeal swabs to Throat"),
    "pharyngeal": ("throat", "as 'oropharyngeal'"),
    "marrow": ("bone marrow", "'marrow' alone means bone marrow in a lab's name"),
    "amniotic": ("amniotic fluid", "the adjective alone names the fluid"),
    "wb": ("blood", "WB is whole blood"),
}
# Words of a system phrase that do not tell one specimen from another.
_GENERIC: Final = frozenset({"fluid", "specimen", "or", "and", "of", "from", "the", "a", "in"})
# LOINC's grouping systems (Respiratory system specimen, its upper and lower parts) take the sites of their part of
# the tract: a kit accepting nasal and nasopharyngeal swabs is coded to the upper (or whole) respiratory system, one
# also taking sputum to the whole. The subset of LOINC we hold carries no system hierarchy, so the sites are named
# here, split as anatomy splits the tract at the larynx.
_UPPER_RESPIRATORY: Final = frozenset({"nose", "nasopharynx", "throat", "oropharynx", "pharynx", "upper"})
_LOWER_RESPIRATORY: Final = frozenset({"sputum", "bronchial", "bronchoalveolar", "tracheal", "trachea", "lavage",
                                       "lower"})
_RESPIRATORY_SITES: Final = _UPPER_RESPIRATORY | _LOWER_RESPIRATORY | {"saliva", "respiratory"}
# Serum and plasma are the fluid parts of blood: a chemistry "blood" in a local name usually means them.
_BLOOD_WORDS: Final = frozenset({"blood", "serum", "plasma"})
# Property bracket words -> PROPERTY values, for long names of terms whose axes are not loaded; the release's own
# pairs take precedence (TargetVocabulary.of). Every pair is attested in the genuine LOINC files.
CURATED_PROPERTY_WORDS: Final[Mapping[str, str]] = {
    "mass/volume": "MCnc", "moles/volume": "SCnc", "molecules/volume": "SCnc", "#/volume": "NCnc",
    "units/volume": "ACnc", "presence": "PrThr", "identifier": "Prid", "titer": "Titr", "moles/time": "SRat",
    "mass/time": "MRat", "moles/mass": "SCnt", "mass/mass": "MCnt", "#/area": "Naric", "interpretation": "Imp",
    "type": "Type", "volume": "Vol", "susceptibility": "Susc", "molar amount": "Sub",
    "mass or moles/volume": "MSCnc",
}
_PER_HUNDRED: Final = re.compile(r"/100\b")  # "Blasts/100 leukocytes": a number fraction (LOINC's NFr)
_BRACKET: Final = re.compile(r"\[([^\]]+)\]")
_AFTER_BRACKET: Final = re.compile(r"\]\s+(?:in|of|on)\s+(.+)$")
_LAST_IN: Final = re.compile(r".*\s(?:in|of)\s+(.+)$")
_BY: Final = re.compile(r"\s+by\s+(.+)$")
# what follows the system: a challenge or timing note ("--baseline"), a parenthesis, or a comma that does not start
# the rest of a list of systems ("Serum, Plasma or Blood" is one system, LOINC's Ser/Plas/Bld)
_TAIL: Final = re.compile(r"\s*(?:--.*|\(.*|,(?![^,()]*\sor\s).*)$")
_TIMING: Final = re.compile(r"^(\d+ hours?|\d+ minutes?|unspecified time|\d+ days?)\s+", re.IGNORECASE)
_UNSTATED_DURATION: Final = " collected for unspecified duration"
# A duration in words ("24 hr", "24-Hour", "2h", "30 min", "3 days") and LOINC's TIME_ASPCT codes, which follow
# HL7 table 0255 (30M minutes, 24H hours, 2D days, 1W weeks, 1L months; Pt a point in time, XXX and * unstated).
_DURATION_WORDS: Final = re.compile(
    r"\b(\d+)\s*-?\s*(minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?)\b")
_CHALLENGE: Final = re.compile(r"\s*(?:post|after|pp|pc|p\b)")
_TIME_ASPECT: Final = re.compile(r"^(\d+)\s*([MHDWL])$", re.IGNORECASE)
# minutes in a unit, by its first letter: every spelling the patterns above accept starts with one of these
_MINUTES: Final = {"m": 1, "h": 60, "d": 1440, "w": 10080, "l": 43200}
_UNSTATED_TIMES: Final = frozenset({"xxx", "*", "unspecified time"})
# a rate's denominator names the collection period: mmol/24 h, mg/(24.h), mg/d (a day's urine)
_PER_PERIOD: Final = re.compile(r"/\s*\(?\s*(\d*)\s*\.?\s*(h|hr|hrs|hour|hours|d|day|days)\b\)?")


def split_long_name(display: str) -> tuple[str, str | None, str | None, str | None, str]:
    """(component, property word, system phrase, timing, method) of a LOINC long common name; parts it does not
    state are None (or "" for the method)."""
    text = display.strip()
    method = ""
    by = _BY.search(text)
    if by:
        method, text = by.group(1), text[: by.start()]
    bracket = _BRACKET.search(text)
    prop = bracket.group(1).strip().lower() if bracket else None
    where = _AFTER_BRACKET.search(text) if bracket else _LAST_IN.match(text)
    component = text[: bracket.start()] if bracket else (text[: where.start(1)] if where else text)
    component = re.sub(r"\s+(?:in|of|on)\s*$", "", component.strip())
    system = timing = None
    if where:
        system = _TAIL.sub("", where.group(1)).strip().lower() or None
        if system:
            timed = _TIMING.match(system)
            if timed:
                timing, system = timed.group(1).lower(), system[timed.end():] or None
            elif system.endswith(_UNSTATED_DURATION):  # "Urine collected for unspecified duration": TIME_ASPCT XXX
                timing, system = "unspecified time", system[: -len(_UNSTATED_DURATION)] or None
    return component.strip(), prop, system, timing, method.strip().lower()


def relation(prop: str | None) -> str | None:
    """The relation part of a LOINC PROPERTY value by LOINC's naming (MCnc, SCnc, ACnc: Cnc; NFr, VFr: Fr; MRat:
    Rat): properties sharing it measure the same kind of ratio of different quantities."""
    if not prop:
        return None
    parts = re.findall(r"[A-Z][a-z]*", prop)
    return parts[-1] if parts else prop


@lru_cache(maxsize=4096)
def distinctive(phrase: str) -> frozenset[str]:
    return frozenset(w for w in fold(phrase).split() if w not in _GENERIC)


def _stem(word: str) -> str:
    return word[:6] if len(word) > 6 else word  # nasopharyngeal meets nasopharynx, pleura pleural


@dataclass(frozen=True)
class SystemMatch:
    exact: bool
    overlap: bool
    conflict: bool
    # the share of the stated specimens the candidate's system takes: a kit listing nasal, nasopharyngeal and
    # oropharyngeal swabs is coded to the respiratory grouping system (1.0), not to one of its sites (1/3)
    covers: float = 0.0


class TargetVocabulary:
    """The system phrases and property words of one target release, learned from its candidates."""

    def __init__(self, system_names: Mapping[str, str], property_words: Mapping[str, str],
                 phrases: Iterable[str]) -> None:
        self.system_names = dict(system_names)  # SYSTEM value (lower case) -> phrase
        self.property_words = {**CURATED_PROPERTY_WORDS, **property_words}
        known = {p for p in phrases if p} | set(self.system_names.values())
        known |= {phrase for phrase, _ in CURATED_SYSTEM_WORDS.values()}
        # phrase -> stems of its distinctive words; looked up by each stem
        self._phrases: dict[str, frozenset[str]] = {}
        self._by_stem: defaultdict[str, list[str]] = defaultdict(list)
        for phrase in sorted(known):
            stems = frozenset(_stem(w) for w in distinctive(phrase))
            if stems and len(phrase) <= 40:
                self._phrases[phrase] = stems
                for s in stems:
                    self._by_stem[s].append(phrase)
        # words that are a specimen on their own in some phrase of "X or Y" form (serum, plasma, blood, ...)
        self._single = {s for phrase, stems in self._phrases.items() if " or " in phrase
                        for part in re.split(r",| or ", phrase) for s in (_stem(w) for w in distinctive(part))
                        if len(distinctive(part)) == 1}

    @classmethod
    def of(cls, candidates: Iterable[Candidate]) -> TargetVocabulary:
        systems: defaultdict[str, Counter[str]] = defaultdict(Counter)
        props: defaultdict[str, Counter[str]] = defaultdict(Counter)
        phrases: set[str] = set()
        for c in candidates:
            _, word, phrase, _, _ = split_long_name(c.display)
            if phrase:
                phrases.add(phrase)
                loaded = c.first("SYSTEM")
                if loaded:
                    systems[loaded.lower()][phrase] += 1
            loaded_prop = c.first("PROPERTY")
            if word and loaded_prop:
                props[word][loaded_prop] += 1
        return cls({code: counts.most_common(1)[0][0] for code, counts in systems.items()},
                   {word: counts.most_common(1)[0][0] for word, counts in props.items()}, phrases)

    def system_phrase(self, candidate: Candidate, parsed: str | None) -> str | None:
        if parsed:
            return parsed
        loaded = candidate.first("SYSTEM")
        return self.system_names.get(loaded.lower(), loaded.lower()) if loaded else None

    def property_of(self, candidate: Candidate, word: str | None, component: str) -> str | None:
        loaded = candidate.first("PROPERTY")
        if loaded:
            return loaded
        if word:
            return self.property_words.get(word)
        return "NFr" if _PER_HUNDRED.search(component) else None

    def systems_in(self, text: str | None) -> frozenset[str]:
        """The system phrases a local text states: every phrase all of whose distinctive words it holds (a word
        of a curated synonym or a SYSTEM value counts as its phrase), the most specific kept."""
        if not text:
            return frozenset()
        words = fold(text).replace("/", " ").split()
        stems = {_stem(w) for w in words}
        for w in words:
            curated = CURATED_SYSTEM_WORDS.get(w)
            if curated:
                stems |= {_stem(x) for x in distinctive(curated[0])}
            named = self.system_names.get(w)
            if named:
                stems |= {_stem(x) for x in distinctive(named)}
        found = {p for s in stems for p in self._by_stem.get(s, ()) if self._phrases[p] <= stems}
        if not found:  # "serum" where the release only says "serum or plasma": the phrases naming it
            alone = {s for s in stems if s in self._single}
            found = {p for s in alone for p in self._by_stem[s]}
        return frozenset(p for p in found if not any(self._phrases[p] < self._phrases[q] for q in found))

    def compare(self, stated: frozenset[str], phrase: str | None) -> SystemMatch:
        if not stated or not phrase or unspecified(phrase):
            return SystemMatch(False, False, False)
        mine = distinctive(phrase)
        covers = sum(1 for one in stated if _takes(phrase, mine, one)) / len(stated)
        if phrase in stated:  # exact only when it is the system stated, not one of several sites listed
            return SystemMatch(covers == 1.0, True, False, covers)
        theirs = _union(stated)
        overlap = (bool(mine & theirs) or bool(mine & _BLOOD_WORDS and theirs & _BLOOD_WORDS)
                   or ("respiratory" in mine | theirs and bool(mine & _RESPIRATORY_SITES)
                       and bool(theirs & _RESPIRATORY_SITES)))
        return SystemMatch(False, overlap, not overlap, covers)


def _takes(phrase: str, mine: frozenset[str], stated: str) -> bool:
    """Whether a specimen of the stated system is one the candidate's system takes: the same system, one sharing a
    distinctive word, or a site of the respiratory tract under a respiratory grouping system."""
    if stated == phrase:
        return True
    theirs = distinctive(stated)
    return bool(mine & theirs) or ("respiratory" in mine and bool(theirs & _sites_of(mine)))


def _sites_of(grouping: frozenset[str]) -> frozenset[str]:
    """The sites a respiratory grouping system takes: its upper or lower part's, or the whole tract's."""
    if "upper" in grouping:
        return _UPPER_RESPIRATORY
    if "lower" in grouping:
        return _LOWER_RESPIRATORY
    return _RESPIRATORY_SITES


def _minutes(count: str, unit: str) -> int:
    return int(count) * _MINUTES[unit[0].lower()]


def duration_minutes(text: str | None) -> int | None:
    """A collection period in minutes, from a long name's timing ("24 hours") or a TIME_ASPCT code ("24H"); 0 for a
    timed collection of unstated length; None for a point in time or nothing said."""
    if not text:
        return None
    folded = text.strip().lower()
    if folded in _UNSTATED_TIMES:
        return 0
    coded = _TIME_ASPECT.match(folded)
    if coded:
        return _minutes(coded.group(1), coded.group(2))
    worded = _DURATION_WORDS.search(folded)
    return _minutes(worded.group(1), worded.group(2)) if worded else None


def local_timing(text: str, units: str | None = None) -> int | None:
    """The collection period a local item states, in minutes: in its words ("Potassium, 24 hr Urine") or by the
    denominator of its units ("mmol/24 h", "mg/d")."""
    folded = fold(text)
    for worded in _DURATION_WORDS.finditer(folded):
        # "2 hr post 75 g glucose", "post 1 h": a time after a challenge, LOINC's component, not a period
        if not _CHALLENGE.match(folded, worded.end()) and not folded[: worded.start()].rstrip().endswith("post"):
            return _minutes(worded.group(1), worded.group(2))
    per = _PER_PERIOD.search((units or "").lower())
    if per and (per.group(1) or per.group(2).startswith("d")):
        return _minutes(per.group(1) or "1", per.group(2))
    return None


def blood_fraction(phrase: str | None) -> bool:
    return bool(phrase) and bool(distinctive(phrase or "") & {"serum", "plasma"})


def unspecified(phrase: str | None) -> bool:
    return phrase in {"specimen", "unspecified specimen", "xxx"}


@lru_cache(maxsize=1024)
def _union(phrases: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(distinctive(p) for p in phrases))
