"""Text normalisation shared by the index and the queries: case and punctuation folded, abbreviations expanded,
and the evidence key (lower-case, single spaces) the workbench uses to remember approvals."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

import snowballstemmer

from termsvc.workbench.suggest.abbreviations import ALL, NOISE, PHRASES

# A full stop inside a word is an abbreviation's ("q.d.", "b.i.d."); between digits it is a decimal point.
_INNER_DOT = re.compile(r"(?<=[a-z])\.(?=[a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9%/.\-]+")
_LOOSE_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_WORD_BREAK = re.compile(r"[\s/\-]+")
_DIGIT = re.compile(r"[0-9]")
_SPLIT_NUMBER_UNIT = re.compile(r"(?<=[0-9])(?=[a-z%])")


def evidence_key(display: str) -> str:
    """The key earlier approvals are kept under: lower-case, single spaces."""
    return " ".join(display.lower().split())


def fold(text: str) -> str:
    """Lower-case ASCII-ish text with punctuation as spaces; keeps '%', '/', '-' and decimal points, and splits a
    number from the unit glued to it ("25mg" -> "25 mg")."""
    if not text.isascii():  # accents folded away ("Bacteries" meets "Bactéries"); most names are ASCII already
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    dotted = "." in text  # each pattern only where it can apply: this runs for every name of a release
    if dotted:
        text = _INNER_DOT.sub("", text)
    text = _NOT_WORD.sub(" ", text)
    if dotted:
        text = _LOOSE_DOT.sub(" ", text)
    if _DIGIT.search(text):
        text = _SPLIT_NUMBER_UNIT.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str, *, folded: bool = False) -> list[str]:
    """Folded words; '/' and '-' separate words too."""
    return [token for token in _WORD_BREAK.split(text if folded else fold(text)) if token]


_ENGLISH = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A word as compared for coverage and method: its Snowball (Porter 2) English stem, so "comments" meets
    "comment", "anaerobic" meets LOINC's "Anaerobe" and "antibodies" "antibody"."""
    return str(_ENGLISH.stemWord(word))


def stems(words: Iterable[str]) -> frozenset[str]:
    return frozenset(stem(word) for word in words)


def canonical(text: str, *, folded: bool = False) -> str:
    """Folded, with the known spellings of one name made one."""
    folded_text = text if folded else fold(text)
    return _one_spelling(folded_text)


def _one_spelling(folded: str) -> str:
    for hint, pattern, replacement in PHRASES:
        if any(word in folded for word in hint):
            folded = pattern.sub(replacement, folded)
    return folded


def without_noise(text: str) -> str:
    """The words of a folded name that say something about the test (all of them if none would be left)."""
    kept = [word for word in text.split() if word not in NOISE]
    return " ".join(kept) if kept else text


class Words(dict[str, str]):
    """An expansion table whose keys may be phrases of up to `longest` words ("growth hormone")."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        super().__init__(entries)
        self.longest = max((key.count(" ") + 1 for key in self), default=1)


def expand(text: str, table: Mapping[str, str] = ALL, *, folded: bool = False) -> str:
    """The canonical text with each known abbreviation (or phrase of a Words table) followed by its long form. A
    word right after a number is a unit ("25 mg" is milligrams, not magnesium), so it is not expanded."""
    out: list[str] = []
    previous = ""
    for run, long_form in _segments(canonical(text, folded=folded).split(), table):
        out.extend(run)
        # a phrase always reads as its long form; a word only where it is not a unit after a number
        if long_form and (len(run) > 1 or (long_form != run[0].strip("-/") and not _NUMBER.match(previous))):
            out.append(long_form)
        previous = run[-1]
    return " ".join(out)


def readings(text: str, table: Mapping[str, str] = ALL) -> tuple[frozenset[str], ...]:
    """Each word a (canonical) name asks for, as the stems that say it: the word and what it stands for ("hgb":
    hgb, hemoglobin; each word of "growth hormone": itself and somatotropin). A candidate covers the word when it
    holds any of them: an abbreviation and its reading are one word asked, not two."""
    out: list[frozenset[str]] = []
    for run, long_form in _segments(text.split(), table):
        said = tokens(long_form or "")
        out.extend(stems({*tokens(w), *said}) for w in run)
    return tuple(dict.fromkeys(r for r in out if r))


def _segments(words: list[str], table: Mapping[str, str]) -> Iterator[tuple[list[str], str | None]]:
    """The words in runs the table reads, left to right: the longest phrase of a Words table with its long form,
    else one word with its own (or None)."""
    longest = getattr(table, "longest", 1)
    at = 0
    while at < len(words):
        for size in range(min(longest, len(words) - at), 1, -1):
            long_form = table.get(" ".join(w.strip("-/") for w in words[at: at + size]))
            if long_form:
                yield words[at: at + size], long_form
                at += size
                break
        else:
            yield words[at: at + 1], table.get(words[at].strip("-/"))
            at += 1
