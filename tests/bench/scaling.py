"""Benchmark: CUBA-like networks from 4k to 256k neurons in snnc, Brian2 C++ standalone and NEST.

The network is examples/cuba.snn (LIF with leak, a 5 ms refractory period, two receptors:
excitatory tau 5 ms, +1.62 mV; inhibitory tau 10 ms, -9 mV; 80 % excitatory neurons) at N
neurons with 80 inputs per neuron (64 excitatory, 16 inhibitory), in two connectivities:
``fixed_fan_in(k)`` (exactly 64 + 16 per neuron) and ``sparse(p = 80 / N)`` (80 on average).
For each size (``--sizes``; 4k, 16k, 64k at 10,000 steps of 0.1 ms, 256k at 2,000) and
connectivity, in one invocation, this script runs the same network in

1. snnc: ``snnc run FILE --steps T --format json`` as a whole process (``snnc.cli.main`` in a
   fresh interpreter, as the console script, :data:`SNNC_RUN`), after one unmeasured run of
   one step that fills snnc's caches (the simulation generated, its C steps compiled: what
   Brian2's compilation is for its binary): its wall time
   (``whole``) and CPU time (user + system: the steadier figure on a shared machine), the
   loop alone (the ``seconds`` it prints: ``Simulation.run`` only, the time
   snnc's ``api.simulate`` measures around it) and the child's peak RSS (``os.wait4``'s
   ru_maxrss);
2. Brian2 C++ standalone (tests/bench/brian2_cuba.py: 2.9.0 or 2.11.0, whichever imports
   here; said in the JSON), compiled once, its binary run ``--repeats`` times: the loop
   (Brian2's ``device._last_run_time``) and the whole binary run (``timers['run_binary']``,
   and its CPU time);
   its compile time apart. The model is snnc's discrete update, built from snnc's own plan
   (``--describe``), so the constants are the same doubles (see brian2_cuba.py);
3. NEST 3.10 with one thread, from ``snnc compile --emit nest`` (snnc's own NEST mapping,
   which computes snnc's discrete update; NEST's connection rules draw the synapses), timed
   around ``nest.Simulate`` (``network.simulate``) by tests/bench/nest_scale.py's child; at
   most ``--nest-record`` neurons per population are recorded (NEST spends ~33 KB per
   recorded neuron), the rates are theirs.

A peer that is not installed is skipped with ``"status": "absent: ..."``; a run that fails
(for example snnc running out of memory) is reported in its place with ``"error"`` and the
benchmark goes on. Times are min and median over ``--repeats``; the ratios (snnc loop /
Brian2 loop per size and connectivity, snnc whole process / Brian2's whole binary run) use
minima from the same invocation; on a busy machine the CPU ratios are the steadier ones:
snnc's whole process and its loop (``api.simulate``) in CPU seconds over the Brian2
binary's CPU seconds (which include its set-up, so the loop ratio is a lower bound). Equivalence check: every simulator's population rates
(exc, inh) agree with snnc's within ``RATE_TOLERANCE`` (relative) or ``RATE_FLOOR_HZ``: the
networks are independent random draws of the same statistics, and one draw moves CUBA's
rates by ~10 %. Each result notes the machine's 1-minute load average before and after it
(``load_average``): the other work the wall times include. Finally ``--output-file`` (default 256k x 10,000 steps, fixed_fan_in) runs
``snnc run -o`` once and reports the file's size, the loop and the peak RSS.

    python tests/bench/scaling.py [--sizes 4k,16k,64k,256k] [--steps T] [--repeats 3]
        [--kinds fixed_fan_in,sparse] [--quick] [--no-brian2] [--no-nest] [--nest-max 64k]
        [--output-file 256k:10000 | none] [--brian2-python PY]

``--quick``: one repeat, NEST up to 64k neurons. Brian2's compiled projects are kept per
connectivity and size in ``--brian2-build`` (make then rebuilds only what changed: a first
compile takes a minute of CPU per network). JSON on stdout, progress on stderr;
exit status 1 when a rate check failed or a run failed, else 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def sibling(name: str):
    """tests/bench/<name>.py as a module (tests/bench is not a package; sys.path untouched)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


