"""The IR: procedural connectivity (exact counts, deterministic materialisation, never
materialised by checking), per-object random streams, and the stable text dump (goldens)."""

import os
import pathlib

import numpy as np
import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.ir.connectivity import Connectivity
from snnc.ir.dump import dump
from snnc.ir.values import Normal, Uniform, rng_for

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.snn"))
GOLDENS = ROOT / "tests" / "goldens" / "ir"


def compile_text(text):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    net = snnc.compile_program(program, diag) if program else None
    return net, diag


@pytest.mark.parametrize("connectivity,pre,post", [
    (Connectivity("dense"), (7,), (5,)),
    (Connectivity("one_to_one"), (6,), (6,)),
    (Connectivity("fixed_fan_in", k=3), (9,), (4,)),
    (Connectivity("conv2d", kernel=3, stride=1, padding=1, channels=4), (2, 6, 5), (4, 6, 5)),
    (Connectivity("conv2d", kernel=3, stride=2, padding=0, channels=3), (1, 9, 7), (3, 4, 3)),
    (Connectivity("sumpool2d", kernel=2, stride=2), (3, 8, 6), (3, 4, 3)),
])
def test_counts_are_exact_against_materialisation(connectivity, pre, post):
    posts, pres = connectivity.materialize(pre, post, rng_for(1, "p"))
    assert len(posts) == connectivity.synapse_count(pre, post)
    assert len(set(zip(posts.tolist(), pres.tolist(), strict=True))) == len(posts)
    fan_in = np.bincount(posts, minlength=int(np.prod(post))).max()
    assert fan_in <= connectivity.max_fan_in(pre, post)


def test_conv_pairs_match_a_direct_convolution():
    c = Connectivity("conv2d", kernel=3, stride=2, padding=1, channels=2)
    pre_shape, post_shape = (2, 5, 5), c.output_shape((2, 5, 5))
    posts, pres = c.materialize(pre_shape, post_shape, rng_for(0, "c"))
    # an independent oracle: correlate a one-hot input with an all-ones kernel
    x = np.arange(50).reshape(pre_shape)
    for i in range(int(np.prod(post_shape))):
        co, y, xx = np.unravel_index(i, post_shape)
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=-1)
        window = padded[:, 2 * y:2 * y + 3, 2 * xx:2 * xx + 3]
        expected = sorted(v for v in window.ravel().tolist() if v >= 0)
        assert sorted(pres[posts == i].tolist()) == expected


def test_sparse_is_deterministic_per_seed_and_name_and_close_to_its_expectation():
    c = Connectivity("sparse", p=0.1)
    a = c.materialize((200,), (300,), rng_for(7, "a->b"))
    b = c.materialize((200,), (300,), rng_for(7, "a->b"))
    other = c.materialize((200,), (300,), rng_for(7, "a->c"))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1][:50], other[1][:50])
    expected = c.synapse_count((200,), (300,))
    assert abs(len(a[0]) - expected) < 5 * np.sqrt(expected)


def test_distributions_draw_per_element_from_their_own_stream():
    u = Uniform(-0.06, -0.05).materialize(10_000, rng_for(3, "exc", "v_init"))
    assert u.min() >= -0.06 and u.max() < -0.05 and abs(u.mean() + 0.055) < 1e-3
    n = Normal(0, 2).materialize(10_000, rng_for(3, "w"))
    assert abs(n.std() - 2) < 0.1


def test_checking_never_materialises_synapses(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a check materialised synapses")
    monkeypatch.setattr(Connectivity, "materialize", refuse)
    for path in EXAMPLES:
        diag = Diagnostics()
        assert snnc.compile_file(str(path), diag) is not None
    huge = "population a: LIF[1000000]\npopulation b: LIF[1000000]\n" \
           "a -> b: sparse(p = 0.0001) { learn stdp }\nb -> a: fixed_fan_in(k = 100)\n"
    net, diag = compile_text(huge)
    assert sum(net.synapse_count(p) for p in net.projections()) == 200_000_000


def test_parameters_are_broadcast_only_on_request():
    net, _ = compile_text("population p: LIF[4] { tau_mem = uniform(10 ms, 20 ms) }\n")
    (pop,) = net.populations()
    assert pop.params["tau_mem"] == Uniform(0.01, 0.02)
    assert pop.params["threshold"].materialize(4).tolist() == [1.0] * 4
    assert pop.options["reset"] == "zero" and pop.options["refractory_steps"] == 0


def test_units_are_si_and_delays_become_steps():
    net, diag = compile_text("network n { dt = 0.1 ms }\npopulation p: LIF[2] { v_leak = -49 mV "
                             "\n refractory = 5 ms }\np -> p { delay = 1.5 ms }\n")
    (pop,) = net.populations()
    assert pop.params["v_leak"].value == pytest.approx(-0.049)
    assert pop.options["refractory_steps"] == 50
    assert net.projections()[0].delay_steps == 15


def test_delay_that_is_not_a_whole_number_of_steps_is_rounded_with_a_warning():
    net, diag = compile_text("network n { dt = 1 ms }\npopulation p: LIF[2]\n"
                             "p -> p { delay = 1.4 ms }\n")
    assert net.projections()[0].delay_steps == 1
    assert [d.code for d in diag.items] == ["W201"]


def test_verify_holds_after_lowering_and_every_pass():
    seen = []
    diag = Diagnostics()
    snnc.compile_file(str(ROOT / "examples" / "eprop_randman.snn"), diag,
                      after_each=lambda name, net: seen.append((name, net.verify())))
    assert seen and all(ok for _, ok in seen)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_ir_dump_matches_golden(path):
    diag = Diagnostics()
    text = dump(snnc.compile_file(str(path), diag)).replace(str(ROOT), "<root>")
    golden = GOLDENS / (path.stem + ".txt")
    if os.environ.get("SNNC_REGENERATE_GOLDENS"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()
