"""ECL on two small genuine RF2 editions (snowstorm's MiniCT 20180731 and the snowstorm-lite MiniRF2 sample), both
engines: hierarchy operators from every concept, member-of every refset, every attribute type, and term
filters, each against the answer read straight from the release files (tests/ecl_oracle.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ecl_oracle import Release, read
from sqlalchemy import Engine, text

from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from termsvc.valuesets.ecl.compile import ecl_condition
from termsvc.valuesets.sql import SqlBuilder

REPO = Path(__file__).resolve().parent.parent
EDITIONS = {"MiniCT": (REPO.parent / "shared" / "data" / "snomed" / "snowstorm-MiniCT_INT_20180731" / "MiniCT" /
                       "RF2Release", True),
            "MiniRF2": (REPO / "data-samples" / "snomed" / "SnomedCT_MiniRF2", False)}


@pytest.fixture(scope="module", params=[(e, engine) for e in EDITIONS for engine in ("sqlite", "postgresql")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def edition(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[tuple[Engine, Release]]:
    name, engine_name = request.param
    path, strict = EDITIONS[name]
    if not path.exists():
        pytest.skip(f"{path} is not present")
    engine = make_engine(new_store_url(engine_name), pool_size=2)
    run_load(engine, "snomed", path, strict=strict)
    yield engine, read(path)
    engine.dispose()


def evaluate(engine: Engine, ecl: str) -> set[str]:
    """By the set form and, checked equal, the probe form."""
    answers = []
    with engine.connect() as conn:
        cs_id, version = conn.execute(text("SELECT code_system_id, version FROM code_system WHERE url = "
                                           "'http://snomed.info/sct'")).one()
        for membership in (False, True):
            sql = SqlBuilder(conn.dialect.name, membership=membership)
            condition = ecl_condition(conn, sql, cs_id, version, ecl, "c.concept_id")
            rows = conn.execute(text(f"SELECT c.code FROM concept c WHERE c.code_system_id = {int(cs_id)} AND "
                                     f"{condition}"), sql.params).all()
            answers.append({r[0] for r in rows})
    assert answers[0] == answers[1], ecl
    return answers[0]


def test_hierarchy_operators_from_every_concept(edition: tuple[Engine, Release]) -> None:
    engine, release = edition
    for code in sorted(release.active):
        below = release.descendants(code)
        assert evaluate(engine, f"<< {code}") == below | {code}, code
        assert evaluate(engine, f"< {code}") == below, code
        assert evaluate(engine, f">> {code}") == release.ancestors(code) | {code}, code
        assert evaluate(engine, f"<! {code}") == {c for c, parents in release.parents.items() if code in parents}


def test_member_of_every_refset(edition: tuple[Engine, Release]) -> None:
    engine, release = edition
    assert release.members
    for refset, members in release.members.items():
        assert evaluate(engine, f"^ {refset}") == members, refset


def test_every_attribute_type(edition: tuple[Engine, Release]) -> None:
    engine, release = edition
    for attribute in sorted({t for _, t, _, _ in release.rels}):
        assert evaluate(engine, f"* : {attribute} = *") == {s for s, t, _, _ in release.rels if t == attribute}
        assert evaluate(engine, f"* . {attribute}") == \
            {d for s, t, d, _ in release.rels if t == attribute and release.active[s] and d in release.active}


def test_term_filters_on_words_of_the_release(edition: tuple[Engine, Release]) -> None:
    engine, release = edition
    active = {c for c, a in release.active.items() if a}
    words = sorted({w.lower() for d in release.descriptions for w in re.findall(r"[A-Za-z]{4,}", d["term"])})[::7]
    for word in words:
        expected = {d["conceptId"] for d in release.descriptions
                    if any(w.startswith(word) for w in d["term"].lower().split())} & active
        assert evaluate(engine, f'* {{{{ term = "{word}" }}}}') == expected, word
