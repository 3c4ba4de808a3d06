"""Benchmark: the CUBA balanced network (examples/cuba.snn) in snnc against Brian2.

4000 LIF neurons (3200 excitatory, 800 inhibitory), p = 0.02, dt = 0.1 ms, 1 s = 10,000 steps.
In one invocation this script

1. times snnc's reference simulator in-process, in child processes of its own: once with the
   numba kernels (with a fresh kernel cache, so the first run includes the numba compilation,
   then again with the kernels cached) and once with the pure-numpy kernels (SNNC_NO_NUMBA=1,
   since the kernel choice happens at import). The steady time is the best of 3 runs, each on
   a fresh ``Simulation``; only ``sim.run`` is timed (construction is reported apart);
2. runs the same network in Brian2 2.9 (runtime mode, numpy code generation), written as in
   Brian2's own CUBA example, in a virtual environment of its own (Brian2 2.9 needs
   numpy < 2), built on first use in tests/bench/.venv-brian2 and reused after that;
3. checks that both fire at a plausible, similar rate (1 to 100 Hz, within a factor of 2);
4. prints one JSON object on stdout (progress and the comparison go to stderr).

    python tests/bench/cuba.py [--no-brian2] [--require-brian2] [--repeats 3]

Exit status: 0 when the check passes (or Brian2 is unavailable and --require-brian2 is not
given), 1 when it fails. Reference figures (the issue): Brian2 C++ standalone runs this in
about 0.19 s after about 90 s of compilation; goals: snnc >= 20x faster than Brian2 runtime
mode and within 3x of 0.19 s (<= 0.57 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "cuba.snn")
VENV = os.path.join(HERE, ".venv-brian2")
BRIAN2_REQUIREMENTS = ["brian2==2.9.*", "numpy<2"]

STEPS = 10_000  # 1 s at dt = 0.1 ms
NEURONS = 4000
SECONDS = 1.0
RATE_RANGE_HZ = (1.0, 100.0)
MAX_RATE_FACTOR = 2.0

REFERENCE = {
    "brian2_cpp_standalone_run_seconds": 0.19,
    "brian2_cpp_standalone_compile_seconds": 90.0,
    "goal_speedup_over_brian2_runtime": 20.0,
    "goal_max_seconds": 0.57,  # within 3x of Brian2 C++ standalone's 0.19 s
}

# The Brian2 side, as Brian2's CUBA example (docs: examples/CUBA.html), in runtime mode with
# the numpy target. It prints one JSON line. The first run() is the example's single call
# (it includes Brian2's code generation); the network is then restored and run again, which
# gives Brian2's time with its generated code warm.
BRIAN2_SCRIPT = r'''
import json, sys, time
t_import = time.perf_counter()
from brian2 import *
import brian2, numpy
t_import = time.perf_counter() - t_import

prefs.codegen.target = "numpy"
defaultclock.dt = 0.1*ms
seed(2024)

t_setup = time.perf_counter()
taum = 20*ms
taue = 5*ms
taui = 10*ms
Vt = -50*mV
Vr = -60*mV
El = -49*mV

eqs = """
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""

P = NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5*ms,
                method="exact")
P.v = "Vr + rand() * (Vt - Vr)"
P.ge = 0*mV
P.gi = 0*mV

we = (60*0.27/10)*mV  # excitatory synaptic weight (voltage)
wi = (-20*4.5/10)*mV  # inhibitory synaptic weight
Ce = Synapses(P, P, on_pre="ge += we")
Ci = Synapses(P, P, on_pre="gi += wi")
Ce.connect("i<3200", p=0.02)
Ci.connect("i>=3200", p=0.02)

s_mon = SpikeMonitor(P)
net = Network(collect())
net.store()
t_setup = time.perf_counter() - t_setup

start = time.perf_counter()
net.run(1*second)
run_seconds = time.perf_counter() - start
spikes = int(s_mon.num_spikes)
exc_spikes = int((numpy.asarray(s_mon.i) < 3200).sum())

net.restore()
start = time.perf_counter()
net.run(1*second)
second_run_seconds = time.perf_counter() - start

