"""Can the chosen target run each learning rule? (docs/learning.md, docs/targets.md.)

The verdict compares the locality pass's analysis with the target's learning engine. Every
missing capability is an E3xx error that names it:

- E301  the target has no on-chip learning at all;
- E302  the rule's class (c or d) needs information that never reaches the synapse's core;
- E303  more pre-synaptic traces than the engine has (Loihi: x1, x2);
- E304  more post-synaptic traces and third factors than the engine has (Loihi: y1..y3, of
        which y2/y3 carry third factors);
- E305  more per-synapse state than the engine's tags (Loihi: one tag per synapse);
- E306  the rule reads the membrane potential, which the engine cannot read;
- E307  the rule divides, raises a variable to a power, or applies to a variable a function
        the engine cannot run (``RuleFunction.runs_on``; only sums of products are possible);
- E308  the optimizer needs per-synapse moments that the engine cannot keep.

When a rule's structure fits a sum-of-products engine that states its constants (Loihi,
Loihi 2: m 2^e), its constants are checked too (:mod:`snnc.passes.check_rule_constants`):
E513 when the tag's decay per step is below the smallest constant (the program will not
compile for the chip; the hint names the nearest time constants it expresses), W513 when it is
rounded: the same findings, messages and hints as ``snnc compile --emit lava``.

On the reference simulator every rule runs; class c and d rules are simulator-only oracles
(warning W301).

A profile with a ``neurons`` section (Xylo, Speck; docs/targets.md) is also checked against the
chip's neurons and layout, one diagnostic per violation, naming the population or projection,
the figure and the chip's limit:

- E405  a model the chip does not have: adaptation, a leak on an integrate-and-fire chip, no
        leak on a chip whose states always decay, a refractory period, a reset kind the chip
        lacks, a synaptic current where there is none, more synaptic currents (own current +
        receptors) than a neuron has; a time constant outside the bit-shift decays
        ``dash_min..dash_max``; more input channels or output neurons than the chip has, hidden
        populations feeding outputs or taking inputs beyond the input/output expansion
        neurons, inputs straight into a readout, a readout that feeds anything, no readout or no
        hidden layer (chips with separate output neurons), a loop on a feed-forward chip;
- E402  more hidden neurons than the chip has (its output neurons are separate);
- W405  what runs only approximately: a time constant that is no bit-shift decay (the
        state becomes ``v - (v >> dash)``, a factor ``1 - 2^-dash`` per step; the hint names
        the nearest ``tau``: ``dt 2^dash`` with Euler integration, ``-dt / ln(1 - 2^-dash)``
        with exact integration), an unfiltered input on a chip that filters every input,
        per-synapse weights rounded to the chip's weight bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snnc.diagnostics import Diagnostics, Span, did_you_mean
from snnc.ir.discrete import decay
from snnc.ir.network import Network
from snnc.ir.nodes import Population
from snnc.ir.values import Constant
from snnc.passes.check_fit import check_input_channels, check_output_neurons
from snnc.targets import TargetProfile, builtin_names, load_builtin, profile_from_file

if TYPE_CHECKING:  # the rules' analysis is imported only for a network with rules
    from snnc.passes.check_locality import RuleReport

LEARNING_TARGETS_HINT = "targets with on-chip learning: loihi, loihi2, spinnaker, spinnaker2, " \
                        "brainscales2"


@dataclass
class CheckTarget:
    name: str = "check-target"
    description: str = "check every learning rule against the target's learning engine"
    requires = ("check-locality",)
    target: str | None = None  # overrides the program's 'target' statement
    #: the option that named ``target`` (in the diagnostics about its file)
    option: str = "--target"

    def run(self, net: Network, diag: Diagnostics) -> Network:
        profile = self.profile(net, diag)
        if profile is None:
            return net
        net.target = profile.name
        net.analyses[self.name] = profile
        self.check_against(net, profile, diag)
        return net

    def check_against(self, net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
        """Every finding of this pass for ``profile``, without recording it as the network's
        target (a backend for a chip checks a network compiled for another target so)."""
        if profile.neurons:
            for population in net.populations():
                check_model(net, population, profile, diag)
            check_layout(net, profile, diag)
            check_weights(net, profile, diag)
        for report in net.analyses.get("check-locality", []):
            from snnc.passes.check_rule_constants import check_constants
            errors = len(list(diag.errors()))
            self.check(report, profile, diag)
            if len(list(diag.errors())) == errors:  # the structure fits: now the constants
                check_constants(net, report, profile, diag)

    def profile(self, net: Network, diag: Diagnostics) -> TargetProfile | None:
        name = self.target or net.target
        if name.endswith(".json"):
            return profile_from_file(name, diag, self.option)
        if name in net.custom_targets:
            return net.custom_targets[name].use(diag)
        if name in builtin_names():
            return load_builtin(name)
        candidates = [*builtin_names(), *net.custom_targets]
        diag.error("E212", None, f"unknown target '{name}'",
                   hint=did_you_mean(name, candidates) or "targets: " + ", ".join(candidates))
        return None

    def check(self, report: RuleReport, profile: TargetProfile, diag: Diagnostics) -> None:
        from snnc.passes.check_locality import CLASS_MEANING
        a = report.analysis
        engine = profile.learning
        where = a.rule.span
        what = f"rule '{report.rule}' on '{report.projection}'"
        nonlocal_notes = list(dict.fromkeys(f"{t.span}: {t.reason}" for t in a.terms
                                            if t.tag in ("remote", "future")))
        if engine.engine == "reference":
            if report.cls in ("c", "d", "c+d"):
                diag.warning("W301", where, f"{what} is class {report.cls} "
                             f"({CLASS_MEANING[report.cls]}): it runs only in the reference "
                             "simulator, as an oracle", notes=nonlocal_notes)
            return
        if engine.engine == "none":
            diag.error("E301", where, f"{what} cannot run: target '{profile.name}' has no "
                       "on-chip learning", hint="train offline and deploy fixed weights, or "
                       f"choose one of the {LEARNING_TARGETS_HINT}")
            return
        if report.cls not in engine.classes:
            diag.error("E302", where, f"{what} is class {report.cls} ({CLASS_MEANING[report.cls]}); "
                       f"target '{profile.name}' runs only classes {', '.join(engine.classes)}",
                       notes=nonlocal_notes,
                       hint="use a rule whose learning signal is local: random_feedback, "
                            "local_readout or reward instead of transported weights or BPTT")
            return
        if engine.engine != "sum_of_products":
            return
        self.check_sum_of_products(report, profile, what, where, diag)

    @staticmethod
    def check_sum_of_products(report: RuleReport, profile: TargetProfile, what, where,
                              diag: Diagnostics) -> None:
        a = report.analysis
        engine = profile.learning
        name = profile.name
        pre = [s for s in a.state if s.index == frozenset({"j"})]
        post = [s for s in a.state if s.index == frozenset({"i"}) and not s.name.startswith("signal")]
        signals = [g for g in a.generators]
        synaptic = [s for s in a.state if {"i", "j"} <= s.index and s.name != "adam moments"]
        reads_v = sorted(r for r in a.reads if r.startswith("post.") and r != "post.s")
        reads_pre = sorted(r for r in a.reads if r.startswith("pre.") and r != "pre.s")
        if engine.pre_traces is not None and len(pre) > engine.pre_traces:
            diag.error("E303", where, f"{what} needs {len(pre)} pre-synaptic trace(s) "
                       f"({', '.join(s.name for s in pre)}); {name} has {engine.pre_traces}",
                       hint="share time constants between pre traces")
        third = len(signals) + (1 if reads_v and engine.reads_post_state == "as_third_factor" else 0)
        if engine.third_factor_channels is not None and third > engine.third_factor_channels:
            diag.error("E304", where, f"{what} needs {third} third-factor channels; {name} has "
                       f"{engine.third_factor_channels}")
        elif engine.post_traces is not None and len(post) + third > engine.post_traces:
            diag.error("E304", where, f"{what} needs {len(post) + third} post-synaptic traces "
                       f"and third factors; {name} has {engine.post_traces}")
        if engine.tags_per_synapse is not None and len(synaptic) > engine.tags_per_synapse:
            diag.error("E305", where, f"{what} needs {len(synaptic)} per-synapse traces "
                       f"({', '.join(s.name for s in synaptic)}); {name} has "
                       f"{engine.tags_per_synapse} tag per synapse",
                       hint="a rule whose eligibility factorizes (no filter after the product) "
                            "needs no per-synapse trace")
        if reads_pre:
            diag.error("E306", where, f"{what} reads {', '.join(reads_pre)}; {name}'s learning "
                       "engine sees only pre-synaptic spikes and their traces",
                       hint="filter pre.s with lowpass(...) instead")
        if reads_v and engine.reads_post_state is False:
            diag.error("E306", where, f"{what} reads {', '.join(reads_v)}; {name}'s learning "
                       "engine reads only spike traces", hint="Loihi 2 can deliver a "
                       "post-neuron quantity as a third factor (target loihi2)")
        refused = {name for name, function in a.calls.items()
                   if not function.runs_on(engine.engine)}
        refused |= {op for op, used in (("^", "^" in a.functions), ("/", a.divides)) if used}
        if refused:
            used = sorted(refused)
            diag.error("E307", where, f"{what} uses {', '.join(used)} on variables; {name}'s "
                       "engine computes only sums of products of traces, the weight and "
                       "constants", hint="rewrite the update as a sum of products; a factor "
                       "computed from the post neuron alone can arrive as a third factor")
        if any(s.name == "adam moments" for s in a.state):
            diag.error("E308", where, f"{what} uses the adam optimizer, which needs per-synapse "
                       f"moment estimates that {name} cannot keep", hint="use 'optimizer = sgd'")


# ---- the chip's neurons and layout (profiles with a 'neurons' section) ----------------------

def _time(seconds: float) -> str:
    return f"{seconds * 1e3:.6g} ms" if seconds < 1 else f"{seconds:.6g} s"


def shift_tau(net: Network, dash: int) -> float:
    """The time constant whose decay per step is exactly ``1 - 2^-dash``, the factor of
    ``v - (v >> dash)``: ``dt 2^dash`` with Euler integration (``a = 1 - dt/tau``),
    ``-dt / ln(1 - 2^-dash)`` with exact integration (``a = exp(-dt/tau)``)."""
    dt = net.settings.dt
    if net.settings.integration != "exact":
        return dt * 2.0 ** dash
    return -dt / math.log1p(-2.0 ** -dash) if dash > 0 else 0.0


def check_model(net: Network, p: Population, profile: TargetProfile, diag: Diagnostics) -> None:
    """E405 for every part of the population's model the chip's neurons lack; W405 for an
    unfiltered input on a chip that filters every input; the decays (:func:`check_decay`)."""
    facts, chip, props = profile.neurons, profile.name, p.model.properties
    what = f"'{p.name}' ({p.model_name})"
    if props.adaptation and facts.get("adaptation") is False:
        diag.error("E405", p.span, f"{what} has an adaptive threshold (tau_adapt, beta_adapt); "
                   f"{chip}'s neurons have none (adaptation: false)",
                   hint="use LIF or CubaLIF, whose threshold is fixed")
    if props.leak and facts.get("leak") == "none":
        diag.error("E405", p.spans.get("tau_mem", p.span), f"{what} leaks (tau_mem); {chip}'s "
                   "neurons are integrate-and-fire without leak (leak: none)",
                   hint="use IF (a constant 'bias' can stand for a constant leak)")
    if not props.leak and facts.get("leak") == "bit_shift":
        slowest = facts.get("decay_shift_max", 15)
        diag.error("E405", p.span, f"{what} does not leak; every state of {chip} decays by "
                   "v - (v >> dash), at least one unit per step (leak: bit_shift)",
                   hint=f"use LIF with tau_mem = {_time(shift_tau(net, slowest))}, the slowest "
                        f"decay (dash = {slowest})")
    refractory = p.options.get("refractory_steps", 0)
    if props.spiking and refractory and facts.get("refractory") is False:
        diag.error("E405", p.spans.get("refractory", p.span), f"{what} has a refractory period "
                   f"of {refractory} step(s); {chip}'s neurons have none (refractory: false)",
                   hint="remove 'refractory' (a neuron can fire again the next step)")
    resets = facts.get("resets")
    reset = p.options.get("reset")
    if props.spiking and resets and reset not in resets:
        meaning = {"zero": "sets the membrane to v_reset after a spike",
                   "subtract": "subtracts the threshold after a spike",
                   "none": "keeps the membrane after a spike"}[reset]
        diag.error("E405", p.spans.get("reset", p.span), f"{what} {meaning} (reset = {reset}); "
                   f"{chip}'s neurons only reset by {' or '.join(resets)}",
                   hint=f"write 'reset = {resets[0]}'")
    check_currents(net, p, profile, diag)
    if facts.get("leak") == "bit_shift":
        incoming = net.incoming(p.name)
        taus = [("tau_mem", p.params.get("tau_mem"), p.spans.get("tau_mem", p.span))] \
            if props.leak else []
        if props.synaptic_current:
            taus.append(("tau_syn", p.params.get("tau_syn"), p.spans.get("tau_syn", p.span)))
        receptors = {q.receptor.name: (q.receptor.tau, q.spans.get("receptor", q.span))
                     for q in incoming if q.receptor is not None}
        taus += [(f"receptor {name}(tau", Constant(tau), span)
                 for name, (tau, span) in receptors.items()]
        for label, value, span in taus:
            check_decay(net, p, label, value, span, profile, diag)


def check_currents(net: Network, p: Population, profile: TargetProfile,
                   diag: Diagnostics) -> None:
    """The synaptic currents a neuron of ``p`` needs (its own current when the model has one,
    or when some projection arrives without a receptor on a chip that filters every input;
    plus one per receptor) against the chip's synaptic states per hidden (or output) neuron;
    W405 for an unfiltered input on a chip whose every input passes through a synaptic
    current."""
    facts, chip = profile.neurons, profile.name
    output = p.readout and facts.get("separate_outputs")
    limit = facts.get("output_synaptic_states" if output else "synaptic_states")
    incoming = net.incoming(p.name)
    receptors = list(dict.fromkeys(q.receptor.name for q in incoming if q.receptor is not None))
    own = p.model.properties.synaptic_current
    direct = [q.name for q in incoming if q.receptor is None]
    # unfiltered input needs a current of its own on a chip that filters every input
    first = ["its own current"] if own else \
        ["the direct input"] if direct and facts.get("filtered_input") else []
    currents = first + [f"receptor '{r}'" for r in receptors]
    what = f"'{p.name}' ({p.model_name})"
    if limit == 0 and (own or receptors):
        filtered = (["tau_syn"] if own else []) + [f"receptor '{r}'" for r in receptors]
        diag.error("E405", p.span, f"{what} filters its input through a synaptic current "
                   f"({', '.join(filtered)}); {chip}'s neurons integrate their input directly "
                   "(synaptic_states: 0)", hint="use IF and projections without 'receptor'")
    elif limit is not None and len(currents) > limit:
        kind = "an output neuron" if output else \
            "a hidden neuron" if facts.get("separate_outputs") else "a neuron"
        diag.error("E405", p.span, f"{what} needs {len(currents)} synaptic currents "
                   f"({', '.join(currents)}); {kind} of {chip} has {limit}",
                   notes=[f"'{q.name}': " + (f"receptor '{q.receptor.name}'" if q.receptor
                                             else "no receptor") for q in incoming],
                   hint="let projections share a receptor (same name and tau)"
                        + ("; an output neuron takes one current" if output else ""))
    if facts.get("filtered_input") and direct and not own:
        fastest = facts.get("decay_shift_min", 1)
        diag.warning("W405", p.span, f"{what} takes the input of {', '.join(direct)} "
                     f"unfiltered; {chip} passes every input through a synaptic current "
                     "(filtered_input), so the chip spreads it over the following steps",
                     hint=f"use a model with a synaptic current (CubaLIF, CubaLI) and tau_syn "
                          f"= {_time(shift_tau(net, fastest))} (dash = {fastest}) to simulate "
                          "what the chip computes")


def check_decay(net: Network, p: Population, label: str, value, span: Span,
                profile: TargetProfile, diag: Diagnostics) -> None:
    """A time constant against the chip's bit-shift decays: the per-step factor ``a`` of
    ``tau`` (:func:`snnc.ir.discrete.decay`) is one of ``1 - 2^-dash`` (within 1e-12) for ``dash`` in
    ``[decay_shift_min, decay_shift_max]``. E405 when the nearest dash, ``round(-log2(1 - a))``
    (halves to even, as Rockpool rounds), is outside that range; W405 naming the nearest
    ``tau`` when ``a`` is not exactly a bit-shift decay; W405 for per-neuron values, each
    rounded to a bit shift."""
    facts, chip = profile.neurons, profile.name
    low, high = facts.get("decay_shift_min", 0), facts.get("decay_shift_max", 64)
    close = ")" if label.endswith("(tau") else ""
    if not isinstance(value, Constant):
        diag.warning("W405", span, f"'{p.name}' has per-neuron {label}; {chip} rounds each "
                     f"to a bit-shift decay (dash {low}..{high})",
                     hint="use one value, tau = dt * 2^dash with integration = euler")
        return
    tau = value.value
    factor = decay(net.settings, tau)
    dash = round(-math.log2(1.0 - factor)) if 0.0 < factor < 1.0 else (0 if factor <= 0 else
                                                                        math.inf)
    if not low <= dash <= high:
        diag.error("E405", span, f"{label} = {_time(tau)}{close} of '{p.name}' is a decay of "
                   f"{factor:.6g} per step, outside {chip}'s bit-shift decays (dash {low} to "
                   f"{high}: tau {_time(shift_tau(net, low))} to "
                   f"{_time(shift_tau(net, high))})",
                   hint=f"use a time constant between {_time(shift_tau(net, low))} and "
                        f"{_time(shift_tau(net, high))}")
    elif abs(factor - (1.0 - 2.0 ** -dash)) > 1e-12:  # beyond the rounding of exp()
        rule = "dt * 2^dash" if net.settings.integration != "exact" else \
            "-dt / ln(1 - 2^-dash) with integration = exact, dt * 2^dash with integration = euler"
        nearest = f"{label} = {_time(shift_tau(net, dash))}{close}"
        diag.warning("W405", span, f"{label} = {_time(tau)}{close} of '{p.name}' is no "
                     f"bit-shift decay: {chip} decays by v - (v >> dash), a factor 1 - 2^-dash "
                     f"per step, and this one is {factor:.6g}; the nearest is dash = {dash}, "
                     f"{nearest}", hint=f"write {nearest} (tau = {rule})")


def check_layout(net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
    """Input channels and output neurons (the same figures and messages as check-fit's E405),
    and, on a chip with separate output neurons, what may connect to what; loops on a
    feed-forward chip (:func:`check_loops`)."""
    facts = profile.neurons
    check_input_channels(net, profile, diag)
    if facts.get("separate_outputs"):
        check_outputs(net, profile, diag)
    if facts.get("recurrent") is False:
        check_loops(net, profile, diag)


def check_outputs(net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
    """A chip whose readouts are its output neurons (Xylo): inputs -> hidden -> outputs."""
    cap, facts, chip = profile.capacity, profile.neurons, profile.name
    readouts = [p for p in net.populations() if p.readout]
    hidden = [p for p in net.populations() if not p.readout]
    check_output_neurons(net, profile, diag)
    limit = cap.get("neurons_per_core", math.inf) * cap.get("cores", 1)
    if sum(p.size for p in hidden) > limit:
        largest = max(hidden, key=lambda p: p.size)
        diag.error("E402", largest.span, f"the network has {sum(p.size for p in hidden):,} hidden "
                   f"neurons but {chip} has {limit:,.0f} (its output neurons are separate)",
                   notes=[f"'{p.name}': {p.size:,}" for p in hidden],
                   hint="shrink the hidden populations")
    if hidden and not readouts:
        diag.error("E405", hidden[-1].span, f"the network has no readout; {chip}'s results "
                   "are its output neurons, fed by hidden neurons (separate_outputs)",
                   hint="declare 'readout out: CubaLIF[n]' fed by a hidden population")
    if readouts and not hidden:
        diag.error("E405", readouts[0].span, f"the network has no hidden population; {chip} "
                   "sends its inputs to hidden neurons, which feed the output neurons",
                   hint="put a hidden population between the inputs and the readout")
    names = {p.name for p in readouts}
    sources = {i.name for i in net.inputs()}
    for q in net.projections():
        if q.pre in names:
            diag.error("E405", q.span, f"'{q.name}' leaves the readout '{q.pre}'; {chip}'s "
                       "output neurons feed nothing (no recurrence, no feedback to hidden "
                       "neurons)", hint=f"feed '{q.post}' from a hidden population instead")
        elif q.post in names and q.pre in sources:
            diag.error("E405", q.span, f"'{q.name}' sends the input '{q.pre}' straight to the "
                       f"readout '{q.post}'; {chip}'s inputs reach hidden neurons only",
                       hint="put a hidden population between the input and the readout")
    takes_inputs = [p for p in hidden if any(q.pre in sources for q in net.incoming(p.name))]
    drives_outputs = [p for p in hidden if any(q.pre == p.name and q.post in names
                                               for q in net.projections())]
    for key, fed, role in (("input_expansion_neurons", takes_inputs, "receive inputs"),
                           ("output_expansion_neurons", drives_outputs, "drive output neurons")):
        count = sum(p.size for p in fed)
        if key in facts and count > facts[key]:
            largest = max(fed, key=lambda p: p.size)
            diag.error("E405", largest.span, f"{count:,} hidden neurons {role} "
                       f"({', '.join(repr(p.name) for p in fed)}) but {chip} lets "
                       f"{facts[key]:,} hidden neurons {role} ({key})",
                       hint=f"make the hidden populations that {role} smaller (at most "
                            f"{facts[key]:,} neurons), with larger layers between them")


def check_loops(net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
    """E405 for each projection that closes a loop of populations (a back edge of a
    depth-first search in declaration order) on a chip without recurrence."""
    state: dict[str, int] = {}  # 1 on the search path, 2 finished

    def visit(name: str) -> None:
        state[name] = 1
        for q in net.projections():
            if q.pre != name:
                continue
            if state.get(q.post) == 1:
                diag.error("E405", q.span, f"'{q.name}' closes a loop ('{q.post}' reaches "
                           f"'{q.pre}'); {profile.name} runs feed-forward layers only "
                           "(recurrent: false)", hint="remove the recurrent projection")
            elif q.post not in state:
                visit(q.post)
        state[name] = 2

    for p in net.populations():
        if p.name not in state:
            visit(p.name)


def check_weights(net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
    """W405 once per network when projections have per-synapse weights: the chip stores
    ``weight_bits``-bit integers (one scale per weight matrix), so they are rounded."""
    bits = profile.capacity.get("weight_bits")
    varied = [q for q in net.projections() if not isinstance(q.weight, Constant)]
    if bits is None or not varied:
        return
    levels = 2 ** (int(bits) - 1) - 1
    diag.warning("W405", varied[0].spans.get("weight", varied[0].span),
                 f"{len(varied)} projection(s) have per-synapse weights; {profile.name} stores "
                 f"{bits:.0f}-bit weights, so each matrix is scaled to +-{levels} and rounded",
                 notes=[f"'{q.name}'" for q in varied],
                 hint="train with the chip's quantisation (weights at most "
                      f"{levels} steps of the largest one) to keep the accuracy")
