"""ECL parser: the brief syntax of every construct, errors naming the offset, and parse(print(tree)) == tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termsvc.errors import Invalid
from termsvc.valuesets.ecl import ast as a
from termsvc.valuesets.ecl.parser import parse
from termsvc.valuesets.ecl.printer import to_text

C = a.Concept


def test_constraint_operators_each_parse_to_their_symbol() -> None:
    for op in ("<", "<<", "<!", "<<!", ">", ">>", ">!", ">>!", "!!>", "!!<"):
        assert parse(f"{op} 404684003") == a.Hierarchy(op, C("404684003"))


def test_terms_are_kept_but_not_part_of_the_code() -> None:
    assert parse("<< 404684003 |Clinical finding (finding)|") == a.Hierarchy("<<", C("404684003", "Clinical finding (finding)"))


def test_and_comma_or_minus() -> None:
    assert parse("<< 1 AND << 2") == parse("<< 1 , << 2") == a.Compound("AND", (a.Hierarchy("<<", C("1")),
                                                                             a.Hierarchy("<<", C("2"))))
    assert parse("1 or 2 OR 3").op == "OR"  # type: ignore[union-attr]
    assert parse("1 MINUS 2") == a.Compound("MINUS", (C("1"), C("2")))


def test_mixing_and_with_or_needs_parentheses() -> None:
    with pytest.raises(Invalid):
        parse("1 AND 2 OR 3")
    assert parse("(1 AND 2) OR 3") == a.Compound("OR", (a.Compound("AND", (C("1"), C("2"))), C("3")))


def test_refinement_with_group_cardinality_and_reverse() -> None:
    tree = parse("< 1 : [1..*] { [0..1] 2 = << 3, R 4 = * } OR [0..0] 5 = 6")
    assert tree == a.Refined(a.Hierarchy("<", C("1")), a.RefinementSet("OR", (
        a.Group(a.RefinementSet("AND", (a.Attribute(C("2"), "=", a.Hierarchy("<<", C("3")), a.Cardinality(0, 1)),
                                        a.Attribute(C("4"), "=", a.Wildcard(), None, True))), a.Cardinality(1, None)),
        a.Attribute(C("5"), "=", C("6"), a.Cardinality(0, 0)))))


def test_keywords_are_case_insensitive_as_abnf_strings_are() -> None:
    assert parse("1 : r 2 = 3 and 4 = 5") == parse("1 : R 2 = 3 AND 4 = 5")
    assert parse("1 minus 2") == parse("1 MINUS 2")


def test_concrete_values() -> None:
    assert parse("< 1 : 2 >= #10.5").refinement == a.Attribute(C("2"), ">=", a.Number("10.5"))  # type: ignore[union-attr]
    assert parse('< 1 : 2 != "x y"').refinement == a.Attribute(C("2"), "!=", a.Strings((a.SearchTerm("match", "x y"),)))  # type: ignore[union-attr]
    assert parse("< 1 : 2 = true").refinement == a.Attribute(C("2"), "=", a.Boolean(True))  # type: ignore[union-attr]


def test_dotted_attributes() -> None:
    assert parse("<< 1 . 2 . << 3") == a.Dotted(a.Hierarchy("<<", C("1")), (C("2"), a.Hierarchy("<<", C("3"))))


def test_description_filters() -> None:
    tree = parse('<< 1 {{ term = ("heart" wild:"card*"), language = en, type = syn, dialect = en-gb (prefer) }}')
    assert tree == a.Filtered(a.Hierarchy("<<", C("1")), (a.Filters("D", (
        a.Filter("term", "=", (a.SearchTerm("match", "heart"), a.SearchTerm("wild", "card*"))),
        a.Filter("language", "=", ("en",)), a.Filter("type", "=", ("syn",)),
        a.Filter("dialect", "=", (a.Dialect("en-gb", ("prefer",)),)))),))


def test_concept_member_and_history_filters() -> None:
    tree = parse('^ 2 {{ M targetComponentId = << 3 }} {{ C active = 1, effectiveTime >= "20180101" }} {{ +HISTORY-MOD }}')
    assert tree == a.History(a.Filtered(a.MemberOf(C("2"), None, (a.Filters("M", (
        a.Filter("targetComponentId", "=", (a.Hierarchy("<<", C("3")),)),)),)), (a.Filters("C", (
            a.Filter("active", "=", (a.Boolean(True),)), a.Filter("effectivetime", ">=", ("20180101",)))),)), "MOD")


@pytest.mark.parametrize(("text", "offset"), [("<< 1 AND", 8), ("<< 1 :", 6), ("<< 1 ^^ 2", 5), ("< 1 : 2 = #x", 11),
                                              ("<<", 2), ("<< 1 |unclosed", 5)])
def test_invalid_ecl_names_the_character_offset(text: str, offset: int) -> None:
    with pytest.raises(Invalid) as caught:
        parse(text)
    assert caught.value.status == 400
    assert f"character offset {offset}:" in caught.value.message and f"'{text}'" in caught.value.message


def test_a_group_inside_a_group_is_refused() -> None:
    with pytest.raises(Invalid):
        parse("1 : { 2 = 3, { 4 = 5 } }")


# round trips over generated trees

codes = st.sampled_from(["404684003", "138875005", "363698007", "39057004", "900000000000527005"]).map(C)
ops = st.sampled_from(["<", "<<", "<!", "<<!", ">", ">>", ">!", ">>!", "!!>", "!!<"])
cards = st.none() | st.builds(lambda lo, span: a.Cardinality(lo, None if span is None else lo + span),
                              st.integers(0, 3), st.none() | st.integers(0, 3))
terms = st.builds(a.SearchTerm, st.sampled_from(["match", "wild"]),
                  st.text(st.sampled_from('ab c*"\\'), min_size=1, max_size=6))
filters = st.one_of(
    st.builds(lambda t: a.Filters("D", (a.Filter("term", "=", tuple(t)),)), st.lists(terms, min_size=1, max_size=2)),
    st.just(a.Filters("D", (a.Filter("language", "=", ("en",)), a.Filter("type", "=", ("fsn", "syn"))))),
    st.just(a.Filters("C", (a.Filter("active", "=", (a.Boolean(False),)),))))


def _exprs(children: st.SearchStrategy[a.Expr]) -> st.SearchStrategy[a.Expr]:
    attribute = st.builds(lambda card, rev, name, value: a.Attribute(name, "=", value, card, rev),
                          cards, st.booleans(), codes, codes | st.builds(a.Hierarchy, ops, codes))
    refinement = st.recursive(attribute, lambda r: st.builds(a.Group, r.filter(lambda x: not isinstance(x, a.Group)),
                                                             cards) | st.builds(
        lambda op, items: a.RefinementSet(op, tuple(items)), st.sampled_from(["AND", "OR"]),
        st.lists(r, min_size=2, max_size=3)), max_leaves=3).filter(
        lambda r: not (isinstance(r, a.Group) and _nested_group(r.body)))
    return st.one_of(
        st.builds(a.Hierarchy, ops, children),
        st.builds(a.MemberOf, children),
        st.builds(lambda e, f: a.Filtered(e, (f,)), children, filters),
        st.builds(a.History, children, st.sampled_from([None, "MIN", "MOD", "MAX"])),
        st.builds(lambda op, items: a.Compound(op, tuple(items)), st.sampled_from(["AND", "OR"]),
                  st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda x, y: a.Compound("MINUS", (x, y)), children, children),
        st.builds(a.Refined, children, refinement),
        st.builds(lambda e, attrs: a.Dotted(e, tuple(attrs)), children, st.lists(codes, min_size=1, max_size=2)))


def _nested_group(r: a.Refinement) -> bool:
    return isinstance(r, a.Group) or (isinstance(r, a.RefinementSet) and any(_nested_group(i) for i in r.items))


@settings(max_examples=300, deadline=None)
@given(st.recursive(codes | st.just(a.Wildcard()), _exprs, max_leaves=6))
def test_print_then_parse_gives_the_same_tree(tree: a.Expr) -> None:
    text = to_text(tree)
    assert parse(text) == tree, text
