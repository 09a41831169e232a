"""Shared pieces of the synthetic-release generators: seeded randomness, check digits, word stock and
streamed writers. Kept free of termsvc imports so the generators describe the publishers' formats only."""

from __future__ import annotations

import argparse
import json
import random
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO

# Verhoeff tables (dihedral group D5), as SNOMED CT's Technical Implementation Guide specifies for SCTIDs.
_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
      [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
      [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_digit(digits: str) -> str:
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _D[check][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[check])


def verhoeff_valid(number: str) -> bool:
    check = 0
    for i, ch in enumerate(reversed(number)):
        check = _D[check][_P[i % 8][int(ch)]]
    return check == 0


def sctid(item: int, partition: str) -> str:
    """Short-format SCTID (International Edition, no namespace): item identifier + partition + check digit."""
    body = f"{item}{partition}"
    return body + verhoeff_digit(body)


def luhn_digit(digits: str) -> str:
    """The mod-10 check digit LOINC documents for LOINC_NUM (double the odd positions from the right)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


class Rng(random.Random):
    """random.Random with the few helpers the generators share."""

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.getrandbits(128), version=4))

    def poisson_small(self, mean: float) -> int:
        # Knuth's method: fine for the small means used here and deterministic for a seed.
        limit = pow(2.718281828459045, -mean)
        k, p = 0, 1.0
        while True:
            p *= self.random()
            if p <= limit:
                return k
            k += 1


# A word stock for made-up clinical terms. Real-looking but not copied from any terminology.
SYLLABLES = ("ab", "ac", "ad", "al", "am", "an", "ar", "as", "at", "ba", "be", "bi", "bro", "ca", "ce", "chi",
             "co", "cra", "cu", "da", "de", "di", "do", "du", "fe", "fi", "fo", "ga", "ge", "gi", "glo", "ha",
             "he", "hi", "hy", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "my", "na", "ne", "ni", "no",
             "pa", "pe", "phi", "pi", "po", "pro", "pu", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "sta",
             "ta", "te", "thy", "ti", "to", "tra", "tu", "va", "ve", "vi", "xa", "xe", "zo")
SUFFIXES = ("itis", "osis", "oma", "ase", "ine", "ide", "ate", "ol", "an", "al", "ic", "ia", "um", "us", "in",
            "ectomy", "otomy", "plasty", "scopy", "gram", "ide", "one", "yl", "ene")


def make_words(rng: random.Random, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        parts = [rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))]
        words.add("".join(parts) + rng.choice(SUFFIXES))
    return sorted(words)


class Out:
    """A streamed output file with the release's line ending; rows are written as they are generated."""

    def __init__(self, path: Path, header: Sequence[str] | None, *, sep: str, eol: str,
                 quote: bool = False, trailing_sep: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sep = sep
        self.eol = (sep if trailing_sep else "") + eol
        self.quote = quote
        self.rows = 0
        self._f: IO[str] = path.open("w", encoding="utf-8", newline="", buffering=1 << 20)
        if header is not None:
            self._f.write(self._line(header))

    def _line(self, values: Sequence[str]) -> str:
        if self.quote:
            return self.sep.join('"' + v.replace('"', '""') + '"' for v in values) + self.eol
        return self.sep.join(values) + self.eol

    def row(self, values: Sequence[str]) -> None:
        self._f.write(self._line(values))
        self.rows += 1

    def close(self) -> None:
        self._f.close()


def common_args(description: str, out_default: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / out_default,
                        help="folder to write the release into (replaced if present)")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed; same seed, same files")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every full-size default count by this (e.g. 0.01 for tests)")
    return parser


def mark_generated(out: Path, seed: int, scale: float, seconds: float) -> None:
    """Record how a release folder was made, so the benchmark can reuse it instead of generating again."""
    (out / ".generated.json").write_text(json.dumps({"seed": seed, "scale": scale, "seconds": round(seconds, 1)}))


def scaled(value: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(value * scale))
