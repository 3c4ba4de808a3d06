"""snnc: a compiler for spiking neural networks that learn.

Public API (docs/python-api.md)::

    import snnc
    net = snnc.load_network("examples/randman/eprop_random.snn")   # raises snnc.CompileError
    print(net)                                                     # a short summary
    result = snnc.simulate(net, inputs={"units": spikes}, record=["hidden.s", "out.v"])
    files = snnc.compile(net, "nir", out="build/nir", allow_lossy=["reset"])
    run = snnc.train(net, data="randman", epochs=5, out="runs/eprop")

These four (:mod:`snnc.facade`) raise :class:`CompileError` carrying the diagnostics. Below
them, with a :class:`Diagnostics` sink instead of exceptions::

    diag = snnc.Diagnostics()
    summary = snnc.check_file("examples/stdp.snn", diag)   # None when there were errors
    net = snnc.compile_file("examples/stdp.snn", diag)      # the checked IR Network, or None
    module = snnc.parse(text)                               # raises snnc.CompileError

What each ``snnc`` command does (compile, emit, simulate, map) is :mod:`snnc.api`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from snnc.diagnostics import CompileError, Diagnostic, Diagnostics, Severity, Span, render

if TYPE_CHECKING:
    from snnc.frontend.ast import Module
    from snnc.frontend.loader import Program
    from snnc.ir.network import Network
    from snnc.ir.summary import Summary

__version__ = "0.1.0"

#: the Python API of :mod:`snnc.facade`, imported when first used (``import snnc`` stays light)
FACADE = ("Result", "SnncWarning", "SpikeEvents", "Training", "compile", "load_network", "simulate",
          "spikes_dense", "train")
#: the front end's and the IR's names, imported when first used: a process that finds its
#: network in :mod:`snnc.ir.lowered_cache` never imports the parser (nor Lark)
LAZY = {"Module": "snnc.frontend.ast", "Program": "snnc.frontend.loader",
        "load_file": "snnc.frontend.loader", "load_text": "snnc.frontend.loader",
        "gc_paused": "snnc.frontend.parser", "parse_text": "snnc.frontend.parser",
        "lower": "snnc.ir.lower", "Network": "snnc.ir.network", "Summary": "snnc.ir.summary",
        "DEFAULT_PIPELINE": "snnc.passes", "run_pipeline": "snnc.passes"}

__all__ = [
    "CompileError", "Diagnostic", "Diagnostics", "Module", "Network", "Program", "Severity",
    "Span", "Summary", "__version__", "check_file", "check_text", "compile_file",
    "compile_program", "load", "parse", "render",
    *(name for name in FACADE if name != "compile"),  # a star import keeps the builtin compile
]


def __getattr__(name: str):
    if name in FACADE:
        from snnc import facade
        return getattr(facade, name)
    if name in LAZY:
        import importlib
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'snnc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(FACADE) | set(LAZY))


def parse(text: str, file: str = "<string>") -> Module:
    """The AST of one ``.snn`` text (imports are not followed); raises CompileError."""
    from snnc.frontend.parser import parse_text
    diag = Diagnostics()
    module = parse_text(text, file, diag)
    if module is None:
        raise CompileError(diag)
    return module


def load(path: str) -> Program:
    """A file with its imports and the standard library, parsed; raises CompileError."""
    from snnc.frontend.loader import load_file
    diag = Diagnostics()
    program = load_file(path, diag)
    if program is None:
        raise CompileError(diag)
    return program


def compile_program(program: Program, diag: Diagnostics, *,
                    passes: Iterable[str] | None = None,
                    options: dict[str, dict] | None = None,
                    after_each: Callable[[str, Network], None] | None = None) -> Network | None:
    """Lower a loaded program to the IR and run the passes (``passes``: the default pipeline,
    :data:`snnc.passes.DEFAULT_PIPELINE`, when None); None when there were errors."""
    from snnc.ir.lower import lower
    from snnc.passes import DEFAULT_PIPELINE, run_pipeline
    net = lower(program, diag)
    if net is None:
        return None
    return run_pipeline(net, diag, DEFAULT_PIPELINE if passes is None else passes,
                        options=options, after_each=after_each)


def compile_file(path: str, diag: Diagnostics, **kwargs) -> Network | None:
    """Load, lower and check ``path`` (see :func:`compile_program`)."""
    from snnc.frontend.loader import load_file
    from snnc.frontend.parser import gc_paused
    with gc_paused():  # a large program is many objects without cycles: see gc_paused
        program = load_file(path, diag)
        return None if program is None else compile_program(program, diag, **kwargs)


def check_file(path: str, diag: Diagnostics, **kwargs) -> Summary | None:
    """Load and check ``path``; diagnostics go into ``diag``; None when there were errors."""
    from snnc.ir.summary import Summary
    net = compile_file(path, diag, **kwargs)
    return None if net is None else Summary.of(net)


def check_text(text: str, diag: Diagnostics, file: str = "<string>", **kwargs) -> Summary | None:
    """Like :func:`check_file` for text in memory (imports are resolved from the cwd)."""
    from snnc.frontend.loader import load_text
    from snnc.frontend.parser import gc_paused
    from snnc.ir.summary import Summary
    with gc_paused():
        program = load_text(text, file, diag)
        if program is None:
            return None
        net = compile_program(program, diag, **kwargs)
        return None if net is None else Summary.of(net)
