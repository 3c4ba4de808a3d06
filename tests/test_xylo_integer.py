"""snnc.backends.xylo.integer: Xylo's integer arithmetic, bit for bit.

Two oracles: closed forms worked by hand from the C++ of xylosim 0.1.3 (docs/synsense.md section
1.4), which need nothing installed, and xylosim itself, run through rockpool 3.1.0's
``XyloSim.from_specification`` (Xylo Audio 2 ``syns61201`` and Xylo IMU ``syns63300``) on
random specifications. The xylosim tests skip when rockpool or xylosim is not importable, and
fail instead when ``SNNC_REQUIRE_XYLOSIM=1``.
"""

import os

import numpy as np
import pytest
from samna_stub import samna_stubbed

from snnc.backends.xylo import integer
from snnc.backends.xylo.integer import SpecificationError, simulate

#: the order-dependent fold, before a test wraps it to count its calls
FOLD = integer._fold

# ---- closed forms ------------------------------------------------------------------------------


def single(steps: int = 10, events=((0, 1),), **spec) -> dict:
    """One input channel, one hidden neuron (one receptor), one output neuron; ``events`` are
    (step, count) pairs of the input; thresholds high enough not to fire unless given. Returns
    each record of the one hidden and the one output neuron, [steps]."""
    full = {"weights_in": np.array([[100]]), "weights_out": np.array([[0]]),
            "dash_syn": np.array([1]), "threshold": np.array([30000]),
            "threshold_out": np.array([30000])}
    full.update(spec)
    inputs = np.zeros((steps, len(full["weights_in"])), np.int64)
    for step, count in events:
        inputs[step] = count
    return {name: array[:, 0] for name, array in simulate(full, inputs).items()}


def test_one_synapse_current_decays_as_documented():
    """dash_syn 1: v - floor(v/2) (ceil(v/2)), and v - 1 once v < 2 (the minimum decay)."""
    assert single()["isyn"].tolist() == [50, 25, 13, 7, 4, 2, 1, 0, 0, 0]
    # dash 15: v >> 15 is 0 for 0 < v < 32768, so the current loses exactly one unit a step
    assert single(weights_in=np.array([[5]]), dash_syn=np.array([15]))["isyn"].tolist()[:7] \
        == [4, 3, 2, 1, 0, 0, 0]


def test_a_dash_syn_of_zero_loses_the_input():
    run = single(dash_syn=np.array([0]), dash_mem=np.array([4]))
    assert not run["isyn"].any() and not run["vmem"].any()


def test_the_membrane_integrates_the_decayed_current():
    """v <- v - decay(v, 1) + isyn with isyn = 50, 25, 13, 7, 4, 2, 1, 0, ..."""
    run = single(steps=12, dash_mem=np.array([1]))
    assert run["vmem"].tolist() == [50, 50, 38, 26, 17, 11, 7, 4, 2, 1, 0, 0]


def test_saturation_follows_the_source_order():
    """Channel 0 before channel 1: 3 x 32512 saturates at 32767 before -25600 arrives."""
    spec = {"weight_shift_in": 8, "dash_syn": np.array([15])}
    first_positive = single(weights_in=np.array([[127], [-100]]), events=((0, [3, 1]),), **spec)
    first_negative = single(weights_in=np.array([[-100], [127]]), events=((0, [1, 3]),), **spec)
    assert first_positive["isyn"][0] == 32767 - 25600 - 1
    assert first_negative["isyn"][0] == 32767 - 1  # -25600 + 97536 saturates


def test_the_shifted_weight_wraps_in_int16():
    spec = {"dash_syn": np.array([15])}
    assert single(weights_in=np.array([[127]]), weight_shift_in=9, **spec)["isyn"][0] \
        == -512 + 1  # 127 << 9 = 65024 = -512 in int16
    assert single(weights_in=np.array([[1]]), weight_shift_in=15, **spec)["isyn"][0] \
        == -32768 + 1


