"""ECL evaluated as SQL on both engines, each construct against the answer computed in plain Python from the
fixture's RF2 rows (tests/ecl_oracle.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from ecl_oracle import FIXTURE, read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from termsvc.errors import Invalid, NotSupported
from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from termsvc.valuesets.ecl.compile import ecl_condition
from termsvc.valuesets.sql import SqlBuilder

R = read()
FINDING, DISEASE, HEART_DISEASE, MI, AMI = "404684003", "64572001", "56265001", "22298006", "57054005"
FINDING_SITE, MORPHOLOGY, HEART, PULMONARY_VALVE, INFARCT = "363698007", "116676008", "80891009", "39057004", "55641003"
STRENGTH, COUNT, COLOUR = "1142135004", "1142139005", "99002003"
SIMPLE_REFSET, SAME_AS, POSSIBLY_EQUIVALENT = "99001005", "900000000000527005", "900000000000523009"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(new_store_url(request.param), pool_size=2)
    run_load(engine, "snomed", FIXTURE)
    yield engine
    engine.dispose()


def evaluate(engine: Engine, ecl: str, code: str | None = None) -> set[str]:
    """The concepts the ECL selects, by the set form (expansions) and, checked equal, the probe form
    (membership of one code)."""
    answers = []
    with engine.connect() as conn:
        cs_id, version = conn.execute(text("SELECT code_system_id, version FROM code_system WHERE url = "
                                           "'http://snomed.info/sct'")).one()
        for membership in (False, True):
            sql = SqlBuilder(conn.dialect.name, membership=membership)
            condition = ecl_condition(conn, sql, cs_id, version, ecl, "c.concept_id")
            one = " AND c.code = :one" if code else ""
            rows = conn.execute(text(f"SELECT c.code FROM concept c WHERE c.code_system_id = {int(cs_id)}{one} AND "
                                     f"{condition}"), {**sql.params, "one": code}).all()
            answers.append({r[0] for r in rows})
    assert answers[0] == answers[1], ecl
    return answers[0]


def test_descendants_and_self(store: Engine) -> None:
    assert evaluate(store, f"<< {FINDING}") == R.descendants(FINDING) | {FINDING}


def test_descendants(store: Engine) -> None:
    assert evaluate(store, f"< {FINDING} |Clinical finding|") == R.descendants(FINDING)


def test_children_and_children_or_self(store: Engine) -> None:
    children = {c for c, parents in R.parents.items() if DISEASE in parents}
    assert evaluate(store, f"<! {DISEASE}") == children
    assert evaluate(store, f"<<! {DISEASE}") == children | {DISEASE}


def test_ancestors_parents_and_self(store: Engine) -> None:
    assert evaluate(store, f"> {AMI}") == R.ancestors(AMI)
    assert evaluate(store, f">> {AMI}") == R.ancestors(AMI) | {AMI}
    assert evaluate(store, f">! {AMI}") == R.parents[AMI]
    assert evaluate(store, f">>! {AMI}") == R.parents[AMI] | {AMI}


def test_top_and_bottom_of_a_set(store: Engine) -> None:
    members = R.descendants(DISEASE) | {DISEASE}
    assert evaluate(store, f"!!> (<< {DISEASE})") == {c for c in members if not (R.ancestors(c) & members)}
    assert evaluate(store, f"!!< (<< {DISEASE})") == {c for c in members if not (R.descendants(c) & members)}


def test_wildcard_is_every_active_concept(store: Engine) -> None:
    assert evaluate(store, "*") == {c for c, active in R.active.items() if active}
    assert evaluate(store, "* {{ C active = false }}") == {c for c, active in R.active.items() if not active}


def test_member_of_simple_and_association_refsets(store: Engine) -> None:
    assert evaluate(store, f"^ {SIMPLE_REFSET}") == R.members[SIMPLE_REFSET]
    assert evaluate(store, f"^ {SAME_AS}") == {m for r, m, _ in R.associations if r == SAME_AS}


def test_and_or_minus(store: Engine) -> None:
    disease, refset = R.descendants(DISEASE) | {DISEASE}, R.members[SIMPLE_REFSET]
    assert evaluate(store, f"<< {DISEASE} AND ^ {SIMPLE_REFSET}") == disease & refset
    assert evaluate(store, f"<< {DISEASE} , ^ {SIMPLE_REFSET}") == disease & refset
    assert evaluate(store, f"<< {DISEASE} OR ^ {SIMPLE_REFSET}") == disease | refset
    assert evaluate(store, f"<< {DISEASE} MINUS ^ {SIMPLE_REFSET}") == disease - refset
    assert evaluate(store, f"(<< {DISEASE} MINUS {MI}) OR ({AMI} AND ^ {SIMPLE_REFSET})") == (disease - {MI}) | {AMI}


def _with(attribute: str, values: set[str], source: set[str] | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s, t, d, _ in R.rels:
        if t == attribute and d in values and (source is None or s in source):
            counts[s] = counts.get(s, 0) + 1
    return counts


def test_refinement_attribute_with_a_hierarchy_value(store: Engine) -> None:
    heart = R.descendants(HEART) | {HEART}
    expected = set(_with(FINDING_SITE, heart)) & R.descendants(FINDING)
    assert evaluate(store, f"< {FINDING} : {FINDING_SITE} = << {HEART}") == expected


def test_refinement_not_equal_value(store: Engine) -> None:
    expected = {s for s, t, d, _ in R.rels if t == FINDING_SITE and d != HEART}
    assert evaluate(store, f"* : {FINDING_SITE} != {HEART}") == expected


def test_cardinality_counts_the_matching_relationships(store: Engine) -> None:
    findings = R.descendants(FINDING) | {FINDING}
    counts = _with(FINDING_SITE, R.all(), findings)
    assert evaluate(store, f"<< {FINDING} : [2..2] {FINDING_SITE} = *") == {c for c, n in counts.items() if n == 2}
    assert evaluate(store, f"<< {FINDING} : [1..1] {FINDING_SITE} = *") == {c for c, n in counts.items() if n == 1}
    assert evaluate(store, f"<< {FINDING} : [0..0] {FINDING_SITE} = *") == findings - set(counts)
    assert evaluate(store, f"<< {FINDING} : [0..*] {FINDING_SITE} = *") == findings


def _groups(source: str) -> list[set[tuple[str, str]]]:
    """A concept's relationship groups; group 0 (ungrouped) is not a group."""
    grouped: dict[int, set[tuple[str, str]]] = {}
    for s, t, d, g in R.rels:
        if s == source and g > 0:
            grouped.setdefault(g, set()).add((t, d))
    return list(grouped.values())