brian2_cuba = sibling("brian2_cuba")
cuba_at = sibling("cuba_at")
nest_scale = sibling("nest_scale")  # its NEST child and its size syntax

KINDS = ("fixed_fan_in", "sparse")
IN_DEGREE = 80  # 80 % of it excitatory
RATE_TOLERANCE = 0.2
RATE_FLOOR_HZ = 0.5
LONG_STEPS, SHORT_STEPS, SHORT_FROM = 10_000, 2_000, 256_000  # 256k and up: 2,000 steps
BRIAN2_BUILD = os.path.expanduser("~/.cache/snnc/bench-scaling-brian2")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def spec_text(neurons: int, kind: str, in_degree: int = IN_DEGREE) -> str:
    """examples/cuba.snn at ``neurons`` neurons with ``in_degree`` inputs each
    (:func:`cuba_at.cuba_at`)."""
    return cuba_at.cuba_at(neurons, kind, in_degree)


def describe(path: str) -> dict:
    """The network of ``path`` as the peers need it, read from snnc's discrete plan (no
    synapse drawn): populations in update order with their constants, projections with
    their effective delay in steps, weight, receptor and connectivity. Refuses what the
    peer model does not express (per-neuron parameters other than v_init, other models)."""
    import snnc
    from snnc.ir.discrete import build_plan
    from snnc.ir.values import Constant, Uniform
    net = snnc.load_network(path)
    plan = build_plan(net, draw=lambda projection: False)
    populations = []
    for p in plan.populations:
        node = net.node(p.name)
        init = node.params["v_init"]
        if p.model != "LIF" or p.arrays.keys() - {"v_init"} or p.reset != "zero" or \
                not isinstance(init, Uniform):
            raise ValueError(f"population {p.name}: only LIF with constant parameters, a zero "
                             "reset and uniform v_init")
        populations.append({"name": p.name, "size": p.size, "refractory": p.refractory,
                            "v_init": [init.low, init.high], "receptors": p.receptors,
                            **{k: p.scalars[k] for k in ("a_mem", "c_in", "v_leak", "bias",
                                                         "threshold", "v_reset")}})
    projections = []
    for q, node in zip(plan.projections, net.projections(), strict=True):
        if not isinstance(node.weight, Constant):
            raise ValueError(f"projection {q.name}: only a constant weight")
        c = node.connectivity
        projections.append({"name": q.name, "pre": q.pre, "post": q.post, "delay": q.delay,
                            "receptor": q.receptor, "weight": node.weight.value,
                            "kind": c.kind, "p": c.p, "k": c.k,
                            "synapses": net.synapse_count(node)})
    return {"dt": net.settings.dt, "seed": net.settings.seed, "delivery": plan.delivery,
            "integration": net.settings.integration, "populations": populations,
            "projections": projections}


# ---- children ----------------------------------------------------------------------------------

def timed_child(command: list[str], cwd: str, env: dict | None = None) -> dict:
    """Run ``command``; its wall time, exit code and output."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=cwd, env=env, text=True)
    out, err = process.communicate()
    wall = time.perf_counter() - start
    return {"wall": wall, "code": process.returncode, "stdout": out, "stderr": err}


def run_measured(command: list[str], cwd: str) -> dict:
    """Run ``command`` as a child of a small stdlib-only wrapper process that waits for it with
    ``os.wait4`` and prints its wall time and peak RSS (ru_maxrss of that child alone; the
    wrapper is tiny, so the resident set inherited across fork + exec is negligible)."""
    wrapper = ("import json, os, resource, sys, time\n"
               "start = time.perf_counter()\n"
               "pid = os.fork()\n"
               "if pid == 0:\n"
               "    os.execvp(sys.argv[1], sys.argv[1:])\n"
               "_, status, usage = os.wait4(pid, 0)\n"
               "wall = time.perf_counter() - start\n"
               "sys.stderr.write('\\n@@' + json.dumps({'wall': wall, 'code': "
               "os.waitstatus_to_exitcode(status), 'maxrss': usage.ru_maxrss * 1024, "
               "'cpu': usage.ru_utime + usage.ru_stime}))\n")
    done = timed_child([sys.executable, "-c", wrapper, *command], cwd)
    err, _, tail = done["stderr"].rpartition("\n@@")
    if not tail.startswith("{"):
        return {"wall": done["wall"], "code": done["code"] or 1, "maxrss": None, "cpu": None,
                "stdout": done["stdout"], "stderr": done["stderr"]}
    measured = json.loads(tail)
    return {**measured, "stdout": done["stdout"], "stderr": err}


def snnc_command() -> list[str]:
    found = shutil.which("snnc")
    return [found] if found else [sys.executable, "-m", "snnc"]


#: ``snnc run`` exactly as the console script runs it (``snnc.cli.main``), with the CPU time of
#: ``snnc.api.simulate`` (the loop and the Simulation's construction) written to stderr after
#: a ``%%loop-cpu`` marker: on a shared machine CPU time is the steadier figure
SNNC_RUN = """import sys, time
from snnc import api
from snnc.cli import main
inner, spent = api.simulate, []
def simulate(*args, **kwargs):
    start = time.process_time()
    try:
        return inner(*args, **kwargs)
    finally:
        spent.append(time.process_time() - start)
