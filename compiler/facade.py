"""The Python API: what the ``snnc`` commands do, as four functions of the package ``snnc``.

::

    import snnc
    net = snnc.load_network("examples/randman/eprop_random.snn")  # checked; print(net)
    result = snnc.simulate(net, inputs={"units": spikes})           # named arrays
    files = snnc.compile(net, "nir", out="build/nir", allow_lossy=["reset"])  # the files
    run = snnc.train("examples/randman/eprop_random.snn", data="randman", epochs=5,
                     out="runs/eprop")                               # run.log, run.accuracy

Each takes a path (``str`` or ``os.PathLike``) or a network of :func:`load_network`. A mistake
in the program, the data or an option is a :class:`snnc.CompileError`: its message is every
diagnostic rendered as the CLI prints it, ``error.diagnostics`` holds them all (code, span,
hint). Warnings of a call that succeeds are issued as :class:`SnncWarning` (Python's
:mod:`warnings`) and kept in the result's ``diagnostics``. Wrong argument values (an unknown
backend, a negative step count) are ``ValueError``. Files are written only when ``out`` is
given, through :mod:`snnc.output`, by the same rules as the CLI: an existing output is replaced
only when snnc wrote it (else ``force=True``), atomically.

Underneath is :mod:`snnc.api`, which the CLI calls: these functions add no behaviour of their
own, so ``snnc.simulate`` and ``snnc run`` give the same arrays for the same inputs.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from snnc import api, output
from snnc.diagnostics import CompileError, Diagnostics, Severity, render
from snnc.ir.network import Network
from snnc.passes import DEFAULT_PIPELINE
from snnc.recordings import SpikeEvents, spikes_dense

__all__ = ["Result", "SnncWarning", "SpikeEvents", "Training", "compile", "load_network",
           "simulate", "spikes_dense", "train"]

Path = str | os.PathLike


class SnncWarning(UserWarning):
    """A warning diagnostic (W...) of a call that succeeded; its text is the rendered one."""


def fail(diag: Diagnostics) -> None:
    """Raise :class:`CompileError` with every diagnostic rendered when ``diag`` has errors."""
    if diag.has_errors:
        error = CompileError(diag)
        error.args = ("\n".join(render(d, diag.sources) for d in diag.sorted()),)
        raise error


def settle(diag: Diagnostics) -> Diagnostics:
    """:func:`fail` after errors, else issue the warnings of ``diag`` as :class:`SnncWarning`
    (once, at the end of a call); ``diag``."""
    fail(diag)
    for item in diag.sorted():
        if item.severity is Severity.WARNING:
            warnings.warn(render(item, diag.sources), SnncWarning, stacklevel=3)
    return diag


def _path(value: Path | None) -> str | None:
    return None if value is None else os.fspath(value)


def _refuse(diag: Diagnostics, error: output.OutputError) -> None:
    """The refused output as an error (its hint naming ``force=True``), raised."""
    if error.hint:
        error.hint = error.hint.replace("--force", "force=True")
    error.report(diag)
    fail(diag)


def load_network(path: Path, *, target: str | None = None, weights: Path | None = None,
                 learn: bool = True) -> Network:
    """The checked network of the program ``path`` (against ``target``, else its own), with
    the weights of the file ``weights`` (a ``checkpoint.npz`` of ``snnc train`` or an output
    of ``snnc run -o``: arrays ``<projection>.w``) and, unless ``learn``, without its
    learning rules. ``print(net)`` summarizes it; ``net.populations()``,
    ``net.projections()``, ``net.inputs()``, ``net.node(name)``, ``net.settings`` inspect it."""
    diag = Diagnostics()
    net = api.compile_network(os.fspath(path), diag, target, weights=_path(weights),
                              learn=learn)
    settle(diag)
    return net


def network(source: Path | Network, diag: Diagnostics, *, weights: Path | None = None,
            learn: bool = True, target: str | None = None,
            enforce_memory: bool = True) -> Network:
    """The checked network of a path, or ``source`` itself; a checked copy of it with other
    ``weights`` or without learning (the caller's network is never changed).
    ``enforce_memory``: as :func:`snnc.api.compile_network`."""
    if not isinstance(source, Network):
        net = api.compile_network(os.fspath(source), diag, target, weights=_path(weights),
                                  learn=learn, enforce_memory=enforce_memory)
    elif weights is None and learn and target is None:
        net = api.run_required(source, DEFAULT_PIPELINE, diag)  # checked: nothing runs
    else:
        net = copy.deepcopy(source)
        net.analyses = {}
        from snnc.weights import prepare
        net = prepare(net, diag, _path(weights), learn)
        net = None if net is None else api.check_loaded(net, diag, target, enforce_memory)
    fail(diag)
    return net


def simulate(source: Path | Network, steps: int | None = None, *,
             inputs: Mapping[str, Any] | Path | None = None, split: str | None = None,
             batch: int | None = None, weights: Path | None = None, learn: bool = True,
             record: str | Iterable[str] | None = None, seed: int | None = None,
             delivery: str = "same_step", dtype: str = "float64", every: int = 1,
             allow_nonfinite: bool = False, dense: bool = False) -> Result:
    """Simulate with the reference simulator, as ``snnc run`` does; the recorded arrays.

    ``inputs``: {name: array} (spikes [steps, *shape] or [steps, batch, *shape] per data
    input; 'label' [batch], 'target.<readout>' or 'reward', as an ``--input`` file holds) or
    the path of such an .npz file; with ``split`` ('train', 'validation', 'test') a data file
    of ``snnc train``. ``steps``: default the network's duration, else the inputs' steps.
    ``batch``: default the inputs' batch (a split: all its samples), else 1. ``record``: names
    ('hidden.s', 'out.v', '<projection>.w', 'spikes', 'v', ...) as a list or a comma-separated
    string; default the program's record statements, else all spikes. ``weights``, ``learn``:
    as :func:`load_network` (``learn=False`` also keeps the weights fixed). ``seed``: the
    Poisson inputs' seed (default: the network's); ``delivery``: same_step or next_step.
    Recorded spikes are kept as events (``result.events('hidden.s')``; ``result['hidden.s']``
    rebuilds the bool array when asked) unless ``dense`` (``snnc run --record-dense``)."""
    from snnc.ir.discrete import DELIVERIES, step_count
    if delivery not in DELIVERIES:
        raise ValueError(f"delivery must be one of {', '.join(DELIVERIES)}, not {delivery!r}")
    if split not in (None, "train", "validation", "test"):
        raise ValueError(f"split must be 'train', 'validation' or 'test', not {split!r}")
    if split is not None and (inputs is None or isinstance(inputs, Mapping)):
        raise ValueError("split= reads a data file: give inputs='DATA.npz'")
    if inputs is not None and not isinstance(inputs, (Mapping, str, os.PathLike)):
        raise TypeError("inputs must be a dict of arrays or the path of an .npz file, not "
                        f"{type(inputs).__name__}")
    record = record if record is None or isinstance(record, str) else ",".join(record)
    arrays = dict(inputs) if isinstance(inputs, Mapping) else None
    file = None if inputs is None or arrays is not None else os.fspath(inputs)
    diag = Diagnostics()
    net = network(source, diag, weights=weights, learn=learn)
    if arrays is not None:  # names first: the steps and batch are read from the arrays
        api.input_arrays(net, arrays, diag)
        fail(diag)
    layout = api.data_split(file, split) if split is not None else shape_of(net, arrays)
    batch = batch if batch is not None else (layout[1] if layout else 1)
    if steps is None and net.settings.duration is not None:
        steps = step_count(net.settings)
    elif steps is None:  # a split that is not in the file: its E604 comes below
        steps = layout[0] if layout else (1 if split is not None else None)
    if steps is None:
        raise ValueError("give steps=: the network has no 'duration' and no inputs to count")
    if min(steps, batch, every) < 1:
        raise ValueError("steps, batch and every must be positive")
    run = api.prepare_simulation(net, diag, steps, batch=batch, delivery=delivery,
                                 record=record, input_file=file, every=every, split=split,
                                 inputs=arrays, dense=dense)
    if run is not None:
        run = api.simulate(run, diag, dtype=dtype, seed=seed, learn=learn, every=every,
                           allow_nonfinite=allow_nonfinite)
    settle(diag)
    return Result(run, every, diag)


def shape_of(net: Network, arrays: dict | None) -> tuple[int, int] | None:
    """(steps, batch) of the first data input's array of ``arrays`` (batch 1 without one)."""
    for node in net.inputs():
        array = (arrays or {}).get(node.name)
        if array is not None and getattr(array, "ndim", 0) >= 1:
            batched = array.ndim == len(node.shape) + 2
            return int(array.shape[0]), int(array.shape[1]) if batched else 1
    return None


