"""Does the network fit the target at all? Cheap checks from counts, no synapse materialised.

- E401  one neuron alone needs more than a core offers (synapses, synapse memory, distinct
        input axons, trace memory) or than a neuron may have (fan-in); the fix is named;
- E402  even perfectly packed, the network needs more cores than the target has:
        cores >= max over additive needs of (network total / per-core limit);
- E405  an interface limit: input channels, output neurons, kernel size, channels, recurrent
        targets per neuron;
- Speck: its layers and their assignment to cores as sinabs computes them
  (:func:`snnc.mapping.speck.check`: E401-E405, E408), which ``snnc map`` then uses.

Partitioning (``snnc map``) finds the exact core count; see :mod:`snnc.mapping`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.ir.nodes import Population, Projection
from snnc.targets import TargetProfile

if TYPE_CHECKING:  # snnc.mapping (with numpy) is imported only for a target with capacities
    from snnc.mapping.capacity import CostModel

#: per-neuron needs: (profile limit, what, per core?)
NEURON_LIMITS = (
    ("fan_in_per_neuron", "synapses onto one neuron", False),
    ("input_rows_per_neuron", "synapse rows for one neuron", False),
    ("synapses_per_core", "synapses", True),
    ("synapse_memory_bits_per_core", "bits of synapse memory", True),
    ("input_axons_per_core", "distinct input axons", True),
    ("trace_memory_bits_per_core", "bits of learning-trace memory", True),
)


def fan_out(net: Network, p: Projection) -> int:
    """The most synapses from one pre neuron of a projection."""
    c, n_post = p.connectivity, net.node(p.post).size
    if c.kind == "dense":
        return n_post
    if c.kind == "one_to_one":
        return 1
    if c.kind in ("sparse", "fixed_fan_in"):
        return math.ceil((c.p if c.kind == "sparse" else c.k / net.node(p.pre).size) * n_post)
    if c.kind in ("conv2d", "sumpool2d"):
        return c.kernel ** 2 * (c.channels if c.kind == "conv2d" else 1)
    return int((c.file.load().reshape(n_post, -1) != 0).sum(axis=0).max(initial=0))


@dataclass
class CheckFit:
    name: str = "check-fit"
    description: str = "check that each neuron fits a core of the target and the cores suffice"
    requires = ("check-shapes", "check-target")

    def run(self, net: Network, diag: Diagnostics) -> Network:
        profile = net.analyses.get("check-target")
        if not isinstance(profile, TargetProfile) or not profile.capacity:
            return net
        from snnc.mapping import speck
        if speck.applies(profile):  # Speck's cores take whole layers, assigned as sinabs does
            self.check_interface(net, profile, diag)
            if not diag.has_errors:
                speck.check(net, diag, speck.core_memory(profile))
            return net
        from snnc.mapping.capacity import CostModel
        from snnc.mapping.graph import learning_items
        model = CostModel(profile)
        items = learning_items(net)
        for population in net.populations():
            self.check_neuron(net, population, model, items, diag)
        self.check_interface(net, profile, diag)
        if not diag.has_errors:
            self.check_cores(net, model, items, diag)
        return net

    def check_neuron(self, net: Network, population: Population, model: CostModel,
                     items: dict, diag: Diagnostics) -> None:
        target = model.profile.name
        rows = []
        for p in net.incoming(population.name):
            fan_in = p.connectivity.max_fan_in(net.node(p.pre).shape, population.shape)
            pre, post, per_synapse = items.get(p.name, (0, 0, 0))
            plastic = bool(p.rules)
            rows.append((p, fan_in, plastic, {
                "fan_in_per_neuron": fan_in, "input_rows_per_neuron": fan_in,
                "synapses_per_core": fan_in,
                "synapse_memory_bits_per_core": fan_in * model.synapse_bits(plastic, per_synapse),
                "input_axons_per_core": fan_in * (model.figure("plastic_axon_factor")
                                                  if plastic else 1),
                "trace_memory_bits_per_core": (fan_in * pre + post) * model.figure("trace_bits"),
            }))
        if not rows:
            return
        for key, what, per_core in NEURON_LIMITS:
            limit = model.profile.capacity.get(key)
            need = sum(row[3][key] for row in rows)
            if limit is None or need <= limit:
                continue
            biggest = max(rows, key=lambda row: row[3][key])
            where = " per core for a single neuron" if per_core else ""
            notes = [f"'{p.name}' ({p.connectivity.describe()}): fan-in {fan_in:,}"
                     + (", plastic" if plastic else "") for p, fan_in, plastic, _ in rows]
            doubles = ""
            if key == "input_axons_per_core" and any(row[2] for row in rows):
                factor = model.figure("plastic_axon_factor")
                doubles = f"a plastic projection uses {factor:g} axon slots per axon; "
            diag.error("E401", biggest[0].span,
                       f"population '{population.name}' needs {need:,.0f} {what}{where} but "
                       f"{target} allows {limit:,.0f}", notes=notes,
                       hint=f"{doubles}split '{biggest[0].name}' or reduce its fan-in "
                            f"(now {biggest[1]:,})")

    def check_interface(self, net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
        cap = profile.capacity
        check_input_channels(net, profile, diag)
        check_output_neurons(net, profile, diag)
        for p in net.projections():
            c = p.connectivity
            if "kernel_size_max" in cap and c.kind in ("conv2d", "sumpool2d") and \
                    c.kernel > cap["kernel_size_max"]:
                diag.error("E405", p.span, f"'{p.name}' has a {c.kernel} x {c.kernel} kernel but "
                           f"{profile.name} allows {cap['kernel_size_max']:,.0f}",
                           hint="use smaller kernels (stack two convolutions)")
            channels = net.node(p.post).shape[0] if c.kind in ("conv2d", "sumpool2d") else 0
            if "channels_max" in cap and channels > cap["channels_max"]:
                diag.error("E405", p.span, f"'{p.name}' has {channels:,} channels but "
                           f"{profile.name} allows {cap['channels_max']:,.0f}",
                           hint="use fewer channels")
            limit = cap.get("recurrent_targets_per_neuron")
            if limit is not None and p.pre == p.post and fan_out(net, p) > limit:
                diag.error("E405", p.span, f"a neuron of '{p.pre}' reaches {fan_out(net, p):,} "
                           f"neurons through the recurrent '{p.name}' but {profile.name} allows "
                           f"{limit:,.0f} recurrent targets per neuron",
                           hint="make the recurrence sparser, e.g. fixed_fan_in")

    def check_cores(self, net: Network, model: CostModel, items: dict,
                    diag: Diagnostics) -> None:
        from snnc.mapping.place import Mesh
        cap = model.profile.capacity
        cores = Mesh.of(model.profile).total
        totals = {"neurons_per_core": (net.neuron_count, "neurons"), "synapses_per_core":
                  (sum(net.synapse_count(p) for p in net.projections()), "synapses"),
                  "synapse_memory_bits_per_core": (sum(
                      net.synapse_count(p) * model.synapse_bits(bool(p.rules),
                                                                items.get(p.name, (0, 0, 0))[2])
                      for p in net.projections()), "bits of synapse memory")}
        for key, (total, what) in totals.items():
            if key not in cap or not cap[key]:
                continue
            needed = math.ceil(total / cap[key])
            if needed > cores:
                largest = max(net.populations(), key=lambda p: p.size)
                diag.error("E402", largest.span, f"the network needs at least {needed:,} cores "
                           f"for its {total:,.0f} {what} ({cap[key]:,.0f} per core) but "
                           f"{model.profile.name} has {cores:,.0f}",
                           hint="map onto more chips (a custom target with larger chips_x "
                                "and chips_y), or shrink the network")
                return


def check_input_channels(net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
    """E405 when the network's inputs have more channels than the chip takes (also run by
    check-target for chips with a neurons section, beside their other layout checks)."""
    inputs = net.inputs()
    channels = sum(i.size for i in inputs)
    limit = profile.capacity.get("input_channels")
    if limit is not None and channels > limit and inputs:
        diag.error("E405", inputs[0].span, f"the network has {channels:,} input channels "
                   f"but {profile.name} takes {limit:,.0f}",
                   hint="reduce the input size, for example by pooling before the chip")


def check_output_neurons(net: Network, profile: TargetProfile, diag: Diagnostics) -> None:
    """E405 when the network's readouts have more neurons than the chip's outputs."""
    readouts = [p for p in net.populations() if p.readout]
    outputs = sum(p.size for p in readouts)
    limit = profile.capacity.get("output_neurons")
    if limit is not None and outputs > limit:
        diag.error("E405", readouts[0].span, f"the network has {outputs:,} output neurons "
                   f"but {profile.name} has {limit:,.0f}", hint="use fewer readout neurons")