api.simulate = simulate
code = main(sys.argv[1:])
sys.stderr.write("\\n%%loop-cpu " + repr(sum(spent)) + "\\n")
sys.exit(code)
"""


def snnc_run(path: str, steps: int, cwd: str, output: str | None = None) -> dict:
    """One ``snnc run`` as a whole process (:data:`SNNC_RUN`): wall and CPU seconds, the loop's
    wall seconds (what snnc prints) and CPU seconds, peak RSS, spikes, rates."""
    command = [sys.executable, "-c", SNNC_RUN, "run", path, "--steps", str(steps),
               "--format", "json"]
    if output:
        command += ["-o", output, "--force"]
    done = run_measured(command, cwd)
    if done["code"] != 0:
        return {"error": f"snnc run exited {done['code']}: {done['stderr'].strip()[-1500:]}",
                "wall": done["wall"], "peak_bytes": done["maxrss"]}
    report = json.loads(done["stdout"][done["stdout"].index("{"):])
    loop_cpu = float(done["stderr"].rpartition("%%loop-cpu ")[2].split()[0])
    return {"wall": done["wall"], "loop": report["seconds"], "peak_bytes": done["maxrss"],
            "cpu": done["cpu"], "loop_cpu": loop_cpu, "spikes": report["spikes"],
            "rates_hz": report["rates_hz"]}


def nest_run(folder: str, steps: int, cwd: str) -> dict:
    """One run of the emitted NEST program with one thread (nest_scale.py's child)."""
    command = [sys.executable, os.path.join(HERE, "nest_scale.py"), "--nest-child", folder,
               str(steps), "1"]
    done = run_measured(command, cwd)
    lines = [line for line in done["stdout"].splitlines() if line.startswith("{")]
    if done["code"] != 0 or not lines:
        return {"error": f"NEST exited {done['code']}: {done['stderr'].strip()[-1500:]}"}
    out = json.loads(lines[-1])
    seconds = steps * 1e-4
    rates = {key[:-2]: count / out["recorded"][key] / seconds
             for key, count in out["spikes"].items()}
    return {"wall": done["wall"], "build": out["build_seconds"], "loop": out["simulate_seconds"],
            "peak_bytes": done["maxrss"], "cpu": done["cpu"], "connections": out["connections"],
            "rates_hz": rates, "recorded": out["recorded"]}


def stats(values: list[float]) -> dict:
    return {"min": round(min(values), 4), "median": round(statistics.median(values), 4)}


def summarise(runs: list[dict], keys: tuple[str, ...]) -> dict:
    """min/median of ``keys`` over the runs that succeeded, the errors of the others, the
    first good run's rates and the largest peak RSS."""
    good = [r for r in runs if "error" not in r]
    out: dict = {"runs": len(runs)}
    if len(good) < len(runs):
        out["errors"] = [r["error"] for r in runs if "error" in r][:2]
    if not good:
        out["status"] = "failed"
        return out
    out["status"] = "ok"
    for key in keys:
        out[f"{key}_seconds"] = stats([r[key] for r in good])
    peaks = [r["peak_bytes"] for r in good if r.get("peak_bytes")]
    if peaks:
        out["peak_rss_bytes"] = max(peaks)
    out["rates_hz"] = {k: round(v, 3) for k, v in good[0]["rates_hz"].items()}
    for extra in ("spikes", "connections", "recorded"):
        if extra in good[0]:
            out[extra] = good[0][extra]
    return out


# ---- one size and connectivity -----------------------------------------------------------------

def describe_child(path: str, cwd: str) -> dict:
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--describe", path],
                          capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"--describe {path} failed: {done.stderr[-1500:]}")
    return json.loads(done.stdout)


