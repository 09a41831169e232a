"""Decoding a whole source file: bytes that are not in its character set are an error naming the file and the
line they are on, whatever the file's line ends (CR for HL7 v2, LF or CRLF elsewhere)."""

from __future__ import annotations

import re
from pathlib import Path

from termsvc.errors import LoadError

_LINE_END = re.compile(rb"\r\n|\r|\n")


def decoded(data: bytes, file: str, encoding: str, *, hint: str = "") -> str:
    """`hint` says how to put a refused file right (pass --encoding, declare MSH-18, ...)."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = len(_LINE_END.findall(data, 0, exc.start)) + 1
        shown = "utf-8" if encoding.lower() == "utf-8-sig" else encoding
        raise LoadError(file, f"bytes that are not {shown}{f' ({hint})' if hint else ''}: "
                              f"{data[exc.start:exc.end]!r}", line=line) from None


def utf8_text(path: Path, *, hint: str = "") -> str:
    """The file as UTF-8 text, a byte order mark dropped."""
    return decoded(path.read_bytes(), str(path), "utf-8-sig", hint=hint)
