"""Memory estimates before allocation: the network, a recording, a data set, and the machine.

Estimates are in bytes for the reference simulator (float64 values; CSR indices int32 where
they fit, else int64: :func:`snnc.ir.discrete.index_dtype`) and are
computed from the IR alone, without materialising anything, so a network of 10^12 neurons is
estimated as fast as one of ten. They model the arrays the reference simulator allocates
(documented per function; :func:`estimate_network` takes the largest of the phases of ``snnc
run``), so that a network that cannot fit is refused before numpy raises MemoryError or the
kernel kills the process. Measured against ``snnc run`` (peak resident set minus the resident
set before the network is built, ``tests/bench/million.py``) they agree within 20 % for
networks of hundreds of MB and more; fixed costs (numba's compiler, memory the allocator keeps
after the build: tens of MB) are not in them.

The machine's memory is :func:`available_bytes` (:mod:`snnc.machine`, a base module the file
readers use too; re-exported here): ``SNNC_MEMORY_LIMIT`` when set (a size such as ``8G``,
``512M`` or a byte count), else the kernel's MemAvailable (bounded by a cgroup limit when one
is set), else the physical memory. :func:`check_fits` turns an estimate above it into
E617 with the estimate, the largest parts and the available memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, Span
from snnc.machine import (  # noqa: F401  (re-exported: the machine's memory, below the IR)
    ENV_LIMIT,
    Available,
    available,
    available_bytes,
    format_bytes,
    parse_size,
)

FLOAT = 8  # bytes of a float64 value
INT32_MAX = 2 ** 31 - 1  # the largest int32 value
INDEX = 8  # bytes of an int64 index
DENSE_THRESHOLD = 0.25  # the reference simulator stores a projection dense above this density
#: the weights exist this many more times while the simulation runs: its working copy (the
#: loaded network.npz holds the original, or the one number every synapse shares); a plastic
#: projection's also as the per-step updates and the copy of the final weights returned (a
#: fixed one returns a read-only view)
RUN_WEIGHT_COPIES = {"fixed": 1, "plastic": 3}


@dataclass(frozen=True)
class Estimate:
    """Bytes needed, as named parts (``total`` is their sum)."""

    parts: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        return sum(size for _, size in self.parts)

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.parts + other.parts)

    def largest(self, count: int = 3) -> list[tuple[str, int]]:
        return sorted(self.parts, key=lambda part: -part[1])[:count]

    def to_json(self) -> dict:
        return {"bytes": self.total,
                "largest": [{"what": what, "bytes": size} for what, size in self.largest()]}


def check_fits(estimate: Estimate | int, what: str, diag: Diagnostics, span: Span | None = None,
               hint: str | None = None) -> bool:
    """E617 when ``estimate`` exceeds :func:`available` memory (also when ``SNNC_MEMORY_LIMIT``
    is not a size); True when it fits or the machine's memory is unknown."""
    room = available()
    if room.problem is not None:
        diag.error("E617", None, room.problem)
        return False
    total = estimate.total if isinstance(estimate, Estimate) else int(estimate)
    if room.bytes is None or total <= room.bytes:
        return True
    notes = []
    if isinstance(estimate, Estimate):
        notes = [f"{name}: {format_bytes(size)}" for name, size in estimate.largest() if size]
    diag.error("E617", span, f"{what} would need about {format_bytes(total)} of memory, but "
               f"{format_bytes(room.bytes)} is available ({room.source})", notes=notes,
               hint=hint or f"make it smaller, or run it on a machine with more memory "
                            f"({ENV_LIMIT} overrides the limit)")
    return False


# -- the network ---------------------------------------------------------------------------------

