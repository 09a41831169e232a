"""The laboratory words of a target release, learned from its own names when the index is built: LOINC writes each
term several ways (LONG_COMMON_NAME, SHORTNAME, DisplayName, ConsumerName and the RELATEDNAMES2 synonym list), so
the abbreviations a laboratory uses are found by lining those names up, term by term, and kept when most terms
that use a word agree on what it stands for:

- a shortened word is a word of another name of the same term that starts with its first letter and holds all its
  letters in order ("Bld" ~ "Blood", "Hgb" ~ "Hemoglobin", "Potass" ~ "Potassium", "Ser" ~ "Serum");
- an initialism is the first letters of consecutive words of another name ("HCV" ~ "Hepatitis C virus", "WBC" ~
  "White blood cells", "NAA" ~ "Nucleic acid amplification");
- a synonym is a RELATEDNAMES2 entry that the release gives to the terms of one component and nothing else, across
  several specimens ("K" and "K+" ~ "Potassium", "Somatotropin" ~ "Growth hormone").

The result maps a folded word or phrase to the words it stands for; normalise.expand appends them after it, so a
local name and a target meet whichever way each was written. What LOINC does not carry is in abbreviations.LAB,
each entry with its reason."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from termsvc.workbench.suggest.model import Candidate
from termsvc.workbench.suggest.normalise import fold
from termsvc.workbench.suggest.vocabulary import split_long_name

# a reading is kept when at least this many terms show it, and at least this share of the terms using the word
MIN_TERMS: Final = 2
MIN_SHARE: Final = 0.5
MIN_SYNONYM_TERMS: Final = 3
SYNONYM_SHARE: Final = 0.9  # a synonym must belong to one component in (nearly) every term that lists it
MAX_PHRASE: Final = 3  # words in the longest synonym kept (a lookup per word and phrase length)
SAMPLE: Final = 30_000  # terms lined up at most
# words that join others: never an abbreviation, never an initial
_JOINERS: Final = frozenset({"a", "an", "and", "or", "in", "of", "by", "on", "to", "the", "for", "with", "at", "from",
                             "per", "as", "vs", "not"})
_WORD: Final = re.compile(r"^[a-z][a-z0-9]*$")
_SPLIT: Final = re.compile(r"[\s/\-.,()\[\]^:+]+")
_AXIS_NAMES: Final = ("SYSTEM", "METHOD_TYP")  # axis values whose part names are shortened words ("Bld", "Ser/Plas")
# a word that long names spell out at least this often, for each term whose other names use it, is one of LOINC's own
# words ("Ab", "acid"), not a shortening of another ("Bld", "Antibody" in RELATEDNAMES2)
FULL_WORD_SHARE: Final = 0.2
_PART_DOT: Final = re.compile(r"(?<=[A-Za-z])\.(?=[A-Za-z])")  # "velocity.systolic": LOINC's sub-part, two words


@lru_cache(maxsize=500_000)
def _words(text: str) -> tuple[str, ...]:
    """Folded words, a sub-part's dot a word break; cached: a release repeats its synonyms on thousands of terms."""
    return tuple(w for w in _SPLIT.split(fold(_PART_DOT.sub(" ", text))) if w)


@lru_cache(maxsize=200_000)
def shortens(short: str, long: str) -> bool:
    """True when `short` is a shortened `long`: same first letter, every letter in order, at least two letters
    fewer ("bld" of "blood"; not "cell" of "cells")."""
    if len(short) < 2 or len(short) > len(long) - 2 or short[0] != long[0] or not short.isalpha():
        return False
    at = 0
    for ch in long:
        if ch == short[at]:
            at += 1
            if at == len(short):
                return True
    return False


@dataclass
class _Tally:
    uses: Counter[str] = field(default_factory=Counter)  # word -> terms (with other names) whose names hold it
    in_long_names: Counter[str] = field(default_factory=Counter)  # word -> terms (any) whose long name holds it
    readings: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    entry_terms: Counter[str] = field(default_factory=Counter)  # RELATEDNAMES2 entry -> terms listing it
    entry_components: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    entry_systems: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    entry_properties: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    component_terms: Counter[str] = field(default_factory=Counter)
    component_properties: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def _names(candidate: Candidate) -> tuple[list[str], list[str]]:
    """(other names, synonym-list entries) of a candidate: its designations (RELATEDNAMES2 split apart) and the
    names of its axis values (SYSTEM "Bld", METHOD_TYP "IA": LOINC's part names)."""
    names = [v for key in _AXIS_NAMES for v in candidate.properties.get(key, ())]
    entries: list[str] = []
    for text in candidate.designations:
        if ";" in text:
            entries.extend(e.strip() for e in text.split(";") if e.strip())
        else:
            names.append(text)
    return names, entries


