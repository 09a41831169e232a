"""Which SNOMED CT edition and version a load makes: the edition's module and its version date, named by the
user (`module=`, `effective_time=`, or a whole `version=` URI) or read from the release.

Version URIs follow the SNOMED CT URI Specification: `http://snomed.info/sct/{module}/version/{yyyymmdd}`, and
`http://snomed.info/xsct/{module}/version/{yyyymmdd}` for experimental or test content (`experimental=True`).

Rows with a blank effectiveTime (pre-release and extract files: the component's next version, not yet dated)
are versioned with the release's version date: their `effectiveTime` property is that date, and such a row
wins over a dated row of the same component from another package."""

from __future__ import annotations

import collections
import datetime
import re
from dataclasses import dataclass
from typing import Final, Protocol

from termsvc.errors import LoadError
from termsvc.loaders.snomed_files import Package
from termsvc.loaders.snomed_ids import sctid_problem

SYSTEM: Final = "http://snomed.info/sct"
EXPERIMENTAL_SYSTEM: Final = "http://snomed.info/xsct"
INTERNATIONAL: Final = "900000000000207008"
# A blank effectiveTime sorts after every date: the row is the newest state of its component.
UNDATED: Final = ""
_VERSION_URI: Final = re.compile(r"^http://snomed\.info/(x?sct)/(\d+)(?:/version/(\d{8}))?$")


@dataclass(frozen=True)
class Edition:
    module: str
    date: str
    experimental: bool = False

    @property
    def version(self) -> str:
        base = EXPERIMENTAL_SYSTEM if self.experimental else SYSTEM
        return f"{base}/{self.module}/version/{self.date}"


@dataclass(frozen=True)
class Requested:
    """What the user named: any of module, date, experimental (None: read it from the release)."""

    module: str | None = None
    date: str | None = None
    experimental: bool = False


class ModuleCounts(Protocol):
    module_counts: dict[str, collections.Counter[str]]
    dates: list[str]


def date_key(date: str) -> str:
    return date or "99999999"


def _check_date(source: str, date: str, what: str) -> str:
    try:
        datetime.datetime.strptime(date, "%Y%m%d")
    except ValueError:
        raise LoadError(source, f"{what} {date!r} is not a date written YYYYMMDD") from None
    if len(date) != 8:  # strptime accepts 2025011
        raise LoadError(source, f"{what} {date!r} is not a date written YYYYMMDD")
    return date


def requested(source: str, version: str | None, module: str | None, effective_time: str | None,
              experimental: bool) -> Requested:
    """The user's options checked and merged: `version` is a SNOMED CT version URI (sct or xsct, the
    `/version/` part optional) or a bare YYYYMMDD date."""
    if version:
        match = _VERSION_URI.match(version.strip())
        if match:
            kind, named_module, named_date = match.groups()
            module = _agree(source, "module", module, named_module)
            effective_time = _agree(source, "version date", effective_time, named_date)
            experimental = experimental or kind == "xsct"
        elif version.strip().isdigit():
            effective_time = _agree(source, "version date", effective_time, version.strip())
        else:
            raise LoadError(source, f"version {version!r} is neither a SNOMED CT version URI "
                            "(http://snomed.info/sct/{module}/version/{YYYYMMDD}, or xsct for experimental content) "
                            "nor a version date YYYYMMDD")
    if module is not None:
        problem = sctid_problem(module, "concept")
        if problem:
            raise LoadError(source, f"the edition module must be a concept id: {problem}")
    if effective_time is not None:
        _check_date(source, effective_time, "version date")
    return Requested(module, effective_time, experimental)


def _agree(source: str, what: str, given: str | None, named: str | None) -> str | None:
    if given is not None and named is not None and given != named:
        raise LoadError(source, f"the {what} is given twice, differently: {given!r} and {named!r} (in the version)")
    return given if given is not None else named


def main_module(package: Package, counts: collections.Counter[str]) -> str:
    """An extension's modules have namespaced SCTIDs (partition 10); International modules never do. So the
    package's main module is its namespaced module with most concepts (descriptions if it has no concepts),
    else the International core module. Module dependency refsets do not settle it: in the International
    release the leaf is a map module, not the core."""
    namespaced = [(n, m) for m, n in counts.items() if m[-3:-1] == "10"]
    if namespaced:
        return max(namespaced)[1]
    return INTERNATIONAL


def choose(packages: list[Package], mains: dict[str, str], concepts: ModuleCounts, wanted: Requested) -> Edition:
    """The edition these packages load as: one package per module, at most one extension unless named."""
    where = ", ".join(p.root for p in packages)
    by_module: dict[str, list[Package]] = collections.defaultdict(list)
    for package in packages:
        by_module[mains[package.root]].append(package)
    for main, same in by_module.items():
        if len(same) > 1:
            shown = "; ".join(f"{p.root} ({p.date or 'undated'})" for p in same)
            raise LoadError(where, f"two editions of module {main} are among the packages: {shown}. Load one "
                            "edition at a time (an extension may be loaded with the one edition it depends on)")
    module = wanted.module
    if module is None:
        extensions = sorted(m for m in by_module if m != INTERNATIONAL)
        if len(extensions) > 1:
            raise LoadError(where, f"these packages belong to several extensions ({', '.join(extensions)}); "
                            "load one at a time or name the edition with --module")
        module = extensions[0] if extensions else INTERNATIONAL
    elif module not in by_module and not any(module in c for c in concepts.module_counts.values()):
        known = sorted({m for c in concepts.module_counts.values() for m in c})
        raise LoadError(where, f"module {module} has no concepts in these packages (their modules: "
                        f"{', '.join(known)})")
    date = wanted.date
    if date is None:
        dates = [d for p in by_module.get(module, []) for d in [p.date] if d]
        dated = [d for d in concepts.dates if d != UNDATED]
        date = max(dates) if dates else max(dated, default=None)
    if not date:
        raise LoadError(where, "cannot tell the release's version date: its file names carry none and every "
                        "concept row has a blank effectiveTime; name it with --version-date YYYYMMDD")
    if len(date) != 8 or not date.isdigit():  # from file names: their format only (a sample carries 20240231)
        raise LoadError(where, f"the release's version date {date!r} is not YYYYMMDD; name it with --version-date")
    return Edition(module, date, wanted.experimental)
