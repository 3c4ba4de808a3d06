"""After a Lava emit: the process graph drawn by Graphviz (when installed) and a one-line
summary of the fixed-point quantization report, for ``snnc compile --emit lava``."""

from __future__ import annotations

import shutil
import subprocess


def render_dot(source: str) -> dict[str, bytes]:
    """``process_graph.png`` when Graphviz's ``dot`` is installed (else nothing)."""
    dot = shutil.which("dot")
    if dot is None:
        return {}
    result = subprocess.run([dot, "-Tpng"], input=source.encode(), capture_output=True,
                            check=False)
    return {"process_graph.png": result.stdout} if result.returncode == 0 else {}


def quantization_summary(report: dict) -> str:
    """One line on the fixed-point parameters' largest relative errors, the learning rules and
    the integer scales of feedback rules' signals (sigma: integer units per unit)."""
    if not report["runs_in_fixed_pt"]:
        return "  fixed point: not available (" + "; ".join(report["blockers"]) + ")"
    worst: dict[str, float] = {}
    for group in report["groups"].values():
        for name, error in group["errors"].items():
            worst[name] = max(worst.get(name, 0.0), error["relative_error"])
    worst["weights"] = max((c["max_relative_error"] for c in report["connections"].values()),
                           default=0.0)
    zeroed = sum(c["weights_zeroed"] for c in report["connections"].values())
    parts = ", ".join(f"{name} {100 * value:.2g} %" for name, value in worst.items())
    rules = len(report.get("rules", {}))
    tagged = sum(1 for r in report.get("rules", {}).values() if r.get("through_tag"))
    learning = (f"; {rules} learning rule{'s' if rules > 1 else ''} with integer traces and "
                "stochastic rounding") if rules else ""
    if tagged:
        learning += (f" ({tagged} accumulating {'their' if tagged > 1 else 'its'} steps in the "
                     "tag, 128 times finer than the weight)")
    signals = report.get("feedback_signals", {})
    if signals:
        learning += "; learning signals sent as integers (" + ", ".join(
            f"{name} x {value['sigma']:g}" for name, value in sorted(signals.items())) + ")"
    return (f"  fixed point: largest relative errors {parts}; {zeroed} weights rounded to zero"
            f"{learning} (quantization.json)")
