"""``snnc train``: train a network with the learning rules of its source."""

from __future__ import annotations

import argparse
import os
import sys

from snnc import api, output
from snnc.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    FORCE_HELP,
    announce,
    inputs_of,
    print_diagnostics,
    usage,
    write_npz,
)
from snnc.datasets.randman import RandmanOptions
from snnc.datasets.store_recall import StoreRecallOptions
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import DELIVERIES


def add_parser(commands) -> None:
    train = commands.add_parser(
        "train", help="train a network with the learning rules of its source",
        description="Train FILE for classification with its learning rules: online rules "
                    "(e-prop, SuperSpike, DECOLLE, delta ...) compute their updates as the "
                    "simulation runs; 'bptt' and 'rtrl' are exact-gradient oracles (Adam). "
                    "After every epoch: validation and test accuracy, log.json, timing.json, "
                    "checkpoint.npz, curves.png and the frozen program (frozen.snn and frozen.npz: "
                    "the trained weights, no learning rules) in the output folder.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="data: 'randman' or 'randman:key=value,...' generates Randman (keys: "
               + ", ".join(RandmanOptions.names()) + "); 'store_recall' or "
               "'store_recall:key=value,...' a delayed-cue memory task (keys: "
               + ", ".join(StoreRecallOptions.names()) + "); or an .npz file with, per split "
               "(train, validation, test), '<split>.<input>' spikes [steps, samples, *shape] "
               "and '<split>.label' class indices [samples].\n\n"
               "example:\n  snnc train examples/randman/bptt.snn --data randman --epochs 20 "
               "-o runs/bptt")
    train.add_argument("file", metavar="FILE")
    train.add_argument("--data", required=True, metavar="SPEC",
                       help="randman[:key=value,...], store_recall[:key=value,...] or DATA.npz")
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
    train.add_argument("--delivery", choices=DELIVERIES, default="same_step",
                       help="when a spike reaches its target, as in snnc run --delivery: "
                            "same_step (default) or next_step, the convention of the Lava and "
                            "NEST programs (train as they run, for a like-for-like comparison); "
                            "the online rules' simulation and the bptt/rtrl oracles use it, "
                            "checkpoint.npz records it (--resume needs the same)")
    train.add_argument("--save-data", metavar="DATA.npz",
                       help="also write the data set in the .npz layout above")
    train.add_argument("--allow-nonfinite", action="store_true",
                       help="a NaN or inf loss, weight or state is a warning (W616) instead of "
                            "an error (E616)")
    train.add_argument("--force", action="store_true", help=FORCE_HELP)
    train.set_defaults(handler=run)


def run(args) -> int:
    from snnc.training.data import to_arrays
    from snnc.training.session import Options, prepare

    if args.epochs < 1 or args.batch < 1 or args.compare_every < 0:
        return usage("snnc train: --epochs and --batch must be positive, --compare-every at "
                     "least 0")
    if args.save_data and os.path.realpath(args.save_data).startswith(
            os.path.realpath(args.output).rstrip(os.sep) + os.sep):
        return usage("snnc train: --save-data must be outside the -o folder (which a new run "
                     "replaces)")
    given = inputs_of(args.file, args.data)
    folder = output.check_folder(args.output, inputs=given, force=args.force, resume=args.resume)
    save_data = None if not args.save_data else output.check_file(
        args.save_data, "npz", option="--save-data", inputs=given, force=args.force)
    diag = Diagnostics()
    net = api.compile_network(args.file, diag)
    options = Options(args.data, args.output, args.epochs, args.batch, args.seed,
                      args.compare_every, args.resume, args.update, args.delivery)
    session = prepare(net, options, diag) if net is not None else None
    print_diagnostics(diag)
    if session is None:
        return EXIT_ERRORS
    if save_data is not None:
        trainer = session.trainer
        write_npz(save_data, to_arrays(trainer.dataset, trainer.engine.input), "train")
    session.folder = output.OutputFolder(folder)
    announce("train", session.folder.created)
    return train(args, session)


def pyplot():
    """matplotlib's pyplot for the learning curves, or None (said on stderr)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("snnc train: no learning curves without matplotlib: pip install 'snnc[plot]'",
              file=sys.stderr)
        return None
    return plt


def train(args, session) -> int:
    """The epochs up to --epochs, a line each; E616 stops (nothing of that epoch is saved)."""
    plt = pyplot()
    header = session.header
    how = header["mode"] + (f", updates per {header['update']}"
                            if header["mode"] == "online" else "")
    how += f", delivery {header['delivery']}" if header["delivery"] != "same_step" else ""
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
        epoch = Diagnostics()  # the earlier diagnostics are printed already
        record = api.train_epoch(session, epoch, progress)  # E616, or W616 with --allow-nonfinite
        if bar is not None:
            bar.close()
        print_diagnostics(epoch)
        if record is None:
            return EXIT_ERRORS
        report_epoch(session, record, plt)
    print(f"  log: {session.path('log.json')}, checkpoint: {session.path('checkpoint.npz')}")
    if session.frozen_problem:
        print(f"  no frozen program: {session.frozen_problem}; use snnc run --weights "
              f"{session.path('checkpoint.npz')} --no-learn")
    else:
        delivery = session.header["delivery"]
        print(f"  frozen program (inference, trained weights): {session.path('frozen.snn')}"
              + (f" (trained with --delivery {delivery}: run it so)"
                 if delivery != "same_step" else ""))
    return EXIT_OK


def report_epoch(session, record: dict, plt) -> None:
    """The curves and the epoch's line."""
    if plt is not None:
        session.write_curves(plt)
    seconds = session.timing[-1]["train_seconds"]
    compare = record.get("compare")
    print(f"epoch {record['epoch']:>3}  loss {record['train']['loss']:.4f}  train "
          f"{100 * record['train']['accuracy']:5.1f} %  validation "
          f"{100 * record['validation']['accuracy']:5.1f} %  test "
          f"{100 * record['test']['accuracy']:5.1f} %  {seconds:6.1f} s"
          + (f"  cosine {compare['cosine']:.3f}" if compare else ""))
