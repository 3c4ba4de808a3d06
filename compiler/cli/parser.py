"""The argument parser: the top level here, each command's arguments in its own module.

Every command's parser is a :class:`Parser`, which can add arguments on first use
(:meth:`Parser.defer`): ``snnc compile`` reads its flags from the backend registry only when
it parses or prints its help, so no other command imports a backend.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

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


class Parser(argparse.ArgumentParser):
    """An argument parser whose arguments may be added when it is first used."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def defer(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        """Call ``add(self)`` before the parser first parses or formats its help or usage."""
        self.deferred.append(add)

    def complete(self) -> None:
        while self.deferred:
            self.deferred.pop(0)(self)

    def parse_known_args(self, args=None, namespace=None):
        self.complete()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.complete()
        return super().format_usage()

    def format_help(self) -> str:
        self.complete()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnc", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="snnc compiles spiking neural networks that learn, written in the .snn "
                    "language: it checks whether each learning rule can run on a neuromorphic "
                    "chip and emits simulator, NIR and Lava artifacts.",
        epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"snnc {snnc.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser
