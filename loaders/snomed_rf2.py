"""SNOMED CT from an RF2 release (folder or zip), Snapshot files only, into one code system version.

System `http://snomed.info/sct`, version `http://snomed.info/sct/{module}/version/{yyyymmdd}`:
- module: the edition's main module: 900000000000207008 for International; for a package with extension
  content (modules with namespaced SCTIDs), the namespaced module holding most of its concepts (or descriptions).
  When an extension package is among those loaded, its module names the edition. Override with `module=`.
- date: the release date in the edition package's RF2 file names (`..._YYYYMMDD.txt`, the latest one; equal to
  the release's maximum effectiveTime in published releases, and known before any row is read); when the names
  carry none, the latest concept effectiveTime. Override with `effective_time=` (or `version=`, a whole
  version URI); `experimental=True` names it `http://snomed.info/xsct/...` (see snomed_edition). Rows with a
  blank effectiveTime are versioned with this date.

Extensions: every package found under `path` (a parent folder holding both, or a zip with both) and under the
`base=` option (a path or list of paths, e.g. the International release) goes into the ONE version of the
extension, as Snowstorm Lite does, so the extension's concepts see their International parents. Load the
International folder alone for the International version; versions live side by side.

Concepts: `active`; properties `inactive` (boolean), `moduleId` (code), `sufficientlyDefined` (boolean, from
definitionStatusId), `effectiveTime` (dateTime). Display: the preferred synonym in the `language=` dialect
(default en-US, refset 900000000000509007; en-GB is 900000000000508004; `dialects=` maps other language refset
ids to tags, otherwise a refset's tag is its descriptions' languageCode), falling back to an acceptable synonym
there, a preferred synonym of the same language, that language's FSN, another synonym of that language, any
preferred synonym, any synonym, any FSN. Designations: active descriptions only, one row per description and
language refset it is in (language = dialect tag, preferred True/False) or one row with the bare languageCode
and preferred NULL when in none; use = FSN 900000000000003001, synonym 900000000000013009 or definition
900000000000550004. Text definitions also fill `definition`. Case significance is not kept. Relationships,
associations, refsets and maps: see snomed_refsets.

Memory: concepts are packed ints in a dict keyed by SCTID, language refset rows a bit mask per description id;
descriptions and relationships are streamed, never held, so a full International release stays well under 2 GB.

Validation (LoadError naming file, line and field): required files, header, row width, UTF-8 without BOM,
SCTIDs (numeric, partition, Verhoeff check digit), references to unknown concepts, language refset rows naming
unknown descriptions, is-a cycles. `strict=False` is for test fixtures with made-up ids (the snowstorm-lite
MiniRF2 sample): check digits are not verified and rows naming unknown components are skipped and counted."""

from __future__ import annotations

import collections
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress, sha256_of
from termsvc.loaders.snomed_edition import (
    INTERNATIONAL,
    Edition,
    Requested,
    choose,
    date_key,
    main_module,
    requested,
)
from termsvc.loaders.snomed_files import Package, Rf2File, find_packages, read_rows
from termsvc.loaders.snomed_ids import sctid_problem
from termsvc.loaders.snomed_refsets import (
    IS_A,
    REFSET_PROPERTY,
    SYSTEM,
    Batch,
    ReleaseIndex,
    load_concept_valued,
    load_concrete_values,
    load_extended_maps,
    load_relationships,
    load_simple,
    property_batch,
)
from termsvc.store import tables as t
from termsvc.store.loadrun import DESIGNATION_COLUMNS, CodeSystemWriter, LoadRun

FSN: Final = "900000000000003001"
SYNONYM: Final = "900000000000013009"
DEFINITION: Final = "900000000000550004"
PREFERRED: Final = "900000000000548007"
ACCEPTABLE: Final = "900000000000549004"
FULLY_DEFINED: Final = "900000000000073002"
PRIMITIVE: Final = "900000000000074008"
KNOWN_DIALECTS: Final = {"900000000000509007": "en-US", "900000000000508004": "en-GB"}
USES: Final = {FSN: (SYSTEM, FSN, "Fully specified name"), SYNONYM: (SYSTEM, SYNONYM, "Synonym"),
               DEFINITION: (SYSTEM, DEFINITION, "Definition")}
