"""Pictures of a recording (``snnc plot``): spike rasters, voltage traces, weight histograms.

Takes ``matplotlib.pyplot`` as an argument, so that importing this module needs no extra.
Spikes are read in either layout (events or dense: :mod:`snnc.recordings`); a raster is drawn
from the events of the first sample, never from a dense array.
"""

from __future__ import annotations

import numpy as np

from snnc import recordings

NAMES = ("raster.png", "voltages.png", "weights.png")


def pictures(data: dict[str, np.ndarray], plt) -> dict[str, bytes]:
    """The PNG files (raster.png, voltages.png, weights.png) for what ``data`` holds, stamped
    as snnc's (see snnc.output)."""
    dt = float(data.get("dt", 1e-3))
    written = {}
    every = int(np.asarray(data.get("record_every", 1)).reshape(-1)[0])
    spikes = spike_names(data)
    if spikes:
        fig, axes = plt.subplots(len(spikes), 1, figsize=(8, 2 + 1.5 * len(spikes)), squeeze=False)
        for ax, name in zip(axes[:, 0], spikes, strict=True):
            events = recordings.events_of(data, name)
            first = events.batch == 0
            time = events.step[first] * (every * dt * 1e3)
            ax.scatter(time, events.index[first], s=1, marker="|", color="black")
            ax.set_ylabel(f"{name[:-2]}\nneuron")
            ax.set_xlim(0, events.shape[0] * every * dt * 1e3)
        axes[-1, 0].set_xlabel("time (ms)")
        written["raster.png"] = render(fig, plt)
    voltages = {k[:-2]: v for k, v in data.items() if k.endswith(".v") and v.ndim >= 2}
    if voltages:
        fig, axes = plt.subplots(len(voltages), 1, figsize=(8, 2 + 1.5 * len(voltages)),
                                 squeeze=False)
        for ax, (name, array) in zip(axes[:, 0], sorted(voltages.items()), strict=True):
            flat = array[:, 0].reshape(array.shape[0], -1)
            time = np.arange(flat.shape[0]) * dt * 1e3
            for k in range(min(5, flat.shape[1])):
                ax.plot(time, flat[:, k], linewidth=0.8)
            ax.set_ylabel(f"{name}\nv")
        axes[-1, 0].set_xlabel("time (ms)")
        written["voltages.png"] = render(fig, plt)
    weights = {k[:-2]: v for k, v in data.items() if k.endswith(".w")}
    if weights:
        fig, axes = plt.subplots(1, len(weights), figsize=(3 + 3 * len(weights), 3), squeeze=False)
        for ax, (name, array) in zip(axes[0], sorted(weights.items()), strict=True):
            values = array[array != 0] if array.ndim == 2 else array
            ax.hist(values.ravel(), bins=40, color="gray")
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("weight")
        written["weights.png"] = render(fig, plt)
    return written


def spike_names(data: dict[str, np.ndarray]) -> list[str]:
    """The spike variables of ``data`` ('<population>.s'), dense or as events, sorted."""
    dense = [k for k, v in data.items() if k.endswith(".s") and v.ndim >= 2]
    return sorted({*dense, *(k for k in recordings.names(data) if k.endswith(".s"))})


def wanted(data: dict[str, np.ndarray]) -> list[str]:
    """The names of the pictures :func:`pictures` draws for ``data`` (without drawing)."""
    names = {"raster.png"} if spike_names(data) else set()
    names |= {"voltages.png" for k, v in data.items() if k.endswith(".v") and v.ndim >= 2}
    names |= {"weights.png" for k in data if k.endswith(".w")}
    return [name for name in NAMES if name in names]


def render(fig, plt) -> bytes:
    from snnc.output import png_bytes
    fig.tight_layout()
    content = png_bytes(fig, dpi=100)
    plt.close(fig)
    return content