def test_attribute_group_keeps_attributes_together(store: Engine) -> None:
    def together(site: str, morphology: str) -> set[str]:
        return {c for c in R.all() if any({(FINDING_SITE, site), (MORPHOLOGY, morphology)} <= g for g in _groups(c))}
    assert evaluate(store, f"* : {{ {FINDING_SITE} = {PULMONARY_VALVE}, {MORPHOLOGY} = {INFARCT} }}") == \
        together(PULMONARY_VALVE, INFARCT) == set()
    assert evaluate(store, f"* : {{ {FINDING_SITE} = {HEART}, {MORPHOLOGY} = {INFARCT} }}") == together(HEART, INFARCT)
    # without the group the two attributes may come from different groups
    assert evaluate(store, f"* : {FINDING_SITE} = {PULMONARY_VALVE}, {MORPHOLOGY} = {INFARCT}") == {AMI}
    # an ungrouped (group 0) relationship is in no group
    assert evaluate(store, f"{HEART_DISEASE} : {FINDING_SITE} = {HEART}") == {HEART_DISEASE}
    assert evaluate(store, f"{HEART_DISEASE} : {{ {FINDING_SITE} = {HEART} }}") == set()


def test_group_cardinality_counts_groups(store: Engine) -> None:
    with_site = {c: sum(1 for g in _groups(c) if any(t == FINDING_SITE for t, _ in g)) for c in R.all()}
    assert evaluate(store, f"* : [2..*] {{ {FINDING_SITE} = * }}") == {c for c, n in with_site.items() if n >= 2}
    assert evaluate(store, f"<< {FINDING} : [0..0] {{ {FINDING_SITE} = * }}") == \
        {c for c in R.descendants(FINDING) | {FINDING} if with_site[c] == 0}


def test_reverse_attribute_gives_the_values(store: Engine) -> None:
    sources = R.descendants(FINDING)
    assert evaluate(store, f"* : R {FINDING_SITE} = < {FINDING}") == \
        {d for s, t, d, _ in R.rels if t == FINDING_SITE and s in sources}


def test_dotted_attribute_gives_the_values(store: Engine) -> None:
    sources = R.descendants(DISEASE)
    assert evaluate(store, f"< {DISEASE} . {FINDING_SITE}") == {d for s, t, d, _ in R.rels if t == FINDING_SITE and s in sources}
    assert evaluate(store, f"< {DISEASE} . {FINDING_SITE} . {FINDING_SITE}") == set()


def _concrete(attribute: str, test: Callable[[str], bool]) -> set[str]:
    return {s for s, t, v, _ in R.rels if t == attribute and test(v)}


@pytest.mark.parametrize(("op", "number"), [("=", "500"), ("!=", "500"), (">", "300"), (">=", "250.5"), ("<", "250.5"),
                                            ("<=", "500")])
