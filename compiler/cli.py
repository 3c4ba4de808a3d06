"""The ``snnc`` command line: the only place that prints and picks exit codes.

Exit status: 0 success (warnings allowed), 1 the input has errors (diagnostics, including
refused outputs E630-E633), 2 usage error, 3 internal error (a bug in snnc).
Every file or folder a command writes goes through :mod:`snnc.output`, checked before any work.
Diagnostics go to standard error, results to standard output; with ``--format json`` a
single JSON document goes to standard output instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback

import numpy as np

import snnc
from snnc import output
from snnc.backends import REGISTRY as BACKENDS
from snnc.backends import MissingExtra, get_backend
from snnc.backends.reference.plan import DELIVERIES
from snnc.datasets.randman import RandmanOptions
from snnc.diagnostics import Diagnostics, Severity, did_you_mean, render
from snnc.frontend.loader import load_file
from snnc.ir.dump import dump
from snnc.ir.lower import lower
from snnc.ir.summary import Summary
from snnc.passes import DEFAULT_PIPELINE, REGISTRY, get_pass, run_pipeline
from snnc.reports import format_locality
from snnc.targets import builtin_names

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

FORCE_HELP = ("replace an existing output that snnc did not write (never /, the home or current "
              "folder, an input, or a folder containing one)")
EPILOG = ("exit status: 0 ok (warnings allowed), 1 errors in the input (diagnostics, also a "
          "refused output path), 2 usage error, 3 internal error (a bug in snnc)\n\n"
          "outputs: snnc replaces only what it wrote (output folders hold a .snnc-output "
          "marker; .npz, .png and imported .snn files carry a stamp); --force replaces other "
          "files and folders, but never /, the home or current folder, an input, or a folder "
          "containing one of them")


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

    compile_ = commands.add_parser(
        "compile", help="write a backend's artifacts for a .snn file",
        description="Check FILE and write the artifacts of a backend into a folder. The folder "
                    "is replaced atomically: a failed compile leaves the previous output intact. "
                    "An existing folder is replaced only when snnc wrote it (its .snnc-output "
                    "marker) or it is empty; else pass --force.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  snnc compile examples/cuba.snn --emit reference -o build/cuba")
    compile_.add_argument("file", metavar="FILE")
    compile_.add_argument("--emit", choices=sorted(BACKENDS), default="reference",
                          help="the backend (default: reference)")
    compile_.add_argument("-o", "--output", required=True, metavar="DIR",
                          help="output folder (replaced as a whole when snnc wrote it)")
    compile_.add_argument("--target", metavar="NAME", help="check against this target")
    compile_.add_argument("--delivery", choices=DELIVERIES, default=None,
                          help="when a spike reaches its target (see README; default: "
                               "same_step, and next_step for lava, whose only convention it is)")
    compile_.add_argument("--mapping", metavar="JSON",
                          help="lava, nir: record the core assignment of this mapping.json "
                               "(from snnc map)")
    compile_.add_argument("--allow-lossy", action="store_true",
                          help="nir: export constructs NIR cannot express without them "
                               "(warnings instead of errors)")
    compile_.add_argument("--force", action="store_true", help=FORCE_HELP)
    compile_.set_defaults(handler=run_compile)

    run = commands.add_parser(
        "run", help="simulate a .snn file with the reference simulator",
        description="Simulate FILE with the reference simulator and save the recordings.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="input data (.npz): one array per data input, named like the input, of shape "
               "[steps, *shape] or [steps, batch, *shape], 0/1 or boolean; for learning rules "
               "also 'target.<readout>' (labels [batch] for cross-entropy, values [steps, batch, "
               "n] for mse), 'label' (class labels for local readouts) and 'reward' [steps] or "
               "[steps, batch].\n"
               "output (.npz): 'pop.var' arrays [steps, batch, *shape] for every recorded "
               "variable (with --record-every N: [ceil(steps / N), batch, *shape], kept after "
               "the steps 0, N, 2N, ...); a recorded trace or signal of a learning rule as "
               "'<projection>.<name>' [steps, batch, *its shape] (per pre neuron [n_pre], per "
               "post neuron [n_post], per synapse [post, pre] dense or [synapses]); a recorded "
               "weight history as '<projection>.w.history' [steps, *weight shape]; "
               "'<projection>.w' final weights, 'dt', 'steps' and 'record_every'.\n"
               "NaN or inf appearing in a population's or projection's state stops the run "
               "with E616 naming it, the variable and the step (--allow-nonfinite: W616).\n\n"
               "example:\n  snnc run examples/cuba.snn --steps 10000 -o cuba.npz\n"
               "  snnc run examples/stdp.snn --steps 1000 --record 'out.s,poisson_in->out.w,"
               "poisson_in->out.x_pre' --record-every 10 -o stdp.npz")
    run.add_argument("file", metavar="FILE")
    run.add_argument("--steps", type=int, metavar="N",
                     help="number of steps (default: the network's duration / dt)")
    run.add_argument("--input", metavar="DATA.npz", help="spikes for the data inputs")
    run.add_argument("--batch", type=int, default=1, metavar="B",
                     help="independent copies run side by side (default 1)")
    run.add_argument("--record", metavar="WHAT",
                     help="comma-separated: spikes, v, i, a (all populations), pop.var, "
                          "<projection>.w (weight history) or <projection>.<trace or signal>; "
                          "default: the program's 'record' statements, else all spikes")
    run.add_argument("--record-every", type=int, default=1, metavar="N",
                     help="keep the recorded variables every N steps (default 1: every step)")
    run.add_argument("--allow-nonfinite", action="store_true",
                     help="NaN or inf in the state is a warning (W616) instead of an error")
    run.add_argument("-o", "--output", metavar="OUT.npz", help="where to save the recordings")
    run.add_argument("--rates", metavar="RATES.npz",
                     help="also save each population's per-neuron firing rate in Hz")
    run.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    run.add_argument("--delivery", choices=DELIVERIES, default="same_step",
                     help="same_step (default; NIR importers) or next_step (Lava)")
    run.add_argument("--seed", type=int, help="override the network seed for Poisson inputs")
    run.add_argument("--no-learn", action="store_true",
                     help="freeze the weights (learning rules do not run)")
    run.add_argument("--format", choices=("text", "json"), default="text")
    run.add_argument("--force", action="store_true", help=FORCE_HELP)
    run.set_defaults(handler=run_run)

    plot = commands.add_parser(
        "plot", help="draw a raster, voltage traces and weight histograms (extra 'plot')",
        description="Draw the recordings of 'snnc run' as PNG files.")
    plot.add_argument("recording", metavar="OUT.npz")
    plot.add_argument("-o", "--output", metavar="DIR", default=".",
                      help="folder for the PNG files (default: here)")
    plot.add_argument("--force", action="store_true", help=FORCE_HELP)
    plot.set_defaults(handler=run_plot)

    importer = commands.add_parser(
        "import-nir", help="read a NIR graph as .snn source (extra 'nir')",
        description="Read a NIR graph written by any toolchain and write .snn source that snnc "
                    "compiles, plus an .npz archive with its arrays next to it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  snnc import-nir lif.nir --dt 1e-4 -o lif.snn")
    importer.add_argument("graph", metavar="GRAPH.nir")
    importer.add_argument("-o", "--output", required=True, metavar="NET.snn")
    importer.add_argument("--dt", type=float, metavar="SECONDS",
                          help="the time step (required unless the graph's metadata has 'dt')")
    importer.add_argument("--force", action="store_true", help=FORCE_HELP)
    importer.set_defaults(handler=run_import)

    mapper = commands.add_parser(
        "map", help="partition and place a .snn file onto a chip's cores",
        description="Check FILE against a chip, split its populations into core-sized slices, "
                    "place the cores on the chip's mesh and report how it fits. Writes "
                    "mapping.json (every slice: population, neuron range, core, chip, "
                    "coordinates) and mapping.png (the mesh by utilisation, heaviest links) "
                    "into a folder, replaced atomically.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  snnc run examples/cuba.snn --steps 1000 --rates rates.npz\n"
               "  snnc map examples/cuba.snn --target loihi2 --rates rates.npz -o cuba.map")
    mapper.add_argument("file", metavar="FILE")
    mapper.add_argument("--target", metavar="NAME",
                        help="the chip: a built-in, a custom target of the program or a JSON "
                             "target file (default: the program's 'target')")
    mapper.add_argument("--rates", metavar="RATES.npz",
                        help="firing rates from 'snnc run --rates' (default: declared rates, "
                             "else 10 Hz)")
    mapper.add_argument("-o", "--output", default="mapping", metavar="DIR",
                        help="folder for mapping.json and mapping.png (default: mapping)")
    mapper.add_argument("--no-kahip", action="store_true",
                        help="do not use KaHIP even when installed (extra 'map')")
    mapper.add_argument("--format", choices=("text", "json"), default="text")
    mapper.add_argument("--force", action="store_true", help=FORCE_HELP)
    mapper.set_defaults(handler=run_map)
    train = commands.add_parser(
        "train", help="train a network with the learning rules of its source",
        description="Train FILE for classification with its learning rules: online rules "
                    "(e-prop, SuperSpike, DECOLLE, delta ...) compute their updates as the "
                    "simulation runs; 'bptt' and 'rtrl' are exact-gradient oracles (Adam). "
                    "After every epoch: validation and test accuracy, log.json, timing.json, "
                    "checkpoint.npz and curves.png in the output folder.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="data: 'randman' or 'randman:key=value,...' generates Randman (keys: "
               + ", ".join(RandmanOptions.names()) + "); or an .npz file with, per split "
               "(train, validation, test), '<split>.<input>' spikes [steps, samples, *shape] "
               "and '<split>.label' class indices [samples].\n\n"
               "example:\n  snnc train examples/randman/bptt.snn --data randman --epochs 20 "
               "-o runs/bptt")
    train.add_argument("file", metavar="FILE")
    train.add_argument("--data", required=True, metavar="SPEC",
                       help="randman[:key=value,...] or DATA.npz")
    train.add_argument("--epochs", type=int, default=10, metavar="E",
                       help="train until epoch E (default 10)")
    train.add_argument("--batch", type=int, default=32, metavar="B", help="batch size (32)")
    train.add_argument("--seed", type=int, metavar="S",
                       help="weights, feedback and batch order (default: the network's seed)")
    train.add_argument("-o", "--output", required=True, metavar="DIR",
                       help="folder for the log, checkpoint and curves")
    train.add_argument("--resume", action="store_true",
                       help="continue from DIR/checkpoint.npz up to epoch E")
    train.add_argument("--compare-every", type=int, default=0, metavar="K",
                       help="every K-th batch, compare the update with the exact BPTT "
                            "gradient (cosine similarity; for rtrl also the difference)")
    train.add_argument("--update", choices=("batch", "step"), default="batch",
                       help="online rules: 'batch' sums a batch's updates at fixed weights "
                            "and takes one Adam step with the rule's lr, as the oracles do "
                            "(default); 'step' changes the weights at every step with the "
                            "rule's own optimizer, as on a chip")
    train.add_argument("--save-data", metavar="DATA.npz",
                       help="also write the data set in the .npz layout above")
    train.add_argument("--allow-nonfinite", action="store_true",
                       help="a NaN or inf loss, weight or state is a warning (W616) instead of "
                            "an error (E616)")
    train.add_argument("--force", action="store_true", help=FORCE_HELP)
    train.set_defaults(handler=run_train)

    passes = commands.add_parser("passes", help="list the compiler passes",
                                 description="List the passes of the default pipeline, in order.")
    passes.set_defaults(handler=run_passes)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # names that are not UTF-8 print escaped, not crash
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except output.OutputError as error:  # an output refused or unwritable: E630-E633
        diag = Diagnostics()
        error.report(diag)
        print_diagnostics(diag)
        return EXIT_ERRORS
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (snnc ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
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


def memory_line(estimate: int) -> str:
    """The summary's memory row; says when the estimate exceeds this machine's memory."""
    from snnc.memory import available_bytes, format_bytes
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


# ---- compile, run, plot ------------------------------------------------------------------------

def compile_net(path: str, diag: Diagnostics, target: str | None = None):
    """Load, lower and check ``path``; the network or None (diagnostics are in ``diag``)."""
    program = load_file(path, diag)
    if program is None:
        return None
    net = lower(program, diag)
    if net is None:
        return None
    return run_pipeline(net, diag, DEFAULT_PIPELINE, options={"check-target": {"target": target},
                                                              "check-memory": {"enforce": True}})


def write_folder(files: dict[str, str | bytes], target: output.Target, command: str,
                 inputs=()) -> None:
    """Write ``files`` and the marker into the checked folder ``target`` atomically; the old
    folder is replaced only when snnc wrote it (or --force). ``inputs``: more files to protect."""
    announce(command, output.write_folder(target, files, inputs))


def write_npz(target: output.Target, arrays: dict[str, np.ndarray], command: str) -> None:
    """Save arrays to the checked ``target``: stamped, reproducible, atomic."""
    announce(command, output.write_file(target, output.npz_bytes(arrays)))


def announce(command: str, created: list[str]) -> None:
    """Say which missing parent folders an output needed (on stderr: stdout may be JSON)."""
    for folder in created:
        print(f"snnc {command}: created the folder '{folder}'", file=sys.stderr)


def read_mapping(path: str, diag: Diagnostics) -> dict | None:
    """A mapping.json of ``snnc map`` (E601 when it cannot be read)."""
    from snnc.files import FileProblem, read_json
    try:
        mapping = read_json(path, what="mapping")
    except FileProblem as problem:
        diag.error(problem.code, None, f"--mapping: {problem.message}",
                   hint="write one with 'snnc map FILE --target CHIP -o DIR'")
        return None
    if not isinstance(mapping, dict):
        diag.error("E606", None, f"mapping '{path}' is not a mapping.json of snnc map")
        return None
    return mapping


def render_dot(source: str) -> dict[str, bytes]:
    """``process_graph.png`` when Graphviz's ``dot`` is installed (else nothing)."""
    dot = shutil.which("dot")
    if dot is None:
        return {}
    result = subprocess.run([dot, "-Tpng"], input=source.encode(), capture_output=True,
                            check=False)
    return {"process_graph.png": result.stdout} if result.returncode == 0 else {}