print(json.dumps({
    "brian2_version": brian2.__version__,
    "numpy_version": numpy.__version__,
    "codegen_target": prefs.codegen.target,
    "import_seconds": t_import,
    "setup_seconds": t_setup,
    "run_seconds": run_seconds,
    "second_run_seconds": second_run_seconds,
    "spikes": spikes,
    "exc_spikes": exc_spikes,
    "second_run_spikes": int(s_mon.num_spikes),
    "synapses": int(len(Ce) + len(Ci)),
}))
'''


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- snnc (child process) -------------------------------------------------------------------

def snnc_child(repeats: int) -> None:
    """Compile the example, run it once (first run) and ``repeats`` more times; print JSON."""
    t0 = time.perf_counter()
    import numpy as np

    import snnc
    from snnc.backends.reference.runner import load_simulation
    import_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    diag = snnc.Diagnostics()
    net = snnc.compile_file(EXAMPLE, diag)
    if net is None:
        sys.exit(f"snnc could not compile {EXAMPLE}: {diag.items}")
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    module = load_simulation(net)  # emits the module and imports it (numba decorates here)
    load_seconds = time.perf_counter() - t0
    kernels = "numba" if hasattr(module._neuron, "py_func") else "numpy"

    def one_run() -> tuple[float, float, dict[str, int], int]:
        start = time.perf_counter()
        sim = module.Simulation(batch=1)
        built = time.perf_counter()
        out = sim.run(STEPS, record=["exc.s", "inh.s"])
        done = time.perf_counter()
        counts = {key: int(np.count_nonzero(out[key])) for key in ("exc.s", "inh.s")}
        synapses = sum(int(value.size) for key, value in out.items() if key.endswith(".w"))
        return built - start, done - built, counts, synapses

    first_init, first_run, first_counts, synapses = one_run()
    runs = [one_run() for _ in range(repeats)]
    counts = [first_counts] + [r[2] for r in runs]
    print(json.dumps({
        "kernels": kernels,
        "numpy_version": np.__version__,
        "import_seconds": import_seconds,
        "compile_seconds": compile_seconds,
        "load_seconds": load_seconds,
        "first_init_seconds": first_init,
        "first_run_seconds": first_run,
        "init_seconds": [r[0] for r in runs],
        "run_seconds": [r[1] for r in runs],
        "counts": first_counts,
        "deterministic": all(c == first_counts for c in counts),
        "synapses": synapses,
    }))


def run_snnc(numba: bool, repeats: int, cache_dir: str) -> dict:
    env = dict(os.environ, SNNC_CACHE_DIR=cache_dir)
    env.pop("SNNC_NO_NUMBA", None)
    if not numba:
        env["SNNC_NO_NUMBA"] = "1"
    command = [sys.executable, os.path.abspath(__file__), "--snnc-child", str(repeats)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"snnc run ({'numba' if numba else 'numpy'}) failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---- Brian2 (its own virtual environment) ---------------------------------------------------

def venv_python(venv: str) -> str:
    return os.path.join(venv, "Scripts" if os.name == "nt" else "bin",
                        "python.exe" if os.name == "nt" else "python")


def brian2_ready(python: str) -> bool:
    """Whether ``python`` imports Brian2 2.9.x with numpy < 2."""
    if not os.path.exists(python):
        return False
    probe = ("import brian2, numpy, sys; "
             "ok = brian2.__version__.startswith('2.9') and int(numpy.__version__.split('.')[0]) < 2; "
             "sys.exit(0 if ok else 1)")
    try:
        return subprocess.run([python, "-c", probe], capture_output=True,
                              timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def base_pythons() -> list[str]:
    """Interpreters that can host the venv: Python 3.11 or 3.10 first (as Brian2 2.9 was
    released for), then 3.12."""
    found = []
    if sys.version_info[:2] in ((3, 11), (3, 10)):
        found.append(sys.executable)
    for name in ("python3.11", "python3.10", "python3.12"):
        path = shutil.which(name)
        if path and path not in found:
            found.append(path)
    return found


def ensure_brian2(venv: str) -> tuple[str | None, str]:
    """The venv's interpreter with Brian2 2.9 installed (building the venv on first use), or
    None and the reason it could not be had."""
    python = venv_python(venv)
    if brian2_ready(python):
        return python, "cached"
    pip_log = os.path.join(tempfile.gettempdir(), "snnc-bench-brian2-pip.log")
    reasons = []
    if os.path.isdir(venv) and os.listdir(venv) and not os.path.exists(
            os.path.join(venv, "pyvenv.cfg")):
        return None, f"{venv} exists and is not a virtual environment: not touching it"
    log(f"building the Brian2 environment in {venv} (first use; takes a minute or two)")
    for base in base_pythons():
        try:
            made = subprocess.run([base, "-m", "venv", "--clear", venv], capture_output=True,
                                  text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            reasons.append(f"{base}: venv: {error}")
            continue
        if made.returncode != 0 or not os.path.exists(python):
            reasons.append(f"{base}: venv failed: {made.stderr.strip()[-300:]}")
            continue
        try:
            with open(pip_log, "w") as handle:
                installed = subprocess.run(
                    [python, "-m", "pip", "install", "--disable-pip-version-check",
                     *BRIAN2_REQUIREMENTS], stdout=handle, stderr=subprocess.STDOUT,
                    timeout=1800)
        except (OSError, subprocess.TimeoutExpired) as error:
            reasons.append(f"{base}: pip install: {error}")
            continue
        if installed.returncode == 0 and brian2_ready(python):
            return python, f"built with {base}"
        with open(pip_log) as handle:
            tail = handle.read()[-600:]
        reasons.append(f"{base}: pip install {' '.join(BRIAN2_REQUIREMENTS)} failed "
                       f"(log: {pip_log}):\n{tail}")
    if not reasons:
        reasons.append("no Python 3.10, 3.11 or 3.12 interpreter found to build it with")
    return None, "\n".join(reasons)


def run_brian2(python: str) -> tuple[dict | None, str]:
    with tempfile.TemporaryDirectory() as folder:
        # Run from an empty folder: Brian2 writes nothing there in runtime mode, but keep the
        # repository clean anyway.
        try:
            result = subprocess.run([python, "-c", BRIAN2_SCRIPT], capture_output=True,
                                    text=True, cwd=folder, timeout=1800)
        except subprocess.TimeoutExpired:
            return None, "Brian2 run timed out after 30 min"
    if result.returncode != 0:
        return None, f"Brian2 run failed:\n{result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1]), "ok"


# ---- the benchmark --------------------------------------------------------------------------

def rate_hz(spikes: int | None) -> float | None:
    return None if spikes is None else spikes / (NEURONS * SECONDS)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="steady runs (best is kept)")
    parser.add_argument("--no-brian2", action="store_true", help="skip Brian2")
    parser.add_argument("--require-brian2", action="store_true",
                        help="fail when Brian2 cannot be set up or run")
    parser.add_argument("--venv", default=VENV, help="where the Brian2 venv lives")
    parser.add_argument("--snnc-child", type=int, metavar="REPEATS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.snnc_child is not None:
        snnc_child(args.snnc_child)
        return 0

    with tempfile.TemporaryDirectory(prefix="snnc-bench-cuba-") as cache:
        log("snnc, numba kernels (fresh kernel cache: the first run compiles them) ...")
        numba_cold = run_snnc(True, args.repeats, cache)
        log("snnc, numba kernels (kernel cache warm) ...")
        numba_warm = run_snnc(True, 0, cache)
        log("snnc, numpy kernels (SNNC_NO_NUMBA=1) ...")
        numpy_run = run_snnc(False, args.repeats, cache)
    if numba_cold["kernels"] != "numba":
        log("warning: numba is not importable here; the 'numba' figures are numpy kernels")
    if numpy_run["kernels"] != "numpy":
        log("warning: SNNC_NO_NUMBA=1 did not select the numpy kernels")

    brian2, brian2_status = None, "skipped (--no-brian2)"
    if not args.no_brian2:
        python, why = ensure_brian2(args.venv)
        if python is None:
            brian2_status = f"unavailable: could not set up Brian2 2.9 in {args.venv}"
            log(f"Brian2 is NOT available; its figures are reported as null.\n{why}")
        else:
            log(f"Brian2 environment {why}; running Brian2 (numpy target) ...")
            brian2, why = run_brian2(python)
            brian2_status = "ok" if brian2 is not None else why
            if brian2 is None:
                log(f"Brian2 is NOT available; its figures are reported as null.\n{why}")

    snnc_numba_s = min(numba_cold["run_seconds"])
    snnc_numpy_s = min(numpy_run["run_seconds"])
    snnc_spikes = sum(numba_cold["counts"].values())
    snnc_numpy_spikes = sum(numpy_run["counts"].values())
    b2_spikes = brian2["spikes"] if brian2 else None
    b2_run = brian2["run_seconds"] if brian2 else None
    b2_second = brian2["second_run_seconds"] if brian2 else None

    # ---- the check: plausible and similar rates ----
    problems = []
    rates = {"snnc (numba)": rate_hz(snnc_spikes), "snnc (numpy)": rate_hz(snnc_numpy_spikes)}
    if brian2:
        rates["brian2"] = rate_hz(b2_spikes)
    low, high = RATE_RANGE_HZ
    for who, rate in rates.items():
        if not low <= rate <= high:
            problems.append(f"{who} rate {rate:.2f} Hz is outside [{low}, {high}] Hz")
    factor = None
    if brian2:
        a, b = rates["snnc (numba)"], rates["brian2"]
        factor = max(a, b) / min(a, b) if min(a, b) > 0 else float("inf")
        if factor > MAX_RATE_FACTOR:
            problems.append(f"snnc and Brian2 rates differ by a factor {factor:.2f} "
                            f"(> {MAX_RATE_FACTOR})")
    elif args.require_brian2:
        problems.append(f"Brian2 required but {brian2_status}")
    passed = not problems

    log("")
    log(f"{'':16}{'seconds':>10}{'spikes':>10}{'rate Hz':>10}")
    log(f"{'snnc numba':16}{snnc_numba_s:10.3f}{snnc_spikes:10d}{rate_hz(snnc_spikes):10.2f}")
    log(f"{'snnc numpy':16}{snnc_numpy_s:10.3f}{snnc_numpy_spikes:10d}"
        f"{rate_hz(snnc_numpy_spikes):10.2f}")
    if brian2:
        log(f"{'brian2 runtime':16}{b2_run:10.3f}{b2_spikes:10d}{rate_hz(b2_spikes):10.2f}")
        log(f"rate ratio snnc/brian2 = {rates['snnc (numba)'] / rates['brian2']:.3f}; "
            f"speed-up brian2/snnc(numba) = {b2_run / snnc_numba_s:.1f}x")
    log("check " + ("PASSED" if passed else "FAILED: " + "; ".join(problems)))

    result = {
        "benchmark": "cuba",
        "network": {"neurons": NEURONS, "steps": STEPS, "dt_ms": 0.1, "seconds": SECONDS,
                    "snnc_synapses": numba_cold["synapses"],
                    "brian2_synapses": brian2["synapses"] if brian2 else None},
        "snnc_numba_seconds": rounded(snnc_numba_s),
        "snnc_numpy_seconds": rounded(snnc_numpy_s),
        "snnc_first_run_seconds": rounded(numba_cold["first_run_seconds"]),
        "snnc_first_run_seconds_cached_kernels": rounded(numba_warm["first_run_seconds"]),
        "snnc_numpy_first_run_seconds": rounded(numpy_run["first_run_seconds"]),
        "snnc_numba_run_seconds_all": [rounded(s) for s in numba_cold["run_seconds"]],
        "snnc_numpy_run_seconds_all": [rounded(s) for s in numpy_run["run_seconds"]],
        "snnc_compile_seconds": rounded(numba_cold["compile_seconds"]),
        "snnc_load_seconds": rounded(numba_cold["load_seconds"]),
        "snnc_simulation_init_seconds": rounded(min(numba_cold["init_seconds"] or
                                                    [numba_cold["first_init_seconds"]])),
        "snnc_kernels": {"numba": numba_cold["kernels"], "numpy": numpy_run["kernels"]},
        "brian2_status": brian2_status,
        "brian2_version": brian2["brian2_version"] if brian2 else None,
        "brian2_runtime_seconds": rounded(b2_run),
        "brian2_second_run_seconds": rounded(b2_second),
        "brian2_setup_seconds": rounded(brian2["setup_seconds"]) if brian2 else None,
        "ratio_brian2_over_snnc_numba": ratio(b2_run, snnc_numba_s),
        "ratio_brian2_over_snnc_numpy": ratio(b2_run, snnc_numpy_s),
        "ratio_brian2_second_run_over_snnc_numba": ratio(b2_second, snnc_numba_s),
        "snnc_spikes": snnc_spikes,
        "snnc_spikes_by_population": numba_cold["counts"],
        "snnc_rate_hz": rounded(rate_hz(snnc_spikes), 2),
        "snnc_numpy_spikes": snnc_numpy_spikes,
        "snnc_numpy_rate_hz": rounded(rate_hz(snnc_numpy_spikes), 2),
        "snnc_deterministic": numba_cold["deterministic"] and numpy_run["deterministic"],
        "brian2_spikes": b2_spikes,
        "brian2_spikes_by_population": ({"exc": brian2["exc_spikes"],
                                         "inh": b2_spikes - brian2["exc_spikes"]}
                                        if brian2 else None),
        "brian2_rate_hz": rounded(rate_hz(b2_spikes), 2),
        "rate_factor": rounded(factor, 3),
        "check": {"passed": passed, "problems": problems,
                  "rates_hz": list(RATE_RANGE_HZ), "max_rate_factor": MAX_RATE_FACTOR},
        "goals": {
            "speedup_over_brian2_runtime": (None if b2_run is None
                                            else b2_run / snnc_numba_s >= 20.0),
            "within_3x_of_brian2_cpp_standalone": snnc_numba_s <= 0.57,
        },
        "reference": REFERENCE,
    }
    print(json.dumps(result, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
