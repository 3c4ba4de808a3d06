"""Binding a call of the syntax tree to the parameters of its vocabulary entry
(:class:`snnc.vocabulary.CallSpec`), with "did you mean" hints: the one place where a call's
positional and keyword arguments are matched by name."""

from __future__ import annotations

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.frontend import ast
from snnc.vocabulary import CallSpec


def bind(call: ast.Call, spec: CallSpec, diag: Diagnostics,
         what: str = "") -> dict[str, ast.Expr] | None:
    """Match a call's arguments to the spec's parameters: positional ones in order, then the
    keywords by name. Reports E208 (too many, unknown, given twice, missing) and returns None
    on error, else the arguments by parameter name (positional ones first)."""
    what = what or f"'{spec.name}'"
    bound: dict[str, ast.Expr] = {}
    ok = True
    if len(call.args) > len(spec.args):
        extra = call.args[len(spec.args)]
        diag.error("E208", extra.span, f"{what} takes at most {len(spec.args)} argument(s)",
                   hint=signature(spec))
        ok = False
    for arg, value in zip(spec.args, call.args, strict=False):
        bound[arg.name] = value
    for kw in call.kwargs:
        name = kw.name.text
        if name not in spec.arg_names:
            hint = did_you_mean(name, spec.arg_names) or signature(spec)
            diag.error("E208", kw.name.span, f"{what} has no argument '{name}'", hint=hint)
            ok = False
        elif name in bound:
            diag.error("E208", kw.name.span, f"argument '{name}' of {what} is given twice")
            ok = False
        else:
            bound[name] = kw.value
    if ok:
        missing = [a.name for a in spec.args if a.required and a.name not in bound]
        if missing:
            diag.error("E208", call.span, f"{what} needs argument '{missing[0]}'",
                       hint=signature(spec))
            ok = False
    return bound if ok else None


def signature(spec: CallSpec) -> str:
    """``usage: name(a, b=...)``: the spec's parameters, optional ones with ``=...``."""
    parts = [a.name if a.required else f"{a.name}=..." for a in spec.args]
    return f"usage: {spec.name}({', '.join(parts)})"
