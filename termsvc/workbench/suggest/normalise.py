"""Text normalisation shared by the index and the queries: case and punctuation folded, abbreviations expanded,
and the evidence key (lower-case, single spaces) the workbench uses to remember approvals."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from termsvc.workbench.suggest.abbreviations import ALL, NOISE, PHRASES

# A full stop inside a word is an abbreviation's ("q.d.", "b.i.d."); between digits it is a decimal point.
_INNER_DOT = re.compile(r"(?<=[a-z])\.(?=[a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9%/.\-]+")
_LOOSE_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_SPLIT_NUMBER_UNIT = re.compile(r"(?<=[0-9])(?=[a-z%])")


def evidence_key(display: str) -> str:
    """The key earlier approvals are kept under: lower-case, single spaces."""
    return " ".join(display.lower().split())


def fold(text: str) -> str:
    """Lower-case ASCII-ish text with punctuation as spaces; keeps '%', '/', '-' and decimal points, and splits a
    number from the unit glued to it ("25mg" -> "25 mg")."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _INNER_DOT.sub("", text)
    text = _NOT_WORD.sub(" ", text)
    text = _LOOSE_DOT.sub(" ", text)
    text = _SPLIT_NUMBER_UNIT.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """Folded words; '/' and '-' separate words too."""
    return [token for token in re.split(r"[\s/\-]+", fold(text)) if token]


def canonical(text: str) -> str:
    """Folded, with the known spellings of one name made one."""
    folded = fold(text)
    for pattern, replacement in PHRASES:
        folded = pattern.sub(replacement, folded)
    return folded


def without_noise(text: str) -> str:
    """The words of a folded name that say something about the test (all of them if none would be left)."""
    kept = [word for word in text.split() if word not in NOISE]
    return " ".join(kept) if kept else text


def expand(text: str, table: Mapping[str, str] = ALL) -> str:
    """The canonical text with each known abbreviation followed by its long form. A word right after a number is
    a unit ("25 mg" is milligrams, not magnesium), so it is not expanded."""
    out: list[str] = []
    previous = ""
    for word in canonical(text).split():
        out.append(word)
        bare = word.strip("-/")
        long_form = table.get(bare)
        if long_form and long_form != bare and not _NUMBER.match(previous):
            out.append(long_form)
        previous = word
    return " ".join(out)
