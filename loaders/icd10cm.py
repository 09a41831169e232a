"""`termsvc load icd10cm PATH`: the CDC/CMS tabular XML, or the CMS order file, told apart by content.

Options: `order_file=PATH` cross-checks a tabular load against an order file (disagreements go to the
log and to the load run's counts, the load itself goes ahead); `version=` names the release year of an
order file whose name does not carry it, and for the tabular must match its <version>."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress, sha256_of
from termsvc.loaders.icd10cm_order import cross_check, load_order_file, looks_like_order_file
from termsvc.loaders.icd10cm_tabular import read_tabular
from termsvc.store.loadrun import LoadRun

_SNIFF_BYTES = 4096


def sniff(path: Path) -> str:
    """`tabular` or `order`, from the first bytes; anything else is a LoadError."""
    name = str(path)
    if not path.is_file():
        raise LoadError(name, "not a file: give the tabular XML (icd10cm_tabular_YYYY.xml) or the order file")
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise LoadError(name, "the file is empty", line=1)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "tabular"
    first = text.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    if looks_like_order_file(first):
        return "order"
    raise LoadError(name, "neither ICD-10-CM tabular XML nor a CMS order file (fixed-width: order number, "
                          "code, 0/1 flag, short and long description)", line=1)


def load(run: LoadRun, path: Path, progress: Progress, *, current: bool | None = None,
         order_file: str | Path | None = None, version: str | None = None, **options: Any) -> None:
    if options:
        raise LoadError(str(path), f"unknown icd10cm load option(s): {', '.join(sorted(options))}")
    kind = sniff(path)
    run.checksums[path.name] = sha256_of(path)
    if kind == "order":
        with run.timed("order-file"):
            load_order_file(run, path, progress, current=current, version=version)
        return
    with run.timed("tabular"):
        loaded = read_tabular(run, path, progress, current=current, version=version,
                              collect=order_file is not None)
    if order_file is not None:
        order_path = Path(order_file)
        run.checksums[order_path.name] = sha256_of(order_path)
        with run.timed("order-file-check"):
            run.counts.update(cross_check(loaded.codes, order_path, progress).counts())
