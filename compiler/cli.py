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
from snnc.frontend.loader import load_file
from snnc.ir.dump import dump
from snnc.ir.lower import lower
from snnc.ir.summary import Summary
from snnc.passes import DEFAULT_PIPELINE, REGISTRY, get_pass, run_pipeline
from snnc.reports import format_locality
from snnc.targets import builtin_names

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

#: commands that later releases add, shown in --help so the design is visible in one place
PLANNED = (
    ("compile", "compile FILE --emit reference|nir|lava -o OUT/: write backend artifacts"),
    ("run", "run FILE --steps N: simulate with the reference simulator"),
    ("map", "map FILE --target CHIP: partition and place onto a chip's cores"),
    ("train", "train FILE --data ...: train with the network's learning rules"),
    ("import-nir", "import-nir GRAPH.nir -o NET.snn: read a NIR graph as .snn source"),
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
    check.add_argument("--target", metavar="NAME",
                       help="check against this target instead of the program's 'target' "
                            f"(built-in: {', '.join(builtin_names())}, or a custom target of "
                            "the program)")
    check.add_argument("--report", action="append", choices=("locality",), default=[],
                       help="add a report: 'locality' shows each rule's class, third factors, "
                            "state and compute")
    check.add_argument("--steps", type=int, metavar="T",
                       help="sequence length for stored histories (BPTT); default: the "
                            "network's duration / dt, else 1000")
    check.add_argument("--dump-ir-after", metavar="PASS", dest="dump_after",
                       help="print the IR after PASS ('lower' for the IR before any pass)")
    check.set_defaults(handler=run_check)

    passes = commands.add_parser("passes", help="list the compiler passes",
                                 description="List the passes of the default pipeline, in order.")
    passes.set_defaults(handler=run_passes)
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
    known = ("lower", *REGISTRY)
    if args.dump_after is not None and args.dump_after not in known:
        print(f"snnc check: unknown pass '{args.dump_after}' for --dump-ir-after; passes: "
              f"{', '.join(known)}", file=sys.stderr)
        return EXIT_USAGE
    if args.steps is not None and args.steps <= 0:
        print("snnc check: --steps must be positive", file=sys.stderr)
        return EXIT_USAGE
    options = {"check-target": {"target": args.target}, "check-locality": {"steps": args.steps}}
    results = []
    failed = False
    for path in args.files:
        diag = Diagnostics()
        dumps: list[str] = []

        def after_each(name, net, dumps=dumps):
            if name == args.dump_after:
                dumps.append(dump(net))

        program = load_file(path, diag)
        net = None
        if program is not None:
            lowered = lower(program, diag)
            if lowered is not None:
                after_each("lower", lowered)
                net = run_pipeline(lowered, diag, DEFAULT_PIPELINE, options=options,
                                   after_each=after_each)
        failed |= net is None
        results.append((path, net, diag, dumps))
    if args.format == "json":
        document = [json_result(path, net, diag, args.report) for path, net, diag, _ in results]
        print(json.dumps(document if len(document) > 1 else document[0], indent=2))
        return EXIT_ERRORS if failed else EXIT_OK
    for index, (path, net, diag, dumps) in enumerate(results):
        print_diagnostics(diag)
        for text in dumps:
            print(text, end="")
        if net is not None and not args.quiet:
            if index:
                print()
            print(format_summary(path, Summary.of(net), diag))
            if "locality" in args.report:
                print()
                print(format_locality(net.analyses.get("check-locality", []),
                                      net.analyses.get("check-target")))
    return EXIT_ERRORS if failed else EXIT_OK


def json_result(path: str, net, diag: Diagnostics, reports: list[str]) -> dict:
    summary = None
    if net is not None:
        summary = Summary.of(net).to_json()
        if "locality" in reports:
            summary["locality"] = [r.to_json() for r in net.analyses.get("check-locality", [])]
    return {"file": path, "ok": net is not None, "summary": summary,
            "diagnostics": [d.to_json() for d in diag.sorted()]}


def run_passes(args) -> int:
    for name in DEFAULT_PIPELINE:
        print(f"{name:<22} {get_pass(name).description}")
    return EXIT_OK


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
