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
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.ir.network import Network
from snnc.passes.check_locality import CLASS_MEANING, RuleReport
from snnc.passes.check_rule_constants import check_constants
from snnc.targets import TargetProfile, builtin_names, load_builtin, profile_from_file

LEARNING_TARGETS_HINT = "targets with on-chip learning: loihi, loihi2, spinnaker, spinnaker2, " \
                        "brainscales2"


@dataclass
class CheckTarget:
    name: str = "check-target"
    description: str = "check every learning rule against the target's learning engine"
    requires = ("check-locality",)
    target: str | None = None  # overrides the program's 'target' statement

    def run(self, net: Network, diag: Diagnostics) -> Network:
        profile = self.profile(net, diag)
        if profile is None:
            return net
        net.target = profile.name
        net.analyses[self.name] = profile
        for report in net.analyses.get("check-locality", []):
            errors = len(list(diag.errors()))
            self.check(report, profile, diag)
            if len(list(diag.errors())) == errors:  # the structure fits: now the constants
                check_constants(net, report, profile, diag)
        return net

    def profile(self, net: Network, diag: Diagnostics) -> TargetProfile | None:
        name = self.target or net.target
        if name.endswith(".json"):
            return profile_from_file(name, diag)
        if name in net.custom_targets:
            return net.custom_targets[name].use(diag)
        if name in builtin_names():
            return load_builtin(name)
        candidates = [*builtin_names(), *net.custom_targets]
        diag.error("E212", None, f"unknown target '{name}'",
                   hint=did_you_mean(name, candidates) or "targets: " + ", ".join(candidates))
        return None

    def check(self, report: RuleReport, profile: TargetProfile, diag: Diagnostics) -> None:
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