def synapse_storage(n_pre: int, n_post: int, synapses: int | None) -> tuple[bool, int, int]:
    """(dense, values, bytes) of one projection's weights in the reference simulator: a dense
    [post, pre] float matrix (plus a bool mask when not full) above 25 % density, else CSR
    (weight, post and pre index per synapse, an index pointer per pre neuron; the indices
    :func:`index_bytes` wide). A projection whose synapse count is unknown (a file) counts as
    full."""
    full = n_pre * n_post
    count = full if synapses is None else synapses
    dense = full > 0 and count / full > DENSE_THRESHOLD
    if dense:
        return True, full, full * FLOAT + (full if count < full else 0)
    indices = index_bytes(n_post) + index_bytes(n_pre)
    return False, count, count * (FLOAT + indices) + (n_pre + 1) * index_bytes(count)


def serialised_storage(n_pre: int, n_post: int, synapses: int | None, one_weight: bool,
                       pre_index: bool) -> int:
    """Bytes of one projection in ``network.npz`` (written while the simulation is built,
    loaded while it runs): :func:`synapse_storage` without the synapses' pre neurons unless
    ``pre_index`` (only learning rules read them), and with the weights as one number when
    ``one_weight`` (every synapse has the same weight: a CSR projection, or a full dense
    one)."""
    dense, values, storage = synapse_storage(n_pre, n_post, synapses)
    count = values if synapses is None else synapses
    if not dense and not pre_index:
        storage -= count * index_bytes(n_pre)
    if one_weight and values and (not dense or count == values):
        storage -= (values - 1) * FLOAT
    return storage


def shares_one_weight(projection) -> bool:
    """Whether every synapse of ``projection`` has the same weight, which the reference
    simulator stores once: a finite constant weight (a file's connectivity with weight 1 takes
    its weights from the file)."""
    import math

    from snnc.ir.values import Constant
    weight = projection.weight
    if not isinstance(weight, Constant) or not math.isfinite(weight.value):
        return False
    return not (projection.connectivity.kind == "file" and weight.value == 1.0)


def index_bytes(limit: int) -> int:
    """Bytes per CSR index whose values reach ``limit``: 4 up to 2**31 - 1, else 8, the
    itemsize of :func:`snnc.ir.discrete.index_dtype` (int32 or int64), counted here without
    numpy (``snnc check`` estimates memory without importing it)."""
    return 4 if limit <= INT32_MAX else 8


def _per_synapse_traces(net) -> dict[str, int]:
    """How many per-synapse traces the rules of each projection keep, by projection name (the
    locality pass's figures when it ran; a projection missing here keeps one per rule)."""
    counts: dict[str, int] = {}
    for report in net.analyses.get("check-locality") or []:
        name = getattr(report, "projection", None)
        counts[name] = counts.get(name, 0) + sum(
            1 for item in report.analysis.state if {"i", "j"} <= set(item.index))
    return counts


#: bytes beyond a projection's final arrays while it is drawn, per synapse, for the kinds
#: that materialise (post, pre) and weights and then copy them in CSR order with a sort order
#: (4 arrays of 8 bytes) or fill a dense matrix from them (3). A ``dense`` projection's weights
#: are its matrix (nothing beyond it); the random kinds in CSR see :func:`_draw_transient`.
DRAW_TRANSIENT = {"csr": 4 * INDEX, "dense": 3 * INDEX}


def _draw_transient(projection, synapses: int, dense: bool, n_pre: int) -> int:
    """Bytes beyond the projection's final arrays while it is drawn. The random kinds in CSR
    (:func:`snnc.ir.discrete.plan_random_projection`) are drawn as two int64 index arrays,
    re-sorted in place, then narrowed one after the other: while the post indices are
    copied, both int64 arrays and the copy exist, 2 INDEX + w_post bytes per synapse, against
    the final FLOAT + w_post + w_pre: INDEX - w_pre beyond them (0 for int64 indices)."""
    kind = projection.connectivity.kind
    if kind == "dense":
        return 0
    if kind in ("sparse", "fixed_fan_in") and not dense:
        return synapses * (INDEX - index_bytes(n_pre))
    return synapses * DRAW_TRANSIENT["dense" if dense else "csr"]


