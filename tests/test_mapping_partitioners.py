"""The neuron-level partitioners (numpy multilevel, METIS) and the fills' pricing, on graphs small
enough to follow by hand."""

import os

import numpy as np
import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.mapping import metis
from snnc.mapping.arrays import count_distinct, distinct, distinct_inverse, stable_order
from snnc.mapping.capacity import CostModel
from snnc.mapping.graph import build_graph
from snnc.mapping.grow import grow
from snnc.mapping.multilevel import multilevel
from snnc.mapping.refine import refine
from snnc.passes import DEFAULT_PIPELINE


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


def test_packed_stable_order_matches_a_stable_argsort():
    rng = np.random.default_rng(4)
    for bound, n in ((3, 50), (1000, 20_000), (2**40, 1000)):  # the last one falls back
        keys = rng.integers(0, bound, n)
        assert stable_order(keys, bound).tolist() == np.argsort(keys, kind="stable").tolist()
    assert stable_order(np.zeros(0, np.int64), 5).tolist() == []


def test_earlier_synapse_of_the_same_pre_neuron_counts_distinct_pres_of_any_window():
    graph = build_graph(compiled(PREFIX_NET), budget=10_000)
    s = next(s for s in graph.incoming("b") if s.projection.pre == "b")
    earlier = s.earlier()
    for j in range(len(s.pres)):  # the previous position with the same pre, by a plain scan
        previous = [i for i in range(j) if s.pres[i] == s.pres[j]]
        assert earlier[j] == (previous[-1] if previous else -1)
    for lo, hi in ((0, len(s.pres)), (7, 30), (12, 13)):
        assert np.count_nonzero(earlier[lo:hi] < lo) == len(set(s.pres[lo:hi].tolist()))


def compiled(text):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    net = snnc.compile_program(program, diag, passes=DEFAULT_PIPELINE)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    return net


def test_metis_cuts_two_cliques_and_hands_out_a_core_per_neuron_when_asked_for_more():
    if not metis.available():  # an optional extra; CI requires it (tests/test_mapping_metis.py)
        if os.environ.get("SNNC_REQUIRE_METIS") == "1":
            pytest.fail("SNNC_REQUIRE_METIS=1 but pymetis is not installed (extra 'map')")
        pytest.skip("pymetis is not installed (extra 'map')")
    edges = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    edges += [(a + 4, b + 4) for a, b in edges] + [(3, 4)]
    indptr, indices, weights = csr(8, edges)
    prepared = metis.metis_graph(indptr, indices, weights)
    assert prepared[0].tolist() == indptr.tolist()  # no self-loops or parallel edges to merge
    parts = metis.part_graph(prepared, np.ones(8), 2, seed=0)
    assert len(set(parts[:4])) == 1 and len(set(parts[4:])) == 1 and parts[0] != parts[4]
    assert metis.part_graph(prepared, np.ones(8), 9, seed=0).tolist() == list(range(8))


def test_pricing_every_prefix_at_once_matches_pricing_each_range():
    net = compiled(PREFIX_NET)
    model = CostModel(net.analyses["check-target"])
    for budget, forms in ((0, {"exact", "dense", "random"}), (10_000, {"exact", "dense"})):
        graph = build_graph(net, budget=budget)  # random synapses in closed form, or drawn
        assert {s.form for s in graph.incoming("b")} == forms
        for start, width in ((0, 40), (13, 27), (39, 1)):
            prefix = model.prefix_needs(graph, "b", start, width)
            for n in range(width + 1):
                expected = model.range_needs(graph, "b", start, start + n)
                assert prefix[n].tolist() == expected.tolist()
                assert expected[3] == distinct_pres(graph, start, start + n)


def distinct_pres(graph, start, stop):
    """Input axons of neurons [start, stop) of 'b' counted in plain Python: a set of pre
    neurons per synapse set (dense: all pres once a post is there; random: the expectation)."""
    total = 0.0
    for s in graph.incoming("b"):
        if s.form == "exact":
            total += len({int(p) for q, p in zip(s.posts, s.pres, strict=True)
                          if start <= q < stop})
        elif s.form == "dense":
            total += s.n_pre if stop > start else 0
        else:
            total += s.n_pre * (1 - (1 - s.p) ** (stop - start))
    return total


PREFIX_NET = """network prefix {
  dt = 1 ms
  seed = 2
}
input x[40]
population a: LIF[50]
population b: LIF[40]
x -> b: one_to_one
a -> b: dense
b -> b: sparse(p = 0.1)
target loihi
"""
