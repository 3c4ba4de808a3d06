"""Test helpers: compile .snn text and load its generated reference simulation."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys

import snnc
from snnc.backends.reference import ReferenceBackend
from snnc.diagnostics import Diagnostics

_counter = itertools.count()


def compile_text(text: str):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    net = snnc.compile_program(program, diag) if program else None
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    return net


def load_module(net, folder, *, numba: bool = False, native: bool = False,
                delivery: str = "same_step"):
    """Emit ``net`` into ``folder`` and import it: numpy kernels unless ``numba``; the steps
    in Python unless ``native`` (then in C where the network has a C version)."""
    os.makedirs(folder, exist_ok=True)
    for name, content in ReferenceBackend(delivery=delivery).emit(net).items():
        with open(os.path.join(folder, name), "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
    name = f"snnc_test_sim_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "simulation.py"))
    module = importlib.util.module_from_spec(spec)
    previous = {key: os.environ.get(key) for key in ("SNNC_NO_NUMBA", "SNNC_NO_NATIVE")}
    for key, wanted in (("SNNC_NO_NUMBA", numba), ("SNNC_NO_NATIVE", native)):
        if wanted:
            os.environ.pop(key, None)
        else:
            os.environ[key] = "1"
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return module


def simulate(text, folder, steps, inputs=None, record=(), batch=1, **options):
    module = load_module(compile_text(text), folder, **options)
    sim = module.Simulation(batch=batch)
    return sim.run(steps, inputs or {}, record=list(record)), sim