def test_the_negated_membrane_decay_wraps_in_int16():
    """dash_mem 0 and v = -32768: -decay(v) = 32768 is -32768 as int16, so v stays at -32768
    (without the wrap, step 1 would give v = -32768 + 32768 - 32766 - 1 = -32767)."""
    run = single(steps=6, weights_in=np.array([[-128]]), weight_shift_in=8, events=((0, 2),),
                 dash_syn=np.array([15]), dash_mem=np.array([0]), bias=np.array([-1]))
    assert run["isyn"][:3].tolist() == [-32767, -32766, -32765]
    assert run["vmem"].tolist() == [-32768] * 6


def test_up_to_31_spikes_subtractive_reset_and_the_readout_delay():
    run = single(steps=3, weights_in=np.array([[127]]), events=((0, 19),), dash_syn=np.array([15]),
                 dash_mem=np.array([15]), threshold=np.array([10]), weights_out=np.array([[1]]),
                 dash_syn_out=np.array([15]), dash_mem_out=np.array([15]),
                 threshold_out=np.array([10]))
    # 19 events are clipped to 15: isyn = 15 * 127 - 1 = 1904; 190 thresholds, 31 spikes
    assert run["isyn"][0] == 1904 and run["spikes"][0] == 31
    assert run["vmem"][0] == 1904 - 31 * 10
    # the 31 spikes reach the output neuron one step later: isyn_out = 31 - 1, one spike
    assert run["spikes_out"].tolist() == [0, 1, 1]
    assert run["isyn_out"][1] == 30 and run["vmem_out"][1] == 30 - 10


def test_thresholds_of_zero_and_below():
    # threshold 0: a neuron at rest fires the maximum count every step
    rest = single(steps=3, threshold=np.array([0]), events=())
    assert rest["spikes"].tolist() == [31] * 3 and rest["vmem"].tolist() == [0] * 3
    # threshold -20000: v = 0 -> 20000 -> 40000, which wraps to -25536 < -20000: 2 spikes
    wrap = single(steps=3, threshold=np.array([-20000]), events=(), dash_mem=np.array([0]))
    assert wrap["spikes"].tolist() == [2] * 3 and wrap["vmem"].tolist() == [-25536] * 3


def aliased(bias_2: int) -> dict:
    """Three neurons driven by biases (thresholds 10); 0 aliases 1 and 2, 2 aliases 1."""
    spec = {"weights_in": np.zeros((1, 3), int), "weights_out": np.zeros((3, 1), int),
            "bias": np.array([50, 30, bias_2]), "threshold": np.array([10, 10, 10]),
            "threshold_out": np.array([100]), "aliases": [[1, 2], [], [1]]}
    return simulate(spec, np.zeros((1, 1), int))


def test_aliases_add_spikes_in_neuron_order():
    """0 fires 5 and gives them to 1 and 2 before they evolve; 1 adds its own 3 (8); 2 adds
    its own 10 (15) and then gives 15 to 1, which has already evolved (23)."""
    run = aliased(100)
    assert run["spikes"][0].tolist() == [5, 23, 15] and run["vmem"][0].tolist() == [0, 0, 0]
    # with a bias of 300, neuron 2 starts at 5 and may fire only 26 more: v = 300 - 260
    run = aliased(300)
    assert run["spikes"][0].tolist() == [5, 31, 31] and run["vmem"][0].tolist() == [0, 0, 40]


def test_the_fold_is_the_sequential_saturating_sum():
    """_fold against a plain loop x <- sat(x + a) on random terms with both signs."""
    rng = np.random.default_rng(1)
    terms = rng.integers(-40000, 40000, (500, 12)) * (rng.random((500, 12)) < 0.7)
    start = rng.integers(-32768, 32768, 500)
    expected = start.copy()
    for k in range(terms.shape[1]):
        expected = np.clip(expected + terms[:, k], -32768, 32767)
    assert np.array_equal(integer._fold(start, terms), expected)


# ---- random specifications ---------------------------------------------------------------------


