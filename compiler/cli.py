"""The ``snnc`` command line: the only place that prints and picks exit codes.

Exit status: 0 success (warnings allowed), 1 the input has errors, 2 usage error.
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
import tempfile
import time
import traceback

import numpy as np

import snnc
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

EPILOG = "exit status: 0 ok, 1 errors in the input, 2 usage error"


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
                    "is replaced atomically: a failed compile leaves the previous output intact.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  snnc compile examples/cuba.snn --emit reference -o build/cuba")
    compile_.add_argument("file", metavar="FILE")
    compile_.add_argument("--emit", choices=sorted(BACKENDS), default="reference",
                          help="the backend (default: reference)")
    compile_.add_argument("-o", "--output", required=True, metavar="DIR",
                          help="output folder (replaced as a whole)")
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
               "variable, '<projection>.w' final weights, 'dt' and 'steps'.\n\n"
               "example:\n  snnc run examples/cuba.snn --steps 10000 -o cuba.npz")
    run.add_argument("file", metavar="FILE")
    run.add_argument("--steps", type=int, metavar="N",
                     help="number of steps (default: the network's duration / dt)")
    run.add_argument("--input", metavar="DATA.npz", help="spikes for the data inputs")
    run.add_argument("--batch", type=int, default=1, metavar="B",
                     help="independent copies run side by side (default 1)")
    run.add_argument("--record", metavar="WHAT",
                     help="comma-separated: spikes, v, i, a (all populations) or pop.var; "
                          "default: the program's 'record' statements, else all spikes")
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
    run.set_defaults(handler=run_run)

    plot = commands.add_parser(
        "plot", help="draw a raster, voltage traces and weight histograms (extra 'plot')",
        description="Draw the recordings of 'snnc run' as PNG files.")
    plot.add_argument("recording", metavar="OUT.npz")
    plot.add_argument("-o", "--output", metavar="DIR", default=".",
                      help="folder for the PNG files (default: here)")
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
    train.set_defaults(handler=run_train)

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


# ---- compile, run, plot ------------------------------------------------------------------------

def compile_net(path: str, diag: Diagnostics, target: str | None = None):
    """Load, lower and check ``path``; the network or None (diagnostics are in ``diag``)."""
    program = load_file(path, diag)
    if program is None:
        return None
    net = lower(program, diag)
    if net is None:
        return None
    return run_pipeline(net, diag, DEFAULT_PIPELINE, options={"check-target": {"target": target}})


def write_folder(files: dict[str, str | bytes], output: str) -> None:
    """Write ``files`` into ``output`` atomically: a fresh folder replaces the old one whole."""
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".snnc-", dir=parent)
    try:
        for name, content in sorted(files.items()):
            path = os.path.join(staging, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb" if isinstance(content, bytes) else "w") as handle:
                handle.write(content)
        if os.path.isdir(output):
            retired = tempfile.mkdtemp(prefix=".snnc-old-", dir=parent)
            os.rename(output, os.path.join(retired, "old"))
            os.rename(staging, output)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Save arrays to ``path`` atomically (a temporary file renamed into place)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".snnc-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def read_mapping(path: str, diag: Diagnostics) -> dict | None:
    """A mapping.json of ``snnc map`` (E601 when it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as handle:
            mapping = json.load(handle)
    except (OSError, ValueError) as error:
        diag.error("E601", None, f"cannot read mapping '{path}': {error}",
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


def run_compile(args) -> int:
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
            write_folder(files, args.output)
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


def record_list(args, net, variables: dict) -> tuple[list[str], list[str]]:
    """(variables to record, unknown names asked for)."""
    if args.record:
        wanted, unknown = [], []
        for word in (w.strip() for w in args.record.split(",") if w.strip()):
            suffix = {"spikes": ".s", "v": ".v", "i": ".i", "a": ".a"}.get(word)
            if suffix is not None:
                wanted += [k for k in variables if k.endswith(suffix)]
            elif word.endswith(".w"):
                continue  # final weights are always saved
            elif word in variables:
                wanted.append(word)
            else:
                unknown.append(word)
        return list(dict.fromkeys(wanted)), unknown
    chosen = [f"{r.owner}.{r.variable}" for r in net.records if not r.is_projection]
    chosen = [c for c in chosen if c in variables]
    return chosen or [k for k in variables if k.endswith(".s")], []


def load_inputs(path: str | None, module, steps: int, batch: int, diag: Diagnostics):
    """The data inputs as {name: bool array [steps, batch, n]}; E604 for mismatches."""
    wanted = {name: shape for name, (shape, source) in module.INPUTS.items() if source == "data"}
    given: dict[str, np.ndarray] = {}
    if path is not None:
        try:
            with np.load(path, allow_pickle=False) as archive:
                given = {key: archive[key] for key in archive.files}
        except (OSError, ValueError) as error:
            diag.error("E601", None, f"cannot read input data '{path}': {error}",
                       hint="save the spikes with numpy.savez(path, input_name=array)")
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


def load_supervision(path: str | None) -> tuple[dict, np.ndarray | None]:
    """Targets ('target.<readout>', 'label') and the reward ('reward') of a data file."""
    if path is None:
        return {}, None
    with np.load(path, allow_pickle=False) as archive:
        targets = {key[len("target."):]: archive[key] for key in archive.files
                   if key.startswith("target.")}
        if "label" in archive.files:
            targets["label"] = archive["label"]
        reward = archive["reward"] if "reward" in archive.files else None
    return targets, reward


def run_run(args) -> int:
    from snnc.backends.reference.runner import load_simulation

    if args.batch < 1 or (args.steps is not None and args.steps < 1):
        print("snnc run: --steps and --batch must be positive", file=sys.stderr)
        return EXIT_USAGE
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
    record, unknown = record_list(args, net, module.VARIABLES)
    for word in unknown:
        diag.error("E605", None, f"cannot record '{word}'",
                   hint=did_you_mean(word, module.VARIABLES) or
                   "record spikes, v, i, a or population.variable")
    inputs = load_inputs(args.input, module, steps, args.batch, diag)
    if inputs is None or diag.has_errors:
        print_diagnostics(diag)
        return EXIT_ERRORS
    spiking = [k for k in module.VARIABLES if k.endswith(".s") and k.split(".")[0] in
               {p.name for p in net.populations()}]
    internal = list(dict.fromkeys(record + spiking))  # spikes are always counted
    seed = net.settings.seed if args.seed is None else args.seed
    sim = module.Simulation(batch=args.batch, dtype=args.dtype, seed=seed)
    targets, reward = load_supervision(args.input)
    progress, bar = progress_bar(steps)
    start = time.perf_counter()
    try:
        out = sim.run(steps, inputs, record=internal, progress=progress, targets=targets,
                      reward=reward, learn=not args.no_learn)
    except ValueError as error:  # targets of the wrong shape
        diag.error("E604", None, str(error))
        print_diagnostics(diag)
        return EXIT_ERRORS
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    counts = {key[:-2]: int(out[key].sum()) for key in spiking}
    duration = steps * net.settings.dt * args.batch
    if args.output:
        saved = {k: v for k, v in out.items() if k in record or k.endswith(".w")}
        saved.update(dt=np.float64(net.settings.dt), steps=np.int64(steps))
        write_npz(args.output, saved)
    if args.rates:
        rates = {key[:-2]: out[key].sum(axis=(0, 1)) / duration for key in spiking}
        write_npz(args.rates, rates)
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
    from snnc.training import archive
    from snnc.training.data import to_arrays
    from snnc.training.session import Options, prepare

    if args.epochs < 1 or args.batch < 1 or args.compare_every < 0:
        print("snnc train: --epochs and --batch must be positive, --compare-every at least 0",
              file=sys.stderr)
        return EXIT_USAGE
    diag = Diagnostics()
    net = compile_net(args.file, diag)
    options = Options(args.data, args.output, args.epochs, args.batch, args.seed,
                      args.compare_every, args.resume, args.update)
    session = prepare(net, options, diag) if net is not None else None
    print_diagnostics(diag)
    if session is None:
        return EXIT_ERRORS
    if args.save_data:
        trainer = session.trainer
        archive.save_npz(args.save_data, to_arrays(trainer.dataset, trainer.engine.input))
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
        record = session.run_epoch(progress)
        if bar is not None:
            bar.close()
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
    try:
        with np.load(args.recording, allow_pickle=False) as archive:
            data = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        print(f"snnc plot: cannot read '{args.recording}': {error}", file=sys.stderr)
        return EXIT_ERRORS
    from snnc.plots import plot_recording
    os.makedirs(args.output, exist_ok=True)
    written = plot_recording(data, args.output, plt)
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
        print("snnc import-nir: --dt must be a positive number of seconds", file=sys.stderr)
        return EXIT_USAGE
    diag = Diagnostics()
    stem = os.path.splitext(os.path.basename(args.output))[0]
    archive = stem + ".npz"
    result = import_graph(args.graph, diag, args.dt, stem, archive)
    if result is not None:
        text, arrays = result
        folder = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(folder, exist_ok=True)
        if arrays:
            write_npz(os.path.join(folder, archive), arrays)
        write_text(args.output, text)
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
    write_folder(files, args.output)
    if args.format == "json":
        print(json.dumps({key: value for key, value in doc.items() if key != "slices"}, indent=2))
    else:
        print(report.summary(args.file, doc))
        print(f"  wrote {', '.join(sorted(files))} to {args.output}")
    return EXIT_OK


def write_text(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".snnc-", suffix=".snn", dir=folder)
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)
