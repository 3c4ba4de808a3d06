"""A training run of ``snnc train``: set up from a checked network and the options, resumed
from an output folder, and saved after every epoch.

Output folder::

    log.json        settings and one record per epoch (loss and accuracy per split, the
                    comparison with the exact gradient); byte-identical for the same seed
    timing.json     wall time per epoch (training, comparison, evaluation)
    frozen.snn      the trained program for inference: its weights read frozen.npz, its
    frozen.npz      learning rules removed (snnc.training.frozen); every command takes it
    checkpoint.npz  weights ('<projection>.w'; older checkpoints: 'w.<projection>'), optimizer
                    state, epoch, seed, data digest, mode, update, delivery (older checkpoints
                    have none: same_step)
    curves.png      learning curves (with the extra 'plot')
    .snnc-output    the marker of a folder snnc wrote (see snnc.output)

A fresh run writes into a staging folder that replaces the previous one after the first epoch
(an interrupted first epoch leaves the old run intact); --resume writes into the folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np

from snnc import files, output
from snnc.datasets.randman import SPLITS, Dataset
from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.memory import check_training
from snnc.training import archive, data, setup
from snnc.training.engines import OnlineEngine, OracleEngine
from snnc.training.trainer import Trainer


@dataclasses.dataclass(frozen=True)
class Options:
    data: str
    output: str
    epochs: int
    batch: int = 32
    seed: int | None = None  # None: the network's seed
    compare_every: int = 0
    resume: bool = False
    update: str = "batch"  # online rules: 'batch' (Adam per batch) or 'step' (as on chip)
    #: when a spike reaches its target: 'same_step' (snnc run's default) or 'next_step' (the
    #: convention of the Lava and NEST programs), for the simulation and the exact oracles
    delivery: str = "same_step"


def digest(dataset: Dataset) -> str:
    """A fingerprint of the data (a resumed run must see the same data)."""
    h = hashlib.sha256()
    for split in SPLITS:
        h.update(np.packbits(dataset.spikes[split]).tobytes())
        h.update(dataset.labels[split].astype(np.int64).tobytes())
    return h.hexdigest()[:16]


@dataclasses.dataclass
class Session:
    trainer: Trainer
    options: Options
    header: dict
    log: list[dict]
    timing: list[dict]
    folder: output.OutputFolder | None = None  # where the files go; opened on first use
    net: Network | None = None  # the trained network (for the frozen program)
    frozen_problem: str = ""  # why no frozen program was written (empty: it was)

    @property
    def next_epoch(self) -> int:
        return len(self.log) + 1

    def path(self, name: str) -> str:
        return os.path.join(self.options.output, name)

    def run_epoch(self, progress=None) -> dict:
        """Train and evaluate the next epoch, then save everything; its log record."""
        record = self.trainer.epoch(self.next_epoch, progress)
        self.log.append(record)
        self.timing.append(self.trainer.timing)
        state = dict(self.trainer.engine.state())
        state.update(epoch=np.int64(record["epoch"]), seed=np.int64(self.trainer.seed),
                     data=np.str_(self.header["data_digest"]), mode=np.str_(self.header["mode"]),
                     update=np.str_(self.header["update"]),
                     delivery=np.str_(self.header["delivery"]))
        folder = self.open_folder()
        folder.write("checkpoint.npz", archive.npz_bytes(state))
        folder.write("log.json", archive.json_bytes({**self.header, "epochs": self.log,
                                                     "summary": summary(self.log)}))
        folder.write("timing.json", archive.json_bytes(self.timing))
        self.write_frozen(folder, record["epoch"])
        folder.commit()  # a fresh run replaces the previous folder after its first epoch
        return record

    def write_frozen(self, folder: output.OutputFolder, epoch: int) -> None:
        """frozen.snn and frozen.npz: the trained network for inference (or, once, why not
        in ``frozen_problem``)."""
        from snnc.training.frozen import frozen_program
        files, self.frozen_problem = frozen_program(self.net, self.trainer.engine.weights, epoch)
        for name, content in (files or {}).items():
            folder.write(name, content)

    def open_folder(self) -> output.OutputFolder:
        """The output folder (checked when the caller did not open it: no --force)."""
        if self.folder is None:
            target = output.check_folder(self.options.output, resume=self.options.resume)
            self.folder = output.OutputFolder(target)
        return self.folder

    def write_curves(self, plt) -> str:
        from snnc.training.curves import curves_png
        self.open_folder().write("curves.png", curves_png(self.log, self.header["network"], plt))
        return self.path("curves.png")


def summary(log: list[dict]) -> dict:
    """The last epoch's test accuracy and the test accuracy at the best validation accuracy."""
    best = max(log, key=lambda r: (r["validation"]["accuracy"], -r["epoch"]))
    out = {"epochs": len(log), "final_test_accuracy": log[-1]["test"]["accuracy"],
           "best_validation_epoch": best["epoch"],
           "best_validation_accuracy": best["validation"]["accuracy"],
           "test_accuracy_at_best_validation": best["test"]["accuracy"]}
    cosines = [r["compare"]["cosine"] for r in log if "compare" in r]
    if cosines:
        out["mean_cosine"] = float(np.mean(cosines))
    return out


