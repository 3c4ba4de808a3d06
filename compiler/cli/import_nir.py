"""``snnc import-nir``: read a NIR graph as .snn source (extra 'nir')."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import snnc
from snnc import output
from snnc.cli.common import (
    EXIT_ERRORS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    FORCE_HELP,
    inputs_of,
    print_diagnostics,
    write_npz,
    write_text,
)
from snnc.diagnostics import Diagnostics


def add_parser(commands) -> None:
    importer = commands.add_parser(
        "import-nir", help="read a NIR graph as .snn source (extra 'nir')",
        description="Read a NIR graph written by any toolchain and write .snn source that snnc "
                    "compiles, plus an .npz archive with its arrays next to it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  snnc import-nir lif.nir --dt 1e-4 -o lif.snn\n"
               "  snnc import-nir snntorch.nir --dt 1e-4 --reset snntorch_subtract -o net.snn\n"
               "  snnc import-nir norse.nir --dt 1e-3 --reset 1=zero,3=subtract -o net.snn")
    importer.add_argument("graph", metavar="GRAPH.nir")
    importer.add_argument("-o", "--output", required=True, metavar="NET.snn")
    importer.add_argument("--dt", type=float, metavar="SECONDS",
                          help="the time step (required unless the graph's metadata has 'dt')")
    importer.add_argument(
        "--reset", type=reset_option, metavar="KIND|NODE=KIND,...",
        help="the reset of spiking nodes whose reset the graph does not record (a node's "
             "metadata 'reset' is read as recorded; without either, NIR's reset to v_reset). "
             "KIND: zero (v <- v_reset), subtract (v <- v - threshold at the spike: snnc's, "
             "Norse's reset_subtract), none, snntorch_subtract (snnTorch's default "
             "reset_mechanism='subtract': the threshold subtracted on the next step, after the "
             "decay). Required (E619) for the graphs of snnTorch's export_to_nir and for "
             "Norse's LIF nodes, which do not record their reset; NODE=KIND for one node")
    importer.add_argument("--force", action="store_true", help=FORCE_HELP)
    importer.set_defaults(handler=run)


def reset_option(value: str) -> dict:
    """``--reset``: the statement of :func:`snnc.backends.nir.import_peers.parse_reset`."""
    from snnc.backends.nir.import_peers import parse_reset
    try:
        return parse_reset(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run(args) -> int:
    try:
        from snnc.backends.nir.importer import import_graph
    except ImportError:
        print("snnc import-nir needs nir: pip install 'snnc[nir]'", file=sys.stderr)
        return EXIT_USAGE
    if args.dt is not None and not (args.dt > 0 and np.isfinite(args.dt)):
        diag = Diagnostics()
        diag.error("E615" if not np.isfinite(args.dt) else "E614", None,
                   f"--dt {args.dt:g}: the time step must be a positive, finite number of seconds",
                   hint="for example --dt 1e-3 for 1 ms")
        print_diagnostics(diag)
        return EXIT_USAGE
    stem = os.path.splitext(os.path.basename(args.output))[0]
    archive = stem + ".npz"
    beside = os.path.join(os.path.dirname(os.path.abspath(args.output)), archive)
    if os.path.realpath(beside) == os.path.realpath(args.output):
        print(f"snnc import-nir: -o names the archive '{archive}' itself; give a .snn path",
              file=sys.stderr)
        return EXIT_USAGE
    given = inputs_of(args.graph)
    snn_target = output.check_file(args.output, "snn", inputs=given, force=args.force)
    npz_target = output.check_file(beside, "npz", option="-o (its archive)", inputs=given,
                                   force=args.force)
    diag = Diagnostics()
    result = import_graph(args.graph, diag, args.dt, stem, archive, reset=args.reset)
    if result is not None:
        text, arrays = result
        if arrays:
            write_npz(npz_target, arrays, "import-nir")
        write_text(snn_target, output.SNN_STAMP + text, "import-nir")
        check = Diagnostics()
        if snnc.check_file(args.output, check) is None:  # a bug: our own output must compile
            print_diagnostics(check)
            return EXIT_INTERNAL
    print_diagnostics(diag)
    if result is None:
        return EXIT_ERRORS
    print(f"{args.graph}: wrote {args.output}" + (f" and {archive}" if result[1] else ""))
    return EXIT_OK