def inputs_of(*paths: str | None) -> list[str]:
    """The paths among ``paths`` that exist (options like --target may also hold a name)."""
    return [p for p in paths if p and os.path.lexists(p)]


def run_compile(args) -> int:
    target = output.check_folder(args.output, inputs=inputs_of(args.file, args.mapping,
                                                               args.target), force=args.force)
    diag = Diagnostics()
    net = compile_net(args.file, diag, args.target)
    files: dict[str, str | bytes] = {}
    if net is not None:
        options = {"delivery": args.delivery or
                   ("next_step" if args.emit == "lava" else "same_step")}
        if args.emit == "nir":
            options["allow_lossy"] = args.allow_lossy
        if args.emit == "lava":
            options["source_file"] = os.path.basename(args.file)
        if args.mapping is not None:
            if args.emit == "reference":
                print("snnc compile: --mapping goes with --emit lava or nir", file=sys.stderr)
                return EXIT_USAGE
            mapping = read_mapping(args.mapping, diag)
            if mapping is None:
                print_diagnostics(diag)
                return EXIT_ERRORS
            options.update(mapping=mapping, mapping_file=args.mapping)
        try:
            backend = get_backend(args.emit, **options)
        except MissingExtra as error:
            print(f"snnc compile: {error}", file=sys.stderr)
            return EXIT_USAGE
        backend.check(net, diag)
        if not diag.has_errors:
            files = backend.emit(net)
            if "process_graph.dot" in files:
                files.update(render_dot(files["process_graph.dot"]))
            try:
                write_folder(files, target, "compile", net.files)
            except output.OutputError as error:
                error.report(diag)
    print_diagnostics(diag)
    if diag.has_errors:
        return EXIT_ERRORS
    print(f"{args.file}: wrote {args.emit} artifacts to {args.output}")
    if "quantization.json" in files:
        print(quantization_summary(json.loads(files["quantization.json"])))
    return EXIT_OK