def random_spec(rng, receptors: int, saturating: bool, n_in: int = 4, n_hidden: int = 11,
                n_ien: int = 8, n_oen: int = 6, n_out: int = 3) -> dict:
    """Every keyword of XyloSim.from_specification, with the corners of section 1.4: dashes
    0..15 (and one of 16..31), thresholds of 0 and below, biases, aliases in both directions
    and to the neuron itself, shifts up to 9 (up to 15 when ``saturating``)."""
    def weights(*shape):
        return rng.integers(-128, 128, shape) * (rng.random(shape) < 0.6)

    receptor = (receptors,) if receptors == 2 else ()
    threshold = rng.integers(-2000, 20000, n_hidden)
    threshold[rng.random(n_hidden) < 0.15] = 0
    aliases = [[] for _ in range(n_hidden)]
    for source, target in rng.integers(0, n_hidden, (4, 2)):
        aliases[source].append(int(target))
    dash_mem = rng.integers(0, 16, n_hidden)
    dash_mem[rng.integers(n_hidden)] = rng.integers(16, 32)
    shifts = rng.integers(5, 16, 3) if saturating else rng.integers(0, 10, 3)
    return {
        "weights_in": weights(n_in, n_ien, *receptor),
        "weights_rec": weights(n_hidden, n_hidden, *receptor),
        "weights_out": weights(n_oen, n_out),
        "dash_mem": dash_mem, "dash_mem_out": rng.integers(0, 16, n_out),
        "dash_syn": rng.integers(0, 16, n_hidden), "dash_syn_2": rng.integers(0, 16, n_hidden),
        "dash_syn_out": rng.integers(0, 16, n_out),
        "threshold": threshold, "threshold_out": rng.integers(-100, 20000, n_out),
        "bias": rng.integers(-500, 500, n_hidden) * (rng.random(n_hidden) < 0.5),
        "bias_out": rng.integers(-500, 500, n_out),
        "weight_shift_in": int(shifts[0]), "weight_shift_rec": int(shifts[1]),
        "weight_shift_out": int(shifts[2]), "aliases": aliases, "dt": 1e-3,
    }


def random_inputs(rng, steps: int, n_in: int, *batch: int) -> np.ndarray:
    """Event counts up to 19 (above the chip's 15), on about a third of the channel-steps."""
    shape = (steps, *batch, n_in)
    return rng.integers(0, 20, shape) * (rng.random(shape) < 0.35)


def test_a_batch_equals_its_samples_run_one_by_one():
    rng = np.random.default_rng(7)
    spec = random_spec(rng, receptors=2, saturating=True)
    inputs = random_inputs(rng, 200, 4, 5)
    batch = simulate(spec, inputs)
    assert set(batch) == {"spikes", "spikes_out", "vmem", "isyn", "isyn2", "vmem_out",
                          "isyn_out"}
    for sample in range(5):
        alone = simulate(spec, inputs[:, sample])
        for name, array in alone.items():
            assert np.array_equal(batch[name][:, sample], array), (sample, name)
    assert set(simulate(spec, inputs[:, 0], record_state=False)) == {"spikes", "spikes_out"}


@pytest.mark.parametrize("change, option", [
    ({"mapped_graph": object()}, "mapped_graph"),
    ({"weights_in": np.full((4, 8, 2), 200)}, "weights_in"),
    ({"weights_in": np.zeros((4, 8, 3), int)}, "weights_in"),
    ({"weights_out": np.zeros((12, 3), int)}, "weights_out"),
    ({"weight_shift_rec": 16}, "weight_shift_rec"),
    ({"dash_syn": np.full(11, 32)}, "dash_syn"),
    ({"threshold": np.full(11, 0.5)}, "threshold"),
    ({"bias": np.zeros(10, int)}, "bias"),
    ({"aliases": [[1]] * 10}, "aliases"),
    ({"aliases": [[11]] * 11}, "aliases"),
])
def test_a_specification_xylosim_would_refuse_is_named(change, option):
    spec = {**random_spec(np.random.default_rng(0), 2, False), **change}
    with pytest.raises(SpecificationError) as caught:
        simulate(spec, np.zeros((3, 4), int))
    assert caught.value.code == "E640" and caught.value.option == option and caught.value.hint


@pytest.mark.parametrize("inputs", [np.zeros((3, 5), int), np.zeros(3, int),
                                    -np.ones((3, 4), int)])
