"""The ValueSet engine over the store, on both engines: each filter and compose rule, and the SQL
expansion checked against a plain-Python oracle on random hierarchies and value sets."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from termsvc.errors import Invalid, NotFound, TermsvcError
from termsvc.store.loadrun import load_run
from termsvc.valuesets.compose import Compiler
from termsvc.valuesets.expand import Query
from termsvc.valuesets.finder import find_value_set
from termsvc.valuesets.versions import VersionRules

SYSTEM = "http://example.org/cs/shapes"
# shape > polygon > (triangle, square > cube?) ; shape > round > circle ; retired (inactive), group (abstract)
HIERARCHY = [("shape", "polygon"), ("polygon", "triangle"), ("polygon", "square"), ("shape", "round"),
             ("round", "circle")]
CODES = ["shape", "polygon", "triangle", "square", "round", "circle", "retired", "group"]
PROPS = {"triangle": ("sides", "3"), "square": ("sides", "4"), "circle": ("sides", "0")}


def write_shapes(engine: Engine, version: str = "1.0.0", url: str = SYSTEM) -> None:
    with load_run(engine, "test", "shapes") as run:
        writer = run.code_system({"resourceType": "CodeSystem", "url": url, "version": version,
                                  "content": "complete", "caseSensitive": True,
                                  "property": [{"code": "sides", "type": "string"}]})
        for code in CODES:
            writer.add_concept(code, code.title(), active=code != "retired", abstract=code == "group")
        for code, (prop, value) in PROPS.items():
            writer.add_property(code, prop, value)
        writer.add_designation("circle", "Kreis", language="de")
        for parent, child in HIERARCHY:
            writer.add_edge(parent, child)
        writer.finish()


def expand_codes(engine: Engine, value_set: dict[str, Any], *, active_only: bool = False,
                 text_filter: str | None = None, rules: VersionRules | None = None) -> set[str]:
    with engine.connect() as conn:
        compiled = Compiler(conn, rules or VersionRules(), find_value_set).compile(value_set, "c")
        query = Query(compiled, active_only=active_only, text_filter=text_filter)
        rows = query.page(conn, 0, None)
        assert query.total(conn) == len(rows)
        return {r.code for r in rows}


def vs(*includes: dict[str, Any], exclude: list[dict[str, Any]] | None = None, url: str = "http://x/vs"
       ) -> dict[str, Any]:
    compose: dict[str, Any] = {"include": list(includes)}
    if exclude:
        compose["exclude"] = exclude
    return {"resourceType": "ValueSet", "url": url, "compose": compose}


def flt(prop: str, op: str, value: str) -> dict[str, Any]:
    return {"system": SYSTEM, "filter": [{"property": prop, "op": op, "value": value}]}


@pytest.fixture
def shapes(engine: Engine) -> Engine:
    write_shapes(engine)
    return engine


def test_include_of_a_whole_system_has_every_code(shapes: Engine) -> None:
    assert expand_codes(shapes, vs({"system": SYSTEM})) == set(CODES)


def test_explicit_concepts_keep_only_known_codes(shapes: Engine) -> None:
    include = {"system": SYSTEM, "concept": [{"code": "circle"}, {"code": "nonsense"}]}
    assert expand_codes(shapes, vs(include)) == {"circle"}


def test_is_a_includes_the_concept_and_its_descendants(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("concept", "is-a", "polygon"))) == {"polygon", "triangle", "square"}


def test_descendent_of_excludes_the_concept_itself(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("concept", "descendent-of", "polygon"))) == {"triangle", "square"}


def test_is_not_a_is_everything_outside_the_subtree(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("concept", "is-not-a", "polygon"))) == set(CODES) - {
        "polygon", "triangle", "square"}


def test_child_of_is_direct_children_only(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("concept", "child-of", "shape"))) == {"polygon", "round"}


def test_descendent_leaf_is_descendants_without_children(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("concept", "descendent-leaf", "shape"))) == {"triangle", "square", "circle"}


def test_generalizes_is_the_concept_and_its_ancestors(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("concept", "generalizes", "square"))) == {"square", "polygon", "shape"}


def test_property_equals(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("sides", "=", "4"))) == {"square"}


def test_property_in_and_not_in(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("sides", "in", "3,4"))) == {"triangle", "square"}
    assert expand_codes(shapes, vs(flt("sides", "not-in", "3,4"))) == set(CODES) - {"triangle", "square"}


def test_property_exists(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("sides", "exists", "true"))) == {"triangle", "square", "circle"}
    assert expand_codes(shapes, vs(flt("sides", "exists", "false"))) == set(CODES) - {"triangle", "square", "circle"}


def test_regex_on_code_matches_the_whole_code(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("code", "regex", "s.*e"))) == {"shape", "square"}


def test_regex_that_would_backtrack_without_bound_is_answered(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("code", "regex", "((s|q|u|a|r|e)+)+"))) == {"square"}


def test_regex_with_a_backreference_is_refused(shapes: Engine) -> None:
    with pytest.raises(Invalid, match="backreferences"):
        expand_codes(shapes, vs(flt("code", "regex", r"(s)\1")))


def test_concept_in_list(shapes: Engine) -> None:
    assert expand_codes(shapes, vs(flt("concept", "in", "circle,round"))) == {"circle", "round"}


def test_filters_in_one_include_are_intersected(shapes: Engine) -> None:
    include = {"system": SYSTEM, "filter": [{"property": "concept", "op": "is-a", "value": "shape"},
                                            {"property": "sides", "op": "exists", "value": "true"}]}
    assert expand_codes(shapes, vs(include)) == {"triangle", "square", "circle"}


def test_exclude_removes_codes(shapes: Engine) -> None:
    value_set = vs({"system": SYSTEM}, exclude=[flt("concept", "is-a", "polygon")])
    assert expand_codes(shapes, value_set) == set(CODES) - {"polygon", "triangle", "square"}


def test_active_only_drops_inactive_concepts(shapes: Engine) -> None:
    assert "retired" not in expand_codes(shapes, vs({"system": SYSTEM}), active_only=True)


def test_compose_inactive_false_drops_inactive_concepts(shapes: Engine) -> None:
    value_set = vs({"system": SYSTEM})
    value_set["compose"]["inactive"] = False
    assert "retired" not in expand_codes(shapes, value_set)


def test_text_filter_matches_display_words_and_designations(shapes: Engine) -> None:
    assert expand_codes(shapes, vs({"system": SYSTEM}), text_filter="squ") == {"square"}
    assert expand_codes(shapes, vs({"system": SYSTEM}), text_filter="kreis") == {"circle"}


def test_imported_value_set_is_intersected_with_the_include(shapes: Engine) -> None:
    from termsvc.store.resources import store_value_set

    with shapes.begin() as conn:
        store_value_set(conn, vs(flt("concept", "is-a", "polygon"), url="http://x/polygons"))
    include = {"system": SYSTEM, "valueSet": ["http://x/polygons"],
               "filter": [{"property": "sides", "op": "exists", "value": "true"}]}
    assert expand_codes(shapes, vs(include)) == {"triangle", "square"}


def test_circular_import_is_an_error(shapes: Engine) -> None:
    from termsvc.store.resources import store_value_set

    with shapes.begin() as conn:
        store_value_set(conn, vs({"valueSet": ["http://x/b"]}, url="http://x/a"))
        store_value_set(conn, vs({"valueSet": ["http://x/a"]}, url="http://x/b"))
    with pytest.raises(TermsvcError, match="Circular"):
        expand_codes(shapes, vs({"valueSet": ["http://x/a"]}, url="http://x/top"))


def test_unknown_system_is_not_found(shapes: Engine) -> None:
    with pytest.raises(NotFound, match="could not be found"):
        expand_codes(shapes, vs({"system": "http://example.org/unknown"}))


def test_version_rules_choose_and_check_versions(shapes: Engine) -> None:
    with load_run(shapes, "test", "v2") as run:
        writer = run.code_system({"url": SYSTEM, "version": "2.0.0"})
        writer.add_concept("only-in-two", "Only in two")
        writer.finish()
    assert expand_codes(shapes, vs({"system": SYSTEM})) == {"only-in-two"}
    assert "only-in-two" not in expand_codes(shapes, vs({"system": SYSTEM, "version": "1.0.0"}))
    forced = VersionRules.from_lists([f"{SYSTEM}|1.0.0"], [], [])
    assert "only-in-two" not in expand_codes(shapes, vs({"system": SYSTEM, "version": "2.0.0"}), rules=forced)
    assert "shape" in expand_codes(shapes, vs({"system": SYSTEM}), rules=VersionRules.from_lists(
        [], [f"{SYSTEM}|1.x"], []))
    checked = VersionRules.from_lists([], [], [f"{SYSTEM}|1.0.0"])
    assert "shape" in expand_codes(shapes, vs({"system": SYSTEM}), rules=checked)
    with pytest.raises(TermsvcError, match="version-check"):
        expand_codes(shapes, vs({"system": SYSTEM, "version": "2.0.0"}), rules=checked)


# --- oracle: random forests and random compose definitions, expanded in SQL and in Python ---

@st.composite
def forests(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]], dict[str, str]]:
    size = draw(st.integers(min_value=1, max_value=12))
    codes = [f"c{i}" for i in range(size)]
    edges: list[tuple[str, str]] = []
    for i in range(1, size):
        # parents only among earlier codes, so the graph is acyclic; some codes get two parents
        for parent in draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=2)):
            edges.append((codes[parent], codes[i]))
    colours = {c: draw(st.sampled_from(["red", "blue", "green"])) for c in codes}
    return codes, edges, colours


def oracle(codes: list[str], edges: list[tuple[str, str]], colours: dict[str, str], op: str, value: str,
           ) -> set[str]:
    children: dict[str, set[str]] = {c: set() for c in codes}
    parents: dict[str, set[str]] = {c: set() for c in codes}
    for p, c in edges:
        children[p].add(c)
        parents[c].add(p)

    def reach(start: str, links: dict[str, set[str]]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in links[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    if op == "is-a":
        return reach(value, children) | {value}
    if op == "descendent-of":
        return reach(value, children)
    if op == "is-not-a":
        return set(codes) - reach(value, children) - {value}
    if op == "child-of":
        return children[value]
    if op == "generalizes":
        return reach(value, parents) | {value}
    if op == "descendent-leaf":
        return {c for c in reach(value, children) if not children[c]}
    return {c for c in codes if colours[c] == value}


OPS = ["is-a", "descendent-of", "is-not-a", "child-of", "generalizes", "descendent-leaf", "colour"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forest=forests(), data=st.data())
def test_sql_expansion_matches_the_python_oracle(engine: Engine, forest: tuple[list[str], list[tuple[str, str]],
                                                 dict[str, str]], data: st.DataObject) -> None:
    codes, edges, colours = forest
    url = f"http://example.org/random/{uuid.uuid4().hex}"
    with load_run(engine, "test", "random") as run:
        writer = run.code_system({"url": url, "property": [{"code": "colour", "type": "code"}]})
        for code in codes:
            writer.add_concept(code, code)
            writer.add_property(code, "colour", colours[code], type="code")
        for parent, child in edges:
            writer.add_edge(parent, child)
        writer.finish()
    include_op = data.draw(st.sampled_from(OPS))
    include_value = data.draw(st.sampled_from(["red", "blue"]) if include_op == "colour" else st.sampled_from(codes))
    exclude_op = data.draw(st.sampled_from([None, *OPS]))
    prop = "colour" if include_op == "colour" else "concept"
    compose_include = {"system": url, "filter": [{"property": prop, "op": "=" if prop == "colour" else include_op,
                                                   "value": include_value}]}
    expected = oracle(codes, edges, colours, include_op, include_value)
    excludes = []
    if exclude_op is not None:
        exclude_value = data.draw(st.sampled_from(["green"]) if exclude_op == "colour" else st.sampled_from(codes))
        eprop = "colour" if exclude_op == "colour" else "concept"
        excludes.append({"system": url, "filter": [{"property": eprop, "op": "=" if eprop == "colour" else exclude_op,
                                                    "value": exclude_value}]})
        expected -= oracle(codes, edges, colours, exclude_op, exclude_value)
    assert expand_codes(engine, vs(compose_include, exclude=excludes)) == expected