def estimate_network(net, batch: int = 1, running: Estimate | None = None) -> Estimate:
    """The peak bytes the reference simulator needs to build and run ``net`` with ``batch``
    samples (``snnc run``): the largest of three phases, each the sum of its parts.

    - *drawing* the plan (:func:`snnc.ir.discrete.build_plan`): every projection's arrays (see
      :func:`synapse_storage`) plus what drawing the largest one needs beyond them
      (:func:`_draw_transient`);
    - *building* the simulation: the plan's arrays and their serialised copy
      (``network.npz``, in memory: :func:`serialised_storage`) at once (each array is streamed
      into the archive from its own buffer, :func:`snnc.backends.artifacts.save_npz`: no third
      copy);
    - *running*: the arrays loaded from ``network.npz``, :data:`RUN_WEIGHT_COPIES` more of
      every weight (fixed or plastic), per neuron and sample its state (v, i, one current per
      receptor, adaptation, refractory counter, spikes), per projection its spike delay ring,
      for a plastic projection its per-synapse traces, the update dw per sample and an
      accumulator (per-pre and per-post traces are small), and ``running`` (what the caller
      adds while the simulation runs: :func:`check_run` adds the recordings and data inputs).

    Every phase holds the populations' varying parameters (twice while building). The
    parts returned are those of the largest phase; the named parts say which phase it is."""
    from snnc.ir.nodes import Population

    traces_of = _per_synapse_traces(net)
    learning = any(projection.rules for projection in net.projections())
    params: list[tuple[str, int]] = []
    state: list[tuple[str, int]] = []
    for node in net.nodes():
        if not isinstance(node, Population):
            state.append((f"input '{node.name}'", batch * node.size))
            continue
        receptors = {p.receptor.name for p in net.incoming(node.name) if p.receptor}
        floats = 3 + len(receptors) + node.model.properties.adaptation
        state.append((f"population '{node.name}'",
                      batch * node.size * (floats * FLOAT + (1 + INDEX if node.model.spiking
                                                             else 0))))
        varying = sum(1 for name in node.params if not node.param_is_uniform(name))
        params.append((f"population '{node.name}' parameters", varying * node.size * FLOAT))
    stored: list[tuple[str, int]] = []
    serialised: list[tuple[str, int]] = []
    working: list[tuple[str, int]] = []
    transient = ("", 0)
    for projection in net.projections():
        pre, post = net.node(projection.pre), net.node(projection.post)
        synapses = net.synapse_count(projection)
        dense, values, storage = synapse_storage(pre.size, post.size, synapses)
        name = f"projection '{projection.name}'"
        stored.append((name, storage))
        serialised.append((name, serialised_storage(pre.size, post.size, synapses,
                                                    shares_one_weight(projection), learning)))
        drawn = _draw_transient(projection, values if synapses is None else synapses, dense,
                                pre.size)
        if drawn > transient[1]:
            transient = (f"drawing the synapses of '{projection.name}'", drawn)
        # the simulation's working copy of the weights; a plastic projection's updates and
        # the copy of its final weights returned
        size = RUN_WEIGHT_COPIES["plastic" if projection.rules else "fixed"] * values * FLOAT
        size += (projection.delay_steps + 2) * batch * post.size * FLOAT  # delay ring
        if projection.rules:
            traces = traces_of.get(projection.name, len(projection.rules))
            adam = sum(2 for rule in projection.rules if rule.rule.optimizer == "adam")
            size += (traces * batch + batch + 1 + adam) * values * FLOAT
        working.append((f"running: weight copies, delays and traces of '{projection.name}'",
                        size))
    drawing = [*params, *stored, transient]
    building = [(f"{what} (and its serialised copy)", size + copy) for (what, size), (_, copy)
                in zip([*params, *stored], [*params, *serialised], strict=True)]
    running_parts = [*params, *serialised, *working, *state,
                     *(running.parts if running else ())]
    phases = [[part for part in phase if part[1]] for phase in (drawing, building, running_parts)]
    return Estimate(tuple(max(phases, key=lambda parts: sum(size for _, size in parts))))


# -- recordings and data -------------------------------------------------------------------------

