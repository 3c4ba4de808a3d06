"""Lowering of ``target NAME { ... }`` blocks: each becomes a :class:`TargetProfile`.

A custom target starts from a built-in profile (``base``, default ``generic``), overrides
capacities and mesh figures as ``key = value`` and the learning engine in a
``learning { ... }`` section (docs/targets.md). Mistakes are E202 (an entry set twice), E212
(an unknown base) and E219 (an unknown key or section, a value of the wrong kind).

Every declared block is lowered, but its diagnostics are kept in the :class:`CustomTarget` and
reported only when the target is used (:meth:`CustomTarget.use`, called by check-target): a
block that ``--target`` replaces is not reported.
"""

from __future__ import annotations

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.frontend import ast
from snnc.frontend.evaluate import Evaluator, Symbol
from snnc.ir.target_profile import (
    CAPACITY_KEYS,
    ENGINES,
    LEARNING_KEYS,
    MESH_KEYS,
    CustomTarget,
    LearningEngine,
    TargetProfile,
    builtin_names,
    load_builtin,
)
from snnc.units import Quantity


def lower_targets(decls: dict[str, ast.TargetDecl]) -> dict[str, CustomTarget]:
    """Every custom target of the program, by name, in declaration order."""
    return {name: lower_target(decl) for name, decl in decls.items()}


def lower_target(decl: ast.TargetDecl) -> CustomTarget:
    """One block with its profile (None after errors) and its diagnostics, not yet reported."""
    sink = Diagnostics()
    profile = profile_from_decl(decl, sink)
    return CustomTarget(decl.name.text, profile, tuple(sink.items))


def profile_from_decl(decl: ast.TargetDecl, diag: Diagnostics) -> TargetProfile | None:
    """A custom target: its base profile with the block's overrides, or None after reporting
    (E202, E212, E219). Capacities replace the base's (their source becomes the setting's
    position in the program); the learning engine's settings replace the base engine's."""
    evaluator = Evaluator(diag)
    if not unique_entries(decl.body, diag):
        return None
    settings = {s.name.text: s for s in decl.body if isinstance(s, ast.Setting)}
    base_name = read_base(settings.get("base"), evaluator, diag)
    if base_name is None:
        return None
    base = load_builtin(base_name)
    capacity, mesh = dict(base.capacity), dict(base.mesh)
    ok = read_capacities(settings, capacity, mesh, evaluator, diag)
    learning = dict(base.learning.__dict__)
    for section in decl.body:
        if isinstance(section, ast.TargetSection):
            ok = read_section(section, learning, evaluator, diag) and ok
    if not ok:
        return None
    sources = dict(base.figure_sources)
    sources.update({name: str(settings[name].span) for name in settings if name != "base"})
    return TargetProfile(decl.name.text, f"custom target based on {base_name}",
                         (str(decl.span),), LearningEngine(**learning), capacity, mesh, sources,
                         dict(base.neurons), base.family)


def read_base(setting: ast.Setting | None, evaluator: Evaluator,
              diag: Diagnostics) -> str | None:
    """The base profile's name (``generic`` when the block names none), or None after E212."""
    if setting is None:
        return "generic"
    value = evaluator.evaluate(setting.value)
    if not isinstance(value, Symbol) or value.name not in builtin_names():
        diag.error("E212", setting.value.span, f"unknown base target '{getattr(value, 'name', '?')}'",
                   hint=did_you_mean(getattr(value, "name", ""), builtin_names())
                   or "bases are the built-in targets: " + ", ".join(builtin_names()))
        return None
    return value.name


def read_capacities(settings: dict[str, ast.Setting], capacity: dict, mesh: dict,
                    evaluator: Evaluator, diag: Diagnostics) -> bool:
    """Write each ``key = value`` of the block (``base`` aside) into ``capacity`` or ``mesh``.
    A capacity is a non-negative dimensionless number, a mesh figure a whole number >= 1;
    False after any E219."""
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
        elif name not in MESH_KEYS:
            capacity[name] = value.value
        elif value.value != int(value.value) or value.value < 1:
            diag.error("E219", setting.value.span, f"'{name}' must be a whole number of at "
                       "least 1")
            ok = False
        else:
            mesh[name] = int(value.value)
    return ok


def read_section(section: ast.TargetSection, learning: dict, evaluator: Evaluator,
                 diag: Diagnostics) -> bool:
    """A ``learning { ... }`` section into ``learning``; E219 for any other section name."""
    if section.name.text != "learning":
        diag.error("E219", section.name.span, f"unknown target section '{section.name.text}'",
                   hint="the only section is 'learning { ... }'")
        return False
    return unique_entries(section.body, diag) and read_learning(section, learning, evaluator,
                                                                diag)


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
    """Each ``key = value`` of a learning section into ``learning`` (the fields of
    :class:`LearningEngine`); False after any E219."""
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
        problem, hint = learning_value(key, value, learning)
        if problem is not None:
            diag.error("E219", entry.value.span, problem, hint=hint)
            ok = False
    return ok


def learning_value(key: str, value, learning: dict) -> tuple[str | None, str | None]:
    """Store the evaluated ``value`` of learning-engine setting ``key`` in ``learning``; or,
    when the value does not fit the key, (the E219 message, a hint) without storing."""
    if key == "engine":
        if not isinstance(value, Symbol) or value.name not in ENGINES:
            return ("engine must be one of " + ", ".join(ENGINES),
                    did_you_mean(getattr(value, "name", ""), ENGINES))
        learning["engine"] = value.name
    elif key == "classes":
        names = [getattr(v, "name", None) for v in getattr(value, "items", ())]
        if not names or any(n not in ("a", "b", "c", "d") for n in names):
            return "classes is a list such as [a, b]", None
        learning["classes"] = tuple(names)
    elif key == "reads_post_state":
        if not isinstance(value, Symbol) or value.name not in ("yes", "no", "as_third_factor"):
            return "reads_post_state is yes, no or as_third_factor", None
        learning[key] = {"yes": True, "no": False}.get(value.name, value.name)
    elif key in ("constant_mantissa", "constant_exponent"):
        items = getattr(value, "items", ())
        if len(items) != 2 or not all(isinstance(v, Quantity) for v in items):
            return f"{key} is a range [low, high]", None
        learning[key] = (int(items[0].value), int(items[1].value))
    elif not isinstance(value, Quantity) or value.value < 0 or value.value != int(value.value):
        return f"{key} must be a whole number", None
    else:
        learning[key] = int(value.value)
    return None, None
