"""The NEST backend: a standalone PyNEST (NEST 3.10) program per network.

``emit`` writes a folder with ``network.py`` (``build()``: the network on NEST's own models),
``run.py`` (``--steps``, ``--threads``, ``--input``; writes the layout of ``snnc run -o``,
merging MPI ranks), ``network.npz`` and a README. The compiler never imports nest.

LIF becomes ``iaf_psc_delta``, CubaLIF (and LIF fed through receptors) becomes
``iaf_psc_exp_multisynapse`` with one port per current; the parameters are converted so that
NEST's exact integration runs snnc's discrete update (:mod:`snnc.backends.nest.graph`).
``check`` reports what NEST cannot run: models without a NEST counterpart (E520), resets
other than zero (E521), learning rules other than pair and reward-modulated STDP (E522, :mod:`.rules`,
:mod:`.dopamine`), a cycle
faster than NEST's minimum delay (E523), a network whose estimated NEST memory exceeds
this machine's (E525, :mod:`.memory`).

Options: ``--connectivity nest`` (default) lets NEST's connection rules draw random and regular
connectivity in parallel (the same statistics, other synapses), ``exact`` passes snnc's own
synapses (for step-for-step equivalence); ``--poisson generator`` (default) uses NEST's
``poisson_generator``, ``exact`` replays the spikes ``snnc run`` draws. ``--record-neurons N`` records only the first N
neurons of each recorded population (a spike recorder costs NEST ~33 KB per connected neuron,
the largest term of a big network's memory; the estimate counts the recorded neurons only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from snnc.backends.base import Backend, delivery_option, option
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import build_plan, step_count
from snnc.ir.network import Network


def neuron_count(value: str | int) -> int:
    """The ``--record-neurons`` value: a positive whole number."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or str(value).strip() != str(count):
        import argparse
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number of neurons")
    return count


#: NEST 3.10's limit on connections per synapse model and virtual process (2^27 - 2)
MAX_CONNECTIONS = 134_217_726


def warn_virtual_processes(net: Network, diag: Diagnostics) -> None:
    """W526 for a projection with more synapses than one NEST virtual process holds per
    synapse model: the program needs that many threads x ranks (run.py says so too)."""
    for projection in net.projections():
        count = net.synapse_count(projection)
        if count is not None and count > 0.99 * MAX_CONNECTIONS:
            need = -(-count // int(0.99 * MAX_CONNECTIONS))
            diag.warning("W526", projection.span, f"projection '{projection.name}' has "
                         f"{count:,} synapses: NEST 3.10 stores at most {MAX_CONNECTIONS:,} per "
                         "synapse model on one virtual process (a thread of an MPI rank)",
                         hint=f"run the program with at least {need} virtual processes "
                              f"(run.py --threads {need}, or threads x mpirun ranks)")


@dataclass
class NestBackend(Backend):
    name: ClassVar[str] = "nest"
    description: ClassVar[str] = "a runnable PyNEST program (NEST 3.10: threads and MPI)"
    extra: ClassVar[str | None] = "nest"
    simulator_memory: ClassVar[bool] = False  # E525 estimates NEST's; snnc draws nothing big
    delivery: str = delivery_option()
    connectivity: str = option(
        "nest", "the synapses: drawn by NEST's connection rules ('nest', default) or snnc's "
        "own ('exact': step for step as snnc run)",
        choices=("nest", "exact"))
    poisson: str = option(
        "generator", "Poisson inputs: NEST's poisson_generator ('generator', default) or the "
        "spikes snnc run draws ('exact')", choices=("generator", "exact"))
    record_neurons: int | None = option(
        None, "record only the first N neurons of each recorded population (default: all; "
        "NEST needs ~33 KB per recorded neuron)", metavar="N", type=neuron_count,
        exclusive=True)
    source_file: str = "<network>"

    def graph(self, net: Network, diag: Diagnostics):
        from snnc.backends.nest.graph import build_graph, nest_may_draw
        rules = self.connectivity == "nest"
        return build_graph(build_plan(net, self.delivery, nest_may_draw(net, rules)), net,
                           diag, rules=rules, poisson=self.poisson)

    def check(self, net: Network, diag: Diagnostics) -> None:
        from snnc.backends.nest.memory import check_nest_fits
        if self.record_neurons is not None:  # Python callers' values
            try:
                self.record_neurons = neuron_count(self.record_neurons)
            except Exception as error:
                raise ValueError(f"record_neurons: {error}") from None
        if not check_nest_fits(net, diag, record_neurons=self.record_neurons):  # E525, before any synapse is drawn
            return
        warn_virtual_processes(net, diag)
        graph = self.graph(net, diag)
        populations = {x.name for x in graph.populations} if graph is not None else set()
        for r in net.records:
            if graph is not None and (r.variable not in ("s", "v") or r.owner not in populations):
                diag.warning("W524", r.span, f"record {r.owner}.{r.variable}: the NEST program "
                             "records the spikes and voltages of populations only "
                             "('<population>.s', '<population>.v')",
                             hint="compare other variables with snnc run")

    def emit(self, net: Network) -> dict[str, str | bytes]:
        from snnc import __version__
        from snnc.backends.nest.render import render_program
        diag = Diagnostics()
        from snnc.backends.nest.graph import build_graph, nest_may_draw
        rules = self.connectivity == "nest"
        plan = build_plan(net, self.delivery, nest_may_draw(net, rules))
        graph = build_graph(plan, net, diag, rules=rules, poisson=self.poisson)
        if graph is None:
            raise ValueError("emit() after failed check(): " + "; ".join(
                d.message for d in diag.errors()))
        spiking = {p.name: p.spiking for p in plan.populations}
        record = [f"{r.owner}.{r.variable}" for r in net.records if not r.is_projection
                  and r.owner in spiking and (r.variable == "v" or
                                              (r.variable == "s" and spiking[r.owner]))]
        record = list(dict.fromkeys(record)) or [f"{name}.s" for name, s in spiking.items() if s]
        sizes = {p.name: p.size for p in plan.populations}
        counts = {key: min(sizes[key.rsplit(".", 1)[0]], self.record_neurons or sizes[
            key.rsplit(".", 1)[0]]) for key in record}
        return render_program(graph, plan, counts, self.source_file, __version__,
                              step_count(net.settings), self.poisson, self.connectivity)

    def summary(self, files: dict[str, str | bytes]) -> list[str]:
        return ["run it: python run.py --threads N (NEST 3.10; mpirun -np K for MPI)"]


BACKEND = NestBackend
