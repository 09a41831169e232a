"""Stored expansions (termsvc.ops.expansion_cache) through ValueSet/$expand over HTTP, on SQLite and PostgreSQL:
a large value set is kept after its first expansion and later pages, filters and totals come from the kept rows
with the same answers; a reload of a code system it uses replaces it; small and inline value sets are not kept;
a failed build keeps nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.ops.expansion_cache import MIN_KEPT, store
from termsvc.settings import Settings
from termsvc.store.loadrun import load_run
from termsvc.valuesets.compose import Compiled

SYSTEM = "http://example.org/cs/organisms"
BIG_VS = "http://example.org/vs/bacteria"
SMALL_VS = "http://example.org/vs/fungi"
SIZE = MIN_KEPT + 300
WORDS = ("coccus", "bacillus", "spirillum", "vibrio")


def _load(engine: Engine, size: int = SIZE, *, replace: bool = False) -> None:
    with load_run(engine, "test", "organisms", replace=replace) as run:
        cs = run.code_system({"url": SYSTEM, "version": "1", "content": "complete"})
        cs.add_concept("bacteria", "Bacteria")
        cs.add_concept("fungi", "Fungi")
        for n in range(size):
            # names that share words, so a text filter matches at the start, inside and not at all
            cs.add_concept(f"b{n:05d}", f"{WORDS[n % 4].title()} strain {n}", active=n % 9 != 0)
            cs.add_edge("bacteria", f"b{n:05d}")
            if n % 100 == 0:
                cs.add_designation(f"b{n:05d}", f"Keimstamm {n}", language="de")
        for n in range(20):
            cs.add_concept(f"f{n:03d}", f"Mould {n}")
            cs.add_edge("fungi", f"f{n:03d}")
        cs.finish()
        run.value_set(_value_set(BIG_VS, "bacteria"))
        run.value_set(_value_set(SMALL_VS, "fungi"))


def _value_set(url: str, root: str) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": url, "version": "1", "name": "VS", "status": "active",
            "compose": {"include": [{"system": SYSTEM, "filter": [{"property": "concept", "op": "descendent-of",
                                                                    "value": root}]}]}}


@pytest.fixture
def client(engine: Engine, store_url: str) -> Iterator[TestClient]:
    _load(engine)
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as test_client:
        yield test_client


def _expand(client: TestClient, url: str = BIG_VS, **params: str) -> dict[str, Any]:
    response = client.get("/fhir/ValueSet/$expand", params={"url": url, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _inline(client: TestClient, **params: str) -> dict[str, Any]:
    """The same value set sent inline: never kept, so it is the answer computed without the store."""
    parameters: list[dict[str, Any]] = [{"name": "valueSet", "resource": _value_set(BIG_VS, "bacteria")}]
    parameters += [{"name": k, "valueString": v} for k, v in params.items()]
    response = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": parameters})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _codes(body: dict[str, Any]) -> list[str]:
    return [entry["code"] for entry in body["expansion"].get("contains", [])]


def _kept(engine: Engine, url: str = BIG_VS) -> list[tuple[int, int, bool, int]]:
    """(expansion_id, total, kept, entry rows) of the stored expansions of `url`."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT x.expansion_id, x.total, x.kept, (SELECT COUNT(*) FROM expansion_entry e "
                                 "WHERE e.expansion_id = x.expansion_id) FROM expansion x WHERE x.value_set_url = :u"),
                            {"u": url}).all()
    return [(int(r[0]), int(r[1]), bool(r[2]), int(r[3])) for r in rows]


def test_a_large_value_set_is_kept_after_its_first_expansion(client: TestClient, engine: Engine) -> None:
    assert _kept(engine) == []
    _expand(client, count="10")
    [(_, total, kept, rows)] = _kept(engine)
    assert (total, kept, rows) == (SIZE, True, SIZE)