def quantization_summary(report: dict) -> str:
    """One line on the fixed-point parameters' largest relative errors."""
    if not report["runs_in_fixed_pt"]:
        return "  fixed point: not available (" + "; ".join(report["blockers"]) + ")"
    worst: dict[str, float] = {}
    for group in report["groups"].values():
        for name, error in group["errors"].items():
            worst[name] = max(worst.get(name, 0.0), error["relative_error"])
    worst["weights"] = max((c["max_relative_error"] for c in report["connections"].values()),
                           default=0.0)
    zeroed = sum(c["weights_zeroed"] for c in report["connections"].values())
    parts = ", ".join(f"{name} {100 * value:.2g} %" for name, value in worst.items())
    return (f"  fixed point: largest relative errors {parts}; {zeroed} weights rounded to zero "
            "(quantization.json)")


def record_list(args, net, module, diag: Diagnostics) -> list[str]:
    """The variables to record: ``--record`` or the program's ``record`` statements, else
    every spike. Population and input variables, the rules' traces and signals
    ('<projection>.<name>') and weight histories ('<projection>.w'); anything else is E605
    (at the record statement's position for the program's own)."""
    variables = module.VARIABLES
    histories = [f"{name}.w" for name in module.WEIGHTS]
    owners = {p.name for p in net.populations()} | {x.name for x in net.inputs()}
    known = [*variables, *histories]
    if args.record:
        wanted = []
        for word in (w.strip() for w in args.record.split(",") if w.strip()):
            suffix = {"spikes": ".s", "v": ".v", "i": ".i", "a": ".a"}.get(word)
            if suffix is not None:
                wanted += [k for k in variables if k.endswith(suffix)
                           and k.rsplit(".", 1)[0] in owners]
            elif word in known:
                wanted.append(word)
            else:
                diag.error("E605", None, f"--record: cannot record '{word}'",
                           hint=did_you_mean(word, known) or "record spikes, v, i, a, "
                           "population.variable, projection.w or projection.trace")
        return list(dict.fromkeys(wanted))
    chosen = []
    for r in net.records:
        key = f"{r.owner}.{r.variable}"
        if key in known:
            chosen.append(key)
        else:
            diag.error("E605", r.span, f"the reference simulator has no '{key}' to record",
                       hint="a population fed only through receptors has no current 'i' of "
                            "its own; record its spikes or v" if r.variable == "i" else
                       did_you_mean(key, known) or None)
    return list(dict.fromkeys(chosen)) or [k for k in variables if k.endswith(".s")
                                           and k.rsplit(".", 1)[0] in owners]