def recorded_steps(steps: int, every: int = 1) -> int:
    return -(-max(int(steps), 0) // max(int(every), 1))


def estimate_recording(net, names: Iterable[str], steps: int, batch: int, every: int = 1,
                       itemsize: int = FLOAT) -> Estimate:
    """The bytes of recording ``names`` ('population.variable' or 'projection.variable') over
    ``steps`` steps (every ``every``-th) for ``batch`` samples: steps x batch x neurons x
    ``itemsize`` per variable (spikes one byte); a projection's weights once per recorded step
    (shared by the batch), its other variables (traces) per sample at the synapse scale."""
    kept = recorded_steps(steps, every)
    parts = []
    for name in dict.fromkeys(names):
        owner, _, variable = name.rpartition(".")
        if owner and net.has_node(owner):
            node = net.node(owner)
            size = 1 if variable == "s" else itemsize
            parts.append((f"recording '{name}'", kept * batch * node.size * size))
            continue
        projection = net.projection(owner) if owner else None
        if projection is None:
            continue
        pre, post = net.node(projection.pre), net.node(projection.post)
        _, values, _ = synapse_storage(pre.size, post.size, net.synapse_count(projection))
        samples = 1 if variable == "w" else batch
        parts.append((f"recording '{name}'", kept * samples * values * itemsize))
    return Estimate(tuple(parts))


def estimate_data(samples: int, steps: int, channels: int, itemsize: int = 1) -> Estimate:
    """The bytes of a spike data set of ``samples`` x ``steps`` x ``channels`` (one byte per
    spike value by default) plus its labels (int64 per sample)."""
    return Estimate(((f"data set of {samples:,} samples", samples * steps * channels * itemsize
                      + samples * INDEX),))


def check_run(net, names: Iterable[str], steps: int, batch: int, diag: Diagnostics,
              every: int = 1, itemsize: int = FLOAT) -> bool:
    """E617 when simulating ``net`` with ``batch`` samples for ``steps`` steps and recording
    ``names`` would need more memory than is available (the data inputs [steps, batch, n]
    count too); what ``snnc run`` calls before it allocates the simulation."""
    inputs = Estimate(tuple((f"data input '{node.name}'", steps * batch * node.size)
                            for node in net.inputs() if node.source == "data"))
    estimate = estimate_network(net, batch, running=estimate_recording(
        net, names, steps, batch, every, itemsize) + inputs)
    return check_fits(estimate, f"simulating {steps:,} steps with batch {batch} and these "
                      "recordings", diag,
                      hint="record fewer variables (--record), fewer steps or a smaller batch")


def estimate_training(net, batch: int, steps: int, mode: str = "online") -> Estimate:
    """The bytes of training ``net`` on mini-batches of ``batch`` samples of ``steps`` steps:
    the network with ``batch`` samples (:func:`estimate_network`), plus for the ``bptt`` oracle
    its trajectory and adjoints (8 floats per neuron, step and sample) and for the ``rtrl``
    oracle its forward sensitivities (5 floats per neuron, sample and trained weight, the
    weights counted dense). The data set is :func:`estimate_data`."""
    from snnc.ir.nodes import Population

    neurons = sum(node.size for node in net.nodes() if isinstance(node, Population))
    oracle = Estimate()
    if mode == "bptt":
        oracle = Estimate((("BPTT trajectory", steps * batch * neurons * 8 * FLOAT),))
    elif mode == "rtrl":
        weights = sum(net.node(p.pre).size * net.node(p.post).size
                      for p in net.projections() if p.rules)
        oracle = Estimate((("RTRL sensitivities", 5 * batch * neurons * weights * FLOAT),))
    return estimate_network(net, batch, running=oracle)


def check_training(net, batch: int, steps: int, mode: str, diag: Diagnostics,
                   data: Estimate | None = None) -> bool:
    """E617 when training (see :func:`estimate_training`, plus ``data``, the data set) would
    need more memory than is available; what ``snnc train`` calls before it allocates."""
    estimate = estimate_training(net, batch, steps, mode) + (data or Estimate())
    return check_fits(estimate, f"training by {mode} with batch {batch}", diag,
                      hint="lower --batch, shorten the samples, or train fewer neurons")
