"""Provenance comments of the generated simulation: which part of the program a block of
``step`` computes, and from which numbers.

For a population: its name and shape, the model (and the variant as written), every parameter
in the units the language writes it (``20 ms``, ``-49 mV``; SI values converted back with
:class:`snnc.units.Quantity`), and the per-step factors the discrete model derives from them
(``tau_mem = 20 ms -> a_mem = exp(-dt/tau_mem) = 0.995012``). A parameter that may be a voltage
or a plain number (``threshold``) is shown as its SI value: the IR keeps no record of which one
was written. For a projection: pre and post,
the storage, the delay in steps and the receptor. Every user text (names, file paths) passes
through :func:`snnc.literals.py_comment`, so a comment ends where snnc ends it.
"""

from __future__ import annotations

from snnc.backends.artifacts import wrap_comment, written_parameters
from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan
from snnc.literals import py_comment
from snnc.units import TIME, Quantity

#: time constant -> the per-step factor the discrete model derives from it
DECAYS = {"tau_mem": "a_mem", "tau_syn": "a_syn", "tau_adapt": "rho"}
#: the input scaling of each option, in terms of a_mem, dt and the parameters
INPUT_SCALES = {"one": "1", "one_minus_decay": "1 - a_mem", "r_dt_over_tau": "r dt / tau_mem"}
WIDTH = 100  # comment lines are wrapped at this many characters


def factor(pop: PopulationPlan, name: str) -> str:
    """A derived per-step factor: its value (6 significant digits), or 'per neuron'."""
    if name in pop.scalars:
        return f"{pop.scalars[name]:.6g}"
    return "per neuron"


def decay_formula(integration: str, tau: str) -> str:
    return f"exp(-dt/{tau})" if integration == "exact" else f"1 - dt/{tau}"


def population_comments(plan: Plan, pop: PopulationPlan) -> list[str]:
    """The comment lines above a population's block of ``step``."""
    kind = "population" if pop.spiking else "readout"
    head = f"# {kind} {py_comment(pop.name)}{list(pop.shape)}: {py_comment(pop.model)}"
    node = plan.net.node(pop.name) if plan.net is not None else None
    if node is None:
        return [head]
    if node.model_name != pop.model:
        head += f" (as {py_comment(node.model_name)})"
    lines = [head]
    plain = []
    for name, text in written_parameters(node).items():
        written = f"{name} = {text}"
        if name in DECAYS and DECAYS[name] in pop.scalars | pop.arrays:
            derived = DECAYS[name]
            lines.append(f"#   {written} -> {derived} = "
                         f"{decay_formula(plan.integration, name)} = {factor(pop, derived)}")
        else:
            plain.append(written)
    scale = node.options.get("input_scale", "one")
    formula = INPUT_SCALES.get(scale, "") if isinstance(scale, str) else ""
    scale_text = py_comment(scale) if isinstance(scale, str) else f"{scale:g}"
    lines.append(f"#   input_scale = {scale_text} -> c_in = "
                 + (f"{formula} = " if formula and formula != "1" else "")
                 + factor(pop, "c_in"))
    lines += wrap_comment(plain, width=WIDTH)
    if pop.spiking:
        lines.append(f"#   reset = {py_comment(pop.reset)}, refractory = {pop.refractory} steps")
    taus = {p.receptor.name: p.receptor.tau for p in node_projections(plan)
            if p.post == pop.name and p.receptor is not None}
    for receptor, a in sorted(pop.receptors.items()):
        tau = f"tau = {Quantity(taus[receptor], TIME)} -> " if receptor in taus else ""
        lines.append(f"#   receptor {py_comment(receptor)}: {tau}a = "
                     f"{decay_formula(plan.integration, 'tau')} = {a:.6g}")
    return lines


def node_projections(plan: Plan) -> list:
    return plan.net.projections() if plan.net is not None else []


def projection_comment(plan: Plan, p: ProjectionPlan) -> str:
    """One comment line naming a projection: pre -> post, storage, delay, receptor."""
    storage = f"dense [{p.n_post}, {p.n_pre}]" if p.dense else f"{len(p.weights)} synapses"
    text = (f"# projection {py_comment(p.name)}: {py_comment(p.pre)} -> {py_comment(p.post)}, "
            f"{storage}, delay {p.delay} step{'' if p.delay == 1 else 's'}")
    written = next((q.delay_steps for q in node_projections(plan) if q.name == p.name), None)
    if written is not None and written != p.delay:
        text += f" ({written} as written, {plan.delivery} delivery)"
    if p.receptor is not None:
        text += f", receptor {py_comment(p.receptor)}"
    return text + (", learning" if p.learning else "")
