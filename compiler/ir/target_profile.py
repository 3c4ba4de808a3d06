"""The target profile as data: what a chip's learning engine can run and what a core holds.

A :class:`TargetProfile` is what every pass after lowering reads about a chip (check-target,
check-fit, partition, place, the reports). It lives with the IR because the network carries
the profiles of the program's own ``target { ... }`` blocks (:class:`CustomTarget`, made by
the lowering in :mod:`snnc.ir.lower_target`); :mod:`snnc.targets` re-exports every name here and
adds target files (``--target chip.json``).

Built-in profiles are the JSON files of the ``snnc.targets`` package folder
(``compiler/targets/*.json``), one per chip, each with its sources (docs/targets.md).

Learning engines: ``none`` (no on-chip learning), ``sum_of_products`` (Loihi-style: a rule is a
sum of products of pre traces, post traces, the synapse's weight/tag and constants m*2^e; a
third factor arrives through post traces), ``software`` (rules run on the cores, limited to
classes a and b), ``reference`` (the simulator: everything, non-local rules as oracles).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources

from snnc.diagnostics import Diagnostic, Diagnostics

#: the package whose folder holds the built-in profiles as ``<name>.json``
PROFILE_PACKAGE = "snnc.targets"

ENGINES = ("none", "sum_of_products", "software", "reference")
#: capacities a profile may state (docs/targets.md), per core unless named otherwise; mapping reads
#: them (snnc.mapping.capacity holds the cost model). A capacity a profile leaves out is unlimited.
CAPACITY_KEYS = ("cores", "neurons_per_core", "synapse_memory_bits_per_core", "synapses_per_core",
                 "weight_bits", "synapse_index_bits", "plastic_synapse_bits",
                 "input_axons_per_core", "output_axons_per_core", "plastic_axon_factor",
                 "routing_entries_per_chip", "destinations_per_neuron", "destinations_per_core",
                 "fan_in_per_neuron", "input_rows_per_neuron", "recurrent_targets_per_neuron",
                 "parameter_slots_per_core", "trace_bits", "trace_memory_bits_per_core",
                 "input_channels", "output_neurons", "kernel_size_max", "channels_max")
#: the mesh: ``mesh_width x mesh_height`` routers per chip with ``cores_per_router`` cores each,
#: and ``chips_x x chips_y`` chips (docs/targets.md); the first ``cores`` cores of a chip are usable
MESH_KEYS = ("mesh_width", "mesh_height", "cores_per_router", "chips_x", "chips_y")
#: what a chip's neurons are (docs/targets.md, "The neuron section"), checked by check-target:
#: ``leak`` "bit_shift" (every state decays by ``v - (v >> dash)``, ``decay_shift_min`` <= dash
#: <= ``decay_shift_max``) or "none" (integrate-and-fire); ``filtered_input`` (every input passes
#: through a synaptic current first); ``adaptation``, ``refractory`` (whether the neurons have
#: them); ``resets`` (the reset kinds); ``synaptic_states`` (synaptic currents per neuron, 0 for
#: none) and ``output_synaptic_states`` (per output neuron); state, threshold and bias widths;
#: spikes per step of hidden and output neurons and input events per channel and step;
#: ``input_expansion_neurons`` / ``output_expansion_neurons`` (hidden neurons that may receive
#: inputs / drive outputs); ``weight_shift_max`` (the largest left shift of a weight matrix);
#: ``arithmetic`` (the integer arithmetic the chip computes, one of ``ARITHMETICS``: "xylo" for
#: xylosim's, which ``snnc run --arithmetic`` and ``snnc compile --emit xylo`` follow);
#: ``separate_outputs`` (readouts are the chip's output neurons, fed by
#: hidden neurons only); ``recurrent`` (whether populations may form loops). A key left out
#: is not checked.
NEURON_KEYS = ("leak", "filtered_input", "adaptation", "refractory", "resets", "synaptic_states",
               "output_synaptic_states", "decay_shift_min", "decay_shift_max", "state_bits",
               "threshold_bits", "bias_bits", "spikes_per_step", "output_spikes_per_step",
               "input_events_per_step", "input_expansion_neurons", "output_expansion_neurons",
               "separate_outputs", "recurrent", "weight_shift_max", "arithmetic")
#: the integer arithmetics a profile's ``neurons.arithmetic`` may name
ARITHMETICS = ("xylo",)
#: the kinds of leak a profile's ``neurons.leak`` may name
LEAKS = ("bit_shift", "none")
LEARNING_KEYS = ("engine", "classes", "pre_traces", "post_traces", "third_factor_channels",
                 "tags_per_synapse", "reads_post_state", "constant_mantissa", "constant_exponent")


@dataclass(frozen=True)
class LearningEngine:
    engine: str
    classes: tuple[str, ...] = ("a", "b", "c", "d")
    pre_traces: int | None = None
    post_traces: int | None = None
    third_factor_channels: int | None = None
    tags_per_synapse: int | None = None
    reads_post_state: bool | str = True
    constant_mantissa: tuple[int, int] | None = None
    constant_exponent: tuple[int, int] | None = None


@dataclass(frozen=True)
class TargetProfile:
    name: str
    description: str
    sources: tuple[str, ...]
    learning: LearningEngine
    capacity: dict[str, float] = field(default_factory=dict, hash=False)
    mesh: dict[str, int] = field(default_factory=dict, hash=False)
    #: where each figure of ``capacity``, ``mesh`` and ``neurons`` comes from
    figure_sources: dict[str, str] = field(default_factory=dict, hash=False)
    #: what the chip's neurons are (``NEURON_KEYS``); empty: not checked
    neurons: dict[str, object] = field(default_factory=dict, hash=False)
    #: the built-in profile this one is, or is based on (a custom target's ``base``): what
    #: decides chip-specific work such as Speck's layer mapping or Xylo's Rockpool package
    family: str = ""


@dataclass(frozen=True)
class CustomTarget:
    """A ``target NAME { ... }`` block of the program, lowered.

    ``profile`` is None when the block has mistakes; ``diagnostics`` are those mistakes (or
    nothing). They are reported by :meth:`use` when the target is used (the check-target pass),
    not at lowering: a program whose target is replaced with ``--target`` is not held back by a
    block it does not use.
    """

    name: str
    profile: TargetProfile | None
    diagnostics: tuple[Diagnostic, ...] = ()

    def use(self, diag: Diagnostics) -> TargetProfile | None:
        """Report the block's diagnostics into ``diag``; the profile, or None after errors."""
        for diagnostic in self.diagnostics:
            diag.report(diagnostic)
        return self.profile