PROPERTIES: Final = [
    {"code": "inactive", "type": "boolean", "description": "Whether the concept is inactive"},
    {"code": "moduleId", "type": "code", "uri": "http://snomed.info/field/Concept.moduleId",
     "description": "The module the concept belongs to"},
    {"code": "sufficientlyDefined", "type": "boolean", "uri": "http://snomed.info/field/Concept.definitionStatusId",
     "description": "True when the concept is fully defined, false when primitive"},
    {"code": "effectiveTime", "type": "dateTime", "uri": "http://snomed.info/field/Concept.effectiveTime",
     "description": "When the concept's current state took effect"},
    {"code": REFSET_PROPERTY, "type": "code", "description": "A (simple or map) reference set the concept is in"},
]
_DISPLAY_WORST: Final = 99
INACTIVE_COLUMNS: Final = ("concept_id", "language", "use_system", "use_code", "value")


@dataclass
class Concepts:
    """Every concept as one packed int (date index << 20 | module index << 2 | fully defined << 1 | active),
    so half a million concepts cost a dict of ints, not objects."""

    flags: dict[int, int] = field(default_factory=dict)
    modules: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    module_counts: dict[str, collections.Counter[str]] = field(default_factory=dict)
    _module_index: dict[str, int] = field(default_factory=dict)
    _date_index: dict[str, int] = field(default_factory=dict)

    def add(self, key: int, date: str, module: str, fully_defined: bool, active: bool) -> None:
        d = self._date_index.get(date)
        if d is None:
            d = self._date_index[date] = len(self.dates)
            self.dates.append(date)
        m = self._module_index.get(module)
        if m is None:
            m = self._module_index[module] = len(self.modules)
            self.modules.append(module)
        packed = d << 20 | m << 2 | fully_defined << 1 | active
        previous = self.flags.get(key)
        # the same concept in two packages (an edition and its base): the later state wins
        if previous is None or date_key(self.dates[previous >> 20]) <= date_key(date):
            self.flags[key] = packed


def _as_paths(base: Path | str | Sequence[Path | str] | None) -> list[Path]:
    if base is None:
        return []
    if isinstance(base, (str, Path)):
        return [Path(base)]
    return [Path(item) for item in base]


def _id_error(rf2: Rf2File, line: int | None, field_name: str, value: str, kind: str | None,
              check_digit: bool) -> None:
    problem = sctid_problem(value, kind, check_digit=check_digit)
    if problem:
        raise LoadError(rf2.name, problem, line=line, field_name=field_name)


def _read_concepts(run: LoadRun, packages: list[Package], progress: Progress, strict: bool) -> Concepts:
    concepts = Concepts()
    position = run.position
    for package in packages:
        counts = concepts.module_counts.setdefault(package.root, collections.Counter())
        for rf2 in package.of("concept"):
            for fields in read_rows(rf2, position, progress):
                code, date, active, module, status = fields
                _id_error(rf2, position.line, "id", code, "concept", strict)
                if date and (len(date) != 8 or not date.isdigit()):
                    raise LoadError(rf2.name, f"effectiveTime {date!r} is not YYYYMMDD (or blank, for a component "
                                    "not yet released)", line=position.line, field_name="effectiveTime")
                if status != FULLY_DEFINED and status != PRIMITIVE:
                    raise LoadError(rf2.name, f"definitionStatusId {status!r} is neither {PRIMITIVE} (primitive) "
                                    f"nor {FULLY_DEFINED} (fully defined)", line=position.line,
                                    field_name="definitionStatusId")
                if not module.isdigit():
                    raise LoadError(rf2.name, f"moduleId {module!r} is not an SCTID", line=position.line,
                                    field_name="moduleId")
                counts[module] += 1
                concepts.add(int(code), date, module, status == FULLY_DEFINED, active == "1")
    return concepts


