"""Placement: cores onto the target's mesh, XY routing, link loads and routing entries.

The mesh (:data:`snnc.targets.MESH_KEYS`): chips on a ``chips_x x chips_y`` grid, each a
``mesh_width x mesh_height`` grid of routers with ``cores_per_router`` cores; the first
``cores`` cores of a chip are usable, in raster order. A core's router sits at global
coordinates (X, Y) = (chip_x * mesh_width + x, chip_y * mesh_height + y), and a packet from
router (X1, Y1) to (X2, Y2) takes d = |X1 - X2| + |Y1 - Y2| hops (cores on one router: 0).

With T[a, b] the packets per step from core a to core b and S(a) the slot of core a:

    hop-weighted traffic = sum_{a, b} T[a, b] * d(S(a), S(b))

XY routing (dimension order): a packet first travels along X in its source row, then along Y
in its destination column. A directed link's load is the sum of T over the routes that use it;
the max link load (packets per step) measures congestion. A chip's routing entries are the
distinct source cores whose packets pass through or end at one of its routers.

The placer starts from raster order (core k on slot k, the baseline) and from a serpentine
order, and improves each by steepest-descent pair swaps (empty slots take part as cores without
traffic): swapping a and b changes the cost by

    G[a, S(b)] - G[a, S(a)] + G[b, S(a)] - G[b, S(b)] + 2 W[a, b] d(S(a), S(b)),
    W = T + T^T,  G[c, s] = sum_e W[c, e] d(s, S(e))

The search runs while the mesh has at most ``SEARCH_MAX_SLOTS`` slots (its cost grows about
with the cube of the slots). Larger meshes are placed chip by chip: cores fill chips in raster
order, and the same swaps move whole chips (traffic summed per chip pair, distances between chip
centres), keeping the order inside each chip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.mapping.arrays import distinct

SEARCH_MAX_SLOTS = 512
MAX_SWAPS_PER_SLOT = 20


@dataclass(frozen=True)
class Mesh:
    width: int
    height: int
    cores_per_router: int
    chips_x: int
    chips_y: int
    cores_per_chip: int

    @classmethod
    def of(cls, profile) -> Mesh:
        m = profile.mesh
        cores = int(profile.capacity.get("cores", 1))
        return cls(m.get("mesh_width", cores), m.get("mesh_height", 1), m.get("cores_per_router", 1),
                   m.get("chips_x", 1), m.get("chips_y", 1), cores)

    @property
    def chips(self) -> int:
        return self.chips_x * self.chips_y

    @property
    def usable_per_chip(self) -> int:
        return min(self.cores_per_chip, self.width * self.height * self.cores_per_router)

    @property
    def total(self) -> int:
        """Usable cores on all chips."""
        return self.chips * self.usable_per_chip

    def slots(self, chips: int) -> np.ndarray:
        """[chips * usable cores, 4]: chip, core in chip, X, Y of every usable slot."""
        local = np.arange(self.usable_per_chip)
        router = local // self.cores_per_router
        x, y = router % self.width, router // self.width
        rows = []
        for chip in range(chips):
            cx, cy = chip % self.chips_x, chip // self.chips_x
            rows.append(np.stack([np.full_like(local, chip), local, cx * self.width + x,
                                  cy * self.height + y], axis=1))
        return np.concatenate(rows)


@dataclass
class Placement:
    slot_of: np.ndarray    # [K] slot of each core
    slots: np.ndarray      # [S, 4] chip, core in chip, X, Y
    hop_traffic: float
    method: str

    def coords(self) -> np.ndarray:
        return self.slots[self.slot_of][:, 2:4]


def distances(slots: np.ndarray) -> np.ndarray:
    xy = slots[:, 2:4]
    return np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2).astype(np.float64)


def hop_traffic(t: np.ndarray, slots: np.ndarray, slot_of: np.ndarray) -> float:
    xy = slots[slot_of, 2:4]
    src, dst = np.nonzero(t)
    return float(np.dot(t[src, dst], np.abs(xy[src] - xy[dst]).sum(axis=1)))


def serpentine(slots: np.ndarray) -> np.ndarray:
    """Slots ordered row by row, every other row reversed (consecutive slots are neighbours)."""
    x, y = slots[:, 2], slots[:, 3]
    return np.lexsort((np.where(y % 2 == 0, x, -x), y))


def descend(w: np.ndarray, d: np.ndarray, slot_of: np.ndarray) -> np.ndarray:
    """Steepest-descent pair swaps over all S slots (``w`` is [S, S], padded with zeros)."""
    s = len(slot_of)
    slot_of = slot_of.copy()
    g = w @ d[slot_of, :]
    for _ in range(MAX_SWAPS_PER_SLOT * s):
        gp = g[:, slot_of]
        own = np.diagonal(gp)
        delta = gp - own[:, None] + gp.T - own[None, :] + 2 * w * d[np.ix_(slot_of, slot_of)]
        a, b = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[a, b] > -1e-12:
            break
        old_a, old_b = slot_of[a], slot_of[b]
        g += np.outer(w[:, a], d[old_b] - d[old_a]) + np.outer(w[:, b], d[old_a] - d[old_b])
        slot_of[a], slot_of[b] = old_b, old_a
    return slot_of


def place(t: np.ndarray, mesh: Mesh) -> tuple[Placement, Placement]:
    """(the kept placement, the raster-order baseline) for the traffic matrix ``t`` [K, K]."""
    k = t.shape[0]
    chips = -(-k // mesh.usable_per_chip)
    slots = mesh.slots(chips)
    raster = np.arange(k)
    baseline = Placement(raster, slots, hop_traffic(t, slots, raster), "raster")
    if k < 2:
        return baseline, baseline
    if len(slots) > SEARCH_MAX_SLOTS:
        candidates = [("chip swaps", chip_swaps(t, mesh, chips, slots))]
    else:
        d = distances(slots)
        w = np.zeros((len(slots), len(slots)))
        w[:k, :k] = t + t.T
        candidates = [(name, descend(w, d, start)[:k]) for name, start in (
            ("raster+swaps", np.arange(len(slots))), ("serpentine+swaps", serpentine(slots)))]
    best = baseline
    for name, slot_of in candidates:
        cost = hop_traffic(t, slots, slot_of)
        if cost < best.hop_traffic - 1e-12:
            best = Placement(slot_of, slots, cost, name)
    return best, baseline


def chip_swaps(t: np.ndarray, mesh: Mesh, chips: int, slots: np.ndarray) -> np.ndarray:
    """Slots after swapping whole chips (cores fill chips in raster order)."""
    k, per = t.shape[0], mesh.usable_per_chip
    chip = np.arange(k) // per
    src, dst = np.nonzero(t)
    between = np.bincount(chip[src] * chips + chip[dst], weights=t[src, dst],
                          minlength=chips * chips).reshape(chips, chips)
    centres = np.zeros((chips, 4))
    centres[:, 2] = np.arange(chips) % mesh.chips_x * mesh.width
    centres[:, 3] = np.arange(chips) // mesh.chips_x * mesh.height
    chip_slot = descend(between + between.T, distances(centres), np.arange(chips))
    return chip_slot[chip] * per + np.arange(k) % per


def routes(source: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Every node on the XY route from ``start[n]`` to ``end[n]`` ([n, 2] grid coordinates),
    labelled with ``source[n]``: (source, X, Y)."""
    x1, y1, x2, y2 = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    nx, ny = np.abs(x2 - x1) + 1, np.abs(y2 - y1)
    sx, sy = np.sign(x2 - x1), np.sign(y2 - y1)
    step_x = np.arange(nx.sum()) - np.repeat(np.cumsum(nx) - nx, nx)
    step_y = np.arange(ny.sum()) - np.repeat(np.cumsum(ny) - ny, ny) + 1
    labels = np.concatenate([np.repeat(source, nx), np.repeat(source, ny)])
    xs = np.concatenate([np.repeat(x1, nx) + np.repeat(sx, nx) * step_x, np.repeat(x2, ny)])
    ys = np.concatenate([np.repeat(y1, nx), np.repeat(y1, ny) + np.repeat(sy, ny) * step_y])
    return labels, xs, ys