def test_concrete_numeric_comparisons(store: Engine, op: str, number: str) -> None:
    compare = {"=": lambda x, y: x == y, "!=": lambda x, y: x != y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
               "<": lambda x, y: x < y, "<=": lambda x, y: x <= y}[op]
    expected = _concrete(STRENGTH, lambda v: v.startswith("#") and compare(Decimal(v[1:]), Decimal(number)))
    assert evaluate(store, f"* : {STRENGTH} {op} #{number}") == expected


def test_concrete_string_comparisons(store: Engine) -> None:
    assert evaluate(store, f'* : {COLOUR} = "white"') == _concrete(COLOUR, lambda v: v == '"white"')
    assert evaluate(store, f'* : {COLOUR} != "white"') == _concrete(COLOUR, lambda v: v != '"white"')
    assert evaluate(store, f'* : {COLOUR} = wild:"pale*"') == _concrete(COLOUR, lambda v: v.startswith('"pale'))


ACTIVE = {c for c, active in R.active.items() if active}


def _described(test: Callable[[dict[str, str]], bool]) -> set[str]:
    """Active concepts (`*`) with an active description passing the test."""
    return {d["conceptId"] for d in R.descriptions if d["active"] == "1" and test(d)} & ACTIVE


def _words_match(term: str, search: str) -> bool:
    words = re.split(r"\s+", term.lower())
    return all(any(w.startswith(s) for w in words) for s in search.lower().split())


def test_term_filter_matches_word_prefixes(store: Engine) -> None:
    expected = _described(lambda d: _words_match(d["term"], "heart att")) & (R.descendants(FINDING) | {FINDING})
    assert expected == {MI}
    assert evaluate(store, f'<< {FINDING} {{{{ term = "heart att" }}}}') == expected


def test_term_filter_wild_and_sets(store: Engine) -> None:
    wild = _described(lambda d: re.fullmatch("acute.*infarction", d["term"].lower()) is not None)
    assert evaluate(store, '* {{ term = wild:"acute*infarction" }}') == wild
    either = _described(lambda d: _words_match(d["term"], "infarct") or _words_match(d["term"], "cardiac"))
    assert evaluate(store, '* {{ term = ("infarct" "cardiac") }}') == either


# words of the fixture's descriptions (active and inactive), cut to a prefix and recased below
_TERM_WORDS = sorted({w for d in R.descriptions for w in d["term"].split()})


@st.composite
def _search_texts(draw: st.DrawFn) -> str:
    picked = draw(st.lists(st.sampled_from(_TERM_WORDS), min_size=1, max_size=3))
    cut = [w[:draw(st.integers(1, len(w)))] for w in picked]
    return " ".join(w.upper() if draw(st.booleans()) else w for w in cut if '"' not in w and "\\" not in w)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_search_texts())
def test_term_filter_answers_as_the_definition_whatever_the_words(store: Engine, search: str) -> None:
    # the expansion is led by the designation word index where it can be; the answer is that of the definition
    if not search.split():
        return
    assert evaluate(store, f'* {{{{ term = "{search}" }}}}') == _described(lambda d: _words_match(d["term"], search))
    head = search.split()[0]
    assert evaluate(store, f'* {{{{ term = wild:"{head}*" }}}}') == \
        _described(lambda d: d["term"].lower().startswith(head.lower()))


def test_inactive_descriptions_are_not_searched(store: Engine) -> None:
    assert evaluate(store, '* {{ term = "coronary thrombosis" }}') == set()


def test_language_and_type_filters(store: Engine) -> None:
    assert evaluate(store, '* {{ language = es }}') == _described(lambda d: d["languageCode"] == "es")
    assert evaluate(store, '* {{ term = "heart", type = fsn }}') == \
        _described(lambda d: _words_match(d["term"], "heart") and d["typeId"] == "900000000000003001")
    assert evaluate(store, '* {{ term = "heart", typeId = 900000000000013009 }}') == \
        _described(lambda d: _words_match(d["term"], "heart") and d["typeId"] == "900000000000013009")


def _in_dialect(refset: str, acceptability: str | None) -> Callable[[dict[str, str]], bool]:
    def test(d: dict[str, str]) -> bool:
        found = R.acceptability.get((d["id"], refset))
        return found is not None and (acceptability is None or found == acceptability)
    return test


def test_dialect_filters_with_acceptability(store: Engine) -> None:
    gb, us, preferred = "900000000000508004", "900000000000509007", "900000000000548007"
    assert evaluate(store, '* {{ term = "cardiac", dialect = en-gb (prefer) }}') == \
        _described(lambda d: _words_match(d["term"], "cardiac") and _in_dialect(gb, preferred)(d))
    assert evaluate(store, '* {{ term = "cardiac", dialectId = 900000000000509007 (prefer) }}') == \
        _described(lambda d: _words_match(d["term"], "cardiac") and _in_dialect(us, preferred)(d))
    assert evaluate(store, '* {{ term = "infarction of", dialect = en-gb }}') == set()
    assert evaluate(store, '* {{ term = "infarction of", dialect = en-us }}') == {MI}


