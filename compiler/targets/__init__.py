"""Target profiles: what a chip's learning engine can run (and, for mapping, its capacities).

Built-in profiles are JSON files next to this module, one per chip, each with its sources.
The profile as data (:class:`TargetProfile`, :class:`LearningEngine`, the keys a profile may
state, the built-ins) is :mod:`snnc.ir.target_profile`, re-exported here. A custom target in a
``.snn`` file (``target NAME { ... }``) becomes a profile during lowering
(:mod:`snnc.ir.lower_target`). A target file (``--target chip.json``, :func:`profile_from_file`)
has the built-ins' form, may name a ``base`` and then overrides only what it states.

Learning engines: ``none`` (no on-chip learning), ``sum_of_products`` (Loihi-style: a rule is a
sum of products of pre traces, post traces, the synapse's weight/tag and constants m*2^e; a
third factor arrives through post traces), ``software`` (rules run on the cores, limited to
classes a and b), ``reference`` (the simulator: everything, non-local rules as oracles).
"""

from __future__ import annotations

import json
import math
import os

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.ir.target_profile import (
    ARITHMETICS,
    CAPACITY_KEYS,
    ENGINES,
    LEAKS,
    LEARNING_KEYS,
    MESH_KEYS,
    NEURON_KEYS,
    LearningEngine,
    TargetProfile,
    builtin_document,
    builtin_names,
    load_builtin,
    profile_from_dict,
)

__all__ = ["CAPACITY_KEYS", "COUNT_KEYS", "ENGINES", "LEARNING_KEYS", "MAX_COUNT", "MESH_KEYS",
           "NEURON_KEYS", "TOP_KEYS", "LearningEngine", "TargetProfile", "builtin_names", "load_builtin",
           "profile_from_dict", "profile_from_file", "schema_problems"]

TOP_KEYS = ("name", "description", "sources", "base", "learning", "capacity", "mesh",
            "neurons", "figure_sources")
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


#: a problem of a target document: (message, hint or None)
Problem = tuple[str, str | None]


def schema_problems(data) -> list[Problem]:
    """(message, hint) for every entry of a target document that breaks the schema of the
    built-in profiles: unknown keys (with a did-you-mean), wrong types, NaN or infinite
    numbers, negative capacities, mesh sizes that are not whole numbers >= 1, neuron facts of
    the wrong kind, learning-engine counts that are not whole numbers >= 0. Empty when the
    document is valid. Problems come in document order: the top level, then capacity, mesh,
    neurons and learning."""
    if not isinstance(data, dict):
        return [("a target file must hold a JSON object", None)]
    learning = data.get("learning") if isinstance(data.get("learning"), dict) else {}
    neurons = data.get("neurons") if isinstance(data.get("neurons"), dict) else {}
    return [*_top_problems(data), *_figure_problems(data),
            *(problem for key, value in neurons.items()
              if (problem := _neuron_problem(key, value)) is not None),
            *(problem for key, value in learning.items()
              if (problem := _learning_problem(key, value)) is not None)]


def _unknown(key, known: tuple[str, ...], where: str) -> Problem:
    return (f"unknown {where} '{key}'",
            did_you_mean(str(key), known) or f"{where}s: " + ", ".join(known))


def _top_problems(data: dict) -> list[Problem]:
    """Unknown top-level keys and top-level entries of the wrong type."""
    problems = [_unknown(key, TOP_KEYS, "key") for key in data if key not in TOP_KEYS]
    for key in ("name", "description", "base"):
        if key in data and not isinstance(data[key], str):
            problems.append((f"'{key}' must be a string", None))
    for key in ("sources",):
        if key in data and not (isinstance(data[key], list) and
                                all(isinstance(v, str) for v in data[key])):
            problems.append((f"'{key}' must be a list of strings", None))
    for key in ("capacity", "mesh", "neurons", "learning", "figure_sources"):
        if key in data and not isinstance(data[key], dict):
            problems.append((f"'{key}' must be an object {{...}}", None))
    if isinstance(data.get("figure_sources"), dict) and not all(
            isinstance(v, str) for v in data["figure_sources"].values()):
        problems.append(("'figure_sources' maps figures to strings", None))
    return problems


def _figure_problems(data: dict) -> list[Problem]:
    """Unknown capacity and mesh entries, capacities that are not whole numbers in
    [0, MAX_COUNT] and mesh figures that are not whole numbers in [1, MAX_COUNT]."""
    problems = []
    for key, value in (data.get("capacity") if isinstance(data.get("capacity"), dict) else {}).items():
        if key not in CAPACITY_KEYS:
            problems.append(_unknown(key, CAPACITY_KEYS, "capacity entry"))
        elif not _count(value, 0):
            problems.append((f"capacity '{key}' must be a whole number from 0 to {MAX_COUNT:,}, "
                             f"not {value!r}", None))
    for key, value in (data.get("mesh") if isinstance(data.get("mesh"), dict) else {}).items():
        if key not in MESH_KEYS:
            problems.append(_unknown(key, MESH_KEYS, "mesh entry"))
        elif not _count(value, 1):
            problems.append((f"mesh '{key}' must be a whole number from 1 to {MAX_COUNT:,}, not "
                             f"{value!r}", None))
    return problems


