"""The argument parser: the top level here, each command's arguments in its own module.

Every command's parser is a :class:`Parser`, which can add arguments on first use
(:meth:`Parser.defer`): a command's module (``snnc.cli.<module>``, with what it imports) is
imported only when that command parses or prints its help, so ``snnc check`` loads neither
the simulator nor the trainer; ``snnc compile`` in turn reads its flags from the backend
registry only then, so no other command imports a backend.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

import snnc

EPILOG = ("exit status: 0 ok (warnings allowed), 1 errors in the input (diagnostics, also a "
          "refused output path), 2 usage error, 3 internal error (a bug in snnc)\n\n"
          "outputs: snnc replaces only what it wrote (output folders hold a .snnc-output "
          "marker; .npz, .png and imported .snn files carry a stamp); --force replaces other "
          "files and folders, but never /, the home or current folder, an input, or a folder "
          "containing one of them")

#: the commands in the order of ``snnc --help``: (name, module in snnc.cli, help line); each
#: module's ``add_parser(commands)`` registers the same name and help (checked when it runs)
COMMANDS = (
    ("check", "check", "parse and check .snn files and summarise them"),
    ("compile", "compile", "write a backend's artifacts for a .snn file"),
    ("run", "run", "simulate a .snn file with the reference simulator"),
    ("plot", "plot", "draw a raster, voltage traces and weight histograms (extra 'plot')"),
    ("import-nir", "import_nir", "read a NIR graph as .snn source (extra 'nir')"),
    ("map", "map", "partition and place a .snn file onto a chip's cores"),
    ("train", "train", "train a network with the learning rules of its source"),
    ("passes", "passes", "list the compiler passes"),
)

#: what a command's module may pass to ``commands.add_parser`` besides its name and help
SETTINGS = ("description", "epilog", "formatter_class", "usage")


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
    for name, module, help in COMMANDS:
        command = commands.add_parser(name, help=help)
        command.defer(Registered(name, module, help).complete)
    return parser


class Registered:
    """A command whose parser exists (name and help, for ``snnc --help``) before its module
    is imported: :meth:`complete` imports ``snnc.cli.<module>`` and runs its ``add_parser``,
    whose ``commands.add_parser(name, help=..., **settings)`` (:meth:`add_parser`) then
    gives back that parser with ``settings`` applied."""

    def __init__(self, name: str, module: str, help: str) -> None:
        self.name, self.module, self.help = name, module, help
        self.parser: argparse.ArgumentParser | None = None

    def complete(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        importlib.import_module(f"snnc.cli.{self.module}").add_parser(self)

    def add_parser(self, name: str, *, help: str, **settings) -> argparse.ArgumentParser:
        unknown = sorted(set(settings) - set(SETTINGS))
        if (name, help) != (self.name, self.help) or unknown or self.parser is None:
            raise RuntimeError(f"snnc.cli.{self.module} registers the command {name!r} "
                               f"(help {help!r}, settings {unknown}) unlike COMMANDS of "
                               "snnc.cli.parser")
        for key, value in settings.items():
            setattr(self.parser, key, value)
        return self.parser
