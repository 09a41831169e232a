"""A strict reader of HL7 v2 messages (pipe-and-hat encoding): segments, fields, repetitions, components and
subcomponents, with the message's own encoding characters (MSH-1, MSH-2) and escape sequences decoded.

Segments end with CR (the standard); LF and CRLF are accepted as files are often re-saved with them. Values
are split before they are unescaped, so an escaped separator (\\F\\, \\S\\, \\T\\, \\R\\) stays data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from termsvc.errors import LoadError
from termsvc.workbench.files import decoded

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
_LINES = re.compile(r"\r\n|\r|\n")
# MSH-18 character sets (HL7 table 0211) that are not UTF-8 or its ASCII subset
_CHARSETS = {"8859/1": "latin-1", "8859/15": "iso8859-15", "UNICODE UTF-8": "utf-8", "ASCII": "ascii",
             "UNICODE": "utf-8", "UNICODE UTF-16": "utf-16", "8859/2": "iso8859-2"}
# segments that frame batches of messages rather than belong to one
_FRAMING = frozenset({"FHS", "FTS", "BHS", "BTS"})


@dataclass(frozen=True)
class Encoding:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def unescape(self, value: str) -> str:
        if self.escape not in value:
            return value
        out: list[str] = []
        i = 0
        while i < len(value):
            ch = value[i]
            end = value.find(self.escape, i + 1) if ch == self.escape else -1
            if end < 0:
                out.append(ch)
                i += 1
                continue
            out.append(self._escape_sequence(value[i + 1:end]))
            i = end + 1
        return "".join(out)

    def _escape_sequence(self, body: str) -> str:
        simple = {"F": self.field, "S": self.component, "T": self.subcomponent, "R": self.repetition,
                  "E": self.escape, ".br": "\n"}
        if body in simple:
            return simple[body]
        if body.startswith("X") and len(body) > 1:
            try:
                return bytes.fromhex(body[1:]).decode("latin-1")
            except ValueError:
                return ""
        # highlighting (\H\ \N\), formatting and character-set switches carry no text
        return ""


@dataclass(frozen=True)
class Segment:
    id: str
    fields: tuple[str, ...]  # fields[n] is field n (for MSH, fields[1] is MSH-1, the field separator)
    line: int
    encoding: Encoding

    def raw(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def repetitions(self, n: int) -> list[str]:
        raw = self.raw(n)
        if self.id == "MSH" and n <= 2:
            return [raw]
        return raw.split(self.encoding.repetition) if raw else []

    def _raw_components(self, n: int, repetition: int) -> list[str]:
        reps = self.repetitions(n)
        return reps[repetition].split(self.encoding.component) if repetition < len(reps) else []

    def components(self, n: int, repetition: int = 0) -> list[str]:
        """The components of one repetition of field n, unescaped (subcomponents left joined by '&')."""
        return [self.encoding.unescape(c) for c in self._raw_components(n, repetition)]

    def subcomponents(self, n: int, component: int, repetition: int = 0) -> list[str]:
        comps = self._raw_components(n, repetition)
        if component > len(comps):
            return []
        return [self.encoding.unescape(s) for s in comps[component - 1].split(self.encoding.subcomponent)]

    def component(self, n: int, component: int, repetition: int = 0) -> str:
        comps = self.components(n, repetition)
        return comps[component - 1].strip() if component <= len(comps) else ""


@dataclass(frozen=True)
class Message:
    segments: tuple[Segment, ...]

    @property
    def header(self) -> Segment:
        return self.segments[0]

    @property
    def type(self) -> tuple[str, str]:
        return self.header.component(9, 1), self.header.component(9, 2)


def decode(data: bytes, file: str) -> str:
    """UTF-8 unless MSH-18 names another character set; undecodable bytes name their line."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    charset = _declared_charset(data)
    return decoded(data, file, charset, hint="declare the character set in MSH-18")


def _declared_charset(data: bytes) -> str:
    first = _LINES.split(data[:4096].decode("ascii", errors="replace"), maxsplit=1)[0]
    if first.startswith("MSH") and len(first) > 3:
        fields = first.split(first[3])
        if len(fields) > 17 and fields[17].strip():
            name = fields[17].split(fields[1][:1] or "^")[0].strip().upper()
            return _CHARSETS.get(name, "utf-8")
    return "utf-8"


def _encoding_of(line: str, file: str, number: int) -> Encoding:
    if len(line) < 8:
        raise LoadError(file, "MSH segment too short to hold its encoding characters", line=number,
                        field_name="MSH-2")
    sep = line[3]
    chars = line[4:].split(sep, 1)[0]
    if len(chars) < 4 or sep in chars or len(set(chars[:4])) < 4 or sep.isalnum():
        raise LoadError(file, f"MSH-1/MSH-2 encoding characters {line[3:8]!r} are not four distinct separators "
                              "after the field separator", line=number, field_name="MSH-2")
    return Encoding(sep, chars[0], chars[1], chars[2], chars[3])


def read_messages(text: str, file: str) -> Iterator[Message]:
    """Every message in a file (one or many, batch framing ignored). Line numbers count CR, LF or CRLF."""
    current: list[Segment] = []
    encoding: Encoding | None = None
    for number, line in enumerate(_LINES.split(text), start=1):
        if not line.strip():
            continue
        seg_id = line[:3]
        wrong_separator = encoding is not None and seg_id != "MSH" and len(line) > 3 and line[3] != encoding.field
        if not _SEGMENT_ID.match(seg_id) or wrong_separator:
            raise LoadError(file, f"malformed segment: {line[:20]!r} does not start with a segment id and "
                                  "the field separator", line=number, field_name="segment id")
        if seg_id == "MSH":
            if current:
                yield Message(tuple(current))
            encoding = _encoding_of(line, file, number)
            parts = line.split(encoding.field)
            # MSH-1 is the field separator itself, so MSH fields are shifted by one against the split
            current = [Segment("MSH", ("MSH", encoding.field, *parts[1:]), number, encoding)]
            continue
        if seg_id in _FRAMING:
            continue
        if encoding is None:
            raise LoadError(file, f"segment {seg_id} before any MSH segment", line=number, field_name="segment id")
        current.append(Segment(seg_id, tuple(line.split(encoding.field)), number, encoding))
    if current:
        yield Message(tuple(current))
