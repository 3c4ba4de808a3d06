"""Random connectivity at scale (issue 18): ``sparse(p)`` and ``fixed_fan_in(k)`` drawn in
time and memory proportional to the synapses, exact in distribution, deterministic.

Distribution tests use fixed seeds and a chi-square test at a 1e-4 false-alarm level (the
quantile from the Wilson-Hilferty approximation, good to ~1 % at these degrees of freedom):
the exact joint distribution of every subset of a small block of pairs, and binomial counts
per row and per column on larger draws. The oracle for ``sparse(p >= PAIRWISE_P)`` is the
previous draw (one uniform per pair of the whole matrix at once)."""

import itertools
import math
import tracemalloc

import numpy as np
import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.ir import connectivity as conn
from snnc.ir import discrete
from snnc.ir.connectivity import (
    Connectivity,
    bernoulli_positions,
    distinct_per_row,
    transpose,
)
from snnc.ir.discrete import build_plan, csr_pointers, index_dtype
from snnc.ir.values import rng_for

Z_1E4 = 3.719  # the standard normal's upper 1e-4 quantile


def chi2_limit(dof: int) -> float:
    """Upper 1e-4 quantile of chi-square with ``dof`` degrees of freedom (Wilson-Hilferty)."""
    a = 2 / (9 * dof)
    return dof * (1 - a + Z_1E4 * math.sqrt(a)) ** 3


def chi2(observed: np.ndarray, expected: np.ndarray) -> tuple[float, int]:
    """Pearson's statistic over the cells with an expected count of at least 5 (the rest
    pooled into one cell) and its degrees of freedom."""
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    assert abs(observed.sum() - expected.sum()) < 1e-6 * expected.sum()
    big = expected >= 5
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    return float(((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum()), int(keep.sum()) - 1


def assert_fits(observed, expected):
    statistic, dof = chi2(observed, expected)
    assert statistic < chi2_limit(dof), (statistic, dof, chi2_limit(dof))


def binomial_pmf(n: int, p: float) -> np.ndarray:
    k = np.arange(n + 1)
    logs = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                     for i in k]) + k * math.log(p) + (n - k) * math.log1p(-p)
    return np.exp(logs)


def as_pairs(post, pre, n_pre):
    return post * n_pre + pre


# -- exact joint distributions on small blocks ----------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.3])
def test_sparse_every_pattern_of_a_2x3_block_has_its_bernoulli_probability(p):
    """Rows of 3 pre neurons, taken two rows at a time: 64 patterns of 6 pairs, each with
    probability p^|S| (1 - p)^(6 - |S|) (independence within and across rows; p = 0.2 is the
    geometric-gap draw, p = 0.3 the per-pair draw)."""
    blocks = 10_000
    post, pre = Connectivity("sparse", p=p).materialize((3,), (2 * blocks,), rng_for(7, "j"))
    bits = np.zeros((2 * blocks, 3), dtype=np.int64)
    bits[post, pre] = 1
    pattern = (bits.reshape(blocks, 6) << np.arange(6)).sum(axis=1)
    observed = np.bincount(pattern, minlength=64)
    sizes = np.array([bin(s).count("1") for s in range(64)])
    expected = blocks * p ** sizes * (1 - p) ** (6 - sizes)
    assert_fits(observed, expected)


@pytest.mark.parametrize("n,k", [(17, 2), (6, 3), (40, 1)])
def test_fixed_fan_in_every_k_subset_is_equally_likely(n, k):
    """(17, 2): repeats redrawn (k < n / 8); (6, 3): random keys; every one of the C(n, k)
    subsets of a row appears equally often, every row exactly k distinct pre neurons."""
    rows = 200 * math.comb(n, k)
    post, pre = Connectivity("fixed_fan_in", k=k).materialize((n,), (rows,), rng_for(3, "f"))
    chosen = pre.reshape(rows, k)
    assert (np.diff(chosen, axis=1) > 0).all() and (post == np.repeat(np.arange(rows), k)).all()
    subsets = {s: i for i, s in enumerate(itertools.combinations(range(n), k))}
    index = np.array([subsets[tuple(row)] for row in chosen.tolist()])
    observed = np.bincount(index, minlength=len(subsets))
    assert_fits(observed, np.full(len(subsets), rows / len(subsets)))


