"""examples/cuba.snn at any size, for the benchmarks (scaling.py, million.py, nest_scale.py,
recording.py): ``neurons`` neurons, 80 % excitatory, each receiving ``in_degree`` inputs, 80 %
of them excitatory, with ``fixed_fan_in(k)`` (exactly k per neuron) or ``sparse(p = in_degree
/ neurons)`` (in_degree on average) on all four projections; everything else as the example
writes it."""

from __future__ import annotations

import os

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "cuba.snn")
KINDS = ("fixed_fan_in", "sparse")


def cuba_at(neurons: int, kind: str, in_degree: int = 80, name: str | None = None) -> str:
    """The text of the network (named ``name``, else cuba_<kind>_<neurons>); RuntimeError
    when examples/cuba.snn no longer has the sizes and projections this rewrites."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    with open(EXAMPLE, encoding="utf-8") as handle:
        text = handle.read()
    if "[3200]" not in text or "[800]" not in text or text.count("sparse(p = 0.02)") != 4:
        raise RuntimeError("examples/cuba.snn changed: update tests/bench/cuba_at.py")
    exc = neurons * 4 // 5
    text = text.replace("[3200]", f"[{exc}]").replace("[800]", f"[{neurons - exc}]")
    k_exc = in_degree * 4 // 5
    for pre, k in (("exc", k_exc), ("inh", in_degree - k_exc)):
        rule = f"fixed_fan_in(k = {k})" if kind == "fixed_fan_in" else \
            f"sparse(p = {in_degree / neurons!r})"
        for post in ("exc", "inh"):
            text = text.replace(f"{pre} -> {post}: sparse(p = 0.02)", f"{pre} -> {post}: {rule}")
    return text.replace("network cuba", f"network {name or f'cuba_{kind}_{neurons}'}")
