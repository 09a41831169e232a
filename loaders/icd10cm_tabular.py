"""Streams the CDC/CMS ICD-10-CM tabular XML (`<ICD10CM.tabular>`) into a code system version.

The file is read with iterparse and each category (a top-level <diag> with everything below it) is
written and dropped as soon as it ends, so memory stays bounded by the largest category, not the release.
Chapters become code `1`..`22`, sections their range (`A00-A09`), both abstract. A section whose range is
a single category (`B10`) shares that category's code, so the category stands for it directly under the
chapter. A <sevenChrDef> applies to every code below the nearest <diag> that defines one; each code with
no codes below it then yields one code per 7th character (padded with X to six characters), and is itself
a header. Exceptions to a 7th-character rule exist only as notes ("7th characters D and S do not apply to
codes in category S06 with 6th character 7 ..."); those notes are read so the excepted codes are not made."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from lxml import etree

from termsvc.errors import LoadError
from termsvc.loaders.base import ByteCounter, Progress, iterparse_safely
from termsvc.loaders.icd10cm_codes import (
    BILLABLE,
    KIND,
    NOTE_PROPERTIES,
    SeventhException,
    code_system_resource,
    is_code,
    kind_of,
    parse_seventh_exception,
    undotted,
    with_seventh,
)
from termsvc.store.loadrun import CodeSystemWriter, LoadRun

ROOT: Final = "ICD10CM.tabular"
_BLOCK: Final = re.compile(r"^[A-Z][0-9A-Z]{2}(-[A-Z][0-9A-Z]{2})?$")
_CHAPTER: Final = re.compile(r"^[0-9]{1,2}$")

SevenChr = list[tuple[str, str]]  # (7th character, its meaning), in release order
_EXCEPTION_NOTES: Final = ("notes", "sevenChrNote")


@dataclass
class Loaded:
    """What the tabular held, for cross-checks: code -> (display, billable), chapters and blocks aside."""

    version: str = ""
    codes: dict[str, tuple[str, bool]] = field(default_factory=dict)


def _text(elem: etree._Element) -> str:
    # Pretty-printed releases wrap text in indentation; the meaning is the words.
    text = (elem.text or "") if len(elem) == 0 else "".join(elem.itertext())
    return " ".join(text.split())


def _path(elem: etree._Element) -> str:
    """Element path naming each step by its code, e.g. ICD10CM.tabular/chapter[1]/section[A00-A09]/diag[A00]."""
    steps: list[str] = []
    node: etree._Element | None = elem
    while node is not None:
        tag = str(node.tag)
        key = node.get("id") if tag == "section" else node.findtext("name") if tag in ("chapter", "diag") else None
        steps.append(f"{tag}[{key.strip()}]" if key else tag)
        node = node.getparent()
    return "/".join(reversed(steps))


class _Reader:
    def __init__(self, run: LoadRun, name: str, current: bool | None, version: str | None, collect: bool) -> None:
        self.run = run
        self.expected_version = version
        self.collect = collect
        self.name = name
        self.current = current
        self.writer: CodeSystemWriter | None = None
        self.loaded = Loaded()
        self.chapters = 0
        # sections whose single category took their code
        self._folded: set[str] = set()

    def _at(self, elem: etree._Element, path: str | None = None) -> None:
        # Codes below a category pass their path down rather than walk up the tree for every one.
        self.run.position.line = elem.sourceline
        self.run.position.path = path or _path(elem)

    def _error(self, elem: etree._Element, message: str, field_name: str | None = None) -> LoadError:
        return LoadError(self.name, message, line=elem.sourceline, field_name=field_name, path=_path(elem))

    def _cs(self, elem: etree._Element) -> CodeSystemWriter:
        if self.writer is None:
            raise self._error(elem, f"<{elem.tag}> before the release's <version>: not a complete tabular file")
        return self.writer

    def _required(self, elem: etree._Element, child: str) -> str:
        node = elem.find(child)
        value = _text(node) if node is not None else ""
        if not value:
            raise self._error(elem, f"<{elem.tag}> has no <{child}>", child)
        return value

    def _notes(self, cs: CodeSystemWriter, code: str, elem: etree._Element) -> tuple[SeventhException, ...]:
        """Writes the notes as properties; returns the 7th-character exceptions stated among them."""
        exceptions: list[SeventhException] = []
        for child in elem:
            tag = str(child.tag)
            if tag in NOTE_PROPERTIES:
                for note in child.iterfind("note"):
                    value = _text(note)
                    if value:
                        cs.add_property(code, tag, value)
                        rule = parse_seventh_exception(value) if tag in _EXCEPTION_NOTES else None
                        if rule is not None:
                            exceptions.append(rule)
        return tuple(exceptions)

    def _flags(self, cs: CodeSystemWriter, code: str, billable: bool, kind: str) -> None:
        cs.add_property(code, BILLABLE, "true" if billable else "false", type="boolean")
        cs.add_property(code, KIND, kind, type="code")

    def version(self, elem: etree._Element) -> None:
        if self.writer is not None:
            raise self._error(elem, "a second <version>", "version")
        version = _text(elem)
        if not version:
            raise self._error(elem, "<version> is empty", "version")
        self._at(elem)
        if self.expected_version is not None and self.expected_version != version:
            raise self._error(elem, f"the release is version {version}, not {self.expected_version} as asked",
                              "version")
        self.loaded.version = version
        self.writer = self.run.code_system(code_system_resource(version), current=self.current)

    def chapter(self, elem: etree._Element) -> None:
        cs = self._cs(elem)
        self._at(elem)
        code = self._required(elem, "name")
        if not _CHAPTER.match(code):
            raise self._error(elem, f"chapter number {code!r} is not a number", "name")
        cs.add_concept(code, self._required(elem, "desc"), abstract=True)
        self._flags(cs, code, False, "chapter")
        self._notes(cs, code, elem)
        self.chapters += 1

    def _section_code(self, elem: etree._Element) -> str:
        code = (elem.get("id") or "").strip()
        if not _BLOCK.match(code):
            raise self._error(elem, f"section id {code!r} is not a block range such as A00-A09", "id")
        return code

    def section(self, elem: etree._Element) -> None:
        cs = self._cs(elem)
        self._at(elem)
        code = self._section_code(elem)
        if code in self._folded:
            # its notes belong to the category that carries its code
            self._notes(cs, code, elem)
            return
        chapter = elem.getparent()
        if chapter is None or chapter.tag != "chapter":
            raise self._error(elem, "<section> outside a <chapter>")
        cs.add_concept(code, self._required(elem, "desc"), abstract=True)
        self._flags(cs, code, False, "block")
        self._notes(cs, code, elem)
        cs.add_edge(self._required(chapter, "name"), code)

    def category(self, elem: etree._Element) -> None:
        """A top-level <diag>, written with every code below it."""
        cs = self._cs(elem)
        holder = elem.getparent()
        if holder is None or holder.tag not in ("section", "chapter"):
            raise self._error(elem, "<diag> outside a <section>")
        if holder.tag == "section":
            parent = self._section_code(holder)
            name = elem.findtext("name")
            if name is not None and name.strip() == parent:
                self._folded.add(parent)
                chapter = holder.getparent()
                parent = self._required(chapter, "name") if chapter is not None else parent
        else:
            parent = self._required(holder, "name")
        self._diag(cs, elem, parent, None, (), _path(elem))

    def _seven(self, elem: etree._Element) -> SevenChr | None:
        definition = elem.find("sevenChrDef")
        if definition is None:
            return None
        rules: SevenChr = []
        for extension in definition.iterfind("extension"):
            char = (extension.get("char") or "").strip()
            meaning = _text(extension)
            if not char or not meaning:
                raise self._error(extension, "<extension> needs a char attribute and a meaning", "char")
            rules.append((char, meaning))
        if not rules:
            raise self._error(definition, "<sevenChrDef> defines no 7th characters", "extension")
        return rules

    def _diag(self, cs: CodeSystemWriter, elem: etree._Element, parent: str, inherited: SevenChr | None,
              excepted: tuple[SeventhException, ...], path: str) -> None:
        self._at(elem, path)
        code = self._required(elem, "name")
        if not is_code(code):
            raise self._error(elem, f"{code!r} is not an ICD-10-CM code in dotted form (such as E11.9)", "name")
        display = self._required(elem, "desc")
        seven = self._seven(elem) or inherited
        children = elem.findall("diag")
        generates = not children and seven is not None and len(undotted(code)) < 7
        billable = not children and not generates
        cs.add_concept(code, display)
        self._flags(cs, code, billable, kind_of(code, billable))
        excepted = excepted + self._notes(cs, code, elem)
        cs.add_edge(parent, code)
        if self.collect:
            self.loaded.codes[code] = (display, billable)
        for child in children:
            self._diag(cs, child, code, seven, excepted, f"{path}/diag[{(child.findtext('name') or '').strip()}]")
        if generates and seven is not None:
            self._at(elem, path)
            for char, meaning in seven:
                if any(rule.excludes(code, char) for rule in excepted):
                    continue
                try:
                    extended = with_seventh(code, char)
                except ValueError as exc:
                    raise self._error(elem, str(exc), "sevenChrDef") from None
                extended_display = f"{display}, {meaning}"
                cs.add_concept(extended, extended_display)
                self._flags(cs, extended, True, "code")
                cs.add_edge(code, extended)
                if self.collect:
                    self.loaded.codes[extended] = (extended_display, True)


def _drop(elem: etree._Element) -> None:
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        parent.remove(elem)


_TAGS: Final = ("version", "introduction", "chapter", "section", "diag")


def _events(source: ByteCounter | Path, name: str, **options: object) -> Iterator[tuple[str, etree._Element]]:
    try:
        yield from iterparse_safely(source, **options)  # type: ignore[arg-type]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        raise LoadError(name, f"not well-formed XML: {exc.msg}", line=line) from None


def _first_element(path: Path, name: str) -> etree._Element:
    """The root element, read before anything else so a file of the wrong kind fails at once."""
    for _, elem in _events(path, name, events=("start",)):
        return elem
    raise LoadError(name, "the file holds no XML element", line=1)


def read_tabular(run: LoadRun, path: Path, progress: Progress, *, current: bool | None = None,
                 version: str | None = None, collect: bool = False, display_name: str | None = None) -> Loaded:
    """Load the tabular file; `version`, if given, must be the file's own; `collect` keeps each code's
    display and billable flag in the result (for cross-checks)."""
    name = display_name or str(path)
    run.position.file = name
    _refuse_doctype(path, name)
    root_line = _check_root(_first_element(path, name), name, path)
    reader = _Reader(run, name, current, version, collect)
    task = progress.task("ICD-10-CM tabular XML", path.stat().st_size)
    with path.open("rb") as raw:
        # Only the elements handled below are reported; the parser still builds the rest beneath them.
        for _, elem in _events(ByteCounter(raw, progress, task), name, events=("end",), tag=_TAGS):
            tag = elem.tag
            parent = elem.getparent()
            if tag == "diag":
                if parent is not None and parent.tag != "diag":
                    reader.category(elem)
                    _drop(elem)
            elif tag == "section":
                reader.section(elem)
                _drop(elem)
            elif tag == "chapter":
                reader.chapter(elem)
                _drop(elem)
            elif tag == "version" and parent is not None and parent.getparent() is None:
                reader.version(elem)
            elif tag == "introduction":
                _drop(elem)
    progress.done(task)
    if reader.writer is None or reader.chapters == 0:
        raise LoadError(name, f"<{ROOT}> holds no <version> and <chapter>s: not a complete tabular file",
                        line=root_line)
    reader.writer.finish()
    return reader.loaded


_ROOT_START: Final = re.compile(rb"<[A-Za-z_:]")


def _refuse_doctype(path: Path, name: str) -> None:
    """Refuse a DOCTYPE in the prolog before libxml2 sees the file: releases carry none, one here can only
    declare entities (XXE, billion laughs), and which line libxml2 blames for an entity bomb differs between
    its versions, while the DOCTYPE's own line does not."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if b"<!DOCTYPE" in line:
                raise LoadError(name, "a <!DOCTYPE> declaration is not allowed in the ICD-10-CM tabular XML "
                                      "(entities are never expanded)", line=number, field_name="DOCTYPE")
            if _ROOT_START.search(line):
                return


def _check_root(elem: etree._Element, name: str, path: Path) -> int:
    """The root's line, once it is known to be the tabular's root with no DOCTYPE."""
    docinfo = elem.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # a DOCTYPE the prolog scan could not see
        raise LoadError(name, "a <!DOCTYPE> declaration is not allowed in the ICD-10-CM tabular XML "
                              "(entities are never expanded)", line=elem.sourceline, field_name="DOCTYPE")
    if elem.tag != ROOT:
        raise LoadError(name, f"root element is <{elem.tag}>, expected <{ROOT}>: not an ICD-10-CM tabular "
                              "XML file", line=elem.sourceline, path=str(elem.tag))
    return elem.sourceline or 1
