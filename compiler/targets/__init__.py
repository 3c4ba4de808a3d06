"""Target profiles: what a chip's learning engine can run (and, for mapping, its capacities).

Built-in profiles are JSON files next to this module, one per chip, each with its sources.
A custom target in a ``.snn`` file starts from ``base`` (default ``generic``) and overrides
capacities as ``key = value`` and the learning engine in a ``learning { ... }`` section. A
target file (``--target chip.json``) has the built-ins' form, may name a ``base`` and then
overrides only what it states.

Learning engines: ``none`` (no on-chip learning), ``sum_of_products`` (Loihi-style: a rule is a
sum of products of pre traces, post traces, the synapse's weight/tag and constants m*2^e; a
third factor arrives through post traces), ``software`` (rules run on the cores, limited to
classes a and b), ``reference`` (the simulator: everything, non-local rules as oracles).
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.frontend import ast
from snnc.frontend.evaluate import Evaluator, Symbol
from snnc.units import Quantity

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
    #: where each figure of ``capacity`` and ``mesh`` comes from
    figure_sources: dict[str, str] = field(default_factory=dict, hash=False)


def builtin_names() -> tuple[str, ...]:
    folder = resources.files("snnc.targets")
    return tuple(sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".json")))


@functools.lru_cache(maxsize=None)
def load_builtin(name: str) -> TargetProfile:
    data = json.loads(resources.files("snnc.targets").joinpath(f"{name}.json").read_text())
    return profile_from_dict(data)


def profile_from_dict(data: dict) -> TargetProfile:
    learning = dict(data.get("learning", {"engine": "none"}))
    for key in ("classes", "constant_mantissa", "constant_exponent"):
        if learning.get(key) is not None:
            learning[key] = tuple(learning[key])
    return TargetProfile(data["name"], data.get("description", ""), tuple(data.get("sources", ())),
                         LearningEngine(**learning), dict(data.get("capacity", {})),
                         dict(data.get("mesh", {})), dict(data.get("figure_sources", {})))


TOP_KEYS = ("name", "description", "sources", "base", "learning", "capacity", "mesh",
            "figure_sources")
COUNT_KEYS = ("pre_traces", "post_traces", "third_factor_channels", "tags_per_synapse")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: the largest count a target file may give (cores, neurons, bits ...): 2^40, beyond any chip
MAX_COUNT = 1 << 40


def _count(value, low: int) -> bool:
    """Whether ``value`` is a whole number (an integer, or a float without a fraction) within
    [low, MAX_COUNT]."""
    return (_number(value) and math.isfinite(value) and value == int(value)
            and low <= value <= MAX_COUNT)


def schema_problems(data) -> list[tuple[str, str | None]]:
    """(message, hint) for every entry of a target document that breaks the schema of the
    built-in profiles: unknown keys (with a did-you-mean), wrong types, NaN or infinite
    numbers, negative capacities, mesh sizes that are not whole numbers >= 1, learning-engine
    counts that are not whole numbers >= 0. Empty when the document is valid."""
    if not isinstance(data, dict):
        return [("a target file must hold a JSON object", None)]
    problems: list[tuple[str, str | None]] = []

    def unknown(key, known, where):
        problems.append((f"unknown {where} '{key}'",
                         did_you_mean(str(key), known) or f"{where}s: " + ", ".join(known)))

    for key in data:
        if key not in TOP_KEYS:
            unknown(key, TOP_KEYS, "key")
    for key in ("name", "description", "base"):
        if key in data and not isinstance(data[key], str):
            problems.append((f"'{key}' must be a string", None))
    for key in ("sources",):
        if key in data and not (isinstance(data[key], list) and
                                all(isinstance(v, str) for v in data[key])):
            problems.append((f"'{key}' must be a list of strings", None))
    for key in ("capacity", "mesh", "learning", "figure_sources"):
        if key in data and not isinstance(data[key], dict):
            problems.append((f"'{key}' must be an object {{...}}", None))
    if isinstance(data.get("figure_sources"), dict) and not all(
            isinstance(v, str) for v in data["figure_sources"].values()):
        problems.append(("'figure_sources' maps figures to strings", None))
    for key, value in (data.get("capacity") if isinstance(data.get("capacity"), dict) else {}).items():
        if key not in CAPACITY_KEYS:
            unknown(key, CAPACITY_KEYS, "capacity entry")
        elif not _count(value, 0):
            problems.append((f"capacity '{key}' must be a whole number from 0 to {MAX_COUNT:,}, "
                             f"not {value!r}", None))
    for key, value in (data.get("mesh") if isinstance(data.get("mesh"), dict) else {}).items():
        if key not in MESH_KEYS:
            unknown(key, MESH_KEYS, "mesh entry")
        elif not _count(value, 1):
            problems.append((f"mesh '{key}' must be a whole number from 1 to {MAX_COUNT:,}, not "
                             f"{value!r}", None))
    learning = data.get("learning") if isinstance(data.get("learning"), dict) else {}
    for key, value in learning.items():
        if key not in LEARNING_KEYS:
            unknown(key, LEARNING_KEYS, "learning-engine setting")
        elif key == "engine" and value not in ENGINES:
            problems.append((f"learning engine {value!r} is not one of {', '.join(ENGINES)}",
                             did_you_mean(str(value), ENGINES)))
        elif key == "classes" and not (isinstance(value, list) and value and
                                       all(v in ("a", "b", "c", "d") for v in value)):
            problems.append(("learning 'classes' is a list such as [\"a\", \"b\"]", None))
        elif key in COUNT_KEYS and value is not None and not _count(value, 0):
            problems.append((f"learning '{key}' must be a whole number from 0 to {MAX_COUNT:,} "
                             f"or null, not {value!r}", None))
        elif key == "reads_post_state" and value not in (True, False, "as_third_factor"):
            problems.append(("learning 'reads_post_state' is true, false or "
                             "\"as_third_factor\"", None))
        elif key in ("constant_mantissa", "constant_exponent") and value is not None and not (
                isinstance(value, list) and len(value) == 2 and all(
                    _number(v) and math.isfinite(v) and v == int(v) for v in value)
                and value[0] <= value[1]):
            problems.append((f"learning '{key}' is a range [low, high] of whole numbers", None))
    return problems


def _nan(name: str) -> float:
    return float("nan")


def profile_from_file(path: str, diag: Diagnostics) -> TargetProfile | None:
    """A target from a JSON file: E601/E607/E608 when it cannot be read, E618 when it is not
    JSON or breaks the schema (:func:`schema_problems`), E212 for an unknown base."""
    from snnc.files import JSON_LIMIT, FileProblem, read_bytes
    try:
        raw = read_bytes(path, JSON_LIMIT)
    except FileProblem as problem:
        diag.error(problem.code, None, f"--target: {problem.message}",
                   hint="a target file is JSON like the built-in profiles in snnc/targets/")
        return None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_nan)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        diag.error("E618", None, f"--target: '{path}' is not JSON: {error}",
                   hint="a target file is JSON like the built-in profiles in snnc/targets/")
        return None
    problems = schema_problems(data)
    for message, hint in problems:
        diag.error("E618", None, f"--target: target file '{path}': {message}", hint=hint)
    if problems:
        return None
    base_name = data.get("base", "generic")
    if base_name not in builtin_names():
        diag.error("E212", None, f"unknown base target '{base_name}' in '{path}'",
                   hint=did_you_mean(str(base_name), builtin_names())
                   or "bases are the built-in targets: " + ", ".join(builtin_names()))
        return None
    merged = json.loads(resources.files("snnc.targets").joinpath(f"{base_name}.json").read_text())
    for section in ("capacity", "mesh", "learning"):
        merged.setdefault(section, {}).update(data.get(section, {}))
    merged["figure_sources"] = {**merged.get("figure_sources", {}), **{
        key: path for section in ("capacity", "mesh") for key in data.get(section, {})}}
    merged["name"] = data.get("name", os.path.splitext(os.path.basename(path))[0])
    merged["description"] = data.get("description", f"target file based on {base_name}")
    merged["sources"] = data.get("sources", [path])
    try:
        return profile_from_dict(merged)
    except (TypeError, ValueError) as error:
        diag.error("E618", None, f"--target: target file '{path}': {error}")
        return None


def profile_from_decl(decl: ast.TargetDecl, diag: Diagnostics) -> TargetProfile | None:
    """A custom target: its base profile with the block's overrides (E219 for bad entries)."""
    evaluator = Evaluator(diag)
    if not unique_entries(decl.body, diag):
        return None
    settings = {s.name.text: s for s in decl.body if isinstance(s, ast.Setting)}
    base_name = "generic"
    if "base" in settings:
        value = evaluator.evaluate(settings["base"].value)
        if not isinstance(value, Symbol) or value.name not in builtin_names():
            diag.error("E212", settings["base"].value.span,
                       f"unknown base target '{getattr(value, 'name', '?')}'",
                       hint=did_you_mean(getattr(value, "name", ""), builtin_names())
                       or "bases are the built-in targets: " + ", ".join(builtin_names()))
            return None
        base_name = value.name
    base = load_builtin(base_name)
    capacity = dict(base.capacity)
    mesh = dict(base.mesh)
    ok = True
    for name, setting in settings.items():
        if name == "base":
            continue
        if name not in CAPACITY_KEYS + MESH_KEYS:
            diag.error("E219", setting.name.span, f"unknown target capacity '{name}'",
                       hint=did_you_mean(name, CAPACITY_KEYS + MESH_KEYS) or "capacities: "
                       + ", ".join(CAPACITY_KEYS + MESH_KEYS))
            ok = False
            continue
        value = evaluator.evaluate(setting.value)
        if not isinstance(value, Quantity) or not value.dimensionless or value.value < 0:
            diag.error("E219", setting.value.span, f"target capacity '{name}' must be a "
                       "non-negative number")
            ok = False
            continue
        if name in MESH_KEYS:
            if value.value != int(value.value) or value.value < 1:
                diag.error("E219", setting.value.span, f"'{name}' must be a whole number of at "
                           "least 1")
                ok = False
                continue
            mesh[name] = int(value.value)
        else:
            capacity[name] = value.value
    learning = dict(base.learning.__dict__)
    for section in decl.body:
        if not isinstance(section, ast.TargetSection):
            continue
        if section.name.text != "learning":
            diag.error("E219", section.name.span, f"unknown target section '{section.name.text}'",
                       hint="the only section is 'learning { ... }'")
            ok = False
            continue
        ok = unique_entries(section.body, diag) and read_learning(section, learning, evaluator,
                                                                  diag) and ok
    if not ok:
        return None
    sources = dict(base.figure_sources)
    sources.update({name: str(settings[name].span) for name in settings if name != "base"})
    return TargetProfile(decl.name.text, f"custom target based on {base_name}",
                         (str(decl.span),), LearningEngine(**learning), capacity, mesh, sources)


