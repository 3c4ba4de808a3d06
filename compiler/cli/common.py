"""What every command shares: exit codes, printing diagnostics, writing through
:mod:`snnc.output` (the only writer) and saying which folders it created, progress bars."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from snnc import output
from snnc.diagnostics import Diagnostics, Severity, render

if TYPE_CHECKING:
    import numpy as np

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

FORCE_HELP = ("replace an existing output that snnc did not write (never /, the home or current "
              "folder, an input, or a folder containing one)")


def add_deploy_arguments(parser: argparse.ArgumentParser) -> None:
    """--weights and --no-learn (snnc compile and snnc map): applied to the program before
    any pass or backend (:mod:`snnc.weights`)."""
    parser.add_argument("--weights", metavar="FILE.npz",
                        help="trained weights: a checkpoint.npz of snnc train or a snnc run "
                             "output ('<projection>.w')")
    parser.add_argument("--no-learn", action="store_true",
                        help="drop the learning rules (note N501): the inference network")


def usage(message: str) -> int:
    """Print a usage error (an option missing or out of range) and return its exit status."""
    print(message, file=sys.stderr)
    return EXIT_USAGE


def print_diagnostics(diag: Diagnostics) -> None:
    for diagnostic in diag.sorted():
        print(render(diagnostic, diag.sources), file=sys.stderr)
    errors = sum(1 for d in diag.items if d.severity is Severity.ERROR)
    if errors:
        print(f"{errors} error{'s' * (errors != 1)}", file=sys.stderr)


def format_quantity_dt(dt: float) -> str:
    return f"{dt * 1e3:g} ms" if dt < 1 else f"{dt:g} s"


def inputs_of(*paths: str | None) -> list[str]:
    """The paths among ``paths`` that exist (options like --target may also hold a name)."""
    return [p for p in paths if p and os.path.lexists(p)]


def announce(command: str, created: list[str]) -> None:
    """Say which missing parent folders an output needed (on stderr: stdout may be JSON)."""
    for folder in created:
        print(f"snnc {command}: created the folder '{folder}'", file=sys.stderr)


def write_folder(files: dict[str, str | bytes], target: output.Target, command: str,
                 inputs=()) -> None:
    """Write ``files`` and the marker into the checked folder ``target`` atomically; the old
    folder is replaced only when snnc wrote it (or --force). ``inputs``: more files to protect."""
    announce(command, output.write_folder(target, files, inputs))


def write_npz(target: output.Target, arrays: dict[str, np.ndarray], command: str) -> None:
    """Save arrays to the checked ``target``: stamped, reproducible, atomic."""
    announce(command, output.write_file(target, output.npz_bytes(arrays)))


def write_text(target: output.Target, text: str, command: str) -> None:
    """Write text to the checked ``target`` atomically (UTF-8)."""
    announce(command, output.write_file(target, text.encode("utf-8")))


def progress_bar(steps: int):
    """A tqdm bar on long runs in a terminal (nothing otherwise)."""
    if steps < 2000 or not sys.stderr.isatty():
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=steps, unit="step", file=sys.stderr, mininterval=0.5)
    state = {"last": 0}

    def update(n: int) -> None:
        if n - state["last"] >= 100 or n == steps:
            bar.update(n - state["last"])
            state["last"] = n
    return update, bar
