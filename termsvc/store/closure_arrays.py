"""The transitive closure of a DAG computed with integer arrays, layer by layer in topological order.

Why not a recursive SQL query: it re-derives every ancestor once per path (SNOMED CT has many paths per pair)
and inserts in the order it finds pairs; here each concept's ancestor set is the union of its parents' sets,
computed once, and the result comes out sorted, so the caller appends rows in primary-key order.

Nodes are dense indices 0..n-1; edges are (child, parent) index arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]


def ranges(starts: Ints, lengths: Ints) -> Ints:
    """The concatenation of arange(s, s + l) for each (s, l), without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(starts - (ends - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


@dataclass
class Csr:
    """Edges grouped by one end: the other ends of node v's edges are targets[start[v]:start[v + 1]]."""

    start: Ints
    targets: Ints

    @classmethod
    def of(cls, keys: Ints, values: Ints, n: int) -> Csr:
        order = np.argsort(keys, kind="stable")
        start = np.searchsorted(keys[order], np.arange(n + 1, dtype=np.int64)).astype(np.int64)
        return cls(start, values[order])

    def degree(self, nodes: Ints) -> Ints:
        return self.start[nodes + 1] - self.start[nodes]

    def gather(self, nodes: Ints) -> tuple[Ints, Ints]:
        """(owner, target) for every edge of `nodes`."""
        lengths = self.degree(nodes)
        return np.repeat(nodes, lengths), self.targets[ranges(self.start[nodes], lengths)]


class CycleError(Exception):
    def __init__(self, node: int) -> None:
        super().__init__(node)
        self.node = node  # a node on an is-a cycle


def ancestor_pairs(child: Ints, parent: Ints, n: int) -> Ints:
    """Every (descendant, ancestor) pair of the DAG, self pairs excluded, as sorted keys
    ancestor * n + descendant (so sorted by ancestor, then descendant). Raises CycleError naming a node on a
    cycle when the edges are not acyclic."""
    parents = Csr.of(child, parent, n)
    children = Csr.of(parent, child, n)
    waiting = np.bincount(child, minlength=n).astype(np.int64)  # parents not yet done, per node
    done = np.zeros(n, dtype=bool)
    anc_start = np.zeros(n, dtype=np.int64)
    anc_len = np.zeros(n, dtype=np.int64)
    store = np.empty(max(1024, 4 * len(child)), dtype=np.int32)  # every node's ancestors, node after node
    used = 0
    layer = np.flatnonzero(waiting == 0).astype(np.int64)
    while layer.size:
        done[layer] = True
        owners, direct = parents.gather(layer)
        if owners.size:
            # a node's ancestors: its parents and its parents' ancestors (complete: parents are in earlier layers)
            inherited = store[ranges(anc_start[direct], anc_len[direct])].astype(np.int64)
            inherited_owner = np.repeat(owners, anc_len[direct])
            keys = np.unique(np.concatenate([owners * n + direct, inherited_owner * n + inherited]))
            owner_of_key = keys // n
            need = used + keys.size
            if need > store.size:
                grown = np.empty(max(need, 2 * store.size), dtype=np.int32)
                grown[:used] = store[:used]
                store = grown
            store[used:need] = keys % n
            nodes, first, counts = np.unique(owner_of_key, return_index=True, return_counts=True)
            anc_start[nodes] = used + first
            anc_len[nodes] = counts
            used = need
        _, kids = children.gather(layer)
        waiting -= np.bincount(kids, minlength=n)
        candidates = np.unique(kids)
        layer = candidates[waiting[candidates] == 0]
    if not done.all():
        raise CycleError(_node_on_cycle(parents, done))
    descendants = np.repeat(np.arange(n, dtype=np.int64), anc_len)
    ancestors = store[ranges(anc_start, anc_len)].astype(np.int64)
    keys = ancestors * n + descendants
    keys.sort()
    return keys


def _node_on_cycle(parents: Csr, done: npt.NDArray[np.bool_]) -> int:
    """Every node left undone has a parent left undone, so walking up through them must come round."""
    node = int(np.flatnonzero(~done)[0])
    seen: set[int] = set()
    while node not in seen:
        seen.add(node)
        candidates = parents.targets[parents.start[node]:parents.start[node + 1]]
        node = int(candidates[~done[candidates]][0])
    return node