def brian2_rates(result: dict, spec: dict, steps: int) -> dict:
    seconds = steps * spec["dt"]
    return {p["name"]: result["spikes"][p["name"]] / p["size"] / seconds
            for p in spec["populations"]}


def load_average() -> float | None:
    """The machine's 1-minute load average (None where the system does not tell)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def bench_one(neurons: int, kind: str, steps: int, args, workdir: str) -> dict:
    load = load_average()
    result = bench_peers(neurons, kind, steps, args, workdir)
    result["load_average"] = {"start": load, "end": load_average()}
    return result


def bench_peers(neurons: int, kind: str, steps: int, args, workdir: str) -> dict:
    path = os.path.join(workdir, f"cuba_{kind}_{neurons}.snn")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(spec_text(neurons, kind))
    spec = describe_child(path, workdir)
    result: dict = {"neurons": neurons, "connectivity": kind, "steps": steps,
                    "synapses_expected": sum(p["synapses"] for p in spec["projections"])}
    build = os.path.join(args.brian2_build, f"{kind}_{neurons}")
    if args.brian2_python and args.brian2_compiled_only and \
            not brian2_cuba.compiled(spec, build):
        result["brian2"] = {"status": f"skipped: not compiled in {build} "
                                      "(--brian2-compiled-only)"}
    elif args.brian2_python:
        log(f"{neurons} {kind}: Brian2 (compile + {args.repeats} runs)")
        b2 = brian2_cuba.run(args.brian2_python, spec, steps, args.repeats, build)
        if "error" in b2:
            result["brian2"] = {"status": "failed", "errors": [b2["error"]]}
        else:
            result["brian2"] = {
                "status": "ok", "version": b2["brian2_version"],
                "compile_seconds": round(b2["compile_seconds"], 2),
                "loop_seconds": stats(b2["loop_seconds"]),
                "binary_seconds": stats(b2["binary_seconds"]),
                "cpu_seconds": stats(b2["binary_cpu_seconds"]),
                "synapses": sum(b2["synapses"].values()),
                "rates_hz": {k: round(v, 3) for k, v in brian2_rates(b2, spec, steps).items()}}
    log(f"{neurons} {kind}: snnc run x {args.repeats} (after one step to warm the caches)")
    warm = snnc_run(path, 1, workdir)  # the simulation's cache entry, its C steps compiled
    if "error" in warm:
        result["snnc"] = {"status": "failed", "errors": [warm["error"]]}
        return result
    runs = [snnc_run(path, steps, workdir) for _ in range(args.repeats)]
    result["snnc"] = summarise(runs, ("loop", "wall", "cpu", "loop_cpu"))
    if args.nest and neurons <= args.nest_max:
        result["nest"] = bench_nest(path, neurons, kind, steps, args, workdir)
    elif args.nest:
        result["nest"] = {"status": f"skipped (--nest-max {args.nest_max})"}
    return result


def bench_nest(path: str, neurons: int, kind: str, steps: int, args, workdir: str) -> dict:
    folder = os.path.join(workdir, f"nest_{kind}_{neurons}")
    record = min(args.nest_record, neurons)
    emitted = subprocess.run([*snnc_command(), "compile", path, "--emit", "nest", "-o", folder,
                              "--record-neurons", str(record), "--force"],
                             capture_output=True, text=True, cwd=workdir)
    if emitted.returncode != 0:
        return {"status": "failed", "errors": [f"snnc compile --emit nest: "
                                               f"{emitted.stderr[-1500:]}"]}
    log(f"{neurons} {kind}: NEST x {args.repeats}")
    runs = [nest_run(folder, steps, workdir) for _ in range(args.repeats)]
    out = summarise(runs, ("loop", "build", "wall", "cpu"))
    out["record_neurons"] = record
    return out


def ratio(a: dict | None, key: str, b: dict | None, other: str) -> float | None:
    if not a or not b or a.get("status") != "ok" or b.get("status") != "ok" or \
            not b[other]["min"] > 0:
        return None
    return round(a[key]["min"] / b[other]["min"], 2)


def check_rates(result: dict) -> list[str]:
    """Problems: a simulator whose population rate is off snnc's by more than the tolerance."""
    snnc = result.get("snnc", {})
    if snnc.get("status") != "ok":
        return []
    problems = []
    for peer in ("brian2", "nest"):
        other = result.get(peer) or {}
        if other.get("status") != "ok":
            continue
        for name, reference in snnc["rates_hz"].items():
            rate = other["rates_hz"].get(name)
            if rate is None or abs(rate - reference) > max(RATE_TOLERANCE * reference,
                                                          RATE_FLOOR_HZ):
                problems.append(f"{result['neurons']} {result['connectivity']}: {peer} {name} "
                                f"{rate} Hz vs snnc {reference} Hz")
    return problems