def unique_entries(body, diag: Diagnostics) -> bool:
    """E202 for a setting or section written twice in a target block."""
    seen: dict[str, object] = {}
    ok = True
    for entry in body:
        name = entry.name.text
        if name in seen:
            diag.error("E202", entry.name.span, f"'{name}' is set twice in this target",
                       notes=[f"first set at {seen[name]}"])
            ok = False
        else:
            seen[name] = entry.name.span
    return ok


def read_learning(section: ast.TargetSection, learning: dict, evaluator: Evaluator,
                  diag: Diagnostics) -> bool:
    ok = True
    for entry in section.body:
        if not isinstance(entry, ast.Setting):
            diag.error("E219", entry.span, "learning sections hold 'key = value' settings")
            ok = False
            continue
        key = entry.name.text
        if key not in LEARNING_KEYS:
            diag.error("E219", entry.name.span, f"unknown learning-engine setting '{key}'",
                       hint=did_you_mean(key, LEARNING_KEYS) or ", ".join(LEARNING_KEYS))
            ok = False
            continue
        value = evaluator.evaluate(entry.value)
        if key == "engine":
            if not isinstance(value, Symbol) or value.name not in ENGINES:
                diag.error("E219", entry.value.span, "engine must be one of " + ", ".join(ENGINES),
                           hint=did_you_mean(getattr(value, "name", ""), ENGINES))
                ok = False
            else:
                learning["engine"] = value.name
        elif key == "classes":
            names = [getattr(v, "name", None) for v in getattr(value, "items", ())]
            if not names or any(n not in ("a", "b", "c", "d") for n in names):
                diag.error("E219", entry.value.span, "classes is a list such as [a, b]")
                ok = False
            else:
                learning["classes"] = tuple(names)
        elif key == "reads_post_state":
            if not isinstance(value, Symbol) or value.name not in ("yes", "no", "as_third_factor"):
                diag.error("E219", entry.value.span, "reads_post_state is yes, no or as_third_factor")
                ok = False
            else:
                learning[key] = {"yes": True, "no": False}.get(value.name, value.name)
        elif key in ("constant_mantissa", "constant_exponent"):
            items = getattr(value, "items", ())
            if len(items) != 2 or not all(isinstance(v, Quantity) for v in items):
                diag.error("E219", entry.value.span, f"{key} is a range [low, high]")
                ok = False
            else:
                learning[key] = (int(items[0].value), int(items[1].value))
        else:
            if not isinstance(value, Quantity) or value.value < 0 or value.value != int(value.value):
                diag.error("E219", entry.value.span, f"{key} must be a whole number")
                ok = False
            else:
                learning[key] = int(value.value)
    return ok