def builtin_names() -> tuple[str, ...]:
    """The names of the built-in profiles, sorted."""
    folder = resources.files(PROFILE_PACKAGE)
    return tuple(sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".json")))


def builtin_document(name: str) -> dict:
    """The JSON document of the built-in profile ``name`` (a fresh dict on each call)."""
    return json.loads(resources.files(PROFILE_PACKAGE).joinpath(f"{name}.json").read_text())


@functools.lru_cache(maxsize=None)
def load_builtin(name: str) -> TargetProfile:
    """The built-in profile ``name`` (one shared object per name)."""
    return profile_from_dict(builtin_document(name))


def profile_from_dict(data: dict) -> TargetProfile:
    """A profile from a document of the built-ins' form (no checks: see snnc.targets)."""
    learning = dict(data.get("learning", {"engine": "none"}))
    for key in ("classes", "constant_mantissa", "constant_exponent"):
        if learning.get(key) is not None:
            learning[key] = tuple(learning[key])
    return TargetProfile(data["name"], data.get("description", ""), tuple(data.get("sources", ())),
                         LearningEngine(**learning), dict(data.get("capacity", {})),
                         dict(data.get("mesh", {})), dict(data.get("figure_sources", {})),
                         dict(data.get("neurons", {})), data.get("family", data["name"]))
