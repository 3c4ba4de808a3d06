"""The orchestration API: what each ``snnc`` command does, as functions that Python users, the
tests and :mod:`snnc.cli` call alike (:mod:`snnc.facade`, the functions of the package, wraps
them for Python users). Nothing here prints, picks an exit code or writes an output: problems
go into a :class:`~snnc.diagnostics.Diagnostics` (a function returns None after errors),
results are returned, and only :mod:`snnc.output` writes (the one exception: input arrays
given from Python pass through a private temporary file, :func:`prepare_from_arrays`).

::

    from snnc import Diagnostics, api
    diag = Diagnostics()
    net = api.compile_network("examples/stdp.snn", diag)
    files = api.emit_artifacts(net, "reference", diag)     # {relative path: str | bytes}
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.ir.network import Network
from snnc.passes import DEFAULT_PIPELINE, ran, run_pipeline, schedule

if TYPE_CHECKING:  # numpy and the backends are imported where used: 'snnc check' needs neither
    import numpy as np

__all__ = [
    "Simulation", "backend_options", "check_loaded", "check_network", "compile_network",
    "data_split", "emit_artifacts", "input_arrays", "load_network", "map_network",
    "nonfinite_diagnostic", "prepare_simulation", "read_mapping", "run_required", "simulate",
    "summary_lines", "train_epoch",
]


def __getattr__(name: str):
    if name == "MAPPED":  # the backends that take --mapping (read from the registry when asked)
        from snnc.backends import mapped
        return mapped()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_network(path: str, diag: Diagnostics, weights: str | None = None,
                 learn: bool = True) -> Network | None:
    """Load and lower ``path``, with the weights of the file ``weights`` (a checkpoint of
    ``snnc train`` or an output of ``snnc run -o``) and, unless ``learn``, without learning
    rules (:mod:`snnc.weights`); no pass has run. None after errors."""
    from snnc.ir.lowered_cache import load_lowered
    from snnc.weights import prepare
    net = load_lowered(path, diag)
    return None if net is None else prepare(net, diag, weights, learn)


def compile_network(path: str, diag: Diagnostics, target: str | None = None, *,
                    weights: str | None = None, learn: bool = True,
                    enforce_memory: bool = True) -> Network | None:
    """Load, lower and check ``path`` (against ``target``, else the program's own), refusing a
    network too large for this machine's reference simulator (E617) unless not
    ``enforce_memory`` (a backend that never builds snnc's arrays, such as NEST, checks its
    own memory); None after errors (they are in ``diag``). ``weights`` and ``learn``: as
    :func:`load_network`."""
    net = load_network(path, diag, weights, learn)
    return None if net is None else check_loaded(net, diag, target, enforce_memory)


def check_loaded(net: Network, diag: Diagnostics, target: str | None = None,
                 enforce_memory: bool = True) -> Network | None:
    """Run the checks of :func:`compile_network` on a loaded network (no pass has run on it);
    None after errors."""
    return run_pipeline(net, diag, DEFAULT_PIPELINE, options={
        "check-target": {"target": target}, "check-memory": {"enforce": enforce_memory}})


def check_network(path: str, diag: Diagnostics, target: str | None = None,
                  steps: int | None = None, dump_after: str | None = None):
    """What ``snnc check`` does for one file: (the checked network or None, the IR dumps after
    the pass ``dump_after`` ('lower': before any pass))."""
    from snnc.ir.lowered_cache import load_lowered

    options = {"check-target": {"target": target}, "check-locality": {"steps": steps}}
    dumps: list[str] = []

    def after_each(name: str, net: Network) -> None:
        if name == dump_after:
            from snnc.ir.dump import dump
            dumps.append(dump(net))

    lowered = load_lowered(path, diag)
    if lowered is None:
        return None, dumps
    after_each("lower", lowered)
    return run_pipeline(lowered, diag, DEFAULT_PIPELINE, options=options,
                        after_each=after_each), dumps


def map_network(path: str, diag: Diagnostics, target: str | None = None,
                rates_file: str | None = None, use_kahip: bool = True, *,
                weights: str | None = None, learn: bool = True) -> Network | None:
    """Check ``path`` against a chip, then partition and place it (``net.analyses['partition']``
    and ``['place']``); firing rates from ``rates_file`` (of ``snnc run --rates``) if given;
    ``weights`` and ``learn``: as :func:`load_network`."""
    from snnc.mapping.graph import load_rates
    from snnc.passes import MAPPING_PIPELINE

    rates = None if rates_file is None else load_rates(rates_file, diag)
    if diag.has_errors:
        return None
    net = load_network(path, diag, weights, learn)
    if net is None:
        return None
    options = {"check-target": {"target": target}, "partition": {
        "rates": rates, "rates_file": rates_file, "use_kahip": use_kahip}}
    return run_pipeline(net, diag, DEFAULT_PIPELINE + MAPPING_PIPELINE, options=options)


def read_mapping(path: str, diag: Diagnostics) -> dict | None:
    """A mapping.json of ``snnc map`` (E601 when it cannot be read)."""
    from snnc.backends import base
    return base.read_mapping(path, diag)


def backend_options(backend: str, values: dict[str, Any], diag: Diagnostics) -> dict | None:
    """The options of ``backend`` for the values of its ``snnc compile`` flags (by option
    name; None: not given), reading the files they name (``--mapping``); None after errors."""
    from snnc.backends import registry
    return registry()[backend].prepare(values, diag)


def run_required(net: Network, names: tuple[str, ...], diag: Diagnostics) -> Network | None:
    """``net`` after the passes of ``names`` (with their prerequisites) that have not run on
    it yet; None after errors."""
    missing = schedule(names, done=ran(net))
    return run_pipeline(net, diag, missing) if missing else net


def emit_artifacts(net: Network, backend: str, diag: Diagnostics,
                   **options) -> dict[str, str | bytes] | None:
    """The files of ``backend`` for the checked ``net``, or None after its check's errors.

    ``options`` configure the backend (its dataclass fields); those it does not take, and
    None, are left out (each backend keeps its own default, e.g. the delivery next_step for
    lava, same_step otherwise): ``delivery``, ``allow_lossy`` (nir), ``source_file`` (lava),
    ``mapping`` and ``mapping_file`` (the backends of :func:`snnc.backends.mapped`). The
    passes the backend requires run first when they have not; the backend's extra artifacts
    (a Lava process graph drawn as ``process_graph.png`` when Graphviz is installed) are
    added. The same steps for every backend (:mod:`snnc.backends.base`). Raises
    :class:`snnc.backends.MissingExtra` when the backend's extra is not installed."""
    from snnc.backends import get_backend
    chosen = get_backend(backend).configured(options)
    if run_required(net, chosen.required_passes, diag) is None:
        return None
    chosen.check(net, diag)
    if diag.has_errors:
        return None
    files = chosen.emit(net)
    files.update(chosen.extra_artifacts(files))
    return files


def summary_lines(backend: str, files: dict[str, str | bytes]) -> list[str]:
    """What ``snnc compile`` prints about the written ``files`` of ``backend``."""
    from snnc.backends import get_backend
    return get_backend(backend).summary(files)


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


@dataclasses.dataclass
class Simulation:
    """A reference simulation ready to run (:func:`prepare_simulation`), and after
    :func:`simulate` its recordings and timing."""
    net: Network
    module: object  # the generated simulation module
    steps: int
    batch: int
    record: list[str]
    inputs: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    reward: np.ndarray | None
    spiking: list[str]  # spike variables whose totals are counted
    dense: bool = False  # recorded spikes kept as [steps, batch, *shape], not as events
    out: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Spikes per population over the run (all samples)."""
        return {key[:-2]: int(self.out[key + ".count"].sum()) for key in self.spiking}

    def rates(self) -> dict[str, np.ndarray]:
        """Each population's per-neuron firing rate in Hz, averaged over the samples."""
        duration = self.steps * self.net.settings.dt * self.batch
        return {key[:-2]: self.out[key + ".count"].sum(axis=0) / duration
                for key in self.spiking}

    def accuracy(self) -> tuple[int, int] | None:
        """(correct, samples) of the labels ('label') by the readout of the network's loss,
        decided as ``snnc train`` decides (:func:`snnc.training.metrics.evaluate`: argmax of
        the reduced readout); None without labels, a loss or a full recording of the readout."""
        from snnc.training.metrics import evaluate
        labels = self.targets.get("label")
        if labels is None or not self.net.losses or labels.ndim != 1:
            return None
        from snnc.recordings import spikes_dense
        loss = self.net.losses[0]
        try:
            values = spikes_dense(self.out, f"{loss.population}.{loss.variable}") \
                if loss.variable == "s" else self.out.get(f"{loss.population}.{loss.variable}")
        except KeyError:
            values = None
        if values is None or values.shape[0] != self.steps or values.shape[1] != len(labels):
            return None
        labels = labels.astype("int64")
        _, correct = evaluate(values.reshape(self.steps, len(labels), -1), labels,
                              loss.reduction)
        return correct, len(labels)

    def recordings(self, every: int) -> dict[str, np.ndarray]:
        """What ``snnc run -o`` saves: the recordings (spikes as events unless ``dense``:
        :mod:`snnc.recordings`), final weights, dt, steps, record_every."""
        import numpy as np
        saved = {k: v for k, v in self.out.items() if not k.endswith(".count")}
        saved.update(dt=np.float64(self.net.settings.dt), steps=np.int64(self.steps),
                     record_every=np.int64(every))
        return saved


def prepare_simulation(net: Network, diag: Diagnostics, steps: int, *, batch: int = 1,
                       delivery: str = "same_step", record: str | None = None,
                       input_file: str | None = None, every: int = 1,
                       split: str | None = None, inputs: dict[str, Any] | None = None,
                       dense: bool = False) -> Simulation | None:
    """Check that the reference simulator runs ``net``, load its module and the data of
    ``input_file`` (an .npz: spikes, targets, reward), check that the inputs' spike files hold
    ``steps`` steps, and choose what to record (``record``: as ``snnc run --record``); None
    after errors (E5xx, E604, E605, E615, E617). ``split``: read a data file in the layout of
    ``snnc train`` (``<split>.<input>``, ``<split>.label``); with labels and a loss the
    readout is recorded too, for :meth:`Simulation.accuracy`. ``inputs``: the arrays of such
    a file given from Python instead of ``input_file`` (:func:`input_arrays`). Recorded
    spikes are kept as events (:mod:`snnc.recordings`) unless ``dense``."""
    if inputs is not None:
        return prepare_from_arrays(net, diag, steps, inputs, batch=batch, delivery=delivery,
                                   record=record, every=every, dense=dense)
    from snnc.backends import get_backend
    from snnc.backends.reference.inputs import (
        check_events,
        load_inputs,
        load_supervision,
        record_list,
    )
    from snnc.backends.reference.runner import load_simulation
    from snnc.memory import check_run

    get_backend("reference").check(net, diag)
    if diag.has_errors:
        return None
    module = load_simulation(net, delivery)
    recorded = record_list(record, net, module, diag)
    inputs = load_inputs(input_file, module, steps, batch, diag, split)
    if inputs is None or not check_events(net, module, steps, diag):
        return None
    populations = {p.name for p in net.populations()}
    spiking = [k for k in module.VARIABLES if k.endswith(".s") and k.split(".")[0] in populations]
    if not check_run(net, recorded, steps, batch, diag, every=every):  # E617 before allocating
        return None
    classes = net.node(net.losses[0].population).size if net.losses else None
    targets, reward = load_supervision(input_file, module, steps, diag, split, classes)
    if diag.has_errors:
        return None
    if "label" in targets and net.losses:
        loss = net.losses[0]
        recorded = list(dict.fromkeys([*recorded, f"{loss.population}.{loss.variable}"]))
    return Simulation(net, module, steps, batch, recorded, inputs, targets, reward, spiking,
                      dense)


def input_arrays(net: Network, inputs: dict[str, Any], diag: Diagnostics
                 ) -> dict[str, np.ndarray] | None:
    """``inputs`` as numeric arrays, each named like a data input of ``net`` (spikes
    [steps, *shape] or [steps, batch, *shape]), 'label', 'reward' or 'target.<population>'
    (as in an ``--input`` file); anything else is E604 (in a file it is only W602)."""
    import numpy as np
    data = [x.name for x in net.inputs() if x.source == "data"]
    other = {x.name: x.source for x in net.inputs() if x.source != "data"}
    known = [*data, "label", "reward", *(f"target.{p.name}" for p in net.populations())]
    arrays = {}
    for name, value in inputs.items():
        if name not in known:
            what = f"input '{name}' is a {other[name]} input, not a data input" \
                if name in other else f"'{net.settings.name}' has no data input '{name}'"
            diag.error("E604", None, f"inputs: {what}", hint=did_you_mean(str(name), known)
                       or f"names: {', '.join(data) or 'no data inputs'}; 'label', 'reward', "
                          "'target.<readout>'")
            continue
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            diag.error("E604", None, f"inputs: '{name}' must be an array of numbers; it holds "
                       f"{array.dtype}")
            continue
        arrays[name] = array
    return None if diag.has_errors else arrays


def prepare_from_arrays(net: Network, diag: Diagnostics, steps: int, inputs: dict[str, Any],
                        **options) -> Simulation | None:
    """:func:`prepare_simulation` for arrays: named as :func:`input_arrays` checks, then read by
    the loader of data files (the same checks of shapes, spikes, labels and steps) from a
    private temporary .npz, removed before returning. Its diagnostics name ``inputs`` and
    ``steps=`` instead of the temporary file and ``--input``/``--steps``."""
    arrays = input_arrays(net, inputs, diag)
    if arrays is None:
        return None
    first = len(diag.items)
    with tempfile.TemporaryDirectory(prefix="snnc-inputs-") as folder:
        path = os.path.join(folder, "inputs.npz")
        import numpy as np
        np.savez(path, **arrays)
        run = prepare_simulation(net, diag, steps, input_file=path, **options)

    def renamed(text: str | None) -> str | None:
        return None if text is None else text.replace(f" in '{path}'", "").replace(
            f"'{path}'", "inputs").replace("--input: ", "inputs: ").replace("--steps", "steps=")
    diag.items[first:] = [dataclasses.replace(d, message=renamed(d.message), hint=renamed(d.hint))
                          for d in diag.items[first:]]
    return run


def data_split(path: str | None, split: str | None) -> tuple[int, int] | None:
    """(steps, samples) of ``split`` in a data file of ``snnc train`` (``<split>.<input>``
    [steps, samples, ...]), or None (no such file or split: :func:`prepare_simulation`
    reports it)."""
    from snnc.files import FileProblem, read_npz
    if path is None or split is None:
        return None
    try:
        arrays = read_npz(path)
    except FileProblem:
        return None
    spikes = [a for key, a in arrays.items() if key.startswith(split + ".") and a.ndim >= 3]
    return (int(spikes[0].shape[0]), int(spikes[0].shape[1])) if spikes else None


def simulate(run: Simulation, diag: Diagnostics, *, dtype: str = "float64",
             seed: int | None = None, learn: bool = True, every: int = 1,
             allow_nonfinite: bool = False,
             progress: Callable[[int], None] | None = None) -> Simulation | None:
    """Run a prepared simulation (Poisson seed: ``seed``, else the network's); ``run`` with its
    recordings (``run.out``) and ``run.seconds``, or None after E604 (targets or reward that
    do not fit) or E616 (NaN or inf in the state; W616 with ``allow_nonfinite``)."""
    seed = run.net.settings.seed if seed is None else seed
    sim = run.module.Simulation(batch=run.batch, dtype=dtype, seed=seed)
    start = time.perf_counter()
    try:
        run.out = sim.run(run.steps, run.inputs, record=run.record, progress=progress,
                          targets=run.targets, reward=run.reward, learn=learn, every=every,
                          count=run.spiking, allow_nonfinite=allow_nonfinite,
                          events=not run.dense)
    except run.module.TargetError as error:  # targets or a reward of the wrong shape or range
        diag.error("E604", None, f"--input: {error}")
        return None
    except run.module.NonFiniteError as error:
        nonfinite_diagnostic(diag, error, allowed=False)
        return None
    run.seconds = time.perf_counter() - start
    for error in sim.nonfinite:
        nonfinite_diagnostic(diag, error, allowed=True)
    return run


def chip_program(net: Network, diag: Diagnostics, arithmetic: str):
    """The Xylo program of ``net`` for ``snnc run --arithmetic NAME``: NAME is a target whose
    chip computes Xylo's integer arithmetic (``xylo``, ``xylo_audio3``, ``xylo_imu``, a custom
    target based on one, or a profile .json), checked as ``snnc compile --emit xylo`` checks
    it; None after errors (E212 unknown target, E625 a target without that arithmetic, the
    chip's E405/E402/E301, E530/E531)."""
    from snnc.backends.xylo.program import build_program
    from snnc.passes.check_target import CheckTarget

    check = CheckTarget(target=arithmetic, option="--arithmetic")
    profile = check.profile(net, diag)
    if profile is None:
        return None
    if profile.neurons.get("arithmetic") != "xylo":
        diag.error("E625", None, f"--arithmetic: target '{profile.name}' does not compute an "
                   "integer arithmetic snnc simulates",
                   hint="targets with one: xylo, xylo_audio3, xylo_imu (or a target based on "
                        "one of them)")
        return None
    check.check_against(net, profile, diag)
    return None if diag.has_errors else build_program(net, profile, diag)


def simulate_chip(run: Simulation, diag: Diagnostics, arithmetic: str, *,
                  seed: int | None = None, every: int = 1) -> Simulation | None:
    """Run a prepared simulation in the integer arithmetic of the chip ``arithmetic``
    (:func:`chip_program`) instead of floating point: the inputs' spikes are those the
    reference simulator draws (the same seed gives the same spikes; the data of ``run``), the
    network runs in :mod:`snnc.backends.xylo.predict`; ``run`` with its recordings, or None
    after errors (E625 for a recorded variable the chip does not have)."""
    from snnc.backends.xylo.predict import run_chip
    from snnc.backends.xylo.program import input_spikes, recordable
    from snnc.recordings import to_events

    program = chip_program(run.net, diag, arithmetic)
    if program is None:
        return None
    for name in run.record:
        if not recordable(program, name):
            diag.error("E625", None, f"--record: '{name}' is not recorded in the chip's "
                       "arithmetic", hint="record the spikes (s) of inputs and populations, "
                                          "and the membrane (v) and current (i) of populations")
    if diag.has_errors:
        return None
    start = time.perf_counter()
    spikes = input_spikes(program, run.steps, run.batch, seed, run.inputs)
    shapes = {node.name: tuple(node.shape) for node in [*run.net.inputs(),
                                                        *run.net.populations()]}
    out = run_chip(program, spikes, run.record, shapes, run.steps, run.batch, every,
                   tuple(run.spiking))
    run.seconds = time.perf_counter() - start
    run.out = out if run.dense else to_events(out)
    return run


def train_epoch(session, diag: Diagnostics, progress: Callable[[int, int], None] | None = None
                ) -> dict | None:
    """Train, evaluate and save the next epoch of a training ``session``
    (:func:`snnc.training.session.prepare`); its log record, or None after E616 (NaN or inf:
    nothing of that epoch is saved). Non-finite values that ``allow_nonfinite`` let pass are
    W616."""
    from snnc.training.engines import NonFiniteError
    try:
        record = session.run_epoch(progress)
    except NonFiniteError as error:
        nonfinite_diagnostic(diag, error, allowed=False)
        return None
    for error in session.trainer.nonfinite:
        nonfinite_diagnostic(diag, error, allowed=True)
    session.trainer.nonfinite.clear()
    return record