def _edition(run: LoadRun, packages: list[Package], concepts: Concepts, progress: Progress,
             wanted: Requested) -> Edition:
    mains = {}
    for package in packages:
        counts = concepts.module_counts.get(package.root) or collections.Counter()
        if not counts:
            for rf2 in package.of("description"):
                for fields in read_rows(rf2, run.position, progress):
                    counts[fields[3]] += 1
        mains[package.root] = main_module(package, counts)
    return choose(packages, mains, concepts, wanted)


def _read_language(run: LoadRun, packages: list[Package], progress: Progress
                   ) -> tuple[dict[int, int], list[str]]:
    """description id -> bit mask over language refsets (bit 2r: member of refset r, bit 2r+1: preferred)."""
    masks: dict[int, int] = {}
    refsets: list[str] = []
    index: dict[str, int] = {}
    position = run.position
    for package in packages:
        for rf2 in package.of("language"):
            for fields in read_rows(rf2, position, progress):
                if fields[2] != "1":
                    continue
                refset, member, acceptability = fields[4], fields[5], fields[6]
                r = index.get(refset)
                if r is None:
                    if not refset.isdigit():
                        raise LoadError(rf2.name, f"refsetId {refset!r} is not an SCTID", line=position.line,
                                        field_name="refsetId")
                    r = index[refset] = len(refsets)
                    refsets.append(refset)
                if acceptability == PREFERRED:
                    bits = 3 << (2 * r)
                elif acceptability == ACCEPTABLE:
                    bits = 1 << (2 * r)
                else:
                    raise LoadError(rf2.name, f"acceptabilityId {acceptability!r} is neither {PREFERRED} (preferred)"
                                    f" nor {ACCEPTABLE} (acceptable)", line=position.line,
                                    field_name="acceptabilityId")
                if not member.isdigit():
                    raise LoadError(rf2.name, f"referencedComponentId {member!r} is not an SCTID",
                                    line=position.line, field_name="referencedComponentId")
                key = int(member)
                masks[key] = masks.get(key, 0) | bits
    return masks, refsets


def _target_refset(language: str, refsets: list[str], tags: dict[str, str]) -> int | None:
    for r, refset in enumerate(refsets):
        if refset == language or tags.get(refset, "").lower() == language.lower():
            return r
    return None


@dataclass
class Descriptions:
    best: dict[int, tuple[int, str]] = field(default_factory=dict)  # concept -> (display rank, term)
    definitions: dict[int, tuple[int, str]] = field(default_factory=dict)


def _rank(is_synonym: bool, is_fsn: bool, mask: int, target: int | None, same_language: bool) -> int:
    """Lower is better; see the module docstring for the order."""
    in_target = target is not None and mask >> (2 * target) & 1
    preferred_target = target is not None and mask >> (2 * target + 1) & 1
    preferred_any = bool(mask & 0xAAAAAAAAAAAAAAAAAAAAAAAA)
    if is_synonym:
        if preferred_target:
            return 0
        if in_target:
            return 1
        if same_language:
            return 2 if preferred_any else 5
        return 6 if preferred_any else 7
    if is_fsn:
        if preferred_target:
            return 3
        return 4 if same_language else 9
    return _DISPLAY_WORST


