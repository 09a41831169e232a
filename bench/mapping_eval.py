"""Evaluate the workbench's suggestions on the gold sets in ../shared/data/mapping-dev: top-1/5/10 and MRR for our
ranking and for a plain rapidfuzz baseline (WRatio on the display alone), over candidate pools with distractors.

- LIVD (lab): CDC LIVD vendor analyte name (+ vendor specimen, result description and device model, the context a
  lab has) -> Test Performed LOINC code. Pool: every LOINC term with a name anywhere in ../shared/data (the LOINC
  subset's Loinc.csv, both LIVD tables, LOINC codings in the FHIR packages, OBX-3 LN codes in the HL7 v2 messages).
  Items are the distinct (analyte, specimen, results, model) rows. Split by a hash of the analyte name: "dev"
  (even) is the half looked at while writing rules, "held-out" (odd) was not; both are printed.
- MIMIC (drugs): local drug string -> RxNorm concept name; pool: every target name in the set.

Usage: .venv/bin/python bench/mapping_eval.py [--data DIR] [--errors N]"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import tarfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import fuzz, process

from termsvc.workbench.suggest import Candidate, LocalTerm, TargetIndex

LOINC = "http://loinc.org"
_TERM = re.compile(r"^\d{1,7}-\d$")
_LOINC_AXES = {"PROPERTY", "SYSTEM", "SCALE_TYP", "METHOD_TYP", "CLASS", "COMMON_TEST_RANK", "STATUS"}


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def _walk_codings(node: Any, system: str | None = None) -> Iterator[tuple[str, str]]:
    """(code, display) of every LOINC coding or ValueSet concept in a FHIR resource."""
    if isinstance(node, dict):
        here = node.get("system", system)
        if here == LOINC and isinstance(node.get("code"), str) and isinstance(node.get("display"), str):
            yield node["code"], node["display"]
        for key, value in node.items():
            yield from _walk_codings(value, here if key in {"concept", "contains"} else None)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_codings(item, system)


def loinc_pool(data: Path) -> list[Candidate]:
    names: dict[str, str] = {}
    rich: dict[str, Candidate] = {}
    for table in data.glob("loinc/**/Loinc.csv"):
        for row in _csv_rows(table):
            code, display = row["LOINC_NUM"], row.get("LONG_COMMON_NAME", "")
            props = {k: (row[k],) for k in _LOINC_AXES if row.get(k)}
            designations = tuple(v for v in (row.get("SHORTNAME"), row.get("DisplayName"), row.get("CONSUMER_NAME"),
                                             row.get("RELATEDNAMES2")) if v)
            rich[code] = Candidate(code, display, designations, props, row.get("STATUS", "") != "DEPRECATED")
    for livd in data.glob("**/LIVD-SARS-CoV-2.csv"):
        for row in _csv_rows(livd):
            for code_col, name_col in (("Test Performed LOINC Code", "Test Performed LOINC Long Name"),
                                       ("Test Ordered LOINC Code", "Test Ordered LOINC Long Name")):
                code, name = row.get(code_col, "").strip(), row.get(name_col, "").strip()
                if _TERM.match(code) and name:
                    names.setdefault(code, name)
    for package in data.glob("fhir-packages/*.tgz"):
        with tarfile.open(package) as archive:
            for member in archive:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                try:
                    resource = json.load(handle)
                except ValueError:
                    continue
                for code, display in _walk_codings(resource):
                    if _TERM.match(code):
                        names.setdefault(code, display)
    for message in data.glob("hl7v2/**/*.hl7"):
        text = message.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"(?:^|\r|\n)OBX\|[^|]*\|[^|]*\|([^|^]+)\^([^|^]+)\^LN", text):
            if _TERM.match(match.group(1)):
                names.setdefault(match.group(1), match.group(2))
    pool = dict(rich)
    for code, name in names.items():
        pool.setdefault(code, Candidate(code, name))
    return list(pool.values())


def _clean_specimen(text: str) -> str:
    return re.sub(r"\([^)]*\^[^)]*\)", " ", text)  # drop the SNOMED CT codes a vendor appended


def livd_items(data: Path) -> list[tuple[LocalTerm, str, str]]:
    """(local term, gold code, split) per distinct vendor row."""
    seen: set[tuple[str, ...]] = set()
    out: list[tuple[LocalTerm, str, str]] = []
    for row in _csv_rows(data / "mapping-dev/cdc_livd/LIVD-SARS-CoV-2.csv"):
        name, gold = row["Vendor Analyte Name"].strip(), row["Test Performed LOINC Code"].strip()
        if not name or not _TERM.match(gold):
            continue
        key = (name, row["Vendor Specimen Description"], row["Vendor Result Description"], row["Model"], gold)
        if key in seen:
            continue
        seen.add(key)
        split = "dev" if int(hashlib.sha1(name.encode()).hexdigest(), 16) % 2 == 0 else "held-out"
        term = LocalTerm(name, name, specimen=_clean_specimen(row["Vendor Specimen Description"]),
                         extra={"result": _clean_specimen(row["Vendor Result Description"]), "device": row["Model"]})
        out.append((term, gold, split))
    return out


def mimic_items(data: Path) -> tuple[list[tuple[LocalTerm, str, str]], list[Candidate]]:
    items: list[tuple[LocalTerm, str, str]] = []
    targets: dict[str, str] = {}
    for row in _csv_rows(data / "mapping-dev/ohdsi_mimic_drugs/gcpt_drug_ndc.csv"):
        local, target = row["concept_code"].strip(), row["concept_name"].strip()
        if not local or not target:
            continue
        code = row["target_concept_id"].strip() or target
        targets.setdefault(code, target)
        split = "dev" if int(hashlib.sha1(local.encode()).hexdigest(), 16) % 2 == 0 else "held-out"
        items.append((LocalTerm(local, local), code, split))
    return items, [Candidate(code, name) for code, name in targets.items()]


class Tally:
    def __init__(self) -> None:
        self.n = 0
        self.hits = {1: 0, 5: 0, 10: 0}
        self.rr = 0.0

    def add(self, ranked: list[str], gold: str) -> int | None:
        self.n += 1
        rank = ranked.index(gold) + 1 if gold in ranked else None
        if rank is not None:
            self.rr += 1.0 / rank
            for k in self.hits:
                if rank <= k:
                    self.hits[k] += 1
        return rank

    def line(self, label: str) -> str:
        if not self.n:
            return f"{label:<34} (no items)"
        pct = {k: 100.0 * v / self.n for k, v in self.hits.items()}
        return (f"{label:<34} n={self.n:<5} top1={pct[1]:5.1f}%  top5={pct[5]:5.1f}%  top10={pct[10]:5.1f}%  "
                f"MRR={self.rr / self.n:.3f}")


def evaluate(title: str, items: list[tuple[LocalTerm, str, str]], pool: list[Candidate], *, drug: bool,
             errors: int) -> None:
    started = time.perf_counter()
    index = TargetIndex.from_candidates(pool, local_names=[t.display for t, _, _ in items], drug=drug)
    built = time.perf_counter() - started
    displays = [c.display for c in pool]
    codes = [c.code for c in pool]
    ours: dict[str, Tally] = {"dev": Tally(), "held-out": Tally(), "all": Tally()}
    base: dict[str, Tally] = {"dev": Tally(), "held-out": Tally(), "all": Tally()}
    misses: list[tuple[str, str, str, list[str]]] = []
    by_code = {c.code: c.display for c in pool}
    started = time.perf_counter()
    for term, gold, split in items:
        ranked = [s.target_code for s in index.suggest(term, top=10)]
        for key in (split, "all"):
            rank = ours[key].add(ranked, gold)
        if rank is None or rank > 5:
            misses.append((split, term.display, by_code.get(gold, "?"), [by_code[c] for c in ranked[:3]]))
        found = process.extract(term.display, displays, scorer=fuzz.WRatio, limit=10)
        base_ranked = [codes[i] for _, _, i in found]
        for key in (split, "all"):
            base[key].add(base_ranked, gold)
    elapsed = time.perf_counter() - started
    print(f"\n== {title}: {len(items)} items, pool {len(pool)} candidates "
          f"(index {built:.1f} s, {1000 * elapsed / max(1, len(items)):.1f} ms per item incl. baseline)")
    for key in ("dev", "held-out", "all"):
        print(ours[key].line(f"ours [{key}]"))
    for key in ("dev", "held-out", "all"):
        print(base[key].line(f"rapidfuzz WRatio baseline [{key}]"))
    gold_in_pool = sum(1 for _, gold, _ in items if gold in by_code)
    print(f"gold code in pool: {gold_in_pool}/{len(items)}")
    for split, local, gold_name, top3 in [m for m in misses if m[0] == "dev"][:errors]:
        print(f"  miss@5 [{split}] {local!r}\n      gold: {gold_name}\n      ours: {' | '.join(top3)}")


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    parser.add_argument("--errors", type=int, default=0, help="print this many misses of the dev split (error analysis)")
    parser.add_argument("--only", choices=("livd", "mimic"), default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    data: Path = args.data
    if not data.exists():
        data = Path("/work/shared/data")
    if args.only in (None, "livd"):
        evaluate("LIVD vendor names -> LOINC", livd_items(data), loinc_pool(data), drug=False, errors=args.errors)
    if args.only in (None, "mimic"):
        items, pool = mimic_items(data)
        evaluate("MIMIC drug strings -> RxNorm names", items, pool, drug=True, errors=args.errors)


if __name__ == "__main__":
    main()
