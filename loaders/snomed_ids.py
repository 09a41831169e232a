"""SNOMED CT identifiers (SCTIDs): numeric, 6 to 18 digits, no leading zero, ending in a partition identifier
(two digits saying which kind of component it names, short or namespaced form) and a Verhoeff check digit.
See the SNOMED CT Technical Implementation Guide, "SCTID Data Structure" and "Check-digit computation"."""

from __future__ import annotations

from typing import Final

# The Verhoeff dihedral-group multiplication table and its position permutation. The permutation for
# position i is the i-th power of the first one, so it is computed rather than typed out (fewer typos).
_D: Final = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P1: Final = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)
_INV: Final = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def _permutations() -> tuple[tuple[int, ...], ...]:
    perms = [tuple(range(10))]
    for _ in range(7):
        previous = perms[-1]
        perms.append(tuple(previous[_P1[j]] for j in range(10)))
    return tuple(perms)


_P: Final = _permutations()
# One lookup per digit, indexed by check << 8 | the digit's ASCII byte: the hot path runs millions of times
# per load, so the permutation, the multiplication and the digit conversion are folded into one table.
_STEP: Final = tuple(tuple(_D[c][_P[i][b - 48]] if 48 <= b <= 57 else 0 for c in range(10) for b in range(256))
                     for i in range(8))

PARTITIONS: Final = {"concept": ("00", "10"), "description": ("01", "11"), "relationship": ("02", "12")}
_ALL_PARTITIONS: Final = frozenset({"00", "01", "02", "03", "04", "05", "10", "11", "12", "13", "14", "15"})


def verhoeff_ok(digits: str) -> bool:
    """True when the last digit of `digits` (ASCII digits only) is the Verhoeff check digit of the rest."""
    check = 0
    steps = _STEP
    for position, byte in enumerate(reversed(digits.encode("ascii"))):
        check = steps[position & 7][check << 8 | byte]
    return check == 0


def verhoeff_digit(digits: str) -> str:
    """The Verhoeff check digit to append to `digits`."""
    check = 0
    for position, byte in enumerate(reversed(digits.encode("ascii"))):
        check = _STEP[(position + 1) & 7][check << 8 | byte]
    return str(_INV[check])


def sctid_problem(value: str, kind: str | None = None, *, check_digit: bool = True) -> str | None:
    """Why `value` is not a valid SCTID of `kind` ('concept', 'description', 'relationship' or None for
    any), or None when it is."""
    if not value.isascii() or not value.isdigit():
        return f"SCTID {value!r} is not numeric"
    if not 6 <= len(value) <= 18 or value[0] == "0":
        return f"SCTID {value!r} must have 6 to 18 digits and no leading zero"
    partition = value[-3:-1]
    allowed = PARTITIONS[kind] if kind else _ALL_PARTITIONS
    if partition not in allowed:
        what = f"a {kind}" if kind else "an SCTID"
        return f"SCTID {value!r} has partition identifier {partition!r}, which is not valid for {what}"
    if partition[0] == "1" and len(value) < 11:
        return f"SCTID {value!r} has a namespace partition but is too short to hold a namespace"
    if check_digit and not verhoeff_ok(value):
        return f"SCTID {value!r} has a wrong check digit (Verhoeff)"
    return None


def is_concept_id(value: str) -> bool:
    """Cheap test used to tell concept members of a refset from description members."""
    return len(value) >= 6 and value[-3:-1] in PARTITIONS["concept"]
