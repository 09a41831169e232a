"""Train the suggestion engine's shipped ranking model (termsvc/workbench/suggest/ranker.json) on every lab gold
set of ../shared/data/mapping-dev (bench/mapping_data.py): LIVD and LabCorp. Deterministic (fixed seed, sorted
inputs): running it again on the same data gives the same trees. bench/mapping_eval.py scores models trained
without the set it scores; this one, trained on all of them, is what ships.

Usage: .venv/bin/python bench/train_suggest_model.py [--data DIR] [--out PATH]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mapping_data import all_items, default_data, loinc_pool
from mapping_eval import BAGS, SYNTHETIC_ITEMS, bagged_model

from termsvc.workbench.suggest.learned import SHIPPED

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--out", type=Path, default=ROOT / "termsvc/workbench/suggest" / SHIPPED)
    args = parser.parse_args()
    started = time.perf_counter()
    pool = loinc_pool(args.data)
    items = [(i.term, i.gold, i.source) for rows in all_items(args.data).values() for i in rows]
    known = {c.code for c in pool}
    items = [i for i in items if i[1] in known]
    model = bagged_model(pool, items, meta={"trained_on": sorted({s for _, _, s in items}), "items": len(items),
                                            "synthetic_items": SYNTHETIC_ITEMS, "bags": BAGS})
    model.save(args.out)
    print(f"{len(items)} items (+{SYNTHETIC_ITEMS} synthetic) x {BAGS} bags, {len(model.document['trees'])} trees -> "
          f"{args.out} ({args.out.stat().st_size // 1024} KB, {model.digest}) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
