"""`snnc compile --emit xylo` and `snnc run --arithmetic`: the Xylo program, its quantization,
and snnc's integer prediction against Rockpool's bit-accurate simulator (docs/synsense.md).

Three oracles: (1) with rockpool 3.1.0 and xylosim 0.1.3 installed (CI sets
SNNC_REQUIRE_XYLOSIM=1: then they must be), the emitted run.py maps the specification with
Rockpool's own mapper and runs it in XyloSim, and `snnc run --arithmetic` must record the same
spikes and states on every chip and network, over 500+ steps; (2) the floating-point
simulation of the same network: until the first step where the spikes differ, the chip's
membrane divided by the scale S is snnc's membrane up to the rounding (the gains c_in / a_k);
(3) the quantization's closed form.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snnc.recordings import SpikeEvents, events_of, to_events

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "xylo"
CHIPS = ("xylo", "xylo_audio3", "xylo_imu")

#: two hidden layers in a chain (the second neither takes inputs nor drives... the readout it
#: does: input -> a -> b -> out), a data input run with a batch, per-neuron thresholds and a
#: non-spiking readout
TWO_LAYERS = """
network two_layers {
  dt = 1 ms
  seed = 7
  integration = euler
  duration = 600 ms
}
input x[10]
population a: CubaLIF[40] {
  tau_mem = 8 ms
  tau_syn = 4 ms
  threshold = uniform(0.8, 1.2)
  reset = subtract
  bias = 0.01
}
population b: CubaLIF[30] {
  tau_mem = 16 ms
  tau_syn = 2 ms
  threshold = 1
  reset = subtract
}
readout out: CubaLI[3] {
  tau_mem = 32 ms
  tau_syn = 8 ms
}
x -> a: dense { weight = normal(0.3, 0.3) }
a -> b: sparse(p = 0.5) {
  delay = 1 ms
  weight = normal(0.2, 0.3)
}
b -> b: sparse(p = 0.1) { weight = normal(0, 0.2) }
b -> out: dense {
  delay = 1 ms
  weight = normal(0, 0.5)
}
loss cross_entropy(sum_over_time(out.v))
record a.s, a.v, a.i, b.s, out.v, out.i, x.s
"""


def snnc(*args, cwd=None) -> tuple[int, str, str]:
    result = subprocess.run([sys.executable, "-m", "snnc", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


def vendor_available() -> bool:
    found = all(importlib.util.find_spec(m) is not None for m in ("rockpool", "xylosim"))
    if not found and os.environ.get("SNNC_REQUIRE_XYLOSIM") == "1":
        pytest.fail("SNNC_REQUIRE_XYLOSIM=1 but rockpool or xylosim is not importable")
    return found


@pytest.fixture(scope="module")
def two_layers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two_layers")
    source = folder / "two_layers.snn"
    source.write_text(TWO_LAYERS)
    rng = np.random.default_rng(3)
    np.savez(folder / "data.npz", x=rng.random((600, 3, 10)) < 0.08, label=np.array([0, 2, 1]))
    return source, folder / "data.npz"


def networks(two_layers):
    source, data = two_layers
    return {"feedforward": (FIXTURES / "feedforward.snn", None),
            "recurrent": (FIXTURES / "recurrent.snn", None),
            "xylo_ei": (ROOT / "examples" / "xylo_ei.snn", None),
            "two_layers": (source, data)}


# ---- (1) snnc's integer simulator against XyloSim, through the emitted program ----------

@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("name", ["feedforward", "recurrent", "xylo_ei", "two_layers"])
def test_snnc_predicts_xylosim_spike_for_spike(chip, name, two_layers, tmp_path):
    if not vendor_available():
        pytest.skip("rockpool 3.1.0 and xylosim 0.1.3 are not installed")
    source, data = networks(two_layers)[name]
    out = tmp_path / "program"
    code, _, err = snnc("compile", source, "--emit", "xylo", "--target", chip, "-o", out)
    if name == "xylo_ei" and chip == "xylo_imu":  # two currents per neuron: the IMU has one
        assert code == 1 and "E405" in err and "has 1" in err
        return
    assert code == 0, err
    given = ["--input", data] if data else []
    run = subprocess.run([sys.executable, out / "run.py", "-o", tmp_path / "xylosim.npz",
                          *given], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "mapper" in run.stdout and "accepts the specification" in run.stdout
    code, _, err = snnc("run", source, "--arithmetic", chip, "-o", tmp_path / "snnc.npz",
                        *given, *(["--batch", "3"] if data else []))
    assert code == 0, err
    if data:  # labels and a loss: both decide the classes as snnc train decides
        assert "accuracy" in run.stdout
        code, out, err = snnc("run", source, "--arithmetic", chip, "--input", data,
                              "--batch", "3", "--format", "json")
        with np.load(tmp_path / "xylosim.npz") as a:
            assert json.loads(out)["accuracy"] == pytest.approx(float(a["accuracy"]))
    with np.load(tmp_path / "xylosim.npz") as a, np.load(tmp_path / "snnc.npz") as b:
        assert sorted(set(a.files) - {"accuracy", "prediction"}) == sorted(b.files)
        for key in b.files:
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
        steps = int(b["steps"])
        assert steps >= 500
        spikes = {k[:-len(".events.shape")]: events_of(b, k[:-len(".events.shape")]).counts()
                  for k in b.files if k.endswith(".s.events.shape")}
    populations = [k for k in spikes if not k.startswith(("mic", "imu", "x."))]
    assert all(spikes[k].sum() > 0 for k in populations), spikes  # a comparison of something


def test_mapper_refuses_a_specification_the_chip_cannot_take(tmp_path):
    """run.py stops when Rockpool's mapper refuses: a synaptic dash of 0 (tau = dt)."""
    if not vendor_available():
        pytest.skip("rockpool 3.1.0 and xylosim 0.1.3 are not installed")
    out = tmp_path / "program"
    assert snnc("compile", FIXTURES / "feedforward.snn", "--emit", "xylo", "-o", out)[0] == 0
    with np.load(out / "spec.npz") as archive:
        spec = {k: archive[k] for k in archive.files}
    spec["dash_syn"][0] = 0
    np.savez(out / "spec.npz", **spec)
    run = subprocess.run([sys.executable, out / "run.py", "--check-only"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.startswith("run.py: error: Rockpool's mapper refused")


@pytest.mark.parametrize("mistake,words", [
    (["--steps", "0"], "--steps must be positive"),
    (["--steps", "501"], "input 'mic' has 500 steps"),
    (["--input", "missing.npz"], "--input: cannot read 'missing.npz'"),
    (["--split", "test"], "--split reads a data file"),
    (["-o", "."], "is a folder"),
    ("spec", "spec.npz of this program cannot be read"),
    ("inputs", "inputs.npz is missing"),
])
def test_run_py_mistakes_are_one_line_errors(mistake, words, tmp_path):
    """Caught before Rockpool is imported (so also where it is not installed): exit 1, one
    line 'run.py: error: ...', no traceback, nothing written."""
    out = tmp_path / "program"
    assert snnc("compile", FIXTURES / "feedforward.snn", "--emit", "xylo", "-o", out)[0] == 0
    args = mistake
    if mistake == "spec":
        (out / "spec.npz").write_bytes(b"not an archive")
        args = []
    elif mistake == "inputs":
        (out / "inputs.npz").unlink()
        args = []
    run = subprocess.run([sys.executable, out / "run.py", *args], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("run.py: error: ") and words in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "recording.npz").exists()


# ---- (2) the integer program against snnc's floating point -------------------------------

@pytest.mark.parametrize("name", ["feedforward", "recurrent", "xylo_ei"])
def test_the_chips_membrane_is_snncs_times_its_scale(name, tmp_path):
    """Until the spikes first differ (the chip fires at v >= threshold and up to 31 times a
    step, snnc once at v > threshold, and the rounding moves a membrane near its threshold
    across it), v_chip / S follows snnc's v within the rounding: the weights' gains
    c_in / a_k, the decays and the delays are right. The fixtures' projections from hidden
    neurons get the chip's one-step delay, and their input weights are halved (fewer double
    spikes, a longer common run)."""
    if name == "xylo_ei":
        source = ROOT / "examples" / "xylo_ei.snn"
    else:
        text = (FIXTURES / f"{name}.snn").read_text().replace(
            "hidden -> out: dense {", "hidden -> out: dense {\n  delay = 1 ms").replace(
            "normal(0, 0.5)", "normal(0, 0.25)").replace("normal(0, 0.4)", "normal(0, 0.2)")
        source = tmp_path / f"{name}.snn"
        source.write_text(text)
    given = []
    assert snnc("compile", source, "--emit", "xylo", "-o", tmp_path / "p")[0] == 0
    scales = json.loads((tmp_path / "p" / "layout.json").read_text())["scales"]
    populations = list(scales)
    report = json.loads((tmp_path / "p" / "quantization.json").read_text())["populations"]
    spiking = [p for p in populations if report[p]["threshold"]["value"] is not None]
    record = ",".join([f"{p}.v" for p in populations] + [f"{p}.s" for p in spiking])
    for mode, extra in (("float", []), ("chip", ["--arithmetic", "xylo"])):
        code, _, err = snnc("run", source, "--record", record, "--record-dense", "-o",
                            tmp_path / f"{mode}.npz", *given, *extra)
        assert code == 0, err
    with np.load(tmp_path / "float.npz") as f, np.load(tmp_path / "chip.npz") as c:
        differ = np.zeros(int(f["steps"]), bool)
        for p in populations:
            if f"{p}.s" in f.files:
                differ |= (f[f"{p}.s"].astype(int) != c[f"{p}.s"]).any(
                    axis=tuple(range(1, f[f"{p}.s"].ndim)))
        first = int(np.argmax(differ)) if differ.any() else len(differ)
        assert first >= 2, f"the spikes differ from step {first}"
        moved = 0.0
        for p in populations:
            exact, chip = f[f"{p}.v"][:first], c[f"{p}.v"][:first] / scales[p]
            moved = max(moved, np.abs(exact).max())
            assert np.abs(chip - exact).max() < 0.02, p
        assert moved > 0.1  # the membranes moved: the comparison compared something


# ---- (3) the quantization ----------------------------------------------------------------

ONE_SYNAPSE = """
network one {{
  dt = 1 ms
  integration = euler
  duration = 20 ms
}}
input x[2]
population h: CubaLIF[2] {{
  tau_mem = 16 ms
  tau_syn = 4 ms
  threshold = {threshold}
  reset = subtract
  input_scale = {scale}
}}
readout out: CubaLIF[1] {{
  tau_mem = 8 ms
  tau_syn = 2 ms
  threshold = 2
  reset = subtract
}}
x -> h: dense {{ weight = {weight} }}
h -> out: dense {{ weight = 0.5 }}
"""


@pytest.mark.parametrize("threshold,scale,weight", [(1, "one", 0.3), (2, 0.5, 1.7),
                                                    (0.5, "one_minus_decay", 0.01)])
def test_weights_thresholds_and_shifts_follow_the_closed_form(threshold, scale, weight,
                                                              tmp_path):
    """S = 4096 / threshold; w_int = round(S c_in w / a_syn / 2^shift) with the smallest shift
    that keeps |w_int| <= 127; dash = log2(tau / dt)."""
    source = tmp_path / "one.snn"
    source.write_text(ONE_SYNAPSE.format(threshold=threshold, scale=scale, weight=weight))
    assert snnc("compile", source, "--emit", "xylo", "-o", tmp_path / "p")[0] == 0
    with np.load(tmp_path / "p" / "spec.npz") as archive:
        spec = {k: archive[k] for k in archive.files}
    c_in = {"one": 1.0, "one_minus_decay": 1 / 16}.get(scale, scale)
    a_syn = 1 - 2.0 ** -2
    gained = 4096 / threshold * c_in * weight / a_syn
    shift = max(0, int(np.ceil(np.log2(gained / 127))))
    assert int(spec["weight_shift_in"].item()) == shift
    assert np.all(spec["weights_in"] == np.round(gained / 2 ** shift))
    assert np.all(spec["threshold"] == 4096) and np.all(spec["threshold_out"] == 4096)
    assert list(spec["dash_mem"]) == [4, 4] and list(spec["dash_syn"]) == [2, 2]
    assert list(spec["dash_mem_out"]) == [3] and list(spec["dash_syn_out"]) == [1]
    report = json.loads((tmp_path / "p" / "quantization.json").read_text())
    error = report["projections"]["x->h"]["max_relative_error"]
    assert error == pytest.approx(abs(np.round(gained / 2 ** shift) * 2 ** shift - gained)
                                  / gained, abs=1e-12)


def test_the_same_network_gives_the_same_bytes_and_snncs_inputs(tmp_path):
    for folder in ("a", "b"):
        assert snnc("compile", FIXTURES / "recurrent.snn", "--emit", "xylo", "-o",
                    tmp_path / folder)[0] == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "inputs.npz" in names and "spec.npz" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    code, _, err = snnc("run", FIXTURES / "recurrent.snn", "--record", "imu.s",
                        "--record-dense", "-o", tmp_path / "float.npz")
    assert code == 0, err
    with np.load(tmp_path / "a" / "inputs.npz") as drawn, np.load(tmp_path / "float.npz") as f:
        assert np.array_equal(drawn["imu"], f["imu.s"][:, 0])
        assert drawn["imu"].any()


@pytest.mark.parametrize("name,extra", [("recurrent", ["--batch", "2", "--seed", "9"]),
                                        ("two_layers", ["--batch", "3"])])
def test_the_chip_gets_the_inputs_snnc_run_draws(name, extra, two_layers, tmp_path):
    """`snnc run --arithmetic` feeds the chip the spikes the floating-point run sees: the same
    Poisson draws for every sample and seed, the same data."""
    source, data = networks(two_layers)[name]
    given = ["--input", data] if data else []
    ins = "imu.s" if name == "recurrent" else "x.s"
    for mode, arithmetic in (("float", []), ("chip", ["--arithmetic", "xylo"])):
        code, _, err = snnc("run", source, "--record", ins, "--record-dense", "-o",
                            tmp_path / f"{mode}.npz", *given, *extra, *arithmetic)
        assert code == 0, err
    with np.load(tmp_path / "float.npz") as f, np.load(tmp_path / "chip.npz") as c:
        assert f[ins].any() and np.array_equal(f[ins], c[ins] > 0) and c[ins].max() == 1


def test_spike_counts_become_one_event_per_spike(tmp_path):
    """A chip neuron firing k spikes in a step is k equal events, in snnc and in run.py."""
    counts = np.zeros((3, 2, 4), np.uint8)
    counts[0, 1, 2], counts[2, 0, 0], counts[2, 0, 3] = 3, 1, 31
    events = to_events({"h.s": counts})
    found = SpikeEvents(*(events[f"h.s.events.{f}"] for f in ("step", "batch", "index")),
                        tuple(events["h.s.events.shape"]))
    assert len(found.step) == 35
    assert np.array_equal(found.counts(), counts.sum(axis=0, dtype=np.int64))
    assert np.array_equal(found.dense(), counts > 0)
    assert snnc("compile", FIXTURES / "feedforward.snn", "--emit", "xylo", "-o",
                tmp_path / "p")[0] == 0
    spec = importlib.util.spec_from_file_location("xylo_run", tmp_path / "p" / "run.py")
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)  # imports numpy only: Rockpool is imported when used
    theirs = program.spike_events({"h.s": counts})
    assert sorted(theirs) == sorted(events)
    assert all(np.array_equal(theirs[k], events[k]) for k in events)


# ---- what cannot run on Xylo --------------------------------------------------------------

BASE = """
network n {{
  dt = 1 ms
  integration = euler
  duration = 50 ms
}}
input x[4]: poisson(rate = 50 Hz)
population h: {hidden}[8] {{
  tau_mem = 8 ms
  tau_syn = 2 ms
{extra}
}}
readout out: CubaLIF[2] {{
  tau_mem = 8 ms
  tau_syn = 2 ms
  threshold = 1
  reset = subtract
}}
x -> h: dense {{
{input_delay}  weight = 0.5
}}
h -> out: dense {{
{output_delay}  weight = 0.5
}}
"""


def network(tmp_path, hidden="CubaLIF", extra="  threshold = 1\n  reset = subtract",
            input_delay="", output_delay="") -> Path:
    source = tmp_path / "n.snn"
    source.write_text(BASE.format(hidden=hidden, extra=extra, input_delay=input_delay,
                                  output_delay=output_delay))
    return source


@pytest.mark.parametrize("case,code,words", [
    ("hidden_li", "E530", "does not spike"),
    ("v_init", "E530", "every Xylo neuron starts at 0"),
    ("input_delay", "E530", "from an input has none"),
    ("output_delay", "E530", "none or one step"),
    ("zero_threshold", "E531", "fires every step"),
])
def test_what_xylo_cannot_express_is_refused_by_compile_and_run(case, code, words, tmp_path):
    source = {
        "hidden_li": lambda: network(tmp_path, hidden="CubaLI", extra=""),
        "v_init": lambda: network(tmp_path, extra="  threshold = 1\n  reset = subtract\n"
                                                  "  v_init = 0.5"),
        "input_delay": lambda: network(tmp_path, input_delay="  delay = 1 ms\n"),
        "output_delay": lambda: network(tmp_path, output_delay="  delay = 2 ms\n"),
        "zero_threshold": lambda: network(tmp_path, extra="  threshold = 0\n  reset = subtract"),
    }[case]()
    for command in (["compile", source, "--emit", "xylo", "-o", tmp_path / "out"],
                    ["run", source, "--arithmetic", "xylo", "-o", tmp_path / "r.npz"]):
        status, _, err = snnc(*command)
        assert status == 1, err
        assert f"error[{code}]" in err and words in err and "hint:" in err, err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.npz").exists()


def test_a_network_for_another_chip_is_refused_with_the_chips_reasons(tmp_path):
    status, _, err = snnc("compile", ROOT / "examples" / "cuba.snn", "--emit", "xylo", "-o",
                          tmp_path / "out")
    assert status == 1 and "Traceback" not in err
    assert "error[E405]" in err and "refractory" in err and "error[E402]" in err
    status, _, err = snnc("compile", ROOT / "examples" / "stdp.snn", "--emit", "xylo", "-o",
                          tmp_path / "out")
    assert status == 1 and "error[E301]" in err


def test_arithmetic_names_a_chip_that_has_one(tmp_path):
    source = FIXTURES / "feedforward.snn"
    status, _, err = snnc("run", source, "--arithmetic", "loihi2")
    assert status == 1 and "error[E625]" in err and "xylo_imu" in err
    status, _, err = snnc("run", source, "--arithmetic", "xylo_im")
    assert status == 1 and "error[E212]" in err and "xylo_imu" in err
    status, _, err = snnc("run", source, "--arithmetic", str(tmp_path / "missing.json"))
    assert status == 1 and "error[E601]: --arithmetic:" in err  # the option at fault
    status, _, err = snnc("run", source, "--arithmetic", "xylo", "--delivery", "next_step")
    assert status == 2 and "--arithmetic" in err
    status, _, err = snnc("run", source, "--arithmetic", "xylo", "--record", "hidden.i,mic.v")
    assert status == 1 and "error[E605]" in err and "'mic.v'" in err  # as without the chip
    status, _, err = snnc("run", source, "--arithmetic", "xylo", "--record",
                          "hidden.s,mic->hidden.w")
    assert status == 1 and "error[E625]" in err and "'mic->hidden.w'" in err


def test_a_custom_target_based_on_a_xylo_keeps_its_arithmetic(tmp_path):
    text = (FIXTURES / "feedforward.snn").read_text() + \
        "\ntarget small_xylo {\n  base = xylo_imu\n  output_neurons = 8\n}\n"
    source = tmp_path / "custom.snn"
    source.write_text(text)
    status, out, err = snnc("run", source, "--arithmetic", "small_xylo", "-o",
                            tmp_path / "custom.npz")
    assert status == 0, err
    status, _, err = snnc("run", FIXTURES / "feedforward.snn", "--arithmetic", "xylo_imu", "-o",
                          tmp_path / "imu.npz")
    assert status == 0, err
    with np.load(tmp_path / "custom.npz") as a, np.load(tmp_path / "imu.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
