"""``snnc check``: parse and check .snn files and summarise them."""

from __future__ import annotations

import argparse
import json

from snnc.api import check_network
from snnc.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    format_quantity_dt,
    print_diagnostics,
    usage,
)
from snnc.diagnostics import Diagnostics, Severity
from snnc.frontend.parser import gc_paused
from snnc.ir.summary import Summary
from snnc.passes import REGISTRY
from snnc.reports import format_locality
from snnc.targets import builtin_names


def add_parser(commands) -> None:
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
    check.set_defaults(handler=run)


def run(args) -> int:
    known = ("lower", *REGISTRY)
    if args.dump_after is not None and args.dump_after not in known:
        return usage(f"snnc check: unknown pass '{args.dump_after}' for --dump-ir-after; "
                     f"passes: {', '.join(known)}")
    if args.steps is not None and args.steps <= 0:
        return usage("snnc check: --steps must be positive")
    results = []
    with gc_paused():  # see snnc.frontend.parser.gc_paused
        for path in args.files:
            diag = Diagnostics()
            net, dumps = check_network(path, diag, args.target, args.steps, args.dump_after)
            results.append((path, net, diag, dumps))
    failed = any(net is None for _, net, _, _ in results)
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


def memory_line(estimate: int) -> str:
    """The summary's memory row; says when the estimate exceeds this machine's memory."""
    from snnc.machine import available_bytes, format_bytes
    room = available_bytes()
    more = f", more than the {format_bytes(room)} available here (run, train and compile " \
        "refuse it: E617)" if room is not None and estimate > room else ""
    return f"  memory       {'':>4}   {'~' + format_bytes(estimate):>13} to simulate (batch 1){more}"


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
    if "memory" in summary.reports:  # snnc.memory: the reference simulator's estimate
        lines.append(memory_line(summary.reports["memory"]["bytes"]))
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

