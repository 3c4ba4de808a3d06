"""Benchmark: front-end speed on a generated, realistic 100,000-line ``.snn`` spec.

The spec is built in memory from repeated layers: neuron model variants, inputs, populations
and readouts with parameter blocks, learning rules with traces, lets, signals, triggered
updates, bounds and optimizers, projections with connectivity, settings, receptors and
``learn`` statements, losses and records, with comments and blank lines in between. It is
checked with the public API, must produce no errors, and one JSON object is printed:

* ``parse_seconds``: :func:`snnc.frontend.parser.parse_text` alone (text to AST);
* ``check_seconds``: :func:`snnc.check_text`, i.e. parse + load (with the standard library)
  + check;

each with its lines per second, and the CPU seconds of this process (``*_cpu_seconds``: the
steadier figure when other processes share the cores). Not collected by pytest (``norecursedirs`` has tests/bench)::

    python tests/bench/parse_speed.py [--lines N] [--repeat R]

With ``--repeat`` the best of R runs is reported for each measurement.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import snnc
from snnc.frontend.parser import parse_text

HEADER = """\
# Generated benchmark spec: many layers of a recurrent network that learns with STDP,
# e-prop and the delta rule. Every layer has its own models, rules and readout.
network parse_speed {
  dt = 0.5 ms
  seed = 1234
  integration = exact
  duration = 2 s
}

target reference
"""


def layer(k: int) -> str:
    """One layer: about 100 lines covering every kind of statement of the language."""
    n_in = 16 + k % 48
    n_hidden = 64 + (k * 7) % 192
    n_adapt = 32 + (k * 3) % 64
    tau = 10 + k % 25
    return f"""
# ---- layer {k} -----------------------------------------------------------------------
# Inputs spike as Poisson processes; the hidden layer is current based and learns with a
# layer-specific STDP variant, the adaptive layer with e-prop, the readout with delta.
neuron Cell{k} = CubaLIF {{
  tau_mem = {tau} ms
  tau_syn = {3 + k % 5} ms
  v_leak = 0 mV
  threshold = {0.8 + (k % 5) / 10:g}
  reset = subtract
  refractory = 2 ms
  input_scale = one_minus_decay
  surrogate = fast_sigmoid(beta = {5 + k % 10})
}}

neuron Adaptive{k} = ALIF {{
  tau_mem = 20 ms
  tau_adapt = {150 + k % 100} ms
  beta_adapt = 0.07
  threshold = 0.6
  reset = subtract
  surrogate = piecewise_linear(gamma = 0.3)
}}

input sensors{k}[{n_in}]: poisson(rate = {5 + k % 20} Hz)

input replay{k}[{n_in}] {{
  rate 12 Hz
}}

population hidden{k}: Cell{k}[{n_hidden}] {{
  v_init = uniform(0, 0.5)
  bias = 0.01
  rate 8 Hz
}}

population adapt{k}: Adaptive{k}[{n_adapt}] {{
  v_init = normal(0, 0.1)
  rate 10 Hz
}}

readout out{k}: LI[10] {{
  tau_mem = {tau} ms
}}

# Pair-based STDP with soft bounds on the trace amplitudes.
rule stdp{k}(lr = 0.01, tau_plus = {15 + k % 10} ms, tau_minus = {25 + k % 10} ms,
             a_plus = 1, a_minus = 1.05, w_max = 1) {{
  trace x_pre = lowpass(pre.s, tau_plus)
  trace y_post = lowpass(post.s, tau_minus)
  on post: dw = a_plus * x_pre * (w_max - w)
  on pre: dw = -a_minus * y_post * w
  bounds = [0, w_max]
}}

# e-prop through fixed random feedback.
rule eprop{k}(lr = 1e-3, readout, tau = {tau} ms) {{
  trace zbar = lowpass(pre.s, tau)
  let psi = surrogate(post.v)
  signal L = random_feedback(from = readout)
  dw = -L * psi * zbar
  optimizer = adam(beta1 = 0.9, beta2 = 0.999, eps = 1e-8)
}}

