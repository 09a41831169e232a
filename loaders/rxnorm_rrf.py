"""RxNorm from a full monthly release (the zip, the release folder or its rrf/ folder) into one code system
version of `http://www.nlm.nih.gov/research/umls/rxnorm`.

Version: the release date as NLM writes it in the download's name, MMDDYYYY (RxNorm_full_08042025 -> 08042025),
taken from the zip or folder name; without one, from RXNSAB.RRF's version of RXNORM (VSAB RXNORM_20AA_250804F ->
08042025); `version=` overrides both. When `current` is not given, the new version becomes current if its
release date is not older than every RxNorm version already stored (MMDDYYYY does not sort by date as text).

RXNCONSO.RRF (required): a code per RXCUI that has at least one SAB=RXNORM atom. Display: the RXNORM atom that
is not suppressed (SUPPRESS N before E, Y, O), then by term type in `TTY_ORDER`, then the lowest RXAUI. Every
other atom of the selected sources (`sabs=`, default RXNORM only; other sources need a UMLS licence) is a
designation with use code = its TTY (no system: NLM publishes no FHIR system for term types) and language
from LAT. Properties: `TTY` (each term type of the concept's RXNORM atoms) and `SUPPRESS` (of the display atom,
when not N: absent means N).
A concept whose RXNORM atoms are all obsolete (SUPPRESS=O) is inactive with status `obsolete`.

RXNREL.RRF: NLM documents REL and RELA as the relationship of the second concept to the first, so a row
RXCUI1=A, RELA=has_ingredient, RXCUI2=B means "B has_ingredient A": B gets property `has_ingredient` (type
code) valued A. RELA names the property (REL when RELA is empty). Duplicates (the same pair stated for several
atoms) are written once. Rows naming an RXCUI that has no RXNORM atom are an error naming file, line and field;
`strict=False` skips and counts them, for subsets cut out of a release.

RXNSAT.RRF: attributes of the selected sources with SUPPRESS=N (NLM: current NDCs are SAB=RXNORM, SUPPRESS=N)
as string properties named by ATN (`NDC`, `RXN_STRENGTH`, ...). RXNSTY.RRF: `STY` properties (code TUI,
display the semantic type name). RxNorm has no is-a hierarchy: the closure holds only self rows.

Retired RXCUIs (RXNCUI.RRF, RXNCUICHANGES.RRF, RXNATOMARCHIVE.RRF), when not current, become inactive concepts
with status `retired` and a `remapped_to` property per replacement: RXNCUI's cui2 (several rows for one cui1 are
a split or quantified merge: one property each; cui2 empty or equal to cui1 means retired without a
replacement), RXNCUICHANGES' NEW_RXCUI, RXNATOMARCHIVE's MERGED_TO_RXCUI. Their display is the best archived or
moved RXNORM atom. RXNDOC.RRF, when present, names term types and describes RELA and ATN properties."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
from sqlalchemy import text

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress, sha256_of
from termsvc.loaders.rxnorm_files import Release, RrfFile, find_release, read_rows
from termsvc.store.loadrun import PROPERTY_COLUMNS, CodeSystemWriter, LoadRun, SourcePosition
from termsvc.store.tables import ConceptProperty

SYSTEM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
TTY_ORDER: Final = ("SCD", "SBD", "GPCK", "BPCK", "IN", "PIN", "MIN", "SCDC", "SCDF", "SCDFP", "SCDG", "SCDGP",
                    "SBDC", "SBDF", "SBDFP", "SBDG", "BN", "DF", "DFG", "ET", "SY", "TMSY", "PSN")
TTY_NAMES: Final = {
    "BN": "Fully-specified drug brand name that can not be prescribed", "BPCK": "Branded Drug Delivery Device",
    "DF": "Dose Form", "DFG": "Dose Form Group", "ET": "Entry term", "GPCK": "Generic Drug Delivery Device",
    "IN": "Name for an ingredient", "MIN": "name for a multi-ingredient", "PIN": "Name from a precise ingredient",
    "PSN": "Prescribable Name", "SBD": "Semantic branded drug", "SBDC": "Semantic Branded Drug Component",
    "SBDF": "Semantic branded drug and form", "SBDFP": "Semantic branded drug form precise",
    "SBDG": "Semantic branded drug group", "SCD": "Semantic Clinical Drug",
    "SCDC": "Semantic Drug Component", "SCDF": "Semantic clinical drug and form",
    "SCDFP": "Semantic clinical drug form precise", "SCDG": "Semantic clinical drug group",
    "SCDGP": "Semantic clinical drug group precise", "SY": "Designated synonym",
    "TMSY": "Tall Man synonym",
}
SUPPRESS_RANK: Final = {"N": 0, "E": 1, "Y": 2, "O": 3}
# UMLS LAT (ISO 639-2) to the BCP 47 tags FHIR designations carry
LANGUAGES: Final = {"ENG": "en", "SPA": "es", "FRE": "fr", "GER": "de", "ITA": "it", "DUT": "nl", "POR": "pt",
                    "JPN": "ja", "CHI": "zh", "SWE": "sv", "NOR": "no", "DAN": "da", "FIN": "fi", "CZE": "cs",
                    "HUN": "hu", "POL": "pl", "RUS": "ru", "KOR": "ko"}
PROPERTIES: Final = [
    {"code": "TTY", "type": "code", "description": "Term type of the concept's RXNORM atoms"},
    {"code": "SUPPRESS", "type": "code", "description": "Suppressible flag of the display atom: N, O (obsolete), "
     "Y (suppressed by NLM) or E (suppressed by an editor)"},
    {"code": "STY", "type": "code", "description": "UMLS semantic type (TUI), from RXNSTY"},
    {"code": "remapped_to", "type": "code", "description": "The RXCUI a retired RXCUI was merged into or split into"},
]
_UNRANKED: Final = len(TTY_ORDER)


@dataclass(slots=True)
class Atom:
    """The best RXNORM atom seen so far for one RXCUI, and what the concept's atoms share."""

    rank: tuple[int, int, int]
    rxaui: str
    name: str
    suppress: str
    ttys: list[str] = field(default_factory=list)
    current: bool = False
    id: int = 0  # the concept id, once written


