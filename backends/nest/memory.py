"""NEST 3.10's memory for a network, estimated from counts before anything is built.

The emitted program's peak memory (resident set) per process is modelled as

    base (Python, numpy and NEST loaded: ~100 MB per MPI rank)
    + neurons x bytes per neuron (by NEST model; parrot neurons for the Poisson/spike sources)
    + synapses x bytes per synapse (static, or stdp_synapse for a plastic projection)
    + recorded neurons x a spike recorder's connection (NEST stores a neuron's connections to a
      device in a block of 1024 connections: ~33 KB per recorded neuron, the largest term for
      big networks) or a multimeter's (~2 KB plus 24 bytes per sample)
    + run.py's dense recordings ([steps, neurons]: one byte per spike value, twice under MPI
      where rank 0 merges the ranks' files; eight bytes per voltage, twice)

with the synapse counts of :meth:`Network.synapse_count` (nothing is materialised: a network of
10^9 synapses is estimated as fast as one of ten). The figures were measured on NEST 3.10 (the
manylinux wheel, x86-64) with 1 and 2 threads, 20,000 to 100,000 neurons at in-degree 80, as the
growth of the resident set (VmRSS) over Create, Connect and the first Simulate; thread counts
1 and 2 gave the same per-neuron and per-synapse bytes (docs/nest.md, "Memory"). They are
rounded up; the estimate aims to refuse what cannot fit, not to profile.

:func:`check_nest_fits` is E525 (estimate above the machine's available memory,
:func:`snnc.machine.available`, which ``SNNC_MEMORY_LIMIT`` overrides).
"""

from __future__ import annotations

from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import step_count
from snnc.ir.network import Network
from snnc.memory import ENV_LIMIT, Estimate, available, format_bytes

#: resident memory of one process with Python, numpy and NEST 3.10 loaded (measured 98 MB)
BASE = 100 * 2 ** 20
#: bytes per neuron after Create and the first Simulate (measured 3,850 / 4,570 + 170 per
#: receptor port / 3,660), rounded up
DELTA_NEURON = 4_000
EXP_NEURON = 4_700
EXP_PORT = 200
PARROT_NEURON = 3_800
#: bytes per synapse of NEST's static_synapse and stdp_synapse: measured 42 and 106 at 1.3
#: million synapses, but 55 for static_synapse between 20 and 80 million (1,000,000 neurons at
#: in-degree 20 and 80: 5.93 and 9.21 GB), where an estimate of 44 let 2.59 million neurons at
#: in-degree 80 run out of 23 GB; stdp_synapse scaled alike
STATIC_SYNAPSE = 56
STDP_SYNAPSE = 125
#: a neuron's connection to a spike recorder (a 1024-connection block: measured 32,900)
SPIKE_RECORDER = 33_000
#: a multimeter's connection to a neuron (measured 1,900) and NEST's bytes per V_m sample
MULTIMETER = 2_000
SAMPLE = 24


def recorded(net: Network) -> dict[str, str]:
    """{'population.variable': population} that run.py records: the program's spike and
    voltage records of populations, else every spiking population's spikes (as ``emit``)."""
    from snnc.ir.nodes import Population
    populations = {n.name: n for n in net.nodes() if isinstance(n, Population)}
    out = {f"{r.owner}.{r.variable}": r.owner for r in net.records
           if not r.is_projection and r.owner in populations and r.variable in ("s", "v")
           and (r.variable == "v" or populations[r.owner].model.spiking)}
    return out or {f"{name}.s": name for name, node in populations.items()
                   if node.model.spiking}


