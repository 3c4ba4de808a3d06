"""The argument parser: the top level here, each command's arguments in its own module."""

from __future__ import annotations

import argparse

import snnc
from snnc.cli import check, compile, import_nir, map, passes, plot, run, train

EPILOG = ("exit status: 0 ok (warnings allowed), 1 errors in the input (diagnostics, also a "
          "refused output path), 2 usage error, 3 internal error (a bug in snnc)\n\n"
          "outputs: snnc replaces only what it wrote (output folders hold a .snnc-output "
          "marker; .npz, .png and imported .snn files carry a stamp); --force replaces other "
          "files and folders, but never /, the home or current folder, an input, or a folder "
          "containing one of them")

#: the commands in the order of ``snnc --help``
COMMANDS = (check, compile, run, plot, import_nir, map, train, passes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnc", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="snnc compiles spiking neural networks that learn, written in the .snn "
                    "language: it checks whether each learning rule can run on a neuromorphic "
                    "chip and emits simulator, NIR and Lava artifacts.",
        epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"snnc {snnc.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser
