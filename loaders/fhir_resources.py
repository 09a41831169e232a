"""`termsvc load fhir PATH`: CodeSystem, ValueSet and ConceptMap resources (alone or in Bundles) from one
JSON or XML file, a folder (recursively) or a FHIR NPM package (.tgz), written in one load run.

One input, one url|version per resource type: when two resources of the same type in the same input share
url and version, the load fails with an error naming both places, unless they are the same resource (equal
as FHIR JSON, e.g. one CodeSystem shipped in JSON and in XML): then it is written once and the repeat
counted (`identical repeats skipped`). Choosing one of two different resources silently would make the
result depend on file order; the publisher has to say which is meant. Likewise a code defined twice in one
CodeSystem is an error. Versions already in the store are the store's business (refused, or replaced with
--replace).

Both rules bend for a published NPM package, which the user cannot correct: there the first of two
different resources is kept and the other counted (`repeat dropped:<type> <url>|<version>`), and the first
definition of a code wins (`duplicate codes dropped:<url>|<version>`, see loaders.fhir_codesystem).
`strict=True` makes both errors there too.

A single file must hold terminology resources; in a folder or package, other resources, non-FHIR JSON and
non-FHIR XML are skipped and counted (`skipped:<type>` in the load's counts), other resources without
being parsed when their first bytes name their type."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from termsvc.errors import LoadError, TermsvcError
from termsvc.loaders.base import Progress, sha256_of
from termsvc.loaders.fhir_codesystem import CodeSystemLoad, write_code_system
from termsvc.loaders.fhir_sources import (
    TERMINOLOGY,
    WANTED,
    Parsed,
    Skipped,
    from_folder,
    from_package,
    may_hold_terminology,
    parse_bytes,
    peek_type,
    read_file,
    resources_in,
)
from termsvc.store.loadrun import LoadRun

__all__ = ["load", "write_code_system"]


def load(run: LoadRun, path: Path, progress: Progress, *, current: bool | None = None, strict: bool = False,
         **options: Any) -> None:
    path = Path(path)
    duplicates = "first" if _is_package(path) and not strict else "error"
    if not path.exists():
        raise LoadError(str(path), "no such file or folder")
    skipped = Skipped()
    seen: dict[tuple[str, str, str], tuple[str, str]] = {}
    found = 0
    with run.timed("read and write"):
        for parsed in _parsed(run, path, progress, skipped):
            _write(run, parsed, seen, current, duplicates)
            found += 1
    for what, count in skipped.counts.items():
        run.counts[f"skipped:{what}"] = count
    if not found:
        kinds = ", ".join(sorted(skipped.counts)) or "nothing"
        raise LoadError(str(path), f"no CodeSystem, ValueSet or ConceptMap found (read: {kinds})")


def _is_package(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tgz", ".tar.gz"))


def _parsed(run: LoadRun, path: Path, progress: Progress, skipped: Skipped) -> Iterator[Parsed]:
    if path.is_dir():
        members = from_folder(path, progress, skipped)
    elif _is_package(path):
        run.checksums[path.name] = sha256_of(path)
        members = from_package(path, progress, skipped)
    else:
        run.checksums[path.name] = sha256_of(path)
        resource, lines = read_file(path, str(path))
        kind = resource["resourceType"]
        if kind not in TERMINOLOGY and kind != "Bundle":
            raise LoadError(str(path), f"a {kind} resource, not a CodeSystem, ValueSet, ConceptMap or Bundle "
                            "of them", field_name="resourceType")
        yield from resources_in(str(path), resource, lines, skipped)
        return
    for name, data in members:
        if path.is_dir():
            run.checksums[str(Path(name).relative_to(path))] = hashlib.sha256(data).hexdigest()
        kind = peek_type(data)
        if (kind is not None and kind not in WANTED) or (kind == "Bundle" and not may_hold_terminology(data)):
            skipped.add(str(kind))
            continue
        try:
            resource, lines = parse_bytes(name, data)
        except LoadError as exc:
            # in a collection, JSON that is no FHIR resource (manifests, OpenAPI files) is not ours to read
            if exc.field_name == "resourceType":
                skipped.add("non-FHIR JSON")
                continue
            raise
        yield from resources_in(name, resource, lines, skipped)


def _write(run: LoadRun, parsed: Parsed, seen: dict[tuple[str, str, str], tuple[str, str]], current: bool | None,
           duplicates: str) -> None:
    resource = parsed.resource
    kind = str(resource["resourceType"])
    run.position.file, run.position.path, run.position.line = parsed.file, parsed.path, None
    url, version = resource.get("url"), resource.get("version")
    if not isinstance(url, str) or not url:
        raise LoadError(parsed.file, f"{kind} has no url", path=f"{parsed.path}.url", field_name="url")
    key = (kind, url, str(version or ""))
    here = f"{parsed.file} at {parsed.path}"
    digest = hashlib.sha256(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if key in seen:
        where, first_digest = seen[key]
        if digest == first_digest:
            run.counts["identical repeats skipped"] = run.counts.get("identical repeats skipped", 0) + 1
            return
        if duplicates == "first":
            run.counts[f"repeat dropped:{kind} {url}|{key[2]}"] = 1
            return
        raise LoadError(parsed.file, f"{kind} {url}|{key[2]} appears twice in this input with different "
                        f"content: also in {where}", path=parsed.path)
    seen[key] = (here, digest)
    if kind == "CodeSystem":
        CodeSystemLoad(run, resource, parsed.path, parsed.lines, duplicates=duplicates).write(current)
        return
    try:
        if kind == "ValueSet":
            run.value_set(resource)
        else:
            run.concept_map(resource)
    except TermsvcError as exc:
        raise LoadError(parsed.file, exc.message, path=parsed.path) from None
