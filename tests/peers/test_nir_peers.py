"""Equivalence with other toolchains: snnc's NIR export, run in Norse 1.1.0 and snnTorch 1.0.0,
spikes exactly like snnc's reference simulator.

Every case compiles a program, writes ``network.nir`` as ``snnc compile --emit nir`` does, reads
it back with ``nir.read``, feeds the same random input spikes (``STEPS`` steps, one sample) to
the reference simulator and to each peer, and compares the spike trains of every spiking
population the export gives an Output node (readouts, ends of the graph, recorded populations).
The export writes Euler-equivalent parameters, so no spike may differ.

The peers are driven by ``snnc.peers`` (README, section "Equivalence with other toolchains",
whose usage block this module executes). What a peer is known not to import (``peer_limitations``) is checked, not
skipped: the case must then fail in that peer (an error or different spikes) and is reported
as an expected failure; should it pass, the test fails, so that the stale limitation goes. Bugs
of snnc's export are kept as regression tests at the end of this file.
"""

from __future__ import annotations

import pathlib
import re
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from simulate import compile_text, load_module

import snnc
from snnc import peers
from snnc.backends.nir.export import export_graph, lossy_constructs
from snnc.ir.discrete import build_plan

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.snn"))
STEPS = 200
SPIKING = ("LIF", "CubaLIF", "IF")
HIDDEN_RATE = 0.04  # spikes per neuron and step that the random networks' weights assume
PEERS = ["norse", "snntorch"]


@cache
def readme_usage() -> str:
    """The README's usage block of ``snnc.peers`` (section "Equivalence with other
    toolchains")."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Equivalence with other toolchains\n(.*?)(?=^## )", text, re.M | re.S)
    assert match, "README.md has no section 'Equivalence with other toolchains'"
    blocks = re.findall(r"^```(\w+)\n(.*?)^```", match.group(1), re.M | re.S)
    (usage,) = [body for lang, body in blocks if lang == "python"]
    return usage


# ---- what each peer is known not to import ------------------------------------------------------

def peer_limitations(peer: str, graph, populations) -> list[str]:
    """Why ``peer`` cannot reproduce the spikes of ``populations`` (empty: it must)."""
    import nir

    part = peers.spiking_subgraph(graph, populations)
    dt = float(graph.metadata["dt"])
    reasons = set()
    for name, node in part.nodes.items():
        if isinstance(node, (nir.LI, nir.CubaLI, nir.Scale, nir.Delay)):
            reasons.add(f"{peer} imports no {type(node).__name__} node ('{name}')")
        spiking = isinstance(node, (nir.LIF, nir.CubaLIF, nir.IF))
        if peer == "norse":
            if isinstance(node, nir.LIF) and not np.allclose(node.r, 1.0):
                reasons.add("Norse 1.1.0 ignores r of LIF nodes (snnc exports r = c_in tau / dt, "
                            "which is 1 for input_scale = one_minus_decay only)")
            if isinstance(node, nir.IF) and not np.allclose(node.r * dt, 1.0):
                reasons.add("Norse 1.1.0 ignores r of IF nodes (it adds the input as it is)")
            if spiking and np.any(node.v_reset != 0):
                reasons.add("Norse 1.1.0 resets to 0, ignoring v_reset")
            if isinstance(node, nir.CubaLIF) and np.any(node.v_leak != 0):
                reasons.add("Norse 1.1.0 lets a CubaLIF's synaptic current leak to v_leak")
        if peer == "snntorch":
            if isinstance(node, nir.IF):
                reasons.add("snnTorch 1.0.0 imports IF as a leaky neuron (beta 0.9) and "
                            "requires r == 1")
            if isinstance(node, (nir.LIF, nir.CubaLIF)):
                if np.unique(node.v_threshold).size > 1:
                    reasons.add("snnTorch 1.0.0 needs one threshold per node")
                if np.any(node.v_leak != 0):
                    reasons.add("snnTorch 1.0.0 supports v_leak = 0 only")
            if spiking and np.any(node.v_reset != 0):
                reasons.add("snnTorch 1.0.0 resets to 0, ignoring v_reset")
            if isinstance(node, nir.LIF) and np.unique(node.r / node.tau).size > 1:
                reasons.add("snnTorch 1.0.0 rescales a LIF's threshold by one r dt / tau per node")
            if isinstance(node, nir.CubaLIF) and not np.allclose(node.r, node.tau_mem / dt):
                reasons.add("snnTorch 1.0.0 requires a CubaLIF's r = tau_mem / dt "
                            "(input_scale = one)")
    if peer == "norse" and not reasons:
        reasons.update(norse_late_edges(part))
    return sorted(reasons)


def norse_late_edges(graph) -> list[str]:
    """Norse loads a graph with nirtorch's deprecated GraphExecutor, which runs the nodes in
    depth-first order from the input, not in a topological order: a feed-forward edge whose
    source runs after its target delivers the previous step's value (a skip connection)."""
    import networkx as nx
    import norse.torch

    model = norse.torch.from_nir(graph, dt=float(graph.metadata["dt"]))
    rank = {node.name: i for i, node in enumerate(model.execution_order)}
    edges = [(pre.replace(".", "_"), post.replace(".", "_")) for pre, post in graph.edges]
    paths = nx.DiGraph(edges)
    return [f"Norse 1.1.0 (nirtorch's GraphExecutor) runs '{post}' before its input '{pre}', "
            "which then arrives a step late"
            for pre, post in edges if rank[pre] > rank[post] and not nx.has_path(paths, post, pre)]