sensors{k} -> hidden{k}: sparse(p = 0.{1 + k % 8}) {{
  weight = normal(0, 0.1)
  delay = 1 ms
  receptor excitatory(tau = 5 ms)
  learn stdp{k}(lr = 0.005, w_max = 0.5)
}}

replay{k} -> hidden{k}: fixed_fan_in(k = {4 + k % 8}) {{
  weight = uniform(0, 0.05)
  delay = 2
}}

hidden{k} -> hidden{k} as recurrent{k}: sparse(p = 0.05) {{
  weight = normal(0, 0.05)
  learn eprop{k}(lr = 1e-3, readout = out{k})
}}

hidden{k} -> adapt{k}: dense {{
  weight = normal(0, 0.1)
  learn eprop_alif(lr = 1e-3, readout = out{k})
}}

adapt{k} -> out{k}: dense {{
  weight = uniform(-0.1, 0.1)
  learn delta(lr = 1e-3, readout = out{k})
}}

loss cross_entropy(sum_over_time(out{k}.v))

record hidden{k}.s, hidden{k}.v, adapt{k}.a, out{k}.v
record sensors{k}->hidden{k}.w, sensors{k}->hidden{k}.x_pre, recurrent{k}.w, recurrent{k}.zbar
"""


def spec(lines: int) -> str:
    """A spec of exactly ``lines`` lines (padded with comments after the last whole layer)."""
    parts = [HEADER]
    count = HEADER.count("\n")
    k = 0
    while True:
        block = layer(k)
        if count + block.count("\n") > lines:
            break
        parts.append(block)
        count += block.count("\n")
        k += 1
    parts.append("".join(f"# padding {i}\n" for i in range(lines - count)))
    text = "".join(parts)
    assert text.count("\n") == lines, (text.count("\n"), lines)
    return text


def timed(function, repeat: int):
    """(best wall seconds, best CPU seconds of this process, last result) of ``repeat`` calls.
    On a shared machine the CPU time is the steadier figure."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        best = min(best, time.perf_counter() - start)
    return best, best_cpu, result


def fail(diag: snnc.Diagnostics, stage: str) -> None:
    shown = "\n".join(snnc.render(d, diag.sources) for d in diag.sorted()[:10])
    sys.exit(f"{stage} of the generated spec reported errors:\n{shown}")


def main(argv: list[str] | None = None) -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--lines", type=int, default=100_000)
    options.add_argument("--repeat", type=int, default=1)
    args = options.parse_args(argv)

    text = spec(args.lines)
    lines = text.count("\n")
    file = "parse_speed.snn"
    snnc.check_text(HEADER, snnc.Diagnostics(), file="warm-up.snn")  # build the parser once

    def parse_only():
        diag = snnc.Diagnostics()
        module = parse_text(text, file, diag)
        return module, diag

    def parse_and_check():
        diag = snnc.Diagnostics()
        summary = snnc.check_text(text, diag, file=file)
        return summary, diag

    parse_seconds, parse_cpu, (module, diag) = timed(parse_only, args.repeat)
    if module is None or diag.has_errors:
        fail(diag, "parsing")
    check_seconds, check_cpu, (summary, diag) = timed(parse_and_check, args.repeat)
    if summary is None or diag.has_errors:
        fail(diag, "checking")

    print(json.dumps({
        "benchmark": "parse_speed",
        "lines": lines,
        "characters": len(text),
        "items": len(module.items),
        "populations": len(summary.to_json()["populations"]),
        "projections": len(summary.to_json()["projections"]),
        "warnings": len(diag),
        "parse_seconds": round(parse_seconds, 3),
        "parse_lines_per_second": round(lines / parse_seconds),
        "check_seconds": round(check_seconds, 3),
        "check_lines_per_second": round(lines / check_seconds),
        "parse_cpu_seconds": round(parse_cpu, 3),
        "check_cpu_seconds": round(check_cpu, 3),
        "check_cpu_lines_per_second": round(lines / check_cpu),
        "repeat": args.repeat,
        "python": platform.python_version(),
    }, indent=2))


if __name__ == "__main__":
    main()
