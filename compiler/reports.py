"""Text forms of analysis results, for the CLI (``snnc check --report locality``)."""

from __future__ import annotations

from snnc.passes.check_locality import CLASS_MEANING, RuleReport, format_bytes, scaling
from snnc.targets import TargetProfile


def format_locality(reports: list[RuleReport], profile: TargetProfile | None) -> str:
    """One block per (projection, rule): class, third factors, state, compute, non-local terms."""
    if not reports:
        return "locality: no learning rules"
    target = f" (target {profile.name}, learning engine {profile.learning.engine})" if profile \
        else ""
    lines = [f"locality of learning rules{target}"]
    for report in reports:
        a = report.analysis
        lines.append("")
        lines.append(f"{report.projection}  {report.rule}  class {report.cls} "
                     f"({CLASS_MEANING[report.cls]})")
        for g in a.generators:
            lines.append(f"  third factor  {g.signal} = {g.kind} (class {g.cls}): {g.reason}")
        for index, text in enumerate(report.state_lines()):
            lines.append(f"  {'state' if index == 0 else '':<12}  {text}")
        lines.append(f"  {'total':<12}  {report.state_values:,} values, "
                     f"{format_bytes(report.state_bytes)}, {scaling(a)}; "
                     f"{report.macs_per_step:,} multiply-adds per step (worst case)")
        nonlinear = sorted(a.functions | ({"/"} if a.divides else set()))
        if nonlinear:
            lines.append(f"  {'nonlinear':<12}  {', '.join(nonlinear)} applied to variables "
                         "(not a sum of products: E307 on sum-of-products engines)")
        for term in a.terms:
            if term.tag in ("remote", "future"):
                lines.append(f"  {'non-local':<12}  {term.span}: {term.reason}")
    return "\n".join(lines)
