"""The neuron-level partitioners on graphs small enough to follow by hand."""

import numpy as np

from snnc.mapping.arrays import count_distinct, distinct, distinct_inverse
from snnc.mapping.grow import grow
from snnc.mapping.multilevel import multilevel
from snnc.mapping.refine import refine


def csr(n, edges):
    """Undirected CSR with unit weights from a list of (u, v)."""
    src = np.array([u for u, v in edges] + [v for u, v in edges], dtype=np.int64)
    dst = np.array([v for u, v in edges] + [u for u, v in edges], dtype=np.int64)
    order = np.argsort(src, kind="stable")
    indptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=n))))
    return indptr, dst[order], np.ones(len(src))


PATH = csr(7, [(i, i + 1) for i in range(6)])
TRIANGLES = csr(6, [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)])


def cut(graph, parts):
    indptr, indices, weights = graph
    src = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    return weights[parts[src] != parts[indices]].sum() / 2


def test_growing_a_path_fills_each_part_in_order():
    assert grow(*PATH, cap=3).tolist() == [0, 0, 0, 1, 1, 1, 2]


def test_growing_continues_in_the_next_component_when_one_runs_out():
    graph = csr(4, [(0, 1), (2, 3)])
    assert grow(*graph, cap=4).tolist() == [0, 0, 0, 0]


def test_growing_respects_node_sizes():
    assert grow(*PATH, cap=4, sizes=np.array([2.0, 2, 1, 1, 1, 1, 1])).tolist() == \
        [0, 0, 1, 1, 1, 1, 2]


def test_refinement_moves_boundary_nodes_to_their_own_triangle():
    # part 0 = {0, 1, 5}, part 1 = {2, 3, 4}: cut 4. Round 0 moves 5 up to part 1 (gain 2),
    # round 1 moves 2 down to part 0 (gain 1): the triangles, cut 1.
    bad = np.array([0, 0, 1, 1, 1, 0])
    assert cut(TRIANGLES, bad) == 4
    good = refine(*TRIANGLES, bad, cap=4)
    assert good.tolist() == [0, 0, 0, 1, 1, 1] and cut(TRIANGLES, good) == 1


def test_refinement_never_overfills_a_part():
    bad = np.array([0, 0, 1, 1, 1, 0])
    assert refine(*TRIANGLES, bad, cap=3).tolist() == bad.tolist()


def test_multilevel_separates_two_cliques_joined_by_one_edge():
    edges = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    edges += [(a + 4, b + 4) for a, b in edges] + [(3, 4)]
    graph = csr(8, edges)
    parts = multilevel(*graph, cap=4)
    assert len(set(parts[:4])) == 1 and len(set(parts[4:])) == 1 and parts[0] != parts[4]
    assert cut(graph, parts) == 1


def test_multilevel_on_a_grid_keeps_parts_compact():
    side = 32
    index = np.arange(side * side).reshape(side, side)
    edges = list(zip(index[:, :-1].ravel().tolist(), index[:, 1:].ravel().tolist(), strict=True))
    edges += list(zip(index[:-1].ravel().tolist(), index[1:].ravel().tolist(), strict=True))
    graph = csr(side * side, edges)
    parts = multilevel(*graph, cap=64)
    assert np.bincount(parts).max() <= 64
    # sixteen 8 x 8 squares cut 2 x 7 x 32 = 448 edges; a 64-neuron strip per part cuts 992
    assert cut(graph, parts) < 0.75 * 992


def test_sort_based_set_operations_match_numpy():
    x = np.array([5, 3, 5, 9, 3, 3])
    assert distinct(x).tolist() == [3, 5, 9] and count_distinct(x) == 3
    values, inverse = distinct_inverse(x)
    assert values.tolist() == [3, 5, 9] and values[inverse].tolist() == x.tolist()
    assert count_distinct(np.zeros(0, np.int64)) == 0