def output_file(text: str, workdir: str) -> dict:
    """``snnc run -o`` once at SIZE:STEPS (fixed_fan_in): file size, loop, whole, peak RSS."""
    size_text, _, steps_text = text.partition(":")
    neurons, steps = parse_size(size_text), int(steps_text or LONG_STEPS)
    path = os.path.join(workdir, f"cuba_out_{neurons}.snn")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(spec_text(neurons, "fixed_fan_in"))
    target = os.path.join(workdir, "out.npz")
    log(f"{neurons} fixed_fan_in: snnc run -o ({steps} steps)")
    run = snnc_run(path, steps, workdir, output=target)
    out = {"neurons": neurons, "steps": steps, "connectivity": "fixed_fan_in"}
    if "error" in run:
        return {**out, "status": "failed", "errors": [run["error"]],
                "peak_rss_bytes": run.get("peak_bytes")}
    size = os.path.getsize(target) if os.path.exists(target) else None
    if os.path.exists(target):
        os.unlink(target)
    return {**out, "status": "ok", "file_bytes": size, "peak_rss_bytes": run["peak_bytes"],
            "loop_seconds": round(run["loop"], 3), "wall_seconds": round(run["wall"], 3),
            "loop_cpu_seconds": round(run["loop_cpu"], 3), "cpu_seconds": round(run["cpu"], 3)}


