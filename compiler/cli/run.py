"""``snnc run``: simulate a .snn file with the reference simulator and save the recordings."""

from __future__ import annotations

import argparse
import json
import os

from snnc import api, output
from snnc.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    FORCE_HELP,
    format_quantity_dt,
    inputs_of,
    print_diagnostics,
    progress_bar,
    usage,
    write_npz,
)
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import DELIVERIES, step_count

EPILOG = ("input data (.npz): one array per data input, named like the input, of shape "
          "[steps, *shape] or [steps, batch, *shape], 0/1 or boolean; for learning rules "
          "also 'target.<readout>' (labels [batch] for cross-entropy, values [steps, batch, "
          "n] for mse), 'label' (class labels for local readouts) and 'reward' [steps] or "
          "[steps, batch].\n"
          "output (.npz, compressed, byte-identical for the same input and seed): "
          "'pop.var' arrays [steps, batch, *shape] for every recorded variable (with "
          "--record-every N: [ceil(steps / N), batch, *shape], kept after the steps 0, N, "
          "2N, ...), except spikes: 'pop.s' is saved as its events, "
          "'pop.s.events.step', '.batch', '.index' (int32 vectors: the recorded step, "
          "the sample, the neuron's flat index; np.nonzero of the dense array, sorted) and "
          "'pop.s.events.shape' [steps, batch, *shape] (--record-dense: the bool array "
          "itself; in Python snnc.recordings.spikes_dense(np.load(OUT), 'pop.s') rebuilds "
          "it); a recorded trace or signal of a learning rule as "
          "'<projection>.<name>' [steps, batch, *its shape] (per pre neuron [n_pre], per "
          "post neuron [n_post], per synapse [post, pre] dense or [synapses]); a recorded "
          "weight history as '<projection>.w.history' [steps, *weight shape]; "
          "'<projection>.w' final weights, 'dt', 'steps' and 'record_every'.\n"
          "a data file of snnc train ('<split>.<input>' [steps, samples, *shape], "
          "'<split>.label' [samples]) is read one split at a time (--split), all its "
          "samples side by side (--batch defaults to their number, --steps to theirs); "
          "with labels and a loss, the accuracy is printed, decided as snnc train "
          "decides.\n"
          "--weights: a checkpoint.npz of snnc train or an output of snnc run -o; the "
          "weights of projection P are 'P.w' (older checkpoints' 'w.P' are read too).\n"
          "NaN or inf appearing in a population's or projection's state stops the run "
          "with E616 naming it, the variable and the step (--allow-nonfinite: W616).\n\n"
          "example:\n  snnc run examples/cuba.snn --steps 10000 -o cuba.npz\n"
          "  snnc run examples/stdp.snn --steps 1000 --record 'out.s,poisson_in->out.w,"
          "poisson_in->out.x_pre' --record-every 10 -o stdp.npz")


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "run", help="simulate a .snn file with the reference simulator",
        description="Simulate FILE with the reference simulator and save the recordings.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG)
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="number of steps (default: the network's duration / dt)")
    parser.add_argument("--input", metavar="DATA.npz", help="spikes for the data inputs")
    parser.add_argument("--split", choices=("train", "validation", "test"),
                        help="read this split of a data file of snnc train (--input)")
    parser.add_argument("--weights", metavar="FILE.npz",
                        help="trained weights: a checkpoint.npz of snnc train or a snnc run "
                             "output ('<projection>.w')")
    parser.add_argument("--batch", type=int, metavar="B",
                        help="independent copies run side by side (default 1; with --split, "
                             "the split's samples)")
    parser.add_argument("--record", metavar="WHAT",
                        help="comma-separated: spikes, v, i, a (all populations), pop.var, "
                             "<projection>.w (weight history) or <projection>.<trace or signal>; "
                             "default: the program's 'record' statements, else all spikes")
    parser.add_argument("--record-every", type=int, default=1, metavar="N",
                        help="keep the recorded variables every N steps (default 1: every step)")
    parser.add_argument("--record-dense", action="store_true",
                        help="keep recorded spikes as bool arrays [steps, batch, *shape] "
                             "(default: as events, step, sample and neuron of each spike)")
    parser.add_argument("--allow-nonfinite", action="store_true",
                        help="NaN or inf in the state is a warning (W616) instead of an error")
    parser.add_argument("-o", "--output", metavar="OUT.npz", help="where to save the recordings")
    parser.add_argument("--rates", metavar="RATES.npz",
                        help="also save each population's per-neuron firing rate in Hz")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--delivery", choices=DELIVERIES, default="same_step",
                        help="same_step (default; NIR importers) or next_step (Lava)")
    parser.add_argument("--seed", type=int, help="override the network seed for Poisson inputs")
    parser.add_argument("--arithmetic", metavar="CHIP",
                        help="run in the integer arithmetic of this chip instead of floating "
                             "point (xylo, xylo_audio3, xylo_imu: what Xylo computes, spike "
                             "for spike; 'v' and 'i' recorded as its integers)")
    parser.add_argument("--no-learn", action="store_true",
                        help="drop the learning rules (note N501): the weights stay fixed; "
                             "also for oracle rules (bptt, rtrl)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)
    parser.set_defaults(handler=run)


def run(args) -> int:
    if args.split is not None and args.input is None:
        return usage("snnc run: --split reads a data file: give --input DATA.npz")
    layout = api.data_split(args.input, args.split)  # (steps, samples) of --split
    if args.batch is None:
        args.batch = layout[1] if layout else 1
    if args.batch < 1 or (args.steps is not None and args.steps < 1) or args.record_every < 1:
        return usage("snnc run: --steps, --batch and --record-every must be positive")
    if args.arithmetic is not None and (args.delivery != "same_step" or
                                        args.dtype != "float64" or args.allow_nonfinite):
        return usage("snnc run: --arithmetic runs the chip's own integers and timing; drop "
                     "--delivery, --dtype and --allow-nonfinite")
    if args.output and args.rates and \
            os.path.realpath(args.output) == os.path.realpath(args.rates):
        return usage("snnc run: -o and --rates name the same file")
    given = inputs_of(args.file, args.input, args.weights)
    saves = {option: output.check_file(path, "npz", option=option, inputs=given, force=args.force)
             for option, path in (("-o", args.output), ("--rates", args.rates)) if path}
    diag = Diagnostics()
    net = api.compile_network(args.file, diag, weights=args.weights, learn=not args.no_learn)
    if net is None:
        print_diagnostics(diag)
        return EXIT_ERRORS
    steps = args.steps
    if steps is None and args.split is not None and net.settings.duration is None:
        steps = layout[0] if layout else 1  # no such split: E604 below, before simulating
    if steps is None:
        if net.settings.duration is None:
            print_diagnostics(diag)
            return usage("snnc run: give --steps (the network has no 'duration')")
        steps = step_count(net.settings)
    prepared = api.prepare_simulation(net, diag, steps, batch=args.batch, delivery=args.delivery,
                                      record=args.record, input_file=args.input,
                                      every=args.record_every, split=args.split,
                                      dense=args.record_dense)
    if prepared is None:
        done = None
    elif args.arithmetic is not None:
        done = api.simulate_chip(prepared, diag, args.arithmetic, seed=args.seed,
                                 every=args.record_every)
    else:
        done = simulate(prepared, diag, args)
    if done is None:
        print_diagnostics(diag)
        return EXIT_ERRORS
    if args.output:
        write_npz(saves["-o"], done.recordings(args.record_every), "run")
    if args.rates:
        write_npz(saves["--rates"], done.rates(), "run")
    print_diagnostics(diag)
    report(args, done)
    return EXIT_OK


def simulate(prepared: api.Simulation, diag: Diagnostics, args) -> api.Simulation | None:
    """Run with a progress bar on long runs in a terminal."""
    progress, bar = progress_bar(prepared.steps)
    try:
        return api.simulate(prepared, diag, dtype=args.dtype, seed=args.seed,
                            learn=not args.no_learn, every=args.record_every,
                            allow_nonfinite=args.allow_nonfinite, progress=progress)
    finally:
        if bar is not None:
            bar.close()


def report(args, done: api.Simulation) -> None:
    """The spikes and rates per population, as text or JSON."""
    counts = done.counts()
    accuracy = done.accuracy()
    duration = done.steps * done.net.settings.dt * done.batch
    size = {name: done.net.node(name).size for name in counts}
    if args.format == "json":
        print(json.dumps({"file": args.file, "steps": done.steps, "batch": args.batch,
                          "seconds": done.seconds, "spikes": counts,
                          "rates_hz": {k: c / duration / size[k] for k, c in counts.items()},
                          "output": args.output, "rates": args.rates,
                          "accuracy": None if accuracy is None else accuracy[0] / accuracy[1],
                          "samples": None if accuracy is None else accuracy[1]}, indent=2))
        return
    print(f"{args.file}: {done.steps:,} steps of {format_quantity_dt(done.net.settings.dt)} "
          f"(batch {args.batch}) in {done.seconds:.3f} s")
    for name, count in counts.items():
        print(f"  {name:<20} {count:>12,} spikes  {count / duration / size[name]:8.2f} Hz")
    if accuracy is not None:
        loss = done.net.losses[0]
        print(f"  accuracy {100 * accuracy[0] / accuracy[1]:.1f} % ({accuracy[0]:,} of "
              f"{accuracy[1]:,}{f' {args.split}' if args.split else ''} samples, readout "
              f"{loss.population}.{loss.variable})")
    if args.output:
        print(f"  recordings: {args.output} ({', '.join(done.record) or 'weights only'})")
    if args.rates:
        print(f"  rates: {args.rates}")