def nonfinite_diagnostic(diag: Diagnostics, error, allowed: bool, where: str = "") -> None:
    """E616 (W616 when ``allowed``) for NaN/inf that appeared while simulating or training."""
    step = "" if error.step is None else f" after step {error.step}"
    what = f"{error.kind} '{error.owner}': {error.variable} became {error.value}{step}" \
           f"{where or getattr(error, 'where', '')}"
    if allowed:
        diag.warning("W616", None, what + "; the run went on (--allow-nonfinite), later "
                     "non-finite values are not reported",
                     hint="the results from that point on may hold NaN or inf")
    else:
        diag.error("E616", None, what,
                   hint="look for an overflowing parameter (input_scale, weights), a rule "
                        "dividing by zero or taking sqrt/log of a negative value; "
                        "--allow-nonfinite lets the run continue")


def load_inputs(path: str | None, module, steps: int, batch: int, diag: Diagnostics):
    """The data inputs as {name: bool array [steps, batch, n]}; E604 for mismatches."""
    wanted = {name: shape for name, (shape, source) in module.INPUTS.items() if source == "data"}
    given: dict[str, np.ndarray] = {}
    if path is not None:
        from snnc.files import FileProblem, read_npz, report
        try:
            given = read_npz(path)
        except FileProblem as problem:
            report(diag, problem, option="--input")
            return None
    inputs = {}
    for name, shape in wanted.items():
        size = int(np.prod(shape))
        if name not in given:
            diag.warning("W601", None, f"input '{name}' gets no spikes",
                         hint="give them with --input data.npz (an array named "
                              f"'{name}' of shape [steps, {', '.join(map(str, shape))}])")
            continue
        array = given[name]
        expected = tuple(shape)
        if array.ndim == len(expected) + 1 and array.shape[1:] == expected:
            array = array.reshape(array.shape[0], 1, size)
        elif array.ndim == len(expected) + 2 and array.shape[2:] == expected and \
                array.shape[1] in (1, batch):
            array = array.reshape(array.shape[0], array.shape[1], size)
        else:
            diag.error("E604", None, f"input '{name}' has shape {list(array.shape)}; expected "
                       f"[steps, {', '.join(map(str, expected))}] or [steps, batch, "
                       f"{', '.join(map(str, expected))}] with batch 1 or {batch}")
            continue
        if array.shape[0] < steps:
            diag.error("E604", None, f"input '{name}' has {array.shape[0]} steps; {steps} are "
                       "simulated", hint="pass --steps with at most that many steps")
            continue
        if not np.isin(array, (0, 1)).all():
            diag.error("E604", None, f"input '{name}' must hold spikes (0 or 1)")
            continue
        inputs[name] = np.broadcast_to(array.astype(bool), (array.shape[0], batch, size))
    special = {name for name in given if name.startswith("target.") or name in ("label", "reward")}
    for name in sorted(set(given) - set(wanted) - special):
        diag.warning("W602", None, f"'{path}' holds '{name}', which is not a data input",
                     hint=did_you_mean(name, wanted) or f"data inputs: {', '.join(wanted) or '-'}")
    return None if diag.has_errors else inputs


