"""The scaling benchmark's networks (tests/bench/scaling.py) are one network in every simulator.

At 100 neurons, for ``fixed_fan_in`` and ``sparse``:

- the generated .snn has CUBA's populations (80 % excitatory) and 80 inputs per neuron (64
  excitatory, 16 inhibitory), exactly per neuron for ``fixed_fan_in``;
- the Brian2 model (tests/bench/brian2_cuba.py: its update code, read from snnc's plan by
  ``scaling.describe``, and its delivery delays) replayed step by step in numpy on snnc's own
  synapses and initial potentials gives ``snnc.simulate``'s spikes and potentials;
- the NEST program of ``snnc compile --emit nest`` (where NEST is installed) builds the same
  populations, neuron constants (NEST's propagators equal snnc's decays), receptor ports,
  weights' signs and connection counts (exact in-degrees for ``fixed_fan_in``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnc

BENCH = Path(__file__).resolve().parent / "bench"
NEURONS, STEPS = 100, 1000


def bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scaling = bench_module("scaling")


@pytest.fixture(params=["fixed_fan_in", "sparse"])
def network(request, tmp_path):
    path = tmp_path / f"{request.param}.snn"
    path.write_text(scaling.spec_text(NEURONS, request.param), encoding="utf-8")
    return request.param, str(path), scaling.describe(str(path))


def test_populations_and_in_degree(network, tmp_path):
    kind, path, spec = network
    assert {p["name"]: p["size"] for p in spec["populations"]} == {"exc": 80, "inh": 20}
    snnc.compile(path, "reference", out=str(tmp_path / "ref"))
    arrays = np.load(tmp_path / "ref" / "network.npz")
    for index, q in enumerate(spec["projections"]):
        weights = arrays[f"w{index}"]  # dense [post, pre] at this density
        k = 64 if q["pre"] == "exc" else 16
        per_post = np.count_nonzero(weights, axis=1)
        if kind == "fixed_fan_in":
            assert q["k"] == k and (per_post == k).all()
        else:
            assert q["p"] == pytest.approx(80 / NEURONS)
            mean, n = per_post.mean(), weights.shape[0]
            assert abs(mean - k) < 5 * math.sqrt(k / n)  # binomial mean within 5 sigma
        assert set(np.unique(weights[weights != 0])) == {q["weight"]}


def replay(spec: dict, arrays, steps: int) -> dict:
    """The Brian2 model of brian2_cuba.py in numpy: its update code executed as Python on
    snnc's synapses and initial potentials, spikes delivered at the described delays."""
    brian2_cuba = scaling.brian2_cuba
    names = [p["name"] for p in spec["populations"]]
    state, spikes, potentials = {}, {n: [] for n in names}, {n: [] for n in names}
    for rank, p in enumerate(spec["populations"]):
        state[p["name"]] = {"v": arrays[f"p{rank}_v_init"].copy(),
                            "ref": np.zeros(p["size"], np.int64),
                            **{f"{k}_{r}": np.zeros(p["size"]) for r in p["receptors"]
                               for k in "IJ"}}
    helpers = {"volt": 1.0, "int": lambda x: np.asarray(x).astype(np.int64)}
    for n in range(steps):
        for p in spec["populations"]:
            own = state[p["name"]]
            for index, q in enumerate(spec["projections"]):
                if q["post"] == p["name"] and n - q["delay"] >= 0:
                    own[f"J_{q['receptor']}"] = own[f"J_{q['receptor']}"] + \
                        arrays[f"w{index}"] @ spikes[q["pre"]][n - q["delay"]]
            exec(brian2_cuba.update_code(p), dict(helpers), own)  # noqa: S102
            fired = own["v"] > p["threshold"]
            own["v"] = np.where(fired, p["v_reset"], own["v"])
            own["ref"] = np.where(fired, p["refractory"], own["ref"])
            spikes[p["name"]].append(fired.astype(np.float64))
            potentials[p["name"]].append(own["v"].copy())
    return {**{f"{k}.s": np.array(v, bool) for k, v in spikes.items()},
            **{f"{k}.v": np.array(v) for k, v in potentials.items()}}


