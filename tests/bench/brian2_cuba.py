"""Brian2 C++ standalone runs of an snnc network description (tests/bench/scaling.py's peer).

Two halves, both stdlib-only at import:

- the parent side (:func:`find_python`, :func:`run`), imported by scaling.py, finds an
  interpreter that imports Brian2 and runs this file in it as a child;
- the child side (``python brian2_cuba.py SPEC.json STEPS REPEATS BUILD_DIR``, run under that
  interpreter) builds the network of SPEC in Brian2, compiles it once with
  ``set_device('cpp_standalone')`` and runs the compiled binary REPEATS times, printing one
  JSON line: per run Brian2's own loop time (``device._last_run_time``, the time of the
  network's run loop measured inside the binary) and the whole binary's run time
  (``device.timers['run_binary']``: launching it, building the network, the loop, writing
  the results) and its CPU time (user + system, from RUSAGE_CHILDREN), the compile time, the synapse counts and the spike counts per population.

SPEC is what scaling.py's ``--describe`` child reads from snnc's own discrete plan
(:func:`snnc.ir.discrete.build_plan`), so the Brian2 model is snnc's discrete update, step
for step, not a re-derivation: per population, in snnc's update order, every step

    I_r <- a_r I_r + J_r ;  J_r <- 0                      (each receptor r)
    v   <- a_mem (v - v_leak) + v_leak + c_in (sum_r I_r + bias)
    held = ref > 0:  v <- v_reset, ref <- ref - 1         (refractory hold)
    spike when v > threshold:  v <- v_reset, ref <- refractory steps

with the decays and constants as the doubles snnc computed, a spike adding the projection's
weight to the post population's J_r, and each projection delivering at snnc's effective
delay d (in steps): a spike of step n is in the post population's update of step n + d.
Brian2 runs all of it in the 'groups' slot, ordered per population (update, threshold,
reset, outgoing synapses), with a synaptic delay of d steps onto a population later in the
order and d - 1 onto one earlier (or itself), which gives exactly that arrival step.
Connectivity is Brian2's own draw with snnc's statistics (``sparse(p)``: ``connect(p=p)``,
pairs independently, autapses allowed; ``fixed_fan_in(k)``: ``sample(N_pre, size=k)`` per
post neuron, without repetition), so the synapses differ and the population rates agree
statistically. Initial potentials: uniform on [low, high) as snnc's ``uniform``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ("2.9.0", "2.11.0")  # the pins the benchmark accepts
#: where the benchmark looks for Brian2 besides the running interpreter: a venv made with
#: python3.13 -m venv ~/.cache/snnc/brian2-2.11.0 && .../bin/pip install brian2==2.11.0
#: (Brian2 2.9.0 on Python 3.11 needs numpy < 2; 2.11.0 needs Python >= 3.13)
VENVS = [os.path.expanduser(f"~/.cache/snnc/brian2-{v}/bin/python") for v in reversed(VERSIONS)]


def probe(python: str) -> str | None:
    """The Brian2 version ``python`` imports, or None (absent, broken, or not a pinned one)."""
    code = "import brian2; print(brian2.__version__)"
    try:
        # generous: importing Brian2 (sympy) takes minutes on a machine shared by many jobs
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version in VERSIONS else None


def find_python(given: str | None = None) -> tuple[str | None, str]:
    """(interpreter, Brian2 version) of the first of ``given``, this interpreter and the
    venvs of :data:`VENVS` that imports a pinned Brian2; (None, why) when none does."""
    candidates = [given] if given else [sys.executable, *VENVS]
    for python in candidates:
        if python and os.path.exists(python):
            version = probe(python)
            if version:
                return python, version
    return None, (f"no interpreter among {candidates} imports Brian2 {' or '.join(VERSIONS)} "
                  f"(pip install brian2==2.9.0 with numpy < 2, or brian2==2.11.0 on Python "
                  f">= 3.13, e.g. in {VENVS[0].rsplit('/bin/', 1)[0]})")


def compiled(spec: dict, build_dir: str) -> bool:
    """Whether ``build_dir`` holds a compiled project of ``spec`` (a run there recompiles at
    most main.cpp, when the steps differ)."""
    try:
        with open(os.path.join(build_dir, "spec.json"), encoding="utf-8") as handle:
            same = json.load(handle) == json.loads(json.dumps(spec))
    except (OSError, ValueError):
        return False
    return same and os.path.exists(os.path.join(build_dir, "project", "main"))


def run(python: str, spec: dict, steps: int, repeats: int, build_dir: str,
        timeout: float = 3600) -> dict:
    """Run the child in ``python``; its JSON, or {"error": ...} when it failed."""
    os.makedirs(build_dir, exist_ok=True)
    spec_path = os.path.join(build_dir, "spec.json")
    with open(spec_path, "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    command = [python, os.path.abspath(__file__), spec_path, str(steps), str(repeats), build_dir]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=build_dir)
    except subprocess.TimeoutExpired:
        return {"error": f"Brian2 timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"Brian2 failed (exit {done.returncode}): {done.stderr[-1500:]}"}
    return json.loads(lines[-1])


# ---- the child (runs under the Brian2 interpreter) ---------------------------------------------

def update_code(population: dict) -> str:
    """The discrete update of one population as Brian2 abstract code (see the module doc)."""
    receptors = sorted(population["receptors"])
    lines = []
    for r in receptors:
        lines += [f"I_{r} = {population['receptors'][r]!r} * I_{r} + J_{r}", f"J_{r} = 0*volt"]
    total = " + ".join(f"I_{r}" for r in receptors) or "0*volt"
    lines.append(f"v = {population['a_mem']!r} * (v - {population['v_leak']!r}*volt) + "
                 f"{population['v_leak']!r}*volt + {population['c_in']!r} * "
                 f"({total} + {population['bias']!r}*volt)")
    if population["refractory"] > 0:
        lines += ["held = int(ref > 0)",
                  f"v = held * {population['v_reset']!r}*volt + (1 - held) * v",
                  "ref = ref - held"]
    return "\n".join(lines)


def build_network(spec: dict, b2):
    """NeuronGroups, Synapses and SpikeMonitors of ``spec`` in namespace ``b2`` (brian2)."""
    groups, monitors, synapses = {}, {}, {}
    for rank, population in enumerate(spec["populations"]):
        receptors = sorted(population["receptors"])
        variables = ["v : volt", "ref : integer"]
        variables += [f"{kind}_{r} : volt" for r in receptors for kind in ("I", "J")]
        reset = f"v = {population['v_reset']!r}*volt"
        if population["refractory"] > 0:
            reset += f"; ref = {population['refractory']}"
        group = b2.NeuronGroup(population["size"], "\n".join(variables),
                               threshold=f"v > {population['threshold']!r}*volt",
                               reset=reset, name=f"pop_{population['name']}")
        low, high = population["v_init"]
        group.v = f"{low!r}*volt + rand() * {high - low!r}*volt"
        group.run_regularly(update_code(population), when="groups", order=10 * rank)
        group.thresholder["spike"].when = "groups"
        group.thresholder["spike"].order = 10 * rank + 1
        group.resetter["spike"].when = "groups"
        group.resetter["spike"].order = 10 * rank + 2
        groups[population["name"]] = (rank, group)
        monitors[population["name"]] = b2.SpikeMonitor(group, record=False)
    for index, projection in enumerate(spec["projections"]):
        pre_rank, pre = groups[projection["pre"]]
        post_rank, post = groups[projection["post"]]
        # a pathway runs after its pre population's update; onto a population that comes later
        # in the order the spikes of step n land in step n + d, onto an earlier one (or itself)
        # in the next step's update: Brian2 delay d - 1
        delay = projection["delay"] - (0 if post_rank > pre_rank else 1)
        if delay < 0:
            raise ValueError(f"{projection['name']}: delay {projection['delay']} cannot run "
                             "backwards in the update order")
        target = f"J_{projection['receptor']}_post" if projection["receptor"] else None
        if target is None:
            raise ValueError(f"{projection['name']}: only projections through a receptor")
        s = b2.Synapses(pre, post, on_pre=f"{target} += {projection['weight']!r}*volt",
                        delay=delay * spec["dt"] * b2.second, name=f"proj_{index}")
        if projection["kind"] == "sparse":
            s.connect(p=projection["p"])
        elif projection["kind"] == "fixed_fan_in":
            s.connect(i=f"k for k in sample(N_pre, size={projection['k']})")
        else:
            raise ValueError(f"{projection['name']}: connectivity {projection['kind']}")
        s.pre.when = "groups"
        s.pre.order = 10 * pre_rank + 3 + index % 7
        synapses[projection["name"]] = s
    return groups, monitors, synapses


def child(spec_path: str, steps: int, repeats: int, build_dir: str) -> None:
    import resource
    import time

    import brian2 as b2
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    project = os.path.join(build_dir, "project")
    b2.set_device("cpp_standalone", directory=project, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0  # one thread, as snnc and NEST here
    b2.defaultclock.dt = spec["dt"] * b2.second
    b2.seed(spec["seed"])
    groups, monitors, synapses = build_network(spec, b2)
    network = b2.Network([g for _, g in groups.values()], list(monitors.values()),
                         list(synapses.values()))  # explicit: run()'s magic sees no dicts
    network.run(steps * spec["dt"] * b2.second)
    start = time.perf_counter()
    b2.device.build(directory=project, compile=True, run=False)
    compile_seconds = time.perf_counter() - start
    loops, wholes, cpus = [], [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        b2.device.run(directory=project, with_output=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        loops.append(float(b2.device._last_run_time))
        wholes.append(float(b2.device.timers["run_binary"]))
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    print(json.dumps({
        "brian2_version": b2.__version__, "python": sys.version.split()[0],
        "compile_seconds": compile_seconds, "loop_seconds": loops, "binary_seconds": wholes,
        "binary_cpu_seconds": cpus,
        "synapses": {name: int(len(s)) for name, s in synapses.items()},
        "spikes": {name: int(m.num_spikes) for name, m in monitors.items()},
    }))


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