# ---- the cases ----------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    text: str
    probability: float | None = None  # input spikes per step; None: from the input's rate hint
    path: pathlib.Path | None = None  # where the text lives (for imports)


def compile_case(case: Case):
    if case.path is None:
        return compile_text(case.text)
    diag = snnc.Diagnostics()
    program = snnc.load_text(case.text, str(case.path), diag)
    net = snnc.compile_program(program, diag) if program else None
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    return net


def frozen(name: str, *substitutions: tuple[str, str]) -> str:
    """An example without its learning rules (NIR has no plasticity), with edits."""
    text = "\n".join(line for line in (ROOT / "examples" / name).read_text().splitlines()
                     if not line.strip().startswith("learn "))
    for old, new in substitutions:
        assert old in text, (name, old)
        text = text.replace(old, new)
    return text


def example_cases() -> list:
    """Every example that NIR expresses as it is, and NIR-expressible variants of others."""
    cases = []
    for path in EXAMPLES:
        case = Case(path.stem, path.read_text(), path=path)
        net = compile_case(case)
        if not lossy_constructs(net, build_plan(net)):
            cases.append(case)
    cases += [
        Case("decolle_frozen", frozen("decolle.snn")),
        Case("superspike_frozen", frozen("superspike.snn", ("normal(0, 0.1)", "normal(0.1, 0.2)")),
             0.1),
        Case("eprop_randman_frozen_reset_zero",
             frozen("eprop_randman.snn", ("reset = subtract", "reset = zero"),
                    ("normal(0, 0.2)", "normal(0.1, 0.3)")), 0.1),
    ]
    return [pytest.param(case, id=case.name) for case in cases]


def _settings(rng, name):
    dt = float(rng.choice([1.0, 0.5, 0.1]))
    integration = str(rng.choice(["exact", "euler"]))
    return (f"network {name} {{\n  dt = {dt} ms\n  seed = {int(rng.integers(1000))}\n"
            f"  integration = {integration}\n}}\n"), dt * 1e-3


def _neuron(rng, model, dt, portable=True, drive=None):
    """A neuron block and the gain from a constant drive per step to the membrane's steady
    state (for the weights). Time constants are drawn in steps, so that the dynamics unfold
    within the run whatever dt is."""
    tau_mem = float(rng.uniform(4, 25)) * dt
    threshold = round(float(rng.uniform(0.5, 1.5)), 3)
    lines = [f"tau_mem = {tau_mem * 1e3:.4f} ms", "reset = zero"]
    a_mem = np.exp(-dt / tau_mem)
    gain = 1.0
    if model == "LIF":
        if portable or rng.random() < 0.5:
            lines.append("input_scale = one_minus_decay")  # r = 1 (Norse ignores LIF's r)
        else:
            gain = 1.0 / (1.0 - a_mem)
    elif model == "CubaLIF":
        tau_syn = float(rng.uniform(1.5, 8)) * dt
        lines.append(f"tau_syn = {tau_syn * 1e3:.4f} ms")
        gain = 1.0 / ((1.0 - np.exp(-dt / tau_syn)) * (1.0 - a_mem))
        if not portable and rng.random() < 0.5:
            lines.append("input_scale = 0.5")
            gain *= 0.5
    elif model == "IF":
        lines = ["reset = zero"]
        gain = 8.0  # no steady state: a drive of threshold / 8 fires every 8 steps
    if drive is not None:  # a fixed drive per step (sum pooling): a threshold it reaches
        threshold = round(0.8 * drive * gain, 4)
    if not portable and rng.random() < 0.5:
        lines.append(f"threshold = uniform({threshold * 0.8:.3f}, {threshold * 1.2:.3f})")
    else:
        lines.append(f"threshold = {threshold}")
    return "{\n  " + "\n  ".join(lines) + "\n}", gain, threshold


