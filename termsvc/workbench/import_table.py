"""Local codes from a spreadsheet: CSV, TSV or Excel, with the caller choosing which column holds what.
Columns not chosen are kept as the code's extra context. CSV and TSV go through the csv module so that errors
can name the physical line (quoted values may span lines); Excel through pandas, naming the sheet row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from termsvc.errors import LoadError
from termsvc.workbench.files import decoded
from termsvc.workbench.local_codes import ImportedCode


@dataclass(frozen=True)
class Columns:
    code: str = "code"
    display: str = "display"
    units: str | None = None
    specimen: str | None = None
    category: str | None = None
    count: str | None = None

    def chosen(self) -> dict[str, str]:
        return {role: name for role, name in vars(self).items() if name}


def _rows_text(path: Path, delimiter: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    content = decoded(path.read_bytes(), str(path), codec, hint="pass --encoding with the file's character set")
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise LoadError(str(path), f"malformed {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}",
                        line=reader.line_num) from None


def _rows_excel(path: Path, sheet: str | int) -> Iterator[tuple[int, list[str]]]:
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=sheet, header=None, dtype=str, keep_default_na=False)
    except ImportError as exc:
        raise LoadError(str(path), f"reading Excel workbooks needs a pandas Excel engine: {exc}") from None
    except (ValueError, OSError, KeyError) as exc:
        raise LoadError(str(path), f"cannot read the workbook: {exc}") from None
    for index, values in enumerate(frame.itertuples(index=False), start=1):
        yield index, ["" if v is None else str(v) for v in values]


def rows_of(path: Path, *, encoding: str = "utf-8", sheet: str | int = 0) -> Iterator[tuple[int, list[str]]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return _rows_excel(path, sheet)
    return _rows_text(path, "\t" if suffix in (".tsv", ".tab", ".txt") else ",", encoding)


def read_table(path: Path, columns: Columns, *, encoding: str = "utf-8", sheet: str | int = 0) -> list[ImportedCode]:
    file = str(path)
    rows = rows_of(path, encoding=encoding, sheet=sheet)
    try:
        header_line, header = next(rows)
    except StopIteration:
        raise LoadError(file, "the file is empty: expected a header row", line=1) from None
    header = [h.strip() for h in header]
    index: dict[str, int] = {}
    for role, name in columns.chosen().items():
        if name not in header:
            raise LoadError(file, f"no column {name!r} for the {role} (columns are: {', '.join(header)})",
                            line=header_line, field_name=name)
        index[role] = header.index(name)
    extra_columns = [(i, h) for i, h in enumerate(header) if i not in index.values() and h]
    seen: dict[str, int] = {}
    codes: list[ImportedCode] = []
    for line, row in rows:
        if not any(v.strip() for v in row):
            continue
        if len(row) > len(header):
            raise LoadError(file, f"{len(row)} values but the header has {len(header)} columns", line=line)
        values = {role: row[i].strip() if i < len(row) else "" for role, i in index.items()}
        get = values.get
        code, display = values["code"], values["display"]
        if not code:
            raise LoadError(file, "empty local code", line=line, field_name=columns.code)
        warning = None
        if not display:  # still mappable from its units, specimen, category or a search: kept, with a warning
            warning = (f"{file}, line {line}, field {columns.display}: local code {code!r} has an empty name; "
                       "imported (map it from its units, context or a search)")
        if code in seen:
            raise LoadError(file, f"duplicate local code {code!r} (first on line {seen[code]})", line=line,
                            field_name=columns.code)
        seen[code] = line
        count = 0
        raw_count = values.get("count", "")
        if raw_count:
            try:
                count = int(float(raw_count.replace(",", "")))
            except ValueError:
                raise LoadError(file, f"count {raw_count!r} is not a number", line=line,
                                field_name=columns.count) from None
            if count < 0:
                raise LoadError(file, f"count {count} is negative", line=line, field_name=columns.count)
        extra = {name: row[i].strip() for i, name in extra_columns if i < len(row) and row[i].strip()}
        codes.append(ImportedCode(code, display, units=get("units") or None,
                                  specimen=get("specimen") or None, category=get("category") or None, count=count,
                                  extra=extra, source_file=file, warning=warning))
    return codes