@lru_cache(maxsize=500_000)
def _initialisms(phrase: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(initials, words) of every run of 2-5 consecutive content words of a phrase."""
    content = [w for w in phrase if w not in _JOINERS]
    out: list[tuple[str, str]] = []
    for start in range(len(content)):
        for end in range(start + 2, min(start + 5, len(content)) + 1):
            run = content[start:end]
            if all(w[0].isalpha() for w in run):
                out.append(("".join(w[0] for w in run), " ".join(run)))
    return tuple(out)


def _axes(candidate: Candidate) -> tuple[str, str, str, list[str]]:
    """(component, system, property, words) of the term's long name: the words LOINC spells out."""
    component, word, phrase, _, _ = split_long_name(candidate.display)
    component = candidate.first("COMPONENT") or component
    system = candidate.first("SYSTEM") or phrase or ""
    prop = candidate.first("PROPERTY") or word or ""
    return fold(component), fold(system), prop.lower(), [*_words(candidate.display), *_words(component)]


def _tally_term(tally: _Tally, candidate: Candidate) -> None:
    names, entries = _names(candidate)
    component, system, prop, long_words = _axes(candidate)
    spelled = set(long_words)
    phrases = [tuple(long_words), *(_words(n) for n in names), *(_words(e) for e in entries)]
    words = {w for p in phrases for w in p}
    tally.uses.update(words)
    by_initial: defaultdict[str, set[str]] = defaultdict(set)
    for w in words:
        if len(w) >= 4 and w.isalpha():
            by_initial[w[0]].add(w)
    found: set[tuple[str, str]] = set()
    for w in words:
        if w in _JOINERS or not _WORD.match(w):
            continue
        for long in by_initial.get(w[0], ()):
            if shortens(w, long):
                found.add((w, long))
    for phrase in set(phrases):
        for initials, run in _initialisms(phrase):
            if initials in words and initials not in _JOINERS:
                found.add((initials, run))
    for short, long in found:
        tally.readings[short][long] += 1
    tally.component_terms[component] += 1
    tally.component_properties[component].add(prop)
    for entry in {" ".join(_words(e)) for e in entries}:
        if entry and len(entry.split()) <= MAX_PHRASE and not set(entry.split()) & spelled:
            tally.entry_terms[entry] += 1
            tally.entry_components[entry][component] += 1
            tally.entry_systems[entry].add(system)
            tally.entry_properties[entry].add(prop)


def _abbreviations(tally: _Tally) -> dict[str, str]:
    """Shortened words and initialisms with the reading most of the terms using them agree on."""
    out: dict[str, str] = {}
    for short, readings in tally.readings.items():
        full = _full_word(tally, short)
        if full:  # one of LOINC's own words: only a spelled-out synonym may explain it ("Ab")
            readings = Counter({long: n for long, n in readings.items() if not _full_word(tally, long)})
            if not readings:
                continue
        long, terms = min(readings.items(), key=lambda kv: _preference(tally, full, kv[0], kv[1]))
        if terms >= MIN_TERMS and terms >= MIN_SHARE * tally.uses[short]:
            out[short] = long
    return out


def _preference(tally: _Tally, full: bool, long: str, terms: int) -> tuple[int, int, int, str]:
    """The better reading first: the words an initialism stands for ("BAL": bronchoalveolar lavage as "bronchial
    alveolar lavage", not "bronchial"), then a word the long names spell out ("Amn": "amniotic", not the synonym
    "amnio"), then the most terms, then the spelling (no dependence on set order)."""
    shown = terms >= MIN_TERMS
    return (-(shown and " " in long), -(shown and not full and _full_word(tally, long)), -terms, long)


def _full_word(tally: _Tally, word: str) -> bool:
    long_names = tally.in_long_names[word]
    return long_names >= 2 and long_names >= FULL_WORD_SHARE * tally.uses[word]


def _synonyms(tally: _Tally) -> dict[str, str]:
    """Entries the release lists for one component only, across specimens: that component's other names."""
    out: dict[str, str] = {}
    for entry, terms in tally.entry_terms.items():
        if terms < MIN_SYNONYM_TERMS or len(tally.entry_systems[entry]) < 2:
            continue
        component, count = min(tally.entry_components[entry].items(), key=lambda kv: (-kv[1], kv[0]))
        # one component's (nearly) everywhere: "K" in every potassium term, not "Respiratory" in a few cultures
        if count < SYNONYM_SHARE * terms or count < MIN_SHARE * tally.component_terms[component] or not component:
            continue
        mine = set(_words(component))
        if set(entry.split()) & mine or entry in _JOINERS:
            continue  # the component's own words, or a part of them
        if len(tally.entry_properties[entry]) < 2 <= len(tally.component_properties[component]):
            continue  # names one property of the component ("Substance concentration" on its SCnc terms only)
        out[entry] = " ".join(_words(component))
    return out


def derive(candidates: Iterable[Candidate]) -> dict[str, str]:
    """Word or phrase (folded) -> the words it stands for, from the names of every candidate that has more than
    one (terms known only by a long name teach nothing here). On a large release an evenly spread sample of
    SAMPLE terms is lined up (the readings are shares, which a sample keeps; the index stays fast to build)."""
    every = list(candidates)
    named = [c for c in every if c.designations]
    step = max(1, -(-len(named) // SAMPLE))
    tally = _Tally()
    for candidate in named[::step]:
        _tally_term(tally, candidate)
    for candidate in every[::step]:
        # every long name says which words LOINC spells out, also where it is a term's only name
        tally.in_long_names.update(set(_words(candidate.display)))
    derived = {**_synonyms(tally), **_abbreviations(tally)}
    for cache in (_words, _initialisms, shortens):  # a build's working memory, not the index's (100s of MB)
        cache.cache_clear()
    return derived


def merged(derived: Mapping[str, str], curated: Mapping[str, str]) -> dict[str, str]:
    """The derived words with the curated residue (what LOINC does not carry) added; where the release reads a
    curated word too ("PCR": polymerase chain reaction), both readings are kept."""
    out = dict(derived)
    for word, long in curated.items():
        out[word] = f"{out[word]} {long}" if word in out and out[word] != long else long
    return out