def _weights(rng, fan_in, rate, gain, threshold):
    """normal(mean, std) for a mean drive near the threshold and a comparable spread."""
    expected = max(fan_in * rate, 0.05)  # input spikes per step
    mean = 1.4 * threshold / (gain * expected)
    std = 1.5 * threshold / (gain * np.sqrt(expected))
    return f"normal({mean:.6g}, {std:.6g})"


def random_feedforward(seed: int, portable: bool = True) -> Case:
    """Input -> one to three layers (dense, sparse or fixed fan-in, sometimes a skip
    connection), every population recorded."""
    rng = np.random.default_rng(seed)
    head, dt = _settings(rng, f"ff{seed}")
    n_in, p_in = int(rng.integers(10, 50)), 0.1
    models = ["LIF", "CubaLIF"] + ([] if portable else ["IF"])
    layers = [(f"h{i}", str(rng.choice(models)), int(rng.integers(5, 40)))
              for i in range(int(rng.integers(1, 4)))]
    text = head + f"input x[{n_in}]\n"
    previous, size, rate = "x", n_in, p_in
    for name, model, n in layers:
        block, gain, threshold = _neuron(rng, model, dt, portable)
        text += f"population {name}: {model}[{n}] {block}\n"
        kind = str(rng.choice(["dense", "sparse", "fixed_fan_in"]))
        connectivity, fan_in = {"dense": ("dense", size),
                                "sparse": ("sparse(p = 0.5)", size * 0.5),
                                "fixed_fan_in": (f"fixed_fan_in(k = {max(1, size // 2)})",
                                                 max(1, size // 2))}[kind]
        text += (f"{previous} -> {name}: {connectivity} {{ weight = "
                 f"{_weights(rng, fan_in, rate, gain, threshold)} }}\n")
        previous, size, rate = name, n, HIDDEN_RATE
    if len(layers) > 1 and rng.random() < 0.7:
        name = layers[-1][0]
        text += f"x -> {name} as skip: dense {{ weight = normal(0, {0.3 / np.sqrt(n_in):.4f}) }}\n"
    text += "record " + ", ".join(f"{name}.s" for name, _, _ in layers) + "\n"
    return Case(f"feedforward{seed}" + ("" if portable else "_any"), text, p_in)


def random_recurrent(seed: int, portable: bool = True) -> Case:
    """Input -> a recurrent population (dense or sparse self-connections, or a two-population
    loop) -> a spiking output population."""
    rng = np.random.default_rng(seed)
    head, dt = _settings(rng, f"rec{seed}")
    n_in, p_in = int(rng.integers(10, 40)), 0.1
    text = head + f"input x[{n_in}]\n"
    model = str(rng.choice(["LIF", "CubaLIF"]))
    n = int(rng.integers(10, 50))
    block, gain, threshold = _neuron(rng, model, dt, portable)
    text += f"population h: {model}[{n}] {block}\n"
    text += f"x -> h: dense {{ weight = {_weights(rng, n_in, p_in, gain, threshold)} }}\n"
    recurrent = f"normal(0, {0.5 * threshold / (gain * np.sqrt(n * HIDDEN_RATE)):.5f})"
    loop = rng.random() < 0.4
    if loop:  # h -> g -> h: the edge back to h is the one delivered a step later
        m = int(rng.integers(5, 20))
        block_g, gain_g, threshold_g = _neuron(rng, "LIF", dt, portable)
        text += f"population g: LIF[{m}] {block_g}\n"
        text += f"h -> g: dense {{ weight = {_weights(rng, n, HIDDEN_RATE, gain_g, threshold_g)} }}\n"
        text += f"g -> h: dense {{ weight = {recurrent} }}\n"
    elif rng.random() < 0.5:
        text += f"h -> h: dense {{ weight = {recurrent} }}\n"
    else:
        text += f"h -> h as lateral: sparse(p = 0.3) {{ weight = {recurrent} }}\n"
    out_model = str(rng.choice(["LIF", "CubaLIF"]))
    block, gain, threshold = _neuron(rng, out_model, dt, portable)
    k = int(rng.integers(3, 12))
    text += f"population o: {out_model}[{k}] {block}\n"
    text += f"h -> o: dense {{ weight = {_weights(rng, n, HIDDEN_RATE, gain, threshold)} }}\n"
    text += "record h.s, o.s" + (", g.s" if loop else "") + "\n"
    return Case(f"recurrent{seed}" + ("" if portable else "_any"), text, p_in)


def random_conv(seed: int, portable: bool = True) -> Case:
    """[c, h, w] input -> conv2d -> spiking maps -> sumpool2d -> spiking maps -> (strided conv)
    -> dense -> a spiking output population."""
    rng = np.random.default_rng(seed)
    head, dt = _settings(rng, f"conv{seed}")
    c, h = int(rng.integers(1, 3)), int(rng.choice([8, 10, 12, 16]))
    p_in = 0.1
    text = head + f"input x[{c}, {h}, {h}]\n"
    models = ["LIF", "CubaLIF"] + ([] if portable else ["IF"])

    def population(name, shape, drive, fixed=False):
        nonlocal text
        model = str(rng.choice(models))
        block, gain, threshold = _neuron(rng, model, dt, portable, drive if fixed else None)
        text += f"population {name}: {model}[{', '.join(map(str, shape))}] {block}\n"
        return _weights(rng, drive, 1.0, gain, threshold)

    k1 = int(rng.choice([3, 5]))
    ch1 = int(rng.integers(2, 6))
    weight = population("c1", (ch1, h, h), k1 * k1 * c * p_in)
    text += (f"x -> c1: conv2d(kernel = {k1}, stride = 1, padding = {k1 // 2}, channels = {ch1})"
             f" {{ weight = {weight} }}\n")
    population("p1", (ch1, h // 2, h // 2), 4 * HIDDEN_RATE, fixed=True)
    text += "c1 -> p1: sumpool2d(kernel = 2) { weight = 1 }\n"
    last, shape = "p1", (ch1, h // 2, h // 2)
    if rng.random() < 0.6:
        ch2, size = int(rng.integers(2, 6)), (h // 2 + 2 - 3) // 2 + 1
        weight = population("c2", (ch2, size, size), 9 * ch1 * HIDDEN_RATE)
        text += (f"p1 -> c2: conv2d(kernel = 3, stride = 2, padding = 1, channels = {ch2}) "
                 f"{{ weight = {weight} }}\n")
        last, shape = "c2", (ch2, size, size)
    n = int(rng.integers(3, 12))
    weight = population("o", (n,), int(np.prod(shape)) * HIDDEN_RATE)
    text += f"{last} -> o: dense {{ weight = {weight} }}\n"
    text += "record c1.s, p1.s" + (", c2.s" if last == "c2" else "") + ", o.s\n"
    return Case(f"conv{seed}" + ("" if portable else "_any"), text, p_in)


# Seeds whose networks keep every population firing (the test asserts it): portable ones use
# only what both peers import; the others (_any) add IF, per-neuron thresholds, input scales.
RANDOM = ([random_feedforward(seed) for seed in (1, 2, 4, 6)]
          + [random_recurrent(seed) for seed in (0, 2, 4, 5, 11)]
          + [random_conv(seed) for seed in (2, 3, 4, 6)]
          + [random_feedforward(seed, portable=False) for seed in (31, 32, 35, 36)]
          + [random_recurrent(seed, portable=False) for seed in (41, 42, 44, 45)]
          + [random_conv(seed, portable=False) for seed in (51, 52, 55, 57)])


# ---- running and comparing ----------------------------------------------------------------------

@dataclass
class Prepared:
    graph: object  # the nir.NIRGraph read back from network.nir
    inputs: np.ndarray  # [STEPS, *input shape], bool
    reference: dict  # population -> [STEPS, *shape] spikes of snnc's reference simulator
    populations: list


def compared_populations(graph) -> list[str]:
    """The spiking populations that the export gives an Output node."""
    import nir

    return sorted({pre for pre, post in graph.edges if isinstance(graph.nodes[post], nir.Output)
                   and type(graph.nodes[pre]).__name__ in SPIKING})


def prepare(case: Case, tmp_path) -> Prepared:
    import nir

    from snnc.backends.nir import NirBackend

    net = compile_case(case)
    plan = build_plan(net)
    assert not lossy_constructs(net, plan), lossy_constructs(net, plan)
    assert len(plan.inputs) == 1, "both peers take exactly one Input node"
    (x,) = plan.inputs
    file = tmp_path / "network.nir"
    file.write_bytes(NirBackend().emit(net)["network.nir"])
    graph = nir.read(str(file))
    populations = compared_populations(graph)
    assert populations, "nothing to compare"

    probability = case.probability
    if probability is None:
        rate = net.node(x.name).rate
        probability = rate * plan.dt if rate else 0.05
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    inputs = rng.random((STEPS, *x.shape)) < probability
    module = load_module(net, str(tmp_path / "reference"))
    out = module.Simulation(batch=1).run(STEPS, {x.name: inputs},
                                         record=[f"{name}.s" for name in populations])
    reference = {name: out[f"{name}.s"][:, 0].astype(bool) for name in populations}
    for name, spikes in reference.items():  # the comparison must mean something
        assert spikes.sum() >= 5 and spikes.mean() < 0.8, \
            f"{case.name}: '{name}' fires at {spikes.mean():.3f} spikes per neuron and step"
    return Prepared(graph, inputs, reference, populations)


def peer_run(peer: str, prepared: Prepared) -> dict:
    out = peers.run(prepared.graph, prepared.inputs[:, None], peer, prepared.populations)
    return {name: spikes[:, 0] for name, spikes in out.items()}


def mismatches(prepared: Prepared, got: dict) -> list[str]:
    problems = []
    for name in prepared.populations:
        want, have = prepared.reference[name], np.asarray(got[name])
        if have.shape != want.shape:
            problems.append(f"'{name}': shape {have.shape}, snnc's {want.shape}")
        elif not np.all((have == 0) | (have == 1)):
            problems.append(f"'{name}': values other than 0 and 1")
        elif np.any(have.astype(bool) != want):
            differ = np.argwhere(have.astype(bool) != want)
            problems.append(f"'{name}': {len(differ)} of {want.size} values differ, the first at "
                            f"step {differ[0][0]} (snnc {int(want.sum())} spikes, the peer "
                            f"{int(have.sum())})")
    return problems


def check_peer(peer: str, prepared: Prepared, name: str) -> None:
    known = peer_limitations(peer, prepared.graph, prepared.populations)
    try:
        got = peer_run(peer, prepared)
    except Exception as error:
        if known:
            pytest.xfail(f"{peer}: {'; '.join(known)} (raised {type(error).__name__})")
        raise
    problems = mismatches(prepared, got)
    if known:
        assert problems, f"{peer} now reproduces {name}: drop the stale limitation(s) {known}"
        pytest.xfail(f"{peer}: {'; '.join(known)} ({problems[0]})")
    assert not problems, f"{peer} differs from snnc on {name}: " + "; ".join(problems)


# ---- the tests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("case", example_cases())
def test_example_spikes_match(case, peer, tmp_path):
    check_peer(peer, prepare(case, tmp_path), case.name)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in RANDOM])
def test_random_network_spikes_match(case, peer, tmp_path):
    check_peer(peer, prepare(case, tmp_path), case.name)


@pytest.mark.parametrize("name,recurrent", [("feedforward6", False), ("recurrent2", True)])
def test_snntorch_import_from_nir(name, recurrent, tmp_path):
    """snnTorch's public importer: right on feed-forward graphs; on recurrent ones it feeds the
    population's input through the recurrent weights (a known failure, hence the README's
    ``nirtorch.nir_to_torch`` route)."""
    import torch
    from snntorch.import_nir import import_from_nir

    case = next(case for case in RANDOM if case.name == name)
    prepared = prepare(case, tmp_path)
    got = {}
    for population in prepared.populations:
        graph = peers.spiking_subgraph(prepared.graph, [population])
        for node in graph.nodes.values():  # snnTorch's dt of 1e-4 s, as in the README's code
            for key in ("tau", "tau_mem", "tau_syn"):
                if hasattr(node, key):
                    setattr(node, key, getattr(node, key) * 1e-4 / float(graph.metadata["dt"]))
        model, state, spikes = import_from_nir(graph), None, []
        with torch.no_grad():
            for x in prepared.inputs:
                s, state = model(torch.as_tensor(x, dtype=torch.float32), state)
                spikes.append(s.numpy().copy())
        got[population] = np.array(spikes)
    problems = mismatches(prepared, got)
    if recurrent:
        assert problems, "snntorch.import_from_nir now imports recurrent graphs: update the README"
        pytest.xfail("snntorch.import_from_nir 1.0.0 wires recurrent graphs wrongly: "
                     + problems[0])
    assert not problems, problems


def test_readme_usage_runs(tmp_path, monkeypatch):
    """The README's usage block, after its `snnc compile` line, gives snnc's spikes."""
    from snnc.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    usage = readme_usage()
    command = re.search(r"^# snnc (.*)$", usage, re.M).group(1).split()
    command[1] = str(ROOT / command[1])
    assert main(command) == 0
    namespace = {"np": np}
    exec(compile(usage, "README.md (usage)", "exec"), namespace)  # noqa: S102
    x, spikes = namespace["x"][:, 0], {k: v[:, 0] for k, v in namespace["spikes"].items()}
    net = compile_case(Case("conv_events", (ROOT / "examples" / "conv_events.snn").read_text(),
                            path=ROOT / "examples" / "conv_events.snn"))
    out = load_module(net, str(tmp_path / "reference")).Simulation(batch=1).run(
        len(x), {"retina": x}, record=["conv1.s", "conv2.s"])
    for name in ("conv1", "conv2"):
        assert out[f"{name}.s"].sum() > 0
        assert np.array_equal(spikes[name].astype(bool), out[f"{name}.s"][:, 0].astype(bool))


# ---- regressions: bugs of snnc's export that this tier found ----------------------------------------------------

POOL_WEIGHT = """network pool_weight {
  dt = 1 ms
}
input x[1, 4, 4]
population c: IF[1, 4, 4]
population q: IF[1, 2, 2] { threshold = 1.5 }
x -> c: conv2d(kernel = 1, channels = 1) { weight = 2 }
c -> q: sumpool2d(kernel = 2) { weight = 0.5 }
record c.s, q.s
"""


def test_sumpool_weight_is_exported_exactly():
    """A pooling weight other than 1 becomes a Scale node after the SumPool2d (exact NIR;
    neither peer imports Scale nodes, see the README's list, so this is checked on the graph)."""
    net = compile_case(Case("pool_weight", POOL_WEIGHT, 0.3))
    assert not lossy_constructs(net, build_plan(net))
    graph = export_graph(net, snnc.__version__)
    assert ("c->q", "c->q.scale") in graph.edges and ("c->q.scale", "q") in graph.edges
    assert np.all(graph.nodes["c->q.scale"].scale == 0.5)


@pytest.mark.parametrize("pre,post,connectivity", [
    ("16", "1, 4, 4", "one_to_one"), ("1, 4, 4", "1, 4, 4", "one_to_one"),
    ("1, 4, 4", "1, 2, 2", "dense")])
def test_projection_into_shaped_population_exports_or_is_reported(pre, post, connectivity):
    net = compile_case(Case("shaped", f"network shaped {{\n  dt = 1 ms\n}}\ninput x[{pre}]\n"
                                      f"population c: IF[{post}]\nx -> c: {connectivity} "
                                      "{ weight = 2 }\n"))
    if lossy_constructs(net, build_plan(net)):
        return  # reported: right too
    graph = export_graph(net, snnc.__version__)
    assert graph.nodes["c"].input_type["input"].tolist() == [int(n) for n in post.split(",")]


@pytest.mark.parametrize("peer", PEERS)
def test_peers_run_takes_a_file_and_a_batch(peer, tmp_path):
    """``snnc.peers.run`` on the ``.nir`` file, two samples at once, default populations:
    each sample spikes as snnc's reference simulator does on it."""
    case = next(case for case in RANDOM if case.name == "feedforward6")
    (tmp_path / "a").mkdir()
    first = prepare(case, tmp_path / "a")
    rng = np.random.default_rng(5)
    second = rng.random(first.inputs.shape) < first.inputs.mean()
    (x,) = build_plan(compile_case(case)).inputs
    module = load_module(compile_case(case), str(tmp_path / "b"))
    out = module.Simulation(batch=1).run(STEPS, {x.name: second},
                                         record=[f"{name}.s" for name in first.populations])
    file = tmp_path / "a" / "network.nir"
    got = peers.run(file, np.stack([first.inputs, second], axis=1), peer)
    assert sorted(got) == first.populations
    for name in first.populations:
        assert got[name].shape == (STEPS, 2, *first.reference[name].shape[1:])
        assert np.array_equal(got[name][:, 0].astype(bool), first.reference[name])
        assert np.array_equal(got[name][:, 1].astype(bool), out[f"{name}.s"][:, 0].astype(bool))