def backend_values(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of ``backend`` by name, as its ``snnc compile`` flags would give them
    (validated by the flag's type and choices); ValueError for anything else."""
    from snnc.backends import registry
    backends = registry()
    if backend not in backends:
        raise ValueError(f"unknown backend {backend!r}; backends: {', '.join(backends)}")
    flags = {field.name: field.metadata["flag"] for field in backends[backend].options()}
    values = {}
    for name, value in options.items():
        flag = flags.get(name)
        if flag is None:
            raise ValueError(f"backend {backend!r} has no option {name!r}; its options: "
                             f"{', '.join(flags) or 'none'}")
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        if isinstance(value, str) and callable(flag.type):
            try:
                value = flag.type(value)
            except Exception as error:  # argparse's ArgumentTypeError or ValueError
                raise ValueError(f"{name}={value!r}: {error}") from None
        if flag.choices and value not in flag.choices:
            raise ValueError(f"{name} must be one of {', '.join(flag.choices)}, not {value!r}")
        values[name] = value
    return values


def compile(source: Path | Network, backend: str = "reference", out: Path | None = None, *,
            target: str | None = None, weights: Path | None = None, learn: bool = True,
            force: bool = False, **options) -> dict[str, str | bytes]:
    """The artifacts of ``backend`` for the program or network ``source`` ({relative path:
    text or bytes}), as ``snnc compile`` writes them; written into the folder ``out`` when
    given (replaced atomically; only a folder snnc wrote, or an empty one, unless ``force``).
    ``options``: the backend's (``delivery='next_step'``, ``allow_lossy=['reset']`` for nir,
    ``mapping='mapping.json'``); ``target``, ``weights``, ``learn``: as :func:`load_network`.
    Raises :class:`snnc.backends.MissingExtra` when the backend's extra is not installed."""
    values = backend_values(backend, options)
    diag = Diagnostics()
    path = None if isinstance(source, Network) else os.fspath(source)
    folder = None
    if out is not None:
        given = [p for p in (path, _path(weights), values.get("mapping")) if p]
        try:
            folder = output.check_folder(os.fspath(out), option="out", force=force,
                                         inputs=[p for p in given if os.path.lexists(p)])
        except output.OutputError as error:
            _refuse(diag, error)
    from snnc.backends import registry
    net = network(source, diag, weights=weights, learn=learn, target=target,
                  enforce_memory=registry()[backend].simulator_memory)
    prepared = api.backend_options(backend, values, diag)
    fail(diag)
    source_file = os.path.basename(path or (net.files[-1] if net.files else "network.snn"))
    files = api.emit_artifacts(net, backend, diag, **prepared, source_file=source_file)
    fail(diag)
    if folder is not None:
        try:
            output.write_folder(folder, files, net.files)
        except output.OutputError as error:
            _refuse(diag, error)
    settle(diag)
    return files


def train(source: Path | Network, *, data: str | os.PathLike, epochs: int, out: Path,
          batch: int = 32, seed: int | None = None, resume: bool = False,
          compare_every: int = 0, update: str = "batch", save_data: Path | None = None,
          force: bool = False, allow_nonfinite: bool = False,
          on_epoch: Callable[[dict], None] | None = None,
          delivery: str = "same_step") -> Training:
    """Train as ``snnc train`` does, writing its folder ``out`` (log.json, checkpoint.npz,
    frozen.snn and frozen.npz, curves.png with matplotlib) after every epoch; the run.
    ``data``: 'randman' or 'randman:key=value,...', or an .npz file of the training layout
    (``save_data``: also write the data there, outside ``out``). ``on_epoch``: called with
    each epoch's log record (loss and accuracy per split). The other arguments: the options
    of ``snnc train`` (``delivery``: same_step or next_step, as ``--delivery``)."""
    from snnc.ir.discrete import DELIVERIES
    from snnc.training.session import Options, prepare, summary
    if epochs < 1 or batch < 1 or compare_every < 0:
        raise ValueError("epochs and batch must be positive, compare_every at least 0")
    if update not in ("batch", "step"):
        raise ValueError(f"update must be 'batch' or 'step', not {update!r}")
    if delivery not in DELIVERIES:
        raise ValueError(f"delivery must be one of {', '.join(DELIVERIES)}, not {delivery!r}")
    data, out = os.fspath(data), os.fspath(out)
    if save_data is not None and os.path.realpath(save_data).startswith(
            os.path.realpath(out).rstrip(os.sep) + os.sep):
        raise ValueError("save_data must be outside the out folder (which a new run replaces)")
    diag = Diagnostics()
    given = [p for p in (None if isinstance(source, Network) else os.fspath(source), data)
             if p and os.path.lexists(p)]
    try:
        folder = output.check_folder(out, option="out", inputs=given, force=force,
                                     resume=resume)
        saved = None if save_data is None else output.check_file(
            os.fspath(save_data), "npz", option="save_data", inputs=given, force=force)
    except output.OutputError as error:
        _refuse(diag, error)
    net = network(source, diag)
    net = copy.deepcopy(net) if net is source else net  # training sets its seed
    session = prepare(net, Options(data, out, epochs, batch, seed, compare_every, resume,
                                   update, delivery), diag)
    fail(diag)
    if saved is not None:
        from snnc.training.data import to_arrays
        arrays = to_arrays(session.trainer.dataset, session.trainer.engine.input)
        output.write_file(saved, output.npz_bytes(arrays))
    session.folder = output.OutputFolder(folder)
    session.trainer.allow_nonfinite = allow_nonfinite
    plt = pyplot()
    while session.next_epoch <= epochs:
        record = api.train_epoch(session, diag)
        fail(diag)
        if plt is not None:
            session.write_curves(plt)
        if on_epoch is not None:
            on_epoch(record)
    settle(diag)
    return Training(out, session.header, list(session.log), summary(session.log),
                    "" if session.frozen_problem else session.path("frozen.snn"),
                    session.frozen_problem, diag)


def pyplot():
    """matplotlib's pyplot (Agg) for the learning curves, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


class Result(Mapping):
    """What :func:`simulate` recorded, by name: '<population>.<var>' [steps, batch, *shape]
    (every ``every``-th step), a rule's traces and signals '<projection>.<name>', weight
    histories '<projection>.w.history' and the final weights '<projection>.w'. Spikes
    recorded as events (the default) are held as events (:meth:`events`, as ``save`` writes
    them: :mod:`snnc.recordings`); ``result['hidden.s']`` rebuilds their bool array
    [steps, batch, *shape] each time it is asked. ``simulation`` is the run of
    :mod:`snnc.api`; ``diagnostics`` its warnings and notes."""

    def __init__(self, run: api.Simulation, every: int, diagnostics: Diagnostics):
        from snnc.recordings import is_event_key, names
        self.simulation, self.every, self.diagnostics = run, every, diagnostics
        self._spikes = names(run.out)
        self._arrays = {k: v for k, v in run.out.items()
                        if not k.endswith(".count") and not is_event_key(k)}
        self._names = list(dict.fromkeys(k.rpartition(".events.")[0] if is_event_key(k) else k
                                         for k in run.out if not k.endswith(".count")))

    def __getitem__(self, name: str):
        if name in self._spikes:
            return spikes_dense(self.simulation.out, name)
        return self._arrays[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def events(self, name: str) -> SpikeEvents:
        """The spikes ``name`` ('hidden.s') as events: ``step``, ``batch``, ``index`` (one
        entry per spike, sorted) and the dense ``shape``; from a dense recording too."""
        from snnc.recordings import events_of
        if name not in self._spikes and not name.endswith(".s"):
            raise KeyError(f"{name!r} is not a recorded spike variable")
        return events_of(self.simulation.out, name)

    steps = property(lambda self: self.simulation.steps, doc="simulated steps")
    batch = property(lambda self: self.simulation.batch, doc="samples run side by side")
    seconds = property(lambda self: self.simulation.seconds, doc="wall time of the run")

    def accuracy(self) -> float | None:
        """The fraction of the samples whose label ('label' of the inputs) the readout of the
        network's loss gets right, decided as ``snnc train`` decides; None without labels."""
        found = self.simulation.accuracy()
        return None if found is None else found[0] / found[1]

    def counts(self) -> dict[str, int]:
        """Spikes per population over the run (all samples)."""
        return self.simulation.counts()

    def rates(self) -> dict:
        """Each population's per-neuron firing rate in Hz (``snnc run --rates``)."""
        return self.simulation.rates()

    def save(self, path: Path, *, force: bool = False) -> str:
        """Write the arrays (with dt, steps, record_every) to the .npz ``path`` as ``snnc run
        -o`` does (a file snnc did not write is replaced only with ``force``); ``path``."""
        try:
            target = output.check_file(os.fspath(path), "npz", option="path", force=force)
            output.write_file(target, output.npz_bytes(self.simulation.recordings(self.every)))
        except output.OutputError as error:
            _refuse(Diagnostics(), error)
        return os.fspath(path)

    def __repr__(self) -> str:
        names = [f"{k} {list(self.events(k).shape)} ({len(self.events(k).step):,} spikes)"
                 if k in self._spikes else f"{k} {list(self._arrays[k].shape)}"
                 for k in self._names]
        shown = ", ".join(names[:6]) + (f", ... {len(names) - 6} more" if len(names) > 6 else "")
        accuracy = self.accuracy()
        return f"<snnc.Result: {self.steps} steps, batch {self.batch}: {shown}" + \
            ("" if accuracy is None else f"; accuracy {100 * accuracy:.1f} %") + ">"


@dataclasses.dataclass(repr=False)
class Training:
    """A run of :func:`train`: its ``folder``, the ``header`` and per-epoch ``log`` of
    log.json (loss and accuracy per split), its ``summary``, the path of ``frozen.snn`` (empty
    when it could not be written: ``frozen_problem`` says why) and the ``diagnostics``."""
    folder: str
    header: dict
    log: list[dict]
    summary: dict
    frozen: str
    frozen_problem: str
    diagnostics: Diagnostics

    @property
    def accuracy(self) -> float:
        """The last epoch's test accuracy (a fraction)."""
        return self.log[-1]["test"]["accuracy"]

    @property
    def checkpoint(self) -> str:
        """The weights and optimizer state: ``snnc.simulate(..., weights=run.checkpoint)``."""
        return os.path.join(self.folder, "checkpoint.npz")

    def __repr__(self) -> str:
        last = self.log[-1]
        return (f"<snnc.Training {self.header['network']!r}: {len(self.log)} epochs by "
                f"{self.header['mode']}, loss {last['train']['loss']:.4f}, test accuracy "
                f"{100 * self.accuracy:.1f} %, in {self.folder!r}>")