#: neuron facts that are true or false, and those that are whole numbers >= 0
NEURON_FLAGS = ("filtered_input", "adaptation", "refractory", "separate_outputs", "recurrent")
NEURON_COUNTS = tuple(key for key in NEURON_KEYS
                      if key not in (*NEURON_FLAGS, "leak", "resets", "arithmetic"))


def _neuron_problem(key, value) -> Problem | None:
    """What is wrong with one entry of the ``neurons`` section, or None when it fits."""
    from snnc.models import RESETS
    if key not in NEURON_KEYS:
        return _unknown(key, NEURON_KEYS, "neurons entry")
    if key == "leak" and value not in LEAKS:
        return (f"neurons 'leak' is one of {', '.join(LEAKS)}, not {value!r}",
                did_you_mean(str(value), LEAKS))
    if key == "arithmetic" and value not in ARITHMETICS:
        return (f"neurons 'arithmetic' is one of {', '.join(ARITHMETICS)}, not {value!r}",
                did_you_mean(str(value), ARITHMETICS))
    if key in NEURON_FLAGS and not isinstance(value, bool):
        return f"neurons '{key}' is true or false, not {value!r}", None
    if key == "resets" and not (isinstance(value, list) and value and
                                all(v in RESETS for v in value)):
        return f"neurons 'resets' is a list of reset kinds ({', '.join(RESETS)})", None
    if key in NEURON_COUNTS and not _count(value, 0):
        return (f"neurons '{key}' must be a whole number from 0 to {MAX_COUNT:,}, "
                f"not {value!r}", None)
    return None


def _learning_problem(key, value) -> Problem | None:
    """What is wrong with one learning-engine entry, or None when it fits the schema."""
    if key not in LEARNING_KEYS:
        return _unknown(key, LEARNING_KEYS, "learning-engine setting")
    if key == "engine" and value not in ENGINES:
        return (f"learning engine {value!r} is not one of {', '.join(ENGINES)}",
                did_you_mean(str(value), ENGINES))
    if key == "classes" and not (isinstance(value, list) and value and
                                 all(v in ("a", "b", "c", "d") for v in value)):
        return "learning 'classes' is a list such as [\"a\", \"b\"]", None
    if key in COUNT_KEYS and value is not None and not _count(value, 0):
        return (f"learning '{key}' must be a whole number from 0 to {MAX_COUNT:,} "
                f"or null, not {value!r}", None)
    if key == "reads_post_state" and value not in (True, False, "as_third_factor"):
        return "learning 'reads_post_state' is true, false or \"as_third_factor\"", None
    if key in ("constant_mantissa", "constant_exponent") and value is not None and not (
            isinstance(value, list) and len(value) == 2 and all(
                _number(v) and math.isfinite(v) and v == int(v) for v in value)
            and value[0] <= value[1]):
        return f"learning '{key}' is a range [low, high] of whole numbers", None
    return None


def _nan(name: str) -> float:
    return float("nan")


def profile_from_file(path: str, diag: Diagnostics, option: str = "--target"
                      ) -> TargetProfile | None:
    """A target from a JSON file: E601/E607/E608 when it cannot be read, E618 when it is not
    JSON or breaks the schema (:func:`schema_problems`), E212 for an unknown base; the
    diagnostics name ``option``, the one that gave the file."""
    from snnc.files import JSON_LIMIT, FileProblem, read_bytes
    try:
        raw = read_bytes(path, JSON_LIMIT)
    except FileProblem as problem:
        diag.error(problem.code, None, f"{option}: {problem.message}",
                   hint="a target file is JSON like the built-in profiles in snnc/targets/")
        return None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_nan)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        diag.error("E618", None, f"{option}: '{path}' is not JSON: {error}",
                   hint="a target file is JSON like the built-in profiles in snnc/targets/")
        return None
    problems = schema_problems(data)
    for message, hint in problems:
        diag.error("E618", None, f"{option}: target file '{path}': {message}", hint=hint)
    if problems:
        return None
    base_name = data.get("base", "generic")
    if base_name not in builtin_names():
        diag.error("E212", None, f"unknown base target '{base_name}' in '{path}'",
                   hint=did_you_mean(str(base_name), builtin_names())
                   or "bases are the built-in targets: " + ", ".join(builtin_names()))
        return None
    merged = builtin_document(base_name)
    for section in ("capacity", "mesh", "neurons", "learning"):
        merged.setdefault(section, {}).update(data.get(section, {}))
    merged["figure_sources"] = {**merged.get("figure_sources", {}), **{
        key: path for section in ("capacity", "mesh", "neurons") for key in data.get(section, {})}}
    merged["name"] = data.get("name", os.path.splitext(os.path.basename(path))[0])
    merged["description"] = data.get("description", f"target file based on {base_name}")
    merged["sources"] = data.get("sources", [path])
    merged["family"] = base_name
    try:
        return profile_from_dict(merged)
    except (TypeError, ValueError) as error:
        diag.error("E618", None, f"{option}: target file '{path}': {error}")
        return None