@dataclass(slots=True)
class Retired:
    rank: tuple[int, int] = (99, 0)
    name: str | None = None
    remaps: set[str] = field(default_factory=set)


def _int_field(value: str, rrf: RrfFile, line: int | None, field_name: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise LoadError(rrf.label, f"{field_name} {value!r} is not a number", line=line, field_name=field_name)
    return int(value)


def _sabs(option: str | Iterable[str] | None) -> frozenset[str]:
    if option is None:
        return frozenset({"RXNORM"})
    items = option.split(",") if isinstance(option, str) else list(option)
    return frozenset({"RXNORM", *(s.strip() for s in items if s.strip())})


def _rxnorm_date(release: Release, run: LoadRun, progress: Progress) -> date | None:
    """RXNORM's release date from RXNSAB: its VSAB/SVER ends in YYMMDD plus a letter (RXNORM_20AA_250804F)."""
    rrf = release.get("RXNSAB.RRF")
    if rrf is None:
        return None
    for fields in read_rows(rrf, run.position, progress):
        if fields[3] != "RXNORM":
            continue
        tail = fields[2].rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")[-6:]
        if len(tail) == 6 and tail.isdigit():
            try:
                return date(2000 + int(tail[:2]), int(tail[2:4]), int(tail[4:]))
            except ValueError:
                pass
        raise LoadError(rrf.label, f"cannot read a release date from RXNORM's VSAB {fields[2]!r}; pass version=",
                        line=run.position.line, field_name="VSAB")
    return None


def _documented(release: Release, run: LoadRun, progress: Progress) -> dict[tuple[str, str], str]:
    """(DOCKEY, VALUE) -> explanation from RXNDOC's expanded forms (term types, RELA and ATN names)."""
    rrf = release.get("RXNDOC.RRF")
    notes: dict[tuple[str, str], str] = {}
    if rrf is None:
        return notes
    for key, value, kind, explanation in read_rows(rrf, run.position, progress):
        if kind == "expanded_form" and explanation:
            notes[(key, value)] = explanation
    return notes


def _version(release: Release, run: LoadRun, progress: Progress, version: str | None) -> tuple[str, date | None]:
    if version:
        try:
            return version, date(int(version[4:8]), int(version[:2]), int(version[2:4]))
        except ValueError:
            return version, None
    released = release.release_date or _rxnorm_date(release, run, progress)
    if released is None:
        raise LoadError(release.root, "cannot tell the RxNorm release date: neither the folder or zip name "
                        "(RxNorm_full_MMDDYYYY) nor RXNSAB.RRF gives it; pass version=MMDDYYYY")
    return released.strftime("%m%d%Y"), released


def _newest(run: LoadRun, released: date | None) -> bool | None:
    """Whether this release is at least as new as every stored RxNorm version (None when dates are unknown)."""
    if released is None:
        return None
    for (stored,) in run.conn.execute(text("SELECT version FROM code_system WHERE url = :url"), {"url": SYSTEM}):
        try:
            other = date(int(stored[4:8]), int(stored[:2]), int(stored[2:4]))
        except ValueError:
            continue
        if other > released:
            return False
    return True


def _read_atoms(run: LoadRun, conso: RrfFile, progress: Progress) -> dict[str, Atom]:
    atoms: dict[str, Atom] = {}
    position = run.position
    order = {tty: i for i, tty in enumerate(TTY_ORDER)}
    for fields in read_rows(conso, position, progress):
        rxcui = fields[0]
        if not (rxcui.isascii() and rxcui.isdigit()):
            _int_field(rxcui, conso, position.line, "RXCUI")
        if fields[11] != "RXNORM":
            continue
        rxaui, tty, name, suppress = fields[7], fields[12], fields[14], fields[16]
        suppressed = SUPPRESS_RANK.get(suppress)
        if suppressed is None:
            raise LoadError(conso.label, f"SUPPRESS {suppress!r} is not one of N, O, Y, E", line=position.line,
                            field_name="SUPPRESS")
        if not (rxaui.isascii() and rxaui.isdigit()):
            _int_field(rxaui, conso, position.line, "RXAUI")
        rank = (suppressed, order.get(tty, _UNRANKED), int(rxaui))
        if not name:
            raise LoadError(conso.label, "empty STR", line=position.line, field_name="STR")
        atom = atoms.get(rxcui)
        if atom is None:
            atom = atoms[rxcui] = Atom(rank, rxaui, name, suppress)
        elif rank < atom.rank:
            atom.rank, atom.rxaui, atom.name, atom.suppress = rank, rxaui, name, suppress
        if tty not in atom.ttys:
            atom.ttys.append(tty)
        if suppress != "O":
            atom.current = True
    return atoms


def _property_sink(cs: CodeSystemWriter) -> Callable[[int, str, str, str, str | None], None]:
    """Concept properties straight into the run's bulk writer, by concept id: the RXNSAT and RXNREL loops write
    millions of them, and CodeSystemWriter.add_property's code-to-id step is already done for known concepts."""
    add, table, system_id = cs.run.bulk.add, ConceptProperty.__table__, cs.code_system_id  # type: ignore[attr-defined]

    def sink(concept_id: int, code: str, value: str, type: str, display: str | None) -> None:
        add(table, PROPERTY_COLUMNS, (concept_id, system_id, code, type, value, None, display))

    return sink


def _write_concepts(cs: CodeSystemWriter, atoms: dict[str, Atom]) -> None:
    sink = _property_sink(cs)
    for rxcui, atom in atoms.items():
        atom.id = cs.add_concept(rxcui, atom.name, active=atom.current,
                                 status=None if atom.current else "obsolete")
        for tty in atom.ttys:
            sink(atom.id, "TTY", tty, "code", None)
        if atom.suppress != "N":
            sink(atom.id, "SUPPRESS", atom.suppress, "code", None)


def _write_designations(run: LoadRun, cs: CodeSystemWriter, conso: RrfFile, atoms: dict[str, Atom],
                        sabs: frozenset[str], names: dict[str, str], progress: Progress) -> None:
    for fields in read_rows(conso, run.position, progress):
        sab = fields[11]
        if sab not in sabs:
            continue
        atom = atoms.get(fields[0])
        if atom is None or fields[7] == atom.rxaui:
            continue
        tty, lat = fields[12], fields[1]
        label = names.get(tty, tty) if sab == "RXNORM" else f"{sab} {tty}"
        cs.add_designation(fields[0], fields[14], language=LANGUAGES.get(lat, lat.lower() or None),
                           use=(None, tty, label))


def _write_types(run: LoadRun, cs: CodeSystemWriter, rrf: RrfFile, atoms: dict[str, Atom],
                 progress: Progress) -> None:
    sink = _property_sink(cs)
    for rxcui, tui, _stn, sty, _atui, _cvf in read_rows(rrf, run.position, progress):
        atom = atoms.get(rxcui)
        if atom is not None:
            sink(atom.id, "STY", tui, "code", sty or None)


def _write_attributes(run: LoadRun, cs: CodeSystemWriter, rrf: RrfFile, atoms: dict[str, Atom],
                      sabs: frozenset[str], notes: dict[tuple[str, str], str], progress: Progress) -> int:
    # RXNSAT comes grouped by RXCUI; duplicates (one NDC on several atoms) are dropped within a group
    group: Atom | None = None
    seen: set[tuple[str, str]] = set()
    declared: set[str] = set()
    sink = _property_sink(cs)
    written = 0
    for fields in read_rows(rrf, run.position, progress):
        if fields[11] != "N" or fields[9] not in sabs:
            continue
        atom = atoms.get(fields[0])
        if atom is None:
            continue
        atn, atv = fields[8], fields[10]
        if atom is not group:
            group = atom
            seen.clear()
        elif (atn, atv) in seen:
            continue
        seen.add((atn, atv))
        if atn not in declared:
            if not atn:
                raise LoadError(rrf.label, "empty ATN", line=run.position.line, field_name="ATN")
            declared.add(atn)
            cs.declare_property(atn, "string", description=notes.get(("ATN", atn)))
        sink(atom.id, atn, atv, "string", None)
        written += 1
    return written


def _write_relationships(run: LoadRun, cs: CodeSystemWriter, rrf: RrfFile, atoms: dict[str, Atom],
                         sabs: frozenset[str], notes: dict[tuple[str, str], str], strict: bool,
                         progress: Progress) -> tuple[int, int]:
    """Collects (owner concept id, type, target RXCUI) as three int arrays, sorts them and writes each distinct
    one: exact de-duplication in 24 bytes per row, whatever the order of the file."""
    owners, targets, kinds = array("q"), array("q"), array("q")
    kind_index: dict[str, int] = {}
    kind_names: list[str] = []
    skipped = 0
    position = run.position
    for fields in read_rows(rrf, position, progress):
        if fields[10] not in sabs:
            continue
        owner = atoms.get(fields[4])
        target = fields[0]
        if owner is None or target not in atoms:
            if strict:
                name, value = ("RXCUI2", fields[4]) if owner is None else ("RXCUI1", target)
                raise LoadError(rrf.label, f"{name} {value!r} is not an RxNorm concept of this release (no "
                                "SAB=RXNORM atom in RXNCONSO.RRF); load with strict=False for a subset",
                                line=position.line, field_name=name)
            skipped += 1
            continue
        relation = fields[7] or fields[3]
        k = kind_index.get(relation)
        if k is None:
            if not relation:
                raise LoadError(rrf.label, "neither RELA nor REL is given", line=position.line, field_name="REL")
            k = kind_index[relation] = len(kind_names)
            kind_names.append(relation)
            cs.declare_property(relation, "code", description=notes.get(("RELA", relation)))
        owners.append(owner.id)
        targets.append(int(target))
        kinds.append(k)
    if not owners:
        return 0, skipped
    o = np.frombuffer(owners, dtype=np.int64)
    t = np.frombuffer(targets, dtype=np.int64)
    k_arr = np.frombuffer(kinds, dtype=np.int64)
    order = np.lexsort((t, k_arr, o))
    o, t, k_arr = o[order], t[order], k_arr[order]
    distinct = np.ones(len(o), dtype=bool)
    distinct[1:] = (o[1:] != o[:-1]) | (t[1:] != t[:-1]) | (k_arr[1:] != k_arr[:-1])
    del owners, targets, kinds, order
    position.file, position.line = rrf.label, None
    sink = _property_sink(cs)
    written = 0
    for owner_id, kind, target_id in zip(o[distinct].tolist(), k_arr[distinct].tolist(), t[distinct].tolist(),
                                         strict=True):
        sink(owner_id, kind_names[kind], str(target_id), "code", None)
        written += 1
    return written, skipped


def _offer_name(retired: Retired, rank: tuple[int, int], name: str) -> None:
    if name and rank < retired.rank:
        retired.rank, retired.name = rank, name


def _read_retired(run: LoadRun, release: Release, atoms: dict[str, Atom], progress: Progress) -> dict[str, Retired]:
    retired: dict[str, Retired] = {}
    position = run.position
    order = {tty: i for i, tty in enumerate(TTY_ORDER)}
    rrf = release.get("RXNCUI.RRF")
    if rrf is not None:
        for cui1, _start, _end, cardinality, cui2 in read_rows(rrf, position, progress):
            _int_field(cui1, rrf, position.line, "cui1")
            if cardinality:
                _int_field(cardinality, rrf, position.line, "cardinality")
            if cui1 in atoms:
                continue
            entry = retired.setdefault(cui1, Retired())
            if cui2 and cui2 != cui1:
                entry.remaps.add(str(_int_field(cui2, rrf, position.line, "cui2")))
    rrf = release.get("RXNCUICHANGES.RRF")
    if rrf is not None:
        for rxaui, _code, sab, tty, name, old, new in read_rows(rrf, position, progress):
            _int_field(old, rrf, position.line, "OLD_RXCUI")
            if old in atoms:
                continue
            entry = retired.setdefault(old, Retired())
            if new and new != old:
                entry.remaps.add(str(_int_field(new, rrf, position.line, "NEW_RXCUI")))
            if sab == "RXNORM" and rxaui.isdigit():
                _offer_name(entry, (order.get(tty, _UNRANKED), int(rxaui)), name)
    rrf = release.get("RXNATOMARCHIVE.RRF")
    if rrf is not None:
        for fields in read_rows(rrf, position, progress):
            rxaui, name, rxcui, sab, tty, merged = fields[0], fields[2], fields[12], fields[13], fields[14], fields[15]
            if sab != "RXNORM" or not rxcui or rxcui in atoms:
                continue
            _int_field(rxcui, rrf, position.line, "RXCUI")
            entry = retired.setdefault(rxcui, Retired())
            if merged and merged != rxcui:
                entry.remaps.add(str(_int_field(merged, rrf, position.line, "MERGED_TO_RXCUI")))
            _offer_name(entry, (order.get(tty, _UNRANKED), int(rxaui) if rxaui.isdigit() else 0), name)
    return retired


def _checksums(run: LoadRun, path: Path, release: Release) -> None:
    if path.is_file():
        run.checksums[path.name] = sha256_of(path)
        return
    for name, rrf in sorted(release.files.items()):
        run.checksums[name] = sha256_of(rrf.source.path)


def load(run: LoadRun, path: Path, progress: Progress, *, current: bool | None = None,
         sabs: str | Iterable[str] | None = None, strict: bool = True, version: str | None = None,
         **options: Any) -> None:
    if options:
        raise LoadError(str(path), f"unknown RxNorm loader option(s): {', '.join(sorted(options))}")
    path = Path(path)
    run.position = SourcePosition(str(path))
    release = find_release(path)
    selected = _sabs(sabs)
    with run.timed("checksums"):
        _checksums(run, path, release)
    version_text, released = _version(release, run, progress, version)
    notes = _documented(release, run, progress)
    names = {**TTY_NAMES, **{value: text for (key, value), text in notes.items() if key == "TTY"}}
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem", "url": SYSTEM, "version": version_text, "name": "RxNorm", "title": "RxNorm",
        "status": "active", "publisher": "National Library of Medicine (NLM)", "content": "complete",
        "caseSensitive": True, "property": PROPERTIES,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:2.16.840.1.113883.6.88"}],
    }
    if released is not None:
        resource["date"] = released.isoformat()
    cs = run.code_system(resource, current=current if current is not None else _newest(run, released))
    cs.position = run.position
    conso = release.files["RXNCONSO.RRF"]
    with run.timed("concepts"):
        atoms = _read_atoms(run, conso, progress)
        _write_concepts(cs, atoms)
    with run.timed("designations"):
        _write_designations(run, cs, conso, atoms, selected, names, progress)
    counts = run.counts
    counts["RxNorm concepts"] = len(atoms)
    sty = release.get("RXNSTY.RRF")
    if sty is not None:
        with run.timed("semantic types"):
            _write_types(run, cs, sty, atoms, progress)
    sat = release.get("RXNSAT.RRF")
    if sat is not None:
        with run.timed("attributes"):
            counts["RxNorm attributes"] = _write_attributes(run, cs, sat, atoms, selected, notes, progress)
    rel = release.get("RXNREL.RRF")
    if rel is not None:
        with run.timed("relationships"):
            written, skipped = _write_relationships(run, cs, rel, atoms, selected, notes, strict, progress)
        counts["RxNorm relationships"] = written
        counts["RxNorm relationships skipped (unknown RXCUI)"] = skipped
    with run.timed("retired"):
        retired = _read_retired(run, release, atoms, progress)
        for rxcui, entry in retired.items():
            cs.add_concept(rxcui, entry.name, active=False, status="retired")
            for target in sorted(entry.remaps, key=int):
                cs.add_property(rxcui, "remapped_to", target, type="code")
    counts["RxNorm retired concepts"] = len(retired)
    with run.timed("finish"):
        cs.finish()