def link_loads(t: np.ndarray, placement: Placement) -> dict[str, np.ndarray]:
    """Load of every directed link under XY routing: 'east'[Y, X] is the link (X, Y) -> (X+1, Y),
    'west'[Y, X] the link (X+1, Y) -> (X, Y), 'north'[X, Y] (X, Y) -> (X, Y+1), 'south' back."""
    xy = placement.slots[:, 2:4]
    gx, gy = int(xy[:, 0].max()) + 2, int(xy[:, 1].max()) + 2
    loads = {"east": np.zeros((gy, gx)), "west": np.zeros((gy, gx)),
             "north": np.zeros((gx, gy)), "south": np.zeros((gx, gy))}
    src, dst = np.nonzero(t)
    w = t[src, dst]
    c = placement.coords()
    x1, y1, x2, y2 = c[src, 0], c[src, 1], c[dst, 0], c[dst, 1]
    for name, row, low, high, pick in (("east", y1, x1, x2, x2 > x1), ("west", y1, x2, x1, x2 < x1),
                                       ("north", x2, y1, y2, y2 > y1), ("south", x2, y2, y1, y2 < y1)):
        diff = loads[name]
        np.add.at(diff, (row[pick], low[pick]), w[pick])
        np.add.at(diff, (row[pick], high[pick]), -w[pick])
        total = np.cumsum(diff, axis=1)
        loads[name] = np.where(np.abs(total) < 1e-9, 0.0, total)  # rounding left by +w - w
    return loads


def routing_entries(t: np.ndarray, placement: Placement, mesh: Mesh) -> np.ndarray:
    """[chips used]: distinct source cores routed through each chip.

    Chips tile the router grid, so the chips an XY route crosses are those of the XY route
    between the two chips on the chip grid: routes are followed chip by chip, once per
    (source core, destination chip)."""
    chips_used = int(placement.slots[:, 0].max()) + 1
    chip_xy = np.stack([np.arange(chips_used) % mesh.chips_x,
                        np.arange(chips_used) // mesh.chips_x], axis=1)
    core_chip = placement.slots[placement.slot_of, 0]
    src, dst = np.nonzero(t)
    pairs = distinct(src * chips_used + core_chip[dst])
    src, dst_chip = np.divmod(pairs, chips_used)
    source, xs, ys = routes(src, chip_xy[core_chip[src]], chip_xy[dst_chip])
    visited = distinct(source * chips_used + ys * mesh.chips_x + xs)
    return np.bincount(visited % chips_used, minlength=chips_used)
