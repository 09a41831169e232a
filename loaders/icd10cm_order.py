"""The CMS ICD-10-CM order file (`icd10cm_order_YYYY.txt`): fixed width, one code a line.

Columns (CMS's "ICD-10-CM order file format"): order number (5 digits), blank, code without dot padded to 7,
blank, 0 = header / 1 = valid for submission, blank, short description padded to 60, blank, long
description. It can be loaded on its own (no chapters or blocks: it has none; a code's parent is the
longest shorter code in the file) or used to cross-check a tabular load."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress, reading_lines
from termsvc.loaders.icd10cm_codes import (
    BILLABLE,
    KIND,
    code_system_resource,
    dotted,
    is_undotted_code,
    kind_of,
    undotted,
)
from termsvc.store.loadrun import LoadRun

log = logging.getLogger(__name__)

LINE: Final = re.compile(r"^\d{5} [0-9A-Z]{3,7} *[01] ")
_YEAR_IN_NAME: Final = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
_EXAMPLES: Final = 10


@dataclass(frozen=True)
class OrderRow:
    line: int
    order: int
    code: str  # dotted
    billable: bool
    short: str
    long: str


def looks_like_order_file(first_line: str) -> bool:
    return bool(LINE.match(first_line.lstrip("\ufeff")))


def parse_line(name: str, number: int, line: str) -> OrderRow:
    def bad(message: str, field_name: str) -> LoadError:
        return LoadError(name, message, line=number, field_name=field_name)

    if len(line) < 78:
        raise bad(f"line is {len(line)} characters, too short for the order-file layout (at least 78)", "long")
    order, code, flag = line[0:5], line[6:13].rstrip(), line[14]
    if not order.isdigit():
        raise bad(f"order number {order!r} is not five digits", "order")
    if line[5] != " " or line[13] != " " or line[15] != " " or line[76] != " ":
        raise bad("fields are not separated by blanks at columns 6, 14, 16 and 77", "layout")
    if not is_undotted_code(code):
        raise bad(f"code {code!r} is not an ICD-10-CM code without dot", "code")
    if flag not in "01":
        raise bad(f"valid-for-submission flag {flag!r} is neither 0 nor 1", "flag")
    long = line[77:].strip()
    if not long:
        raise bad("long description is empty", "long")
    return OrderRow(number, int(order), dotted(code), flag == "1", line[16:76].rstrip(), long)


def read_order_file(path: Path, progress: Progress, *, display_name: str | None = None) -> Iterator[OrderRow]:
    name = display_name or str(path)
    seen: set[str] = set()
    with reading_lines(path, progress, "ICD-10-CM order file", display_name=name) as lines:
        for number, line in lines:
            if not line.strip():
                continue
            row = parse_line(name, number, line)
            if row.code in seen:
                raise LoadError(name, f"duplicate code {undotted(row.code)!r}", line=number, field_name="code")
            seen.add(row.code)
            yield row


def version_from_name(path: Path) -> str | None:
    found = _YEAR_IN_NAME.findall(path.name)
    return found[-1] if found else None


def load_order_file(run: LoadRun, path: Path, progress: Progress, *, current: bool | None = None,
                    version: str | None = None) -> None:
    """Load the order file as the release itself: codes, displays, billable flags, parent by prefix."""
    name = str(path)
    version = version or version_from_name(path)
    if not version:
        raise LoadError(name, "the order file does not state its release year; name it icd10cm_order_YYYY.txt "
                              "or pass the version option", line=1)
    run.position.file = name
    cs = run.code_system(code_system_resource(version), current=current)
    codes: set[str] = set()
    for row in read_order_file(path, progress, display_name=name):
        run.position.line = row.line
        cs.add_concept(row.code, row.long)
        cs.add_property(row.code, BILLABLE, "true" if row.billable else "false", type="boolean")
        cs.add_property(row.code, KIND, kind_of(row.code, row.billable), type="code")
        parent = _parent(row.code, codes)
        if parent is None and len(undotted(row.code)) > 3:
            raise LoadError(name, f"code {undotted(row.code)!r} has no shorter code above it in the file "
                                  "(rows are in tabular order, headers first)", line=row.line, field_name="code")
        if parent is not None:
            cs.add_edge(parent, row.code)
        codes.add(row.code)
    if not codes:
        raise LoadError(name, "the order file holds no codes", line=1)
    cs.finish()


def _parent(code: str, codes: set[str]) -> str | None:
    plain = undotted(code)
    for length in range(len(plain) - 1, 2, -1):
        candidate = dotted(plain[:length])
        if candidate in codes:
            return candidate
    return None


@dataclass
class OrderCheck:
    """Where a tabular load and an order file disagree (codes dotted)."""

    only_in_order_file: list[str] = field(default_factory=list)
    only_in_tabular: list[str] = field(default_factory=list)
    display_differs: list[tuple[str, str, str]] = field(default_factory=list)  # code, tabular, order file
    billable_differs: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"order-file:only-in-order-file": len(self.only_in_order_file),
                "order-file:only-in-tabular": len(self.only_in_tabular),
                "order-file:display-differs": len(self.display_differs),
                "order-file:billable-differs": len(self.billable_differs)}


def cross_check(codes: dict[str, tuple[str, bool]], path: Path, progress: Progress) -> OrderCheck:
    """Compare the codes a tabular load wrote (code -> display, billable) with an order file."""
    check = OrderCheck()
    seen: set[str] = set()
    for row in read_order_file(path, progress):
        seen.add(row.code)
        loaded = codes.get(row.code)
        if loaded is None:
            check.only_in_order_file.append(row.code)
            continue
        display, billable = loaded
        if display != row.long:
            check.display_differs.append((row.code, display, row.long))
        if billable != row.billable:
            check.billable_differs.append(row.code)
    check.only_in_tabular = [code for code in codes if code not in seen]
    _report(path, check)
    return check


def _report(path: Path, check: OrderCheck) -> None:
    for label, items in (("in the order file only", check.only_in_order_file),
                         ("in the tabular only", check.only_in_tabular),
                         ("with another valid-for-submission flag", check.billable_differs)):
        if items:
            log.warning("%s: %d codes %s, e.g. %s", path, len(items), label, ", ".join(items[:_EXAMPLES]))
    for code, tabular, order in check.display_differs[:_EXAMPLES]:
        log.warning("%s: %s display differs: tabular %r, order file %r", path, code, tabular, order)