def test_concept_filters(store: Engine) -> None:
    assert evaluate(store, "* {{ C definitionStatus = defined }}") == {c for c, f in R.defined.items() if f} & ACTIVE
    assert evaluate(store, "* {{ C definitionStatusId = 900000000000074008 }}") == \
        {c for c, f in R.defined.items() if not f} & ACTIVE
    assert evaluate(store, '* {{ C effectiveTime >= "20230101" }}') == \
        {c for c, t in R.effective.items() if t >= "20230101"} & ACTIVE
    assert evaluate(store, "* {{ C moduleId = 900000000000012004 }}") == \
        evaluate(store, "* MINUS * {{ C moduleId = 900000000000207008 }}")


def test_member_filter_on_association_target(store: Engine) -> None:
    assert evaluate(store, f"^ {POSSIBLY_EQUIVALENT} {{{{ M targetComponentId = {MI} }}}}") == \
        {m for r, m, t in R.associations if r == POSSIBLY_EQUIVALENT and t == MI}


@pytest.mark.parametrize(("profile", "refsets"), [
    ("-MIN", {SAME_AS}), ("-MOD", {SAME_AS, "900000000000526001", "900000000000528000"}),
    ("-MAX", {SAME_AS, "900000000000526001", "900000000000528000", POSSIBLY_EQUIVALENT}),
    ("", {SAME_AS, "900000000000526001", "900000000000528000", POSSIBLY_EQUIVALENT})])
def test_history_supplements_follow_the_profile_associations(store: Engine, profile: str, refsets: set[str]) -> None:
    base = R.descendants(DISEASE) | {DISEASE}
    expected = base | {m for r, m, t in R.associations if r in refsets and t in base}
    assert evaluate(store, f"<< {DISEASE} {{{{ +HISTORY{profile} }}}}") == expected


def test_membership_of_one_code_is_the_same_condition(store: Engine) -> None:
    assert evaluate(store, f"< {FINDING} : {FINDING_SITE} = << {HEART}", code=AMI) == {AMI}
    assert evaluate(store, f"< {FINDING} : {FINDING_SITE} = << {HEART}", code=DISEASE) == set()


@pytest.mark.parametrize("ecl", ["<< 1234567 AND", "<< 404684003 : ", "< 404684003 {{ term = }}"])
def test_invalid_ecl_is_refused(store: Engine, ecl: str) -> None:
    with pytest.raises(Invalid):
        evaluate(store, ecl)


@pytest.mark.parametrize("ecl", ["<< 999999001", f"< {FINDING} : 999999001 = *", f"< {FINDING} : {FINDING_SITE} = 999999001",
                                 "^ 999999001"])
def test_unknown_concepts_are_an_error_not_an_empty_answer(store: Engine, ecl: str) -> None:
    with pytest.raises(Invalid, match="999999001"):
        evaluate(store, ecl)


@pytest.mark.parametrize("ecl", ['LOINC#"1234-5"', "^ [targetComponentId] 900000000000527005",
                                 "* {{ C active = 1 }} {{ d moduleId = 900000000000207008 }}",
                                 "* {{ active = false }}", f"^ {SIMPLE_REFSET} {{{{ M active = false }}}}"])
def test_what_the_store_does_not_keep_is_not_supported(store: Engine, ecl: str) -> None:
    with pytest.raises(NotSupported):
        evaluate(store, ecl)


def test_a_store_loaded_before_relationship_groups_is_told_to_reload(new_store_url: Callable[[str], str]) -> None:
    engine = make_engine(new_store_url("sqlite"), pool_size=1)
    run_load(engine, "snomed", FIXTURE)
    with engine.begin() as conn:
        conn.execute(text("UPDATE concept_property SET role_group = NULL"))  # as migration 0006 leaves old rows
    with pytest.raises(NotSupported, match="load it again"):
        evaluate(engine, f"< {FINDING} : {FINDING_SITE} = *")
    engine.dispose()


concepts = st.sampled_from(sorted(R.all()))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(concepts)
def test_operator_identities(store: Engine, code: str) -> None:
    assert evaluate(store, f"<< {code}") == evaluate(store, f"{code} OR < {code}")
    assert evaluate(store, f">> {code}") == evaluate(store, f"{code} OR > {code}")
    assert evaluate(store, f"<< {code} MINUS << {code}") == set()
    assert evaluate(store, f"<<! {code}") <= evaluate(store, f"<< {code}")
    assert evaluate(store, f"!!> (<< {code})") == {code}