def test_inputs_that_do_not_fit_are_named(inputs):
    with pytest.raises(SpecificationError) as caught:
        simulate(random_spec(np.random.default_rng(0), 1, False), inputs)
    assert caught.value.option == "inputs"


# ---- xylosim as the oracle -------------------------------------------------------------------


@pytest.fixture(scope="module")
def xylosims():
    """{'syns61201': XyloSim, 'syns63300': XyloSim} from rockpool 3.1.0 over xylosim 0.1.3."""
    try:
        import xylosim  # noqa: F401
        with samna_stubbed():
            from rockpool.devices.xylo.syns61201 import XyloSim as audio2
            from rockpool.devices.xylo.syns63300 import XyloSim as imu
    except ImportError as error:
        if os.environ.get("SNNC_REQUIRE_XYLOSIM") == "1":
            pytest.fail(f"SNNC_REQUIRE_XYLOSIM=1 but xylosim/rockpool is not importable: {error}")
        pytest.skip(f"xylosim 0.1.3 and rockpool 3.1.0 are needed ({error}); "
                    "pip install xylosim==0.1.3 && pip install --no-deps rockpool==3.1.0")
    return {"syns61201": audio2, "syns63300": imu}


def xylosim_run(xylosim_class, spec: dict, inputs: np.ndarray) -> dict:
    """XyloSim's record=True output under simulate's names."""
    out, _, rec = xylosim_class.from_specification(**spec).evolve(inputs, record=True)
    names = {"spikes": "Spikes", "vmem": "Vmem", "isyn": "Isyn", "vmem_out": "Vmem_out",
             "isyn_out": "Isyn_out", "isyn2": "Isyn2"}
    return {"spikes_out": out, **{ours: rec[theirs] for ours, theirs in names.items()
                                  if theirs in rec}}


def assert_same(ours: dict, theirs: dict, receptors: int):
    for name, expected in theirs.items():
        if name == "isyn2" and receptors == 1:
            assert not expected.any()  # xylosim keeps a second, unused current at 0
            continue
        mismatch = np.argwhere(ours[name] != expected)
        assert mismatch.size == 0, f"{name} differs first at (step, neuron) {mismatch[0]}"


CASES = [(seed, chip, receptors, saturating)
         for seed, (chip, receptors, saturating) in enumerate(
             [("syns61201", 2, False), ("syns61201", 1, False), ("syns63300", 1, False),
              ("syns61201", 2, True), ("syns63300", 1, True), ("syns63300", 2, True)] * 4)]


@pytest.mark.parametrize("seed, chip, receptors, saturating", CASES)
def test_random_specifications_match_xylosim_bit_for_bit(xylosims, monkeypatch, seed, chip,
                                                         receptors, saturating):
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, receptors, saturating)
    inputs = random_inputs(rng, 320, 4)
    folded = []

    def counted(start, terms):
        folded.append(start.size)
        return FOLD(start, terms)

    monkeypatch.setattr(integer, "_fold", counted)
    assert_same(simulate(spec, inputs), xylosim_run(xylosims[chip], spec, inputs), receptors)
    if saturating:  # the order-dependent path was taken, and checked
        assert sum(folded) > 0


def test_a_larger_batch_matches_xylosim_sample_by_sample(xylosims):
    """16 inputs, 120 hidden neurons (100 take inputs, the last 40 drive 8 outputs), two
    receptors, sparse weights: the matrix path with many sources, and a batch."""
    rng = np.random.default_rng(100)
    spec = random_spec(rng, 2, False, n_in=16, n_hidden=120, n_ien=100, n_oen=40, n_out=8)
    for name in ("weights_in", "weights_rec", "weights_out"):
        spec[name] = spec[name] * (rng.random(spec[name].shape) < 0.2)
    spec["threshold"] = np.abs(spec["threshold"]) + 500
    inputs = random_inputs(rng, 300, 16, 3)
    ours = simulate(spec, inputs)
    for sample in range(3):
        theirs = xylosim_run(xylosims["syns61201"], spec, inputs[:, sample])
        assert_same({name: array[:, sample] for name, array in ours.items()}, theirs, 2)