def test_fixed_fan_in_marginals_and_pair_inclusions_are_uniform():
    """k = 5 of 60 (the redraw path): each pre is in a row with probability k/n, each pair of
    pres with probability k(k-1)/(n(n-1))."""
    n, k, rows = 60, 5, 40_000
    chosen = distinct_per_row(rows, n, k, np.random.default_rng(11))
    assert (np.diff(chosen, axis=1) > 0).all()
    counts = np.bincount(chosen.reshape(-1), minlength=n)
    assert_fits(np.append(counts, rows * (n - k)), np.append(np.full(n, rows * k / n),
                                                            rows * (n - k)))
    pairs = np.concatenate([chosen[:, i] * n + chosen[:, j]
                            for i, j in itertools.combinations(range(k), 2)])
    both = np.bincount(pairs, minlength=n * n).reshape(n, n)[np.triu_indices(n, 1)]
    assert_fits(np.append(both, 0), np.append(np.full(len(both), rows * k * (k - 1)
                                                      / (n * (n - 1))), 0))


# -- counts on larger draws -------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.002, 0.05, 0.3])
def test_sparse_counts_per_post_and_per_pre_are_binomial(p):
    n_pre, n_post = 700, 3000
    post, pre = Connectivity("sparse", p=p).materialize((n_pre,), (n_post,), rng_for(5, "c"))
    for counts, n, m in ((np.bincount(post, minlength=n_post), n_pre, n_post),
                         (np.bincount(pre, minlength=n_pre), n_post, n_pre)):
        pmf = binomial_pmf(n, p)
        observed = np.bincount(counts, minlength=n + 1)
        assert_fits(observed, m * pmf)
    total = len(post)
    mean, sd = p * n_pre * n_post, math.sqrt(p * (1 - p) * n_pre * n_post)
    assert abs(total - mean) < 4 * sd


def test_fixed_fan_in_pre_counts_are_binomial():
    """Every post draws k of n_pre independently: a pre neuron's out-degree is
    Binomial(n_post, k / n_pre)."""
    n_pre, n_post, k = 500, 4000, 40
    post, pre = Connectivity("fixed_fan_in", k=k).materialize((n_pre,), (n_post,),
                                                              rng_for(2, "d"))
    assert (np.bincount(post, minlength=n_post) == k).all()
    observed = np.bincount(np.bincount(pre, minlength=n_pre), minlength=n_post + 1)
    assert_fits(observed, n_pre * binomial_pmf(n_post, k / n_pre))


def test_geometric_positions_have_bernoulli_gaps():
    """bernoulli_positions: the gaps between successive positions are geometric,
    P(gap = g) = (1 - p)^(g - 1) p."""
    p = 0.01
    positions = bernoulli_positions(30_000_000, p, np.random.default_rng(4))
    gaps = np.diff(positions)
    top = 1000
    observed = np.bincount(np.minimum(gaps, top), minlength=top + 1)[1:]
    g = np.arange(1, top + 1)
    expected = len(gaps) * (1 - p) ** (g - 1) * p
    expected[-1] = len(gaps) * (1 - p) ** (top - 1)  # the tail >= top
    assert_fits(observed, expected)


# -- determinism, order and the previous draw -------------------------------------------------

@pytest.mark.parametrize("c", [Connectivity("sparse", p=0.01), Connectivity("sparse", p=0.4),
                               Connectivity("fixed_fan_in", k=7),
                               Connectivity("fixed_fan_in", k=60)])
def test_same_seed_same_synapses_sorted_by_post_then_pre(c):
    pre_shape, post_shape = (4, 30), (3, 50)
    first = c.materialize(pre_shape, post_shape, rng_for(9, "a->b", "synapses"))
    again = c.materialize(pre_shape, post_shape, rng_for(9, "a->b", "synapses"))
    other = c.materialize(pre_shape, post_shape, rng_for(10, "a->b", "synapses"))
    assert all((x == y).all() for x, y in zip(first, again, strict=True))
    assert len(first[0]) != len(other[0]) or (first[1] != other[1]).any()
    key = as_pairs(*first, 120)
    assert (np.diff(key) > 0).all()  # sorted by post then pre, no pair twice
    assert first[0].dtype == first[1].dtype == np.int64


