"""The mesh as a PNG: each used core coloured by its utilisation (its largest need divided by
the limit), the routers of the used chips as a grid, and the heaviest directed links (XY
routing loads) drawn as arrows whose width grows with the load. Needs matplotlib (extra 'plot').
"""

from __future__ import annotations

import io
import math

import numpy as np

from snnc.output import PNG_METADATA

HEAVIEST_LINKS = 24
STEPS = {"east": (1, 0), "west": (-1, 0), "north": (0, 1), "south": (0, -1)}


def core_utilisation(part) -> np.ndarray:
    limits = part.model.limits()
    finite = np.isfinite(limits)
    return (part.best.usage[finite] / limits[finite, None]).max(axis=0)


def heaviest_links(loads: dict[str, np.ndarray], count: int) -> list[tuple[float, int, int, str]]:
    """(load, X, Y, direction) of the ``count`` most loaded directed links."""
    links = []
    for direction, grid in loads.items():
        rows, cols = np.nonzero(grid > 0)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            x, y = (c, r) if direction in ("east", "west") else (r, c)
            if direction == "west":
                x += 1
            if direction == "south":
                y += 1
            links.append((float(grid[r, c]), x, y, direction))
    return sorted(links, key=lambda link: (-link[0], link[1:]))[:count]


def draw(part, placed, title: str) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    slots = placed.placement.slots
    used = slots[placed.placement.slot_of]
    per_router = placed.mesh.cores_per_router
    side = math.ceil(math.sqrt(per_router))
    fig, ax = plt.subplots(figsize=(8, 8))
    routers = sorted({(int(a), int(b)) for a, b in slots[:, 2:4]})
    ax.add_collection(PatchCollection([Rectangle((x - 0.5, y - 0.5), 1, 1) for x, y in routers],
                                      facecolor="none", edgecolor="0.7", linewidth=0.3))
    colours = plt.get_cmap("viridis")
    local = used[:, 1] % per_router
    size = 0.9 / side
    left = used[:, 2] + (local % side + 0.5) / side - 0.5 - size / 2
    bottom = used[:, 3] + (local // side + 0.5) / side - 0.5 - size / 2
    ax.add_collection(PatchCollection(
        [Rectangle((a, b), size, size) for a, b in zip(left.tolist(), bottom.tolist(), strict=True)],
        facecolor=colours(np.minimum(core_utilisation(part), 1.0)), edgecolor="none"))
    links = heaviest_links(placed.loads, HEAVIEST_LINKS)
    top = links[0][0] if links else 1.0
    for load, x, y, direction in links:
        sx, sy = STEPS[direction]
        ax.annotate("", xy=(x + 0.8 * sx, y + 0.8 * sy), xytext=(x + 0.2 * sx, y + 0.2 * sy),
                    arrowprops={"arrowstyle": "->", "color": "crimson",
                                "lw": 0.5 + 3.5 * load / top})
    ax.set_xlim(slots[:, 2].min() - 0.7, slots[:, 2].max() + 0.7)
    ax.set_ylim(slots[:, 3].min() - 0.7, slots[:, 3].max() + 0.7)
    ax.set_aspect("equal")
    ax.set_xlabel("X (routers)")
    ax.set_ylabel("Y (routers)")
    ax.set_title(title, fontsize=9)
    bar = fig.colorbar(plt.cm.ScalarMappable(cmap=colours, norm=plt.Normalize(0, 1)), ax=ax,
                       fraction=0.046)
    bar.set_label("core utilisation (largest need / limit)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
    plt.close(fig)
    return buffer.getvalue()
