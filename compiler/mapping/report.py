"""The mapping report: a summary for people and mapping.json for programs (and backends).

mapping.json holds the figures of the summary and every slice (population, neuron range
[start, stop), core, chip, core within the chip, mesh coordinates X, Y). Utilisation is each
core's need divided by the target's limit, as min / mean / max over the cores used. Floats are
rounded to 6 significant digits, so the same input and seed give byte-identical files.
"""

from __future__ import annotations

import json

import numpy as np

from snnc.mapping import external, metis
from snnc.mapping.capacity import NEEDS
from snnc.mapping.partition import contiguous_reference


def significant(x: float) -> float:
    return float(f"{x:.6g}")


def utilisation(part) -> dict[str, dict]:
    limits = part.model.limits()
    out = {}
    for index, need in enumerate(NEEDS):
        if not np.isfinite(limits[index]):
            continue
        used = part.best.usage[index]
        ratio = used / limits[index]
        out[need.key] = {"limit": float(limits[index]), "unit": need.unit,
                         "min": significant(ratio.min()), "mean": significant(ratio.mean()),
                         "max": significant(ratio.max()), "max_need": significant(used.max())}
    return out


def contiguous_remote(part) -> float | None:
    fill = contiguous_reference(part.candidates)
    return None if fill is None else significant(fill.remote)


def skipped(part) -> list[str]:
    """Notes on optional partitioners that neuron-level partitioning would have tried but that
    are not installed (a user's --no-kahip is a choice, not a note)."""
    methods = {c.assignment.method for c in part.candidates}
    if not methods & {"multilevel", "metis", "kahip"}:
        return []  # neuron-level partitioning did not apply
    notes = []
    if not metis.available():
        notes.append("METIS skipped: pymetis is not installed (pip install 'snnc[map]'); "
                     "the numpy multilevel partitioner ran instead")
    if not external.available():
        notes.append("KaHIP skipped: kahip is not installed (pip install 'snnc[map]')")
    return notes


def cores_used(part) -> int:
    """Cores holding neurons (Speck's layers sit on the cores sinabs picks, with gaps)."""
    if part.best.layers is not None:
        return len(part.best.layers.layers)
    return part.best.assignment.cores


def document(net, part, placed) -> dict:
    """The content of mapping.json."""
    profile = part.model.profile
    slots = placed.placement.slots[placed.placement.slot_of]
    slices = [{"population": s.population, "start": s.start, "stop": s.stop, "core": s.core,
               "chip": int(slots[s.core, 0]), "core_in_chip": int(slots[s.core, 1]),
               "x": int(slots[s.core, 2]), "y": int(slots[s.core, 3])}
              for s in part.best.assignment.slices()]
    return {
        "network": net.settings.name,
        "target": profile.name,
        "seed": net.settings.seed,
        "rates": part.rates_from,
        "partition": part.best.assignment.method,
        "placement": placed.placement.method,
        "cores_used": cores_used(part),
        "cores_available": placed.mesh.total,
        "chips_used": int(slots[:, 0].max()) + 1 if len(slots) else 0,
        "remote_packets_per_step": significant(part.best.remote),
        "contiguous_fill_remote_packets_per_step": contiguous_remote(part),
        "hop_weighted_traffic_per_step": significant(placed.placement.hop_traffic),
        "raster_order_hop_weighted_traffic_per_step": significant(placed.baseline.hop_traffic),
        "max_link_load_per_step": significant(placed.max_link_load),
        "routing_entries_per_chip_max": int(placed.routing_entries.max(initial=0)),
        "routing_entries_per_chip_limit": profile.capacity.get("routing_entries_per_chip"),
        "utilisation": utilisation(part),
        "candidates": [{"method": c.assignment.method, "cores": c.assignment.cores,
                        "feasible": c.feasible, "remote_packets_per_step": significant(c.remote)}
                       for c in part.candidates],
        "notes": skipped(part),
        **({"layers": part.best.layers.as_list()} if part.best.layers is not None else {}),
        "slices": slices,
    }


def to_json(doc: dict) -> str:
    return json.dumps(doc, indent=2) + "\n"


def summary(path: str, doc: dict) -> str:
    """One screen of text for ``snnc map``."""
    def number(x):
        if x is None:
            return "-"
        return f"{x:,.0f}" if abs(x) >= 1e5 else f"{x:,.6g}"
    lines = [
        f"{path} on {doc['target']}: {doc['cores_used']:,} of {doc['cores_available']:,} cores "
        f"({doc['chips_used']} chip{'s' * (doc['chips_used'] != 1)}), partition "
        f"{doc['partition']}, placement {doc['placement']}",
        f"  rates                          {doc['rates']}",
        f"  remote packets / step          {number(doc['remote_packets_per_step'])}"
        f"   (contiguous fill: {number(doc['contiguous_fill_remote_packets_per_step'])})",
        f"  hop-weighted traffic / step    {number(doc['hop_weighted_traffic_per_step'])}"
        f"   (raster placement: {number(doc['raster_order_hop_weighted_traffic_per_step'])})",
        f"  max link load / step           {number(doc['max_link_load_per_step'])}",
    ]
    limit = doc["routing_entries_per_chip_limit"]
    lines.append(f"  routing entries / chip (max)   {doc['routing_entries_per_chip_max']:,}"
                 + (f"   (limit {limit:,.0f})" if limit is not None else ""))
    lines += ["", f"  {'capacity per core':<32} {'limit':>12} {'min':>7} {'mean':>7} {'max':>7}"]
    for u in doc["utilisation"].values():
        lines.append(f"  {u['unit']:<32} {u['limit']:>12,.0f} {u['min']:>7.1%} {u['mean']:>7.1%} "
                     f"{u['max']:>7.1%}")
    lines += layer_lines(doc.get("layers", []))
    lines += [f"  note: {note}" for note in doc.get("notes", [])]
    return "\n".join(lines)


def layer_lines(layers: list[dict]) -> list[str]:
    """Speck: each layer's core and its kernel / neuron / bias memory against the core's."""
    if not layers:
        return []
    lines = ["", f"  {'layer':<16} {'core':>4} {'kernel memory':>17} {'neuron memory':>17} "
                 f"{'bias':>11}"]
    for row in layers:
        cells = [f"{row[f'{m}_memory']:,} / {row[f'core_{m}_memory']:,}"
                 for m in ("kernel", "neuron", "bias")]
        lines.append(f"  {row['layer']:<16} {row['core']:>4} {cells[0]:>17} {cells[1]:>17} "
                     f"{cells[2]:>11}")
    return lines
