"""The spreadsheet reader of the workbench (no store): whatever a CSV writer produces comes back unchanged."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from termsvc.workbench.import_table import Columns, read_table

_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_VALUE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=_SURROGATES), min_size=1, max_size=20) \
    .filter(lambda v: v.strip() == v and v.strip() != "" and "\r" not in v and "\x00" not in v)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_VALUE, st.tuples(_VALUE, st.integers(0, 10**9), _VALUE), min_size=1, max_size=8),
       st.sampled_from([",", "\t"]))
def test_what_a_csv_writer_wrote_reads_back(rows: dict[str, tuple[str, int, str]], delimiter: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("codes.csv" if delimiter == "," else "codes.tsv")
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(["id", "name", "n", "note"])
            for code, (name, count, note) in rows.items():
                writer.writerow([code, name, count, note])
        codes = read_table(path, Columns("id", "name", count="n"))
    assert {c.code: (c.display, c.count, c.extra["note"]) for c in codes} == rows