def test_pages_from_the_kept_rows_equal_the_computed_pages_at_any_offset(client: TestClient) -> None:
    _expand(client, count="1")
    for offset in ("0", "1", "777", str(SIZE - 50), str(SIZE)):
        kept = _expand(client, offset=offset, count="100")
        assert kept["expansion"]["total"] == SIZE
        assert kept["expansion"]["offset"] == int(offset)
        assert _codes(kept) == _codes(_inline(client, offset=offset, count="100"))


def test_a_text_filter_is_answered_from_the_kept_rows_in_relevance_order(client: TestClient) -> None:
    _expand(client, count="1")
    for words in ("vibrio", "strain 12", "COCCUS STR", "keimstamm", "nothing-like-this"):
        kept = _expand(client, filter=words, count="50", offset="3")
        computed = _inline(client, filter=words, count="50", offset="3")
        assert kept["expansion"]["total"] == computed["expansion"]["total"]
        assert _codes(kept) == _codes(computed)
    assert _expand(client, filter="keimstamm", count="0")["expansion"]["total"] == len(range(0, SIZE, 100))


def test_active_only_is_answered_from_the_kept_rows(client: TestClient) -> None:
    _expand(client, count="1")
    kept = _expand(client, activeOnly="true", offset="200", count="100")
    computed = _inline(client, activeOnly="true", offset="200", count="100")
    assert kept["expansion"]["total"] == computed["expansion"]["total"] == SIZE - len(range(0, SIZE, 9))
    assert _codes(kept) == _codes(computed)


def test_reloading_a_code_system_it_uses_replaces_the_kept_expansion(client: TestClient, engine: Engine) -> None:
    _expand(client, count="1")
    _load(engine, SIZE + 25, replace=True)
    body = _expand(client, offset=str(SIZE), count="100")
    assert body["expansion"]["total"] == SIZE + 25
    assert len(_codes(body)) == 25
    # the old expansion is gone, the new one kept in its place
    [(_, total, kept, rows)] = _kept(engine)
    assert (total, kept, rows) == (SIZE + 25, True, SIZE + 25)
    # and the next request reads the new rows
    assert _codes(_expand(client, offset=str(SIZE), count="100")) == _codes(body)


def test_a_small_value_set_is_recorded_as_small_and_keeps_no_rows(client: TestClient, engine: Engine) -> None:
    first = _expand(client, SMALL_VS)
    second = _expand(client, SMALL_VS)
    assert _codes(first) == _codes(second) and second["expansion"]["total"] == 20
    [(_, total, kept, rows)] = _kept(engine, SMALL_VS)
    assert (total, kept, rows) == (20, False, 0)


def test_an_inline_value_set_is_never_kept(client: TestClient, engine: Engine) -> None:
    _inline(client, count="10")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM expansion")).scalar_one() == 0


def test_a_failed_build_keeps_nothing(client: TestClient, engine: Engine) -> None:
    broken = Compiled("c.code_system_id = :p0 AND c.no_such_column = 1", {"p0": 1})
    with pytest.raises(Exception, match="no_such_column"):
        store(engine, "key", [[1, 1]], _value_set(BIG_VS, "bacteria"), broken)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM expansion")).scalar_one() == 0


def test_a_build_that_finds_the_expansion_already_kept_uses_it(client: TestClient, engine: Engine) -> None:
    _expand(client, count="1")
    with engine.connect() as conn:
        key = str(conn.execute(text("SELECT cache_key FROM expansion")).scalar_one())
    [(expansion_id, total, _, _)] = _kept(engine)
    # as a second process that missed it a moment before would: it must not build (or replace) it again
    never_run = Compiled("c.no_such_column = 1", {})
    again = store(engine, key, [], _value_set(BIG_VS, "bacteria"), never_run)
    assert again is not None and (again.expansion_id, again.total, again.kept) == (expansion_id, total, True)
    assert len(_kept(engine)) == 1
