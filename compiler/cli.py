"""The ``snnc`` command line: the only place that prints and picks exit codes.

Exit status: 0 success (warnings allowed), 1 the input has errors, 2 usage error.
Diagnostics go to standard error, results to standard output; with ``--format json`` a
single JSON document goes to standard output instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

import snnc
from snnc.diagnostics import Diagnostics, Severity, render
from snnc.frontend.check import Summary

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

#: commands that later releases add, shown in --help so the design is visible in one place
PLANNED = (
    ("compile", "compile FILE --emit reference|nir|lava -o OUT/: write backend artifacts"),
    ("run", "run FILE --steps N: simulate with the reference simulator"),
    ("map", "map FILE --target CHIP: partition and place onto a chip's cores"),
    ("train", "train FILE --data ...: train with the network's learning rules"),
    ("import-nir", "import-nir GRAPH.nir -o NET.snn: read a NIR graph as .snn source"),
    ("passes", "passes: list the compiler passes"),
)

EPILOG = "planned commands (not in this release):\n" + "\n".join(
    f"  {name:<11} {text}" for name, text in PLANNED) + (
    "\n\nexit status: 0 ok, 1 errors in the input, 2 usage error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnc", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="snnc compiles spiking neural networks that learn, written in the .snn "
                    "language: it checks whether each learning rule can run on a neuromorphic "
                    "chip and emits simulator, NIR and Lava artifacts.",
        epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"snnc {snnc.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check", help="parse and check .snn files and summarise them",
        description="Parse and check .snn files (with their imports) and print a summary of "
                    "each: inputs, populations, neurons, projections, synapses and rules.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  snnc check examples/stdp.snn\n"
               "  snnc check examples/*.snn --format json")
    check.add_argument("files", nargs="+", metavar="FILE", help=".snn files to check")
    check.add_argument("--format", choices=("text", "json"), default="text",
                       help="text for people (default), json for programs")
    check.add_argument("--quiet", "-q", action="store_true",
                       help="print diagnostics only, no summary")
    check.set_defaults(handler=run_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug in snnc, never the user's fault
        if os.environ.get("SNNC_DEBUG"):
            raise
        print(f"snnc: internal error ({type(error).__name__}: {error}). This is a bug in snnc; "
              "please report it with the input file. Set SNNC_DEBUG=1 for the traceback.",
              file=sys.stderr)
        traceback.print_exc(limit=0, file=sys.stderr)
        return EXIT_INTERNAL


# ---- check --------------------------------------------------------------------------------

def run_check(args) -> int:
    results = []
    failed = False
    for path in args.files:
        diag = Diagnostics()
        summary = snnc.check_file(path, diag)
        failed |= summary is None
        results.append((path, summary, diag))
    if args.format == "json":
        document = [{"file": path, "ok": summary is not None,
                     "summary": summary.to_json() if summary else None,
                     "diagnostics": [d.to_json() for d in diag.sorted()]}
                    for path, summary, diag in results]
        print(json.dumps(document if len(document) > 1 else document[0], indent=2))
    else:
        for index, (path, summary, diag) in enumerate(results):
            print_diagnostics(diag)
            if summary is not None and not args.quiet:
                if index:
                    print()
                print(format_summary(path, summary, diag))
    return EXIT_ERRORS if failed else EXIT_OK


def print_diagnostics(diag: Diagnostics) -> None:
    for diagnostic in diag.sorted():
        print(render(diagnostic, diag.sources), file=sys.stderr)
    errors = sum(1 for d in diag.items if d.severity is Severity.ERROR)
    if errors:
        print(f"{errors} error{'s' * (errors != 1)}", file=sys.stderr)


def format_quantity_dt(dt: float) -> str:
    return f"{dt * 1e3:g} ms" if dt < 1 else f"{dt:g} s"


def format_summary(path: str, summary: Summary, diag: Diagnostics, max_rows: int = 12) -> str:
    """One screen: header, totals, then the populations and projections (truncated)."""
    warnings = sum(1 for d in diag.items if d.severity is Severity.WARNING)
    status = "ok" if not warnings else f"ok, {warnings} warning{'s' * (warnings != 1)}"
    inputs = [n for n in summary.nodes if n.kind == "input"]
    populations = [n for n in summary.nodes if n.kind != "input"]
    used_rules = sorted({r for p in summary.projections for r in p.rules})
    synapses = summary.synapses
    lines = [
        f"{path}: {status}",
        f"network {summary.network}: dt {format_quantity_dt(summary.dt)}, seed {summary.seed}, "
        f"{summary.integration} integration, target {summary.target}",
        f"  inputs       {len(inputs):>4}   {sum(n.size for n in inputs):>13,} channels",
        f"  populations  {len(populations):>4}   {summary.neurons:>13,} neurons",
        f"  projections  {len(summary.projections):>4}   "
        + (f"{synapses:>13,} synapses" if synapses is not None else "    (from files) synapses"),
        f"  rules        {len(used_rules):>4}   {', '.join(used_rules) or '-'}",
    ]
    if summary.nodes:
        lines += ["", f"  {'name':<20} {'kind':<10} {'model':<16} {'shape':<16} {'size':>12}"]
        for node in summary.nodes[:max_rows]:
            model = "-" if node.kind == "input" else node.model
            shape = "[" + ", ".join(map(str, node.shape)) + "]"
            lines.append(f"  {node.name:<20} {node.kind:<10} {model:<16} {shape:<16} "
                         f"{node.size:>12,}")
        if len(summary.nodes) > max_rows:
            lines.append(f"  ... and {len(summary.nodes) - max_rows} more")
    if summary.projections:
        lines += ["", f"  {'projection':<28} {'connectivity':<13} {'synapses':>13}  rules"]
        for p in summary.projections[:max_rows]:
            count = f"{p.synapses:,}" if p.synapses is not None else "?"
            lines.append(f"  {p.name:<28} {p.connectivity:<13} {count:>13}  "
                         f"{', '.join(p.rules) or '-'}")
        if len(summary.projections) > max_rows:
            lines.append(f"  ... and {len(summary.projections) - max_rows} more")
    return "\n".join(lines)