def test_drawing_in_smaller_blocks_gives_the_same_sparse_synapses(monkeypatch):
    """The geometric draw uses the stream's uniforms in order, whatever the block size, and
    the per-pair draw is the stream of one matrix of all pairs."""
    for p in (0.003, 0.3):
        c = Connectivity("sparse", p=p)
        big = c.materialize((300,), (2000,), rng_for(1, "x"))
        monkeypatch.setattr(conn, "BLOCK", 997)
        small = c.materialize((300,), (2000,), rng_for(1, "x"))
        monkeypatch.undo()
        assert all((x == y).all() for x, y in zip(big, small, strict=True))


def test_sparse_from_p_025_is_the_previous_draw():
    """The previous materialize: rng.random((n_post, n_pre)) < p, np.nonzero."""
    for p in (0.25, 0.5, 1.0):
        post, pre = Connectivity("sparse", p=p).materialize((40,), (70,), rng_for(3, "y"))
        old_post, old_pre = np.nonzero(rng_for(3, "y").random((70, 40)) < p)
        assert (post == old_post).all() and (pre == old_pre).all()


def test_draw_order_and_transpose():
    c = Connectivity("sparse", p=0.05)
    post, pre, by_pre = c.draw((50,), (80,), rng_for(2, "z"))
    assert by_pre and (np.diff(pre * 80 + post) > 0).all()
    p2, q2 = transpose(post.copy(), pre.copy(), 50, 80, to_pre=False)
    assert (np.diff(p2 * 50 + q2) > 0).all()
    assert sorted(p2 * 50 + q2) == sorted(post * 50 + pre)
    p3, q3 = transpose(p2, q2, 50, 80, to_pre=True)  # p2, q2 are consumed
    assert (p3 == post).all() and (q3 == pre).all()


# -- the simulator's plan ---------------------------------------------------------------------

PLAN = """network plan {
  dt = 1 ms
  seed = 5
}
input a[120]: poisson(rate = 10 Hz)
population b: LIF[90]
a -> b: CONN { weight = normal(0.5, 0.1) }
"""


def compile_text(text: str):
    diag = Diagnostics()
    net = snnc.compile_program(snnc.load_text(text, "t.snn", diag), diag)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    return net


@pytest.mark.parametrize("conn_text", ["sparse(p = 0.05)", "fixed_fan_in(k = 9)"])
def test_plan_csr_holds_the_materialized_synapses_with_weights_in_csr_order(conn_text):
    net = compile_text(PLAN.replace("CONN", conn_text))
    projection = net.projections()[0]
    plan = build_plan(net).projections[0]
    assert not plan.dense
    post, pre = projection.connectivity.materialize(
        (120,), (90,), rng_for(5, projection.name, "synapses"))
    assert sorted(as_pairs(post, pre, 120)) == sorted(as_pairs(plan.post_index,
                                                               plan.pre_index, 120))
    assert (np.diff(plan.pre_index * 90 + plan.post_index) > 0).all()
    expected = projection.weight.materialize(len(post), rng_for(5, projection.name, "weight"))
    assert (plan.weights == expected).all()  # drawn in CSR order: no permutation
    counts = np.bincount(plan.pre_index, minlength=120)
    assert (np.diff(plan.indptr) == counts).all() and plan.indptr[0] == 0
    assert plan.post_index.dtype == plan.pre_index.dtype == plan.indptr.dtype == np.int32


def test_index_dtype_is_int32_up_to_its_largest_value():
    assert index_dtype(0) == index_dtype(2 ** 31 - 1) == np.int32
    assert index_dtype(2 ** 31) == index_dtype(2 ** 40) == np.int64


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_csr_pointers_delimit_the_synapses_of_each_pre_neuron(dtype):
    """indptr[j]:indptr[j + 1] are pre j's synapses (the oracle: the cumulated counts), the
    last pre neurons without any; int32 for this synapse count, whatever the indices' dtype."""
    pre = np.sort(np.random.default_rng(4).integers(0, 50, 1000)).astype(dtype)
    indptr = csr_pointers(pre, 60)
    oracle = np.concatenate(([0], np.cumsum(np.bincount(pre, minlength=60))))
    assert indptr.dtype == np.int32 and (indptr == oracle).all()


