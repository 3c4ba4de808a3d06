"""``snnc passes``: list the passes of the default pipeline, in order."""

from __future__ import annotations

from snnc.cli.common import EXIT_OK
from snnc.passes import DEFAULT_PIPELINE, get_pass


def add_parser(commands) -> None:
    passes = commands.add_parser("passes", help="list the compiler passes",
                                 description="List the passes of the default pipeline, in order.")
    passes.set_defaults(handler=run)


def run(args) -> int:
    for name in DEFAULT_PIPELINE:
        print(f"{name:<22} {get_pass(name).description}")
    return EXIT_OK