def load_supervision(path: str | None, module=None, steps: int = 0,
                     diag: Diagnostics | None = None) -> tuple[dict, np.ndarray | None]:
    """Targets ('target.<readout>', 'label') and the reward ('reward') of a data file; with
    ``diag``: E615 for NaN/inf, E604 for labels that are not class indices of the readout and
    for too few steps of targets or reward (then ({}, None) with the errors in ``diag``)."""
    if path is None:
        return {}, None
    from snnc.files import FileProblem, read_npz, report
    try:
        arrays = read_npz(path)
    except FileProblem as problem:
        if diag is None:
            raise
        report(diag, problem, option="--input")
        return {}, None
    targets = {key[len("target."):]: arrays[key] for key in arrays if key.startswith("target.")}
    if "label" in arrays:
        targets["label"] = arrays["label"]
    reward = arrays.get("reward")
    if diag is None:
        return targets, reward
    checked = dict(targets, **({"reward": reward} if reward is not None else {}))
    for name, array in checked.items():
        key = name if name in ("label", "reward") else f"target.{name}"
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            diag.error("E615", None, f"--input: '{key}' in '{path}' holds NaN or infinite values")
            continue
        if name == "reward" or array.ndim == 3:
            if array.ndim == 0 or array.shape[0] < steps:
                diag.error("E604", None, f"--input: '{key}' in '{path}' has "
                           f"{0 if array.ndim == 0 else array.shape[0]} steps; {steps} are "
                           "simulated", hint="pass --steps with at most that many steps")
            continue
        if name != "label" and array.ndim != 1 and array.dtype.kind == "f":
            continue  # values of an mse target [batch, n]: any finite numbers
        variable = (module.VARIABLES.get(f"{name}.v") if module is not None else None)
        size = int(np.prod(variable[1])) if variable else None
        whole = array.dtype.kind in "biu" or (array.dtype.kind == "f" and
                                             bool(np.all(array == np.round(array))))
        if not whole or (array.size and array.min() < 0) or \
                (size is not None and array.size and array.max() >= size):
            diag.error("E604", None, f"--input: '{key}' in '{path}' must hold class indices "
                       f"0 .. {'K-1' if size is None else size - 1}")
        elif array.ndim == 2 and array.shape[0] < steps:
            diag.error("E604", None, f"--input: '{key}' in '{path}' has {array.shape[0]} "
                       f"steps; {steps} are simulated")
    return ({}, None) if diag.has_errors else (targets, reward)