CONV = """network conv {
  dt = 1 ms
  seed = 5
}
input a[2, 8, 8]: poisson(rate = 10 Hz)
population b: LIF[3, 6, 6]
population c: LIF[3, 6, 6]
a -> b: conv2d(kernel = 3, channels = 3) { weight = normal(0.5, 0.1) }
b -> c: one_to_one { weight = 0.2 }
"""


@pytest.mark.parametrize("text", [PLAN.replace("CONN", "sparse(p = 0.05)"),
                                  PLAN.replace("CONN", "fixed_fan_in(k = 9)"), CONV])
def test_plan_indices_are_the_int64_ones_narrowed(text, monkeypatch):
    """Every CSR projection (drawn or not) keeps its indices as int32 here: the same values
    and weights as the plan built with int64 indices (the format before issue 18)."""
    net = compile_text(text)
    narrow = build_plan(net).projections
    monkeypatch.setattr(discrete, "index_dtype", lambda limit: np.dtype(np.int64))
    wide = build_plan(net).projections
    assert len(narrow) == len(wide) > 0
    for p, q in zip(narrow, wide, strict=True):
        assert not p.dense and q.post_index.dtype == q.indptr.dtype == np.int64
        for name in ("post_index", "pre_index", "indptr"):
            assert getattr(p, name).dtype == np.int32
            assert np.array_equal(getattr(p, name), getattr(q, name))
        assert p.weights.dtype == np.float64 and np.array_equal(p.weights, q.weights)


def test_plan_of_a_dense_sparse_projection_is_the_previous_matrix():
    """p = 0.5 is stored dense: the same synapses and the same weight per synapse as before
    (weights drawn in row-major order)."""
    net = compile_text(PLAN.replace("CONN", "sparse(p = 0.5)"))
    name = net.projections()[0].name
    plan = build_plan(net).projections[0]
    mask = rng_for(5, name, "synapses").random((90, 120)) < 0.5
    weights = rng_for(5, name, "weight").normal(0.5, 0.1, int(mask.sum()))
    expected = np.zeros((90, 120))
    expected[np.nonzero(mask)] = weights
    assert plan.dense and (plan.mask == mask).all() and (plan.weights == expected).all()


# -- scale ------------------------------------------------------------------------------------

def peak_bytes(function):
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("c", [Connectivity("sparse", p=80 / 60_000),
                               Connectivity("fixed_fan_in", k=80)])
def test_drawing_costs_memory_in_the_synapses_not_the_pairs(c):
    """60,000 x 60,000 pairs (28.8 GB as one float per pair, as sparse(p) drew before):
    4.8 M synapses drawn within 40 bytes per synapse (the result holds 16)."""
    n = 60_000
    (post, pre), peak = peak_bytes(lambda: c.materialize((n,), (n,), rng_for(1, "big")))
    synapses = len(post)
    assert abs(synapses - 80 * n) < 5 * math.sqrt(80 * n)
    assert peak < 40 * synapses + (16 << 20), peak / synapses


def test_building_a_plan_costs_memory_in_the_synapses():
    """A 60,000-neuron network with 80 inputs per neuron: the plan's peak while building
    stays within 32 bytes per synapse (it keeps 16: a float64 weight, int32 post and pre
    indices; drawn as int64 and narrowed one array after the other)."""
    n = 60_000
    text = f"""network big {{
  dt = 0.1 ms
  seed = 1
}}
population a: LIF[{n}]
a -> a: sparse(p = {80 / n!r}) {{ weight = uniform(0, 0.001) }}
"""
    net = compile_text(text)
    plan, peak = peak_bytes(lambda: build_plan(net))
    synapses = len(plan.projections[0].weights)
    assert peak < 32 * synapses + (32 << 20), peak / synapses