def parse_size(text: str) -> int:
    """'4k' -> 4,000 neurons (as CUBA's 4000), '1m' -> 1,000,000: nest_scale.py's reading."""
    return nest_scale.size(text)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--describe":
        print(json.dumps(describe(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4k,16k,64k,256k")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--steps", type=int, help=f"steps at every size (default {LONG_STEPS}, "
                                                  f"{SHORT_STEPS} from {SHORT_FROM:,} neurons)")
    parser.add_argument("--repeats", type=int, help="runs per simulator (default 3; --quick 1)")
    parser.add_argument("--quick", action="store_true",
                        help="one repeat (--repeats), NEST up to 64k (--nest-max)")
    parser.add_argument("--no-brian2", dest="brian2", action="store_false")
    parser.add_argument("--no-nest", dest="nest", action="store_false")
    parser.add_argument("--nest-max", type=parse_size,
                        help="run NEST up to this size (default: every size; --quick 64k)")
    parser.add_argument("--nest-record", type=int, default=10_000,
                        help="NEST records at most this many neurons per population")
    parser.add_argument("--brian2-python", help="an interpreter with Brian2 (default: found)")
    parser.add_argument("--brian2-build", default=BRIAN2_BUILD,
                        help="Brian2's project folders (kept: make recompiles what changed)")
    parser.add_argument("--brian2-compiled-only", action="store_true",
                        help="skip Brian2 where its project is not compiled yet (a first "
                             "compile takes minutes on a busy machine)")
    parser.add_argument("--output-file", default=f"256k:{LONG_STEPS}",
                        help="SIZE:STEPS of the snnc run -o measurement, or 'none'")
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.nest_max is None:
        args.nest_max = 64_000 if args.quick else sys.maxsize
    kinds = [k for k in args.kinds.split(",") if k]
    if set(kinds) - set(KINDS) or args.repeats < 1:
        parser.error(f"--kinds: {', '.join(KINDS)}; --repeats: positive")

    peers: dict = {}
    python, version = (brian2_cuba.find_python(args.brian2_python) if args.brian2
                       else (None, "skipped (--no-brian2)"))
    args.brian2_python = python
    peers["brian2"] = ({"status": "ok", "version": version, "python": python,
                        "device": "cpp_standalone", "threads": 1} if python
                       else {"status": f"absent: {version}"})
    if args.nest:
        found = subprocess.run([sys.executable, "-c", "import nest; print(nest.__version__)"],
                               capture_output=True, text=True)
        args.nest = found.returncode == 0
        peers["nest"] = ({"status": "ok", "version": found.stdout.strip().splitlines()[-1],
                          "threads": 1} if args.nest
                         else {"status": "absent: nest does not import"})
    else:
        peers["nest"] = {"status": "skipped (--no-nest)"}
    log(f"peers: {json.dumps(peers)}")

    results, problems = [], []
    with tempfile.TemporaryDirectory(prefix="snnc-bench-scaling-") as workdir:
        for text in [t for t in args.sizes.split(",") if t.strip()]:
            neurons = parse_size(text)
            steps = args.steps or (SHORT_STEPS if neurons >= SHORT_FROM else LONG_STEPS)
            for kind in kinds:
                try:
                    result = bench_one(neurons, kind, steps, args, workdir)
                except (RuntimeError, ValueError, OSError) as error:
                    result = {"neurons": neurons, "connectivity": kind, "steps": steps,
                              "status": "failed", "errors": [str(error)[-1500:]]}
                result["ratio_snnc_over_brian2_loop"] = ratio(
                    result.get("snnc"), "loop_seconds", result.get("brian2"), "loop_seconds")
                result["ratio_snnc_whole_over_brian2_binary"] = ratio(
                    result.get("snnc"), "wall_seconds", result.get("brian2"), "binary_seconds")
                result["ratio_snnc_cpu_over_brian2_binary_cpu"] = ratio(
                    result.get("snnc"), "cpu_seconds", result.get("brian2"), "cpu_seconds")
                result["ratio_snnc_loop_cpu_over_brian2_binary_cpu"] = ratio(
                    result.get("snnc"), "loop_cpu_seconds", result.get("brian2"), "cpu_seconds")
                result["ratio_snnc_over_nest_loop"] = ratio(
                    result.get("snnc"), "loop_seconds", result.get("nest"), "loop_seconds")
                problems += check_rates(result)
                for who in ("snnc", "brian2", "nest"):
                    if (result.get(who) or {}).get("status") == "failed":
                        problems.append(f"{neurons} {kind}: {who} failed")
                if result.get("status") == "failed":
                    problems.append(f"{neurons} {kind}: {result['errors'][0][:200]}")
                log("result " + json.dumps(result))  # progress: each result as it comes
                results.append(result)
        output = None if args.output_file == "none" else output_file(args.output_file, workdir)
    if output and output["status"] != "ok":
        problems.append(f"output file run failed: {output['errors'][0][:200]}")
    print(json.dumps({
        "benchmark": "scaling", "model": "examples/cuba.snn, 80 inputs per neuron",
        "dt_ms": 0.1, "repeats": args.repeats, "peers": peers,
        "rate_check": {"tolerance": RATE_TOLERANCE, "floor_hz": RATE_FLOOR_HZ,
                       "problems": problems},
        "results": results, "output_file": output,
        "goals": {"loop_within_1_5x_brian2_from_16k": "ratio_snnc_over_brian2_loop <= 1.5",
                  "whole_process_4k_within_2x_brian2_binary":
                      "ratio_snnc_whole_over_brian2_binary <= 2 at 4k",
                  "peak_rss_256k_x_10000_under_1GB": "output_file.peak_rss_bytes",
                  "output_file_under_20MB": "output_file.file_bytes"},
    }, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
