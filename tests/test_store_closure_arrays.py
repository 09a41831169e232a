"""The array closure: each concept's ancestors are exactly the nodes reachable upwards, each pair once,
sorted by ancestor then descendant; a cycle is reported by a node that is on it."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from termsvc.store.closure_arrays import CycleError, ancestor_pairs


def _reachable(edges: set[tuple[int, int]], start: int) -> set[int]:
    """Nodes above `start` by walking parent links (edges are (child, parent))."""
    seen: set[int] = set()
    stack = [p for c, p in edges if c == start]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(p for c, p in edges if c == node)
    return seen


def _arrays(edges: set[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    ordered = sorted(edges)
    return (np.array([c for c, _ in ordered], dtype=np.int64).reshape(-1),
            np.array([p for _, p in ordered], dtype=np.int64).reshape(-1))


@st.composite
def dags(draw: st.DrawFn) -> tuple[int, set[tuple[int, int]]]:
    n = draw(st.integers(1, 30))
    pairs = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=90))
    # parent index below child index: acyclic, with diamonds and long side paths
    return n, {(max(a, b), min(a, b)) for a, b in pairs if a != b}


@given(dags())
def test_ancestors_are_the_nodes_reachable_upwards_each_pair_once_in_key_order(dag: tuple[int, set[tuple[int, int]]]
                                                                               ) -> None:
    n, edges = dag
    child, parent = _arrays(edges)
    expected = sorted(a * n + d for d in range(n) for a in _reachable(edges, d))
    assert ancestor_pairs(child, parent, n).tolist() == expected


@given(dags(), st.data())
def test_a_cycle_is_reported_by_a_node_that_is_its_own_ancestor(dag: tuple[int, set[tuple[int, int]]],
                                                                 data: st.DataObject) -> None:
    n, edges = dag
    assume(n > 1)
    edges = edges or {(1, 0)}
    c, p = data.draw(st.sampled_from(sorted(edges)))
    with_cycle = edges | {(p, c)}  # the parent now also a child of its child
    child, parent = _arrays(with_cycle)
    try:
        ancestor_pairs(child, parent, n)
    except CycleError as cycle:
        assert cycle.node in _reachable(with_cycle, cycle.node)
    else:
        raise AssertionError("a cycle went unreported")