def describe(loss) -> str:
    """The loss as written: cross_entropy(sum_over_time(out.v))."""
    value = f"{loss.population}.{loss.variable}"
    return f"{loss.kind}({loss.reduction}({value}))" if loss.reduction else f"{loss.kind}({value})"


def oracle(net: Network, method: setup.Method, diag: Diagnostics, why: str,
           delivery: str = "same_step"):
    try:
        return OracleEngine(net, method, delivery)
    except ValueError as error:
        diag.error("E622", None, f"{why}: {error}")
        return None


def prepare(net: Network, options: Options, diag: Diagnostics) -> Session | None:
    """Everything a run needs, or None after diagnostics (E62x)."""
    if options.seed is not None:
        net.settings = dataclasses.replace(net.settings, seed=options.seed)
    seed = net.settings.seed
    method = setup.method(net, diag)
    dataset = data.load(options.data, net, diag)
    if method is None or dataset is None:
        return None
    # the data set is loaded already (data.load estimated a generated one beforehand)
    if not check_training(net, options.batch, dataset.steps, method.mode, diag):
        return None
    if len(dataset.labels["train"]) < options.batch:
        diag.error("E621", None, f"the training split has {len(dataset.labels['train'])} "
                   f"samples, fewer than one batch of {options.batch}", hint="lower --batch")
        return None
    reference = None
    if method.mode != "online" and options.update != "batch":
        diag.error("E622", None, f"--update {options.update} needs online rules; the "
                   f"{method.mode} oracle takes one Adam step per batch",
                   hint="drop --update, or train the projections with online rules")
        return None
    if method.mode == "online":
        from snnc.backends.reference import ReferenceBackend
        from snnc.backends.reference.runner import load_simulation
        ReferenceBackend().check(net, diag)
        if diag.has_errors:
            return None
        engine = OnlineEngine(net, method, load_simulation(net, options.delivery), seed,
                              options.update)
        if options.compare_every:
            reference = oracle(net, dataclasses.replace(method, mode="bptt"), diag,
                               "--compare-every needs the exact gradient", options.delivery)
            if reference is None:
                return None
            for name in method.rates:
                if engine.weights[name].shape != reference.weights[name].shape:
                    diag.error("E622", None, f"--compare-every needs dense projections; "
                               f"'{name}' is sparse")
                    return None
    else:
        engine = oracle(net, method, diag, f"the {method.mode} oracle cannot train this network",
                        options.delivery)
        if engine is None:
            return None
        reference = engine
    compare = options.compare_every if method.mode != "bptt" else 0
    trainer = Trainer(engine, method, dataset, options.batch, seed, compare, reference)
    header = {"network": net.settings.name, "mode": method.mode, "update": options.update,
              "delivery": options.delivery,
              "seed": seed, "batch": options.batch, "data": options.data, "data_digest": digest(dataset),
              "loss": describe(method.loss),
              "learning_rates": method.rates, "compare_every": compare,
              "samples": {split: int(len(dataset.labels[split])) for split in SPLITS}}
    session = Session(trainer, options, header, [], [], net=net)
    if options.resume and not resume(session, diag):
        return None
    return session


def resume(session: Session, diag: Diagnostics) -> bool:
    """Load the checkpoint and logs of the output folder (E623 when they do not fit)."""
    paths = [session.path(name) for name in ("checkpoint.npz", "log.json", "timing.json")]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        diag.error("E623", None, f"cannot resume: '{missing[0]}' does not exist",
                   hint="run without --resume first")
        return False
    try:
        state = archive.load_npz(paths[0])
        log = files.read_json(paths[1])
        timing = files.read_json(paths[2])
    except (OSError, ValueError) as error:
        diag.error("E623", None, f"cannot resume from '{session.options.output}': {error}")
        return False
    header = session.header
    expected = {"seed": header["seed"], "data": header["data_digest"], "mode": header["mode"],
                "update": header["update"]}
    found = {key: state[key].item() if key in state else None for key in expected}
    resume_delivery(state, header["delivery"], diag)
    for key, value in expected.items():
        if found[key] != value:
            diag.error("E623", None, f"cannot resume: the checkpoint was written with {key} "
                       f"{found[key]!r}, this run has {value!r}",
                       hint="resume with the same network, --data, --seed, --update and rules")
    try:
        if not diag.has_errors:
            session.trainer.engine.load(state)
    except (KeyError, ValueError) as error:
        diag.error("E623", None, f"cannot resume: the checkpoint does not fit the network "
                   f"({error})")
    if diag.has_errors:
        return False
    session.log = log["epochs"]
    session.timing = timing
    return True


def resume_delivery(state: dict, delivery: str, diag: Diagnostics) -> bool:
    """Whether the checkpoint was trained with this run's ``--delivery`` (E623 if not; a
    checkpoint without one was written before the option, with same_step)."""
    found = state["delivery"].item() if "delivery" in state else "same_step"
    if found == delivery:
        return True
    diag.error("E623", None, f"cannot resume: the checkpoint was trained with --delivery "
               f"{found}, this run has --delivery {delivery}",
               hint=f"resume with --delivery {found}, or train into a new folder (-o) with "
                    f"--delivery {delivery}")
    return False