def _read_descriptions(run: LoadRun, writer: CodeSystemWriter, packages: list[Package], progress: Progress,
                       concepts: Concepts, masks: dict[int, int], refsets: list[str], tags: dict[str, str],
                       language: str, strict: bool) -> Descriptions:
    target = _target_refset(language, refsets, tags)
    base_language = language.split("-")[0].lower()
    rows = Batch(run, t.Designation.__table__, DESIGNATION_COLUMNS)  # type: ignore[attr-defined]
    retired = Batch(run, t.InactiveDesignation.__table__, INACTIVE_COLUMNS)  # type: ignore[attr-defined]
    concept_id = writer.concept_id
    result = Descriptions()
    best, definitions, flags = result.best, result.definitions, concepts.flags
    position = run.position
    unknown = 0
    for package in packages:
        for rf2 in package.of("description") + package.of("text_definition"):
            for fields in read_rows(rf2, position, progress):
                description, concept, lang, type_id, term = fields[0], fields[4], fields[5], fields[6], fields[7]
                _id_error(rf2, position.line, "id", description, "description", strict)
                mask = masks.pop(int(description), 0)
                key = int(concept) if concept.isdigit() else -1
                if fields[2] != "1":
                    if key in flags and type_id != DEFINITION and rf2.kind == "description":
                        # a retired display: $validate-code warns of it rather than failing
                        use = USES.get(type_id) or (SYSTEM, type_id, None)
                        retired.add((concept_id(concept), lang, use[0], use[1], term))
                    continue
                if key not in flags:
                    if strict or key < 0:
                        raise LoadError(rf2.name, f"description {description} names concept {concept!r}, which is "
                                        "not a concept of this release", line=position.line, field_name="conceptId")
                    unknown += 1
                    continue
                use_system, use_code, use_display = USES.get(type_id) or (SYSTEM, type_id, None)
                cid = concept_id(concept)
                if mask:
                    for r, refset in enumerate(refsets):
                        if mask >> (2 * r) & 1:
                            rows.add((cid, tags.get(refset, lang), use_system, use_code, use_display, term,
                                      bool(mask >> (2 * r + 1) & 1)))
                else:
                    rows.add((cid, lang, use_system, use_code, use_display, term, None))
                same_language = lang.lower() == base_language
                if type_id == DEFINITION or rf2.kind == "text_definition":
                    rank = _rank(True, False, mask, target, same_language)
                    if rank < definitions.get(key, (_DISPLAY_WORST + 1, ""))[0]:
                        definitions[key] = (rank, term)
                    continue
                rank = _rank(type_id == SYNONYM, type_id == FSN, mask, target, same_language)
                if rank < best.get(key, (_DISPLAY_WORST + 1, ""))[0]:
                    best[key] = (rank, term)
    rows.flush()
    retired.flush()
    if unknown:
        run.counts["skipped: descriptions of unknown concepts"] = unknown
    if masks:
        _unknown_descriptions(run, packages, masks, progress, strict)
    return result


def _unknown_descriptions(run: LoadRun, packages: list[Package], masks: dict[int, int], progress: Progress,
                          strict: bool) -> None:
    """Language refset rows left over name descriptions that are not in the release: find the first one's
    line to report it (only on this error path is the file read again)."""
    if not strict:
        run.counts["skipped: language refset rows naming unknown descriptions"] = len(masks)
        return
    for package in packages:
        for rf2 in package.of("language"):
            for fields in read_rows(rf2, run.position, progress):
                if fields[2] == "1" and int(fields[5]) in masks:
                    raise LoadError(rf2.name, f"language refset member names description {fields[5]}, which is "
                                    f"not in the release ({len(masks)} such descriptions; load an extension together"
                                    " with its base edition)", line=run.position.line,
                                    field_name="referencedComponentId")


def _write_concepts(writer: CodeSystemWriter, concepts: Concepts, descriptions: Descriptions, release_date: str
                    ) -> dict[str, str]:
    """Write every concept with its properties; return the displays by code, which the relationship and
    refset readers show beside the concepts they point at."""
    best, definitions, modules, dates = descriptions.best, descriptions.definitions, concepts.modules, concepts.dates
    displays: dict[str, str] = {}
    add_concept, cs = writer.add_concept, writer.code_system_id
    properties = property_batch(writer.run)
    add_property = properties.add
    for key, packed in concepts.flags.items():
        code = str(key)
        shown = best.pop(key, None)
        display = None
        if shown:
            display = displays[code] = shown[1]
        defined = definitions.get(key)
        active = bool(packed & 1)
        cid = add_concept(code, display, active=active, definition=defined[1] if defined else None)
        add_property((cid, cs, "inactive", "boolean", "false" if active else "true", None, None))
        add_property((cid, cs, "moduleId", "code", modules[packed >> 2 & 0x3FFFF], None, None))
        add_property((cid, cs, "sufficientlyDefined", "boolean", "true" if packed & 2 else "false", None, None))
        date = dates[packed >> 20] or release_date
        add_property((cid, cs, "effectiveTime", "dateTime", f"{date[:4]}-{date[4:6]}-{date[6:]}", None, None))
    properties.flush()
    return displays


