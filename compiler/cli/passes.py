"""``snnc passes``: list every registered pass with its description and prerequisites."""

from __future__ import annotations

from snnc.cli.common import EXIT_OK
from snnc.passes import DEFAULT_PIPELINE, MAPPING_PIPELINE, REGISTRY, get_pass, requirements


def add_parser(commands) -> None:
    passes = commands.add_parser(
        "passes", help="list the compiler passes",
        description="List every registered pass: the default pipeline in order (snnc check, "
                    "compile, run, train), then what snnc map adds and any other pass; each "
                    "with the passes it needs to have run before it.")
    passes.set_defaults(handler=run)


def listed() -> list[str]:
    """Every registered pass: the default pipeline, the mapping pipeline, then the others."""
    return list(dict.fromkeys([*DEFAULT_PIPELINE, *MAPPING_PIPELINE, *REGISTRY]))


def run(args) -> int:
    for name in listed():
        requires = requirements(name)
        after = f" (after {', '.join(requires)})" if requires else ""
        print(f"{name:<22} {get_pass(name).description}{after}")
    return EXIT_OK