def test_brian2_model_is_snnc_update(network, tmp_path):
    kind, path, spec = network
    snnc.compile(path, "reference", out=str(tmp_path / "ref"))
    arrays = np.load(tmp_path / "ref" / "network.npz")
    ours = replay(spec, arrays, STEPS)
    theirs = snnc.simulate(path, steps=STEPS, record=["exc.s", "inh.s", "exc.v", "inh.v"])
    for key, value in ours.items():
        got = np.asarray(theirs[key])[:, 0]
        if key.endswith(".s"):
            assert value.sum() > 0, key  # the population fires
            assert np.array_equal(got, value), key
        else:
            np.testing.assert_allclose(got, value, rtol=0, atol=1e-12)


NEST_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import nest, network
nodes, _ = network.build(10, {}, 1)
out = {"sizes": {k: len(v) for k, v in nodes.items()}, "neurons": {}, "projections": {}}
for name, node in nodes.items():
    status = node[0].get(["tau_m", "V_th", "V_reset", "t_ref", "tau_syn", "E_L", "C_m"])
    out["neurons"][name] = {k: (list(v) if hasattr(v, "__len__") else v) for k, v in status.items()}
for pre in nodes:
    for post in nodes:
        c = nest.GetConnections(nodes[pre], nodes[post])
        if len(c):
            got = c.get(["weight", "receptor", "delay", "target"])
            counts = {}
            for t in got["target"]:
                counts[t] = counts.get(t, 0) + 1
            out["projections"][pre + "->" + post] = {
                "count": len(c), "weights": sorted(set(got["weight"])),
                "receptors": sorted(set(got["receptor"])), "delays": sorted(set(got["delay"])),
                "in_degrees": sorted(set(counts.values())), "targets": len(counts)}
print(json.dumps(out))
"""


def nest_available() -> bool:
    found = subprocess.run([sys.executable, "-c", "import nest"], capture_output=True)
    if found.returncode != 0 and os.environ.get("SNNC_REQUIRE_NEST") == "1":
        pytest.fail("SNNC_REQUIRE_NEST=1 but nest does not import")
    return found.returncode == 0


@pytest.mark.filterwarnings("ignore:.*W523")  # NEST's minimum latency on CUBA's cycles
def test_nest_program_is_the_same_network(network, tmp_path):
    if not nest_available():
        pytest.skip("NEST 3.10 is not installed (pip install 'snnc[nest]')")
    kind, path, spec = network
    folder = tmp_path / "nest"
    snnc.compile(path, "nest", out=str(folder))
    done = subprocess.run([sys.executable, "-c", NEST_PROBE, str(folder)], capture_output=True,
                          text=True, env=dict(os.environ, PYNEST_QUIET="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    nest = json.loads(done.stdout.strip().splitlines()[-1])
    h = spec["dt"] * 1000  # ms
    ports = {}
    for p in spec["populations"]:
        got = nest["neurons"][p["name"]]
        assert nest["sizes"][p["name"]] == p["size"]
        assert math.exp(-h / got["tau_m"]) == pytest.approx(p["a_mem"], rel=1e-14)
        receptors = sorted(p["receptors"])  # NEST ports 1, 2, ... in this order
        ports[p["name"]] = {r: i + 1 for i, r in enumerate(receptors)}
        decays = [math.exp(-h / tau) for tau in got["tau_syn"]]
        assert decays == pytest.approx([p["receptors"][r] for r in receptors], rel=1e-14)
        assert got["V_th"] == np.nextafter(p["threshold"], np.inf)  # NEST fires at >=
        assert got["V_reset"] == p["v_reset"]
        assert got["t_ref"] == pytest.approx(p["refractory"] * h)
    for q in spec["projections"]:
        got = nest["projections"][q["name"]]
        n_pre = next(p["size"] for p in spec["populations"] if p["name"] == q["pre"])
        n_post = next(p["size"] for p in spec["populations"] if p["name"] == q["post"])
        assert got["receptors"] == [ports[q["post"]][q["receptor"]]]
        assert len(got["weights"]) == 1 and np.sign(got["weights"][0]) == np.sign(q["weight"])
        assert min(got["delays"]) >= q["delay"] * h  # NEST's latency: at least snnc's delay
        if kind == "fixed_fan_in":
            assert got["count"] == q["k"] * n_post and got["in_degrees"] == [q["k"]]
            assert got["targets"] == n_post
        else:
            mean = q["p"] * n_pre * n_post
            assert abs(got["count"] - mean) < 5 * math.sqrt(mean)