def _checksums(run: LoadRun, packages: list[Package]) -> None:
    seen: set[Path] = set()
    for package in packages:
        for files in package.files.values():
            for rf2 in files:
                if rf2.path not in seen:
                    seen.add(rf2.path)
                    run.checksums[str(rf2.path)] = sha256_of(rf2.path)


def _cycle_error(run: LoadRun, files: list[Rf2File], progress: Progress, error: LoadError) -> LoadError:
    """The closure names a concept on an is-a cycle; point at one of its is-a rows (read again on this
    error path only)."""
    match = re.search(r"code '(\d+)'", error.message)
    for rf2 in files if match else []:
        for fields in read_rows(rf2, run.position, progress):
            if fields[2] == "1" and fields[7] == IS_A and match and fields[4] == match.group(1):
                return LoadError(rf2.name, error.message, line=run.position.line, field_name="destinationId")
    return LoadError(", ".join(f.name for f in files), error.message, field_name="destinationId")


def load(run: LoadRun, path: Path, progress: Progress, *, current: bool | None = None,
         base: Path | str | Sequence[Path | str] | None = None, language: str = "en-US", module: str | None = None,
         effective_time: str | None = None, version: str | None = None, experimental: bool = False,
         strict: bool = True, dialects: dict[str, str] | None = None, **options: Any) -> None:
    if options:
        raise LoadError(str(path), f"the SNOMED CT loader has no option {', '.join(sorted(options))}; it takes "
                        "base, module, effective_time, version, experimental, language, dialects and strict")
    wanted = requested(str(path), version, module, effective_time, experimental)
    packages = find_packages([Path(path), *_as_paths(base)])
    with run.timed("snomed: checksums"):
        _checksums(run, packages)
    with run.timed("snomed: concepts"):
        concepts = _read_concepts(run, packages, progress, strict)
        edition = _edition(run, packages, concepts, progress, wanted)
    module, date, version = edition.module, edition.date, edition.version
    if edition.experimental and current is None:
        current = False  # test content never displaces a production edition unless asked
    writer = run.code_system({
        "resourceType": "CodeSystem", "id": f"{'x' if edition.experimental else ''}sct-{module}-{date}",
        # not "experimental": true, which would warn of every code; the xsct version URI says it
        "url": SYSTEM, "version": version,
        "name": "SNOMED_CT", "title": "SNOMED CT" + ("" if module == INTERNATIONAL else f" (module {module})"),
        "status": "active", "publisher": "SNOMED International", "caseSensitive": False,
        "hierarchyMeaning": "is-a", "compositional": True, "valueSet": f"{SYSTEM}?fhir_vs",
        "content": "complete", "property": PROPERTIES}, current=current)
    with run.timed("snomed: descriptions"):
        masks, refsets = _read_language(run, packages, progress)
        tags = {**KNOWN_DIALECTS, **(dialects or {})}
        descriptions = _read_descriptions(run, writer, packages, progress, concepts, masks, refsets, tags,
                                          language, strict)
        del masks
    with run.timed("snomed: concepts"):
        displays = _write_concepts(writer, concepts, descriptions, date)
    del descriptions
    codes = {str(key) for key in concepts.flags}
    del concepts
    index = ReleaseIndex(run, writer, progress, strict, version, codes, displays)
    files = {kind: [f for p in packages for f in p.of(kind)] for kind in
             ("relationship", "concrete", "association", "attribute_value", "simple", "extended_map")}
    with run.timed("snomed: relationships"):
        run.counts["is-a relationships"] = load_relationships(index, files["relationship"])
        load_concrete_values(index, files["concrete"])
    with run.timed("snomed: refsets"):
        load_concept_valued(index, files["association"], "association")
        load_concept_valued(index, files["attribute_value"], "attribute value")
        load_simple(index, files["simple"])
        load_extended_maps(index, files["extended_map"], module)
    for what, count in index.skipped.items():
        run.counts[f"skipped: {what} rows naming unknown concepts"] = count
    with run.timed("snomed: closure"):
        try:
            writer.finish()
        except LoadError as exc:
            if exc.file != "<hierarchy>":
                raise
            raise _cycle_error(run, files["relationship"], progress, exc) from None