def run_run(args) -> int:
    from snnc.backends.reference.runner import load_simulation
    from snnc.memory import check_run

    if args.batch < 1 or (args.steps is not None and args.steps < 1) or args.record_every < 1:
        print("snnc run: --steps, --batch and --record-every must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.output and args.rates and \
            os.path.realpath(args.output) == os.path.realpath(args.rates):
        print("snnc run: -o and --rates name the same file", file=sys.stderr)
        return EXIT_USAGE
    given = inputs_of(args.file, args.input)
    saves = {option: output.check_file(path, "npz", option=option, inputs=given, force=args.force)
             for option, path in (("-o", args.output), ("--rates", args.rates)) if path}
    diag = Diagnostics()
    net = compile_net(args.file, diag)
    if net is None:
        print_diagnostics(diag)
        return EXIT_ERRORS
    steps = args.steps
    if steps is None:
        if net.settings.duration is None:
            print_diagnostics(diag)
            print("snnc run: give --steps (the network has no 'duration')", file=sys.stderr)
            return EXIT_USAGE
        steps = round(net.settings.duration / net.settings.dt)
    get_backend("reference").check(net, diag)
    if diag.has_errors:
        print_diagnostics(diag)
        return EXIT_ERRORS
    module = load_simulation(net, args.delivery)
    record = record_list(args, net, module, diag)
    inputs = load_inputs(args.input, module, steps, args.batch, diag)
    if inputs is None or diag.has_errors:
        print_diagnostics(diag)
        return EXIT_ERRORS
    spiking = [k for k in module.VARIABLES if k.endswith(".s") and k.split(".")[0] in
               {p.name for p in net.populations()}]
    if not check_run(net, record, steps, args.batch, diag,  # E617 before allocating
                     every=args.record_every):
        print_diagnostics(diag)
        return EXIT_ERRORS
    seed = net.settings.seed if args.seed is None else args.seed
    sim = module.Simulation(batch=args.batch, dtype=args.dtype, seed=seed)
    targets, reward = load_supervision(args.input, module, steps, diag)
    if diag.has_errors:
        print_diagnostics(diag)
        return EXIT_ERRORS
    progress, bar = progress_bar(steps)
    start = time.perf_counter()
    try:
        out = sim.run(steps, inputs, record=record, progress=progress, targets=targets,
                      reward=reward, learn=not args.no_learn, every=args.record_every,
                      count=spiking, allow_nonfinite=args.allow_nonfinite)
    except (ValueError, IndexError) as error:  # targets of the wrong shape or range
        diag.error("E604", None, f"--input: {error}")
        print_diagnostics(diag)
        return EXIT_ERRORS
    except module.NonFiniteError as error:
        if bar is not None:
            bar.close()
        nonfinite_diagnostic(diag, error, allowed=False)
        print_diagnostics(diag)
        return EXIT_ERRORS
    for error in sim.nonfinite:
        nonfinite_diagnostic(diag, error, allowed=True)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    counts = {key[:-2]: int(out[key + ".count"].sum()) for key in spiking}
    duration = steps * net.settings.dt * args.batch
    if args.output:
        saved = {k: v for k, v in out.items() if not k.endswith(".count")}
        saved.update(dt=np.float64(net.settings.dt), steps=np.int64(steps),
                     record_every=np.int64(args.record_every))
        write_npz(saves["-o"], saved, "run")
    if args.rates:
        rates = {key[:-2]: out[key + ".count"].sum(axis=0) / duration for key in spiking}
        write_npz(saves["--rates"], rates, "run")
    print_diagnostics(diag)
    if args.format == "json":
        print(json.dumps({"file": args.file, "steps": steps, "batch": args.batch,
                          "seconds": seconds, "spikes": counts,
                          "rates_hz": {k: c / duration / net.node(k).size
                                       for k, c in counts.items()},
                          "output": args.output, "rates": args.rates}, indent=2))
    else:
        print(f"{args.file}: {steps:,} steps of {format_quantity_dt(net.settings.dt)} "
              f"(batch {args.batch}) in {seconds:.3f} s")
        for name, count in counts.items():
            print(f"  {name:<20} {count:>12,} spikes  {count / duration / net.node(name).size:8.2f} Hz")
        if args.output:
            print(f"  recordings: {args.output} ({', '.join(record) or 'weights only'})")
        if args.rates:
            print(f"  rates: {args.rates}")
    return EXIT_OK


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


def run_train(args) -> int:
    from snnc.training.data import to_arrays
    from snnc.training.engines import NonFiniteError
    from snnc.training.session import Options, prepare

    if args.epochs < 1 or args.batch < 1 or args.compare_every < 0:
        print("snnc train: --epochs and --batch must be positive, --compare-every at least 0",
              file=sys.stderr)
        return EXIT_USAGE
    if args.save_data and os.path.realpath(args.save_data).startswith(
            os.path.realpath(args.output).rstrip(os.sep) + os.sep):
        print("snnc train: --save-data must be outside the -o folder (which a new run "
              "replaces)", file=sys.stderr)
        return EXIT_USAGE
    given = inputs_of(args.file, args.data)
    folder = output.check_folder(args.output, inputs=given, force=args.force, resume=args.resume)
    save_data = None if not args.save_data else output.check_file(
        args.save_data, "npz", option="--save-data", inputs=given, force=args.force)
    diag = Diagnostics()
    net = compile_net(args.file, diag)
    options = Options(args.data, args.output, args.epochs, args.batch, args.seed,
                      args.compare_every, args.resume, args.update)
    session = prepare(net, options, diag) if net is not None else None
    print_diagnostics(diag)
    if session is None:
        return EXIT_ERRORS
    if save_data is not None:
        trainer = session.trainer
        write_npz(save_data, to_arrays(trainer.dataset, trainer.engine.input), "train")
    session.folder = output.OutputFolder(folder)
    announce("train", session.folder.created)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
        print("snnc train: no learning curves without matplotlib: pip install 'snnc[plot]'",
              file=sys.stderr)
    header = session.header
    how = header["mode"] + (f", updates per {header['update']}"
                            if header["mode"] == "online" else "")
    print(f"{args.file}: training by {how}, seed {header['seed']}, batch "
          f"{header['batch']}, {header['samples']['train']:,} training samples")
    session.trainer.allow_nonfinite = args.allow_nonfinite
    while session.next_epoch <= args.epochs:
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            bar = tqdm(desc=f"epoch {session.next_epoch}", unit="batch", file=sys.stderr,
                       leave=False)
        def progress(done, total, bar=bar):
            if bar is not None:
                bar.total = total
                bar.update(done - bar.n)
        try:
            record = session.run_epoch(progress)
        except NonFiniteError as error:  # nothing of this epoch is saved
            if bar is not None:
                bar.close()
            failure = Diagnostics()  # the earlier diagnostics are printed already
            nonfinite_diagnostic(failure, error, allowed=False)
            print_diagnostics(failure)
            return EXIT_ERRORS
        if bar is not None:
            bar.close()
        if session.trainer.nonfinite:
            late = Diagnostics()
            for error in session.trainer.nonfinite:
                nonfinite_diagnostic(late, error, allowed=True)
            session.trainer.nonfinite.clear()
            print_diagnostics(late)
        if plt is not None:
            session.write_curves(plt)
        seconds = session.timing[-1]["train_seconds"]
        compare = record.get("compare")
        print(f"epoch {record['epoch']:>3}  loss {record['train']['loss']:.4f}  train "
              f"{100 * record['train']['accuracy']:5.1f} %  validation "
              f"{100 * record['validation']['accuracy']:5.1f} %  test "
              f"{100 * record['test']['accuracy']:5.1f} %  {seconds:6.1f} s"
              + (f"  cosine {compare['cosine']:.3f}" if compare else ""))
    print(f"  log: {session.path('log.json')}, checkpoint: {session.path('checkpoint.npz')}")
    return EXIT_OK


def run_plot(args) -> int:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("snnc plot needs matplotlib: pip install 'snnc[plot]'", file=sys.stderr)
        return EXIT_USAGE
    folder = output.check_into(args.output)  # receives the pictures; never replaced
    from snnc.files import FileProblem, read_npz, recording_problems
    try:
        data = read_npz(args.recording, finite=True)
    except FileProblem as problem:
        print(f"error[{problem.code}]: {problem.message}", file=sys.stderr)
        return EXIT_ERRORS
    problems = recording_problems(data, args.recording)
    for problem in problems:
        print(f"error[E604]: {problem}", file=sys.stderr)
    if problems:
        return EXIT_ERRORS
    from snnc.plots import pictures, wanted
    names = wanted(data)
    targets = {name: output.check_file(os.path.join(args.output, name), "png",
                                       inputs=[args.recording], force=args.force)
               for name in names}
    written = []
    if names:
        announce("plot", output.ensure_folder(folder))
    for name, content in pictures(data, plt).items():
        announce("plot", output.write_file(targets[name], content))
        written.append(os.path.join(args.output, name))
    for path in written:
        print(path)
    if not written:
        print(f"snnc plot: '{args.recording}' holds no spikes, voltages or weights",
              file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_OK


def run_import(args) -> int:
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
    result = import_graph(args.graph, diag, args.dt, stem, archive)
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


def run_map(args) -> int:
    from snnc.mapping import report
    from snnc.mapping.graph import load_rates
    from snnc.passes import MAPPING_PIPELINE

    target = output.check_folder(args.output, inputs=inputs_of(args.file, args.rates,
                                                               args.target), force=args.force)
    diag = Diagnostics()
    rates = None if args.rates is None else load_rates(args.rates, diag)
    net = None
    if not diag.has_errors:
        program = load_file(args.file, diag)
        net = lower(program, diag) if program is not None else None
    if net is not None:
        options = {"check-target": {"target": args.target}, "partition": {
            "rates": rates, "rates_file": args.rates, "use_kahip": not args.no_kahip}}
        net = run_pipeline(net, diag, DEFAULT_PIPELINE + MAPPING_PIPELINE, options=options)
    print_diagnostics(diag)
    if net is None:
        return EXIT_ERRORS
    doc = report.document(net, net.analyses["partition"], net.analyses["place"])
    files = {"mapping.json": report.to_json(doc)}
    try:
        from snnc.mapping.picture import draw
        files["mapping.png"] = draw(net.analyses["partition"], net.analyses["place"],
                                    f"{args.file} on {doc['target']}")
    except ImportError:
        print("snnc map: no mapping.png without matplotlib: pip install 'snnc[plot]'",
              file=sys.stderr)
    write_folder(files, target, "map", net.files)
    if args.format == "json":
        print(json.dumps({key: value for key, value in doc.items() if key != "slices"}, indent=2))
    else:
        print(report.summary(args.file, doc))
        print(f"  wrote {', '.join(sorted(files))} to {args.output}")
    return EXIT_OK


def write_text(target: output.Target, text: str, command: str) -> None:
    """Write text to the checked ``target`` atomically (UTF-8)."""
    announce(command, output.write_file(target, text.encode("utf-8")))