def neuron_bytes(net: Network, node) -> tuple[str, int]:
    """(NEST model, bytes per neuron) of population ``node`` (as graph.plan_population
    chooses: eprop_iaf_psc_delta_adapt for ALIF (measured 3,340 bytes), else
    iaf_psc_exp_multisynapse with one port per filtered current, else iaf_psc_delta)."""
    if node.model.properties.adaptation:
        return "eprop_iaf_psc_delta_adapt", DELTA_NEURON
    ports = len({p.receptor.name for p in net.incoming(node.name) if p.receptor})
    ports += 1 if node.model.properties.synaptic_current else 0
    if ports:
        return "iaf_psc_exp_multisynapse", EXP_NEURON + EXP_PORT * ports
    return "iaf_psc_delta", DELTA_NEURON


def estimate_nest(net: Network, steps: int | None = None, ranks: int = 1,
                  threads: int = 1, records: dict[str, str] | None = None,
                  record_neurons: int | None = None) -> Estimate:
    """The bytes the emitted program needs to build and run ``net`` for ``steps`` steps (the
    program's duration when None) on ``ranks`` MPI processes in total, recording ``records``
    ({'population.s|v': population}; default :func:`recorded`), of each at most
    ``record_neurons`` neurons (``--record-neurons``; None: all) (the module's model;
    ``threads`` does not change it measurably)."""
    from snnc.ir.nodes import Population
    del threads  # measured: 1 and 2 threads need the same bytes per neuron and synapse
    steps = step_count(net.settings) if steps is None else steps
    parts: list[tuple[str, int]] = [(f"NEST and Python ({ranks} process"
                                     f"{'es' if ranks > 1 else ''})", ranks * BASE)]
    for node in net.nodes():
        if isinstance(node, Population):
            model, size = neuron_bytes(net, node)
            parts.append((f"population '{node.name}' ({node.size:,} {model})", node.size * size))
        else:
            parts.append((f"input '{node.name}' ({node.size:,} parrot neurons)",
                           node.size * PARROT_NEURON))
    for projection in net.projections():
        count = net.synapse_count(projection)
        if count is None:
            count = net.node(projection.pre).size * net.node(projection.post).size
        per = STDP_SYNAPSE if projection.rules else STATIC_SYNAPSE
        parts.append((f"projection '{projection.name}' ({count:,} synapses)", count * per))
    for key, owner in (recorded(net) if records is None else records).items():
        size = min(net.node(owner).size, record_neurons or net.node(owner).size)
        sampled = f" (first {size:,} neurons)" if size < net.node(owner).size else ""
        if key.endswith(".s"):  # rank 0 holds a second copy while it merges the ranks'
            device, dense = SPIKE_RECORDER * size, (1 if ranks == 1 else 2) * (steps or 0) * size
        else:
            device = MULTIMETER * size + (steps or 0) * size * SAMPLE
            dense = 2 * 8 * (steps or 0) * size
        parts.append((f"recording '{key}'{sampled}", device + dense))
    return Estimate(tuple(parts))


def check_nest_fits(net: Network, diag: Diagnostics, steps: int | None = None,
                    record_neurons: int | None = None) -> bool:
    """E525 when NEST would need more memory than this machine has available (the estimate,
    its largest parts and the available memory in the message); True when it fits or the
    machine's memory is unknown. ``record_neurons``: as :func:`estimate_nest`."""
    room = available()
    if room.bytes is None or room.problem is not None:
        return True  # check-memory reports a malformed SNNC_MEMORY_LIMIT (E617)
    estimate = estimate_nest(net, steps, record_neurons=record_neurons)
    if estimate.total <= room.bytes:
        return True
    notes = [f"{name}: {format_bytes(size)}" for name, size in estimate.largest() if size]
    diag.error("E525", None, f"NEST 3.10 would need about {format_bytes(estimate.total)} to "
               f"build and run network '{net.settings.name}', but {format_bytes(room.bytes)} "
               f"is available ({room.source})", notes=notes,
               hint="record fewer neurons (--record-neurons N, or fewer record statements: "
                    "each recorded neuron costs NEST ~33 KB), run the emitted program on a "
                    "cluster (mpirun over several machines splits the neurons and synapses), "
                    f"or make the network smaller ({ENV_LIMIT} overrides the limit)")
    return False
