"""ECL speed on the full-size synthetic SNOMED CT International release (bench/synth_snomed.py), SQLite and
PostgreSQL, uncached, one client, through the HTTP API (FastAPI TestClient, in process):

- `<< 404684003`: first page of 100 with the total                         target < 50 ms
- `< 404684003 : 363698007 = << X` fully evaluated (every code)            target < 1 s
- `<< 404684003 {{ term = "w" }}`: first page of 100 with the total        target < 200 ms
- membership of one code in an ECL value set ($validate-code)              target < 10 ms

Expansions post the value set inline (`valueSet`), which the expansion cache never keeps, so every request is
evaluated from the closure, relationship and description tables. X is the body structure with 20 to 200
concepts below it that most finding sites name (as 39057004 |Pulmonary valve structure| is in the real release;
the synthetic one has made-up ids below the real top-level concepts); w is a word of a clinical finding's
display. Each figure is the median of --runs requests after one warm-up (the first request also parses the
grammar and fills the OS page cache).

    .venv/bin/python bench/ecl_speed.py --store sqlite:///bench/out/db/ecl_sqlite.db \\
        --store postgresql://user@host/ecl_synth [--runs 7]

A store is made with `termsvc --db URL load snomed bench/out/snomed/SnomedCT_InternationalRF2_*` beforehand."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from termsvc.api.app import create_app  # noqa: E402
from termsvc.settings import Settings  # noqa: E402
from termsvc.store.cache import CACHES  # noqa: E402
from termsvc.store.engine import make_engine  # noqa: E402
from termsvc.valuesets.ecl.compile import ecl_condition  # noqa: E402
from termsvc.valuesets.sql import SqlBuilder  # noqa: E402

SCT = "http://snomed.info/sct"
FINDING, FINDING_SITE = "404684003", "363698007"


def _timed(runs: int, call: Callable[[], Any]) -> tuple[float, Any]:
    result = call()  # warm-up
    seconds = []
    for _ in range(runs):
        for cache in CACHES:  # each request evaluated, not answered from the per-process caches (store.cache)
            cache.clear()
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, result


def _choices(conn: Connection) -> tuple[str, str, str]:
    cs = conn.execute(text("SELECT code_system_id FROM code_system WHERE url = :u AND is_current"), {"u": SCT}).scalar()
    # like 39057004 |Pulmonary valve structure| in the real release: a body structure with a modest subtree that
    # many findings name; here the one with most findings among those with 20 to 200 concepts below them
    site = conn.execute(text(
        "SELECT a.code FROM concept a JOIN concept_property p ON p.code_system_id = a.code_system_id AND p.code = :fs "
        "AND p.value = a.code WHERE a.code_system_id = :cs AND (SELECT COUNT(*) FROM closure k WHERE k.ancestor_id = "
        "a.concept_id) BETWEEN 20 AND 200 GROUP BY a.code ORDER BY COUNT(*) DESC, a.code LIMIT 1"),
        {"cs": cs, "fs": FINDING_SITE}).scalar_one()
    word = conn.execute(text(
        "SELECT c.display FROM concept c JOIN closure k ON k.descendant_id = c.concept_id AND k.ancestor_id = "
        "(SELECT concept_id FROM concept WHERE code_system_id = :cs AND code = :f) WHERE c.active AND c.display "
        "IS NOT NULL ORDER BY c.concept_id LIMIT 1 OFFSET 5000"), {"cs": cs, "f": FINDING}).scalar_one().split()[0]
    member = conn.execute(text(
        "SELECT s.code FROM concept_property p JOIN concept s ON s.concept_id = p.concept_id JOIN concept v ON "
        "v.code_system_id = p.code_system_id AND v.code = p.value JOIN closure k ON k.descendant_id = v.concept_id "
        "AND k.ancestor_id = (SELECT concept_id FROM concept WHERE code_system_id = :cs AND code = :site) "
        "WHERE p.code_system_id = :cs AND p.code = :fs AND s.active ORDER BY s.concept_id LIMIT 1"),
        {"cs": cs, "site": site, "fs": FINDING_SITE}).scalar_one()
    return site, word, member


def _expand(client: TestClient, ecl: str, count: int | None) -> dict[str, Any]:
    value_set = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
        {"system": SCT, "filter": [{"property": "constraint", "op": "=", "value": ecl}]}]}}
    parameters: list[dict[str, Any]] = [{"name": "valueSet", "resource": value_set},
                                        {"name": "excludeNested", "valueBoolean": True}]
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": parameters})
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def _validate(client: TestClient, ecl: str, code: str) -> bool:
    return _validate_url(client, f"{SCT}?fhir_vs=ecl/{quote(ecl, safe='')}", code)


def _validate_url(client: TestClient, url: str, code: str) -> bool:
    response = client.get("/fhir/ValueSet/$validate-code", params={"url": url, "system": SCT, "code": code})
    response.raise_for_status()
    return any(p["name"] == "result" and p["valueBoolean"] for p in response.json()["parameter"])


def _member_sql(engine: Engine, ecl: str, code: str) -> bool:
    """The membership query alone, as $validate-code runs it: the ECL compiled in probe form, one statement."""
    with engine.connect() as conn:
        cs_id, version = conn.execute(text("SELECT code_system_id, version FROM code_system WHERE url = :u AND "
                                           "is_current"), {"u": SCT}).one()
        sql = SqlBuilder(conn.dialect.name, membership=True)
        condition = ecl_condition(conn, sql, cs_id, version, ecl, "c.concept_id")
        return conn.execute(text(f"SELECT 1 FROM concept c WHERE c.code_system_id = :cs AND c.code = :code AND "
                                 f"{condition}"), {**sql.params, "cs": cs_id, "code": code}).first() is not None


def bench(store: str, runs: int) -> None:
    engine = make_engine(store, pool_size=2)
    with engine.connect() as conn:
        site, word, member = _choices(conn)
        concepts = conn.execute(text("SELECT COUNT(*) FROM concept")).scalar_one()
    refined = f"< {FINDING} : {FINDING_SITE} = << {site}"
    engine_name = store.split(":")[0]
    print(f"{engine_name}: {concepts:,} concepts; X = {site}, w = {word!r}, member = {member}", flush=True)
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as client:
        figures = [
            (f"<< {FINDING}, first 100 of", lambda: _expand(client, f"<< {FINDING}", 100), 50),
            (f"{refined}, all", lambda: _expand(client, refined, None), 1000),
            (f'<< {FINDING} {{{{ term = "{word}" }}}}, first 100 of',
             lambda: _expand(client, f'<< {FINDING} {{{{ term = "{word}" }}}}', 100), 200),
            (f"membership query {member} in {refined}", lambda: _member_sql(engine, refined, member), 10),
            (f"$validate-code {member} in {refined}", lambda: _validate(client, refined, member), 10),
            (f"(for scale: $validate-code {member} in ?fhir_vs=isa/{FINDING}, no ECL)",
             lambda: _validate_url(client, f"{SCT}?fhir_vs=isa/{FINDING}", member), 10),
        ]
        for label, call, target in figures:
            ms, result = _timed(runs, call)
            shown = result if isinstance(result, bool) else f"{result['expansion']['total']:,}"
            verdict = "met" if ms < target else "MISSED"
            print(f"  {label} {shown}: {ms:8.1f} ms   (target < {target} ms: {verdict})   "
                  f"[load {os.getloadavg()[0]:.2f}]", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", action="append", required=True, help="a store URL holding the synthetic release")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for store in args.store:
        bench(store, args.runs)
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()} "
          f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
