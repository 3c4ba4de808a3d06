"""The machine's memory: what snnc may allocate, and byte counts for messages.

A base module (no IR, no passes): the file readers (:mod:`snnc.files`) bound their arrays by
it, and the estimates of :mod:`snnc.memory` compare against it. ``available()`` is
``SNNC_MEMORY_LIMIT`` when set (a size such as ``8G``, ``512M`` or a byte count), else the
kernel's MemAvailable (bounded by a cgroup v2 limit when one is set), else the physical memory.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

ENV_LIMIT = "SNNC_MEMORY_LIMIT"

_UNITS = {"": 1, "B": 1, "K": 2 ** 10, "KB": 10 ** 3, "KIB": 2 ** 10, "M": 2 ** 20,
          "MB": 10 ** 6, "MIB": 2 ** 20, "G": 2 ** 30, "GB": 10 ** 9, "GIB": 2 ** 30,
          "T": 2 ** 40, "TB": 10 ** 12, "TIB": 2 ** 40}


@dataclass(frozen=True)
class Available:
    """The memory snnc may use: bytes (None when unknown), where the figure comes from, and a
    problem with ``SNNC_MEMORY_LIMIT`` (a message) when it is set but not a size."""

    bytes: int | None
    source: str
    problem: str | None = field(default=None)


def format_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KiB``; binary prefixes up to EiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} EiB"


def parse_size(text: str) -> int | None:
    """A size such as ``8G``, ``512 MiB``, ``1.5GB`` or ``1000000`` in bytes; None when invalid
    (empty, negative, not finite, an unknown suffix)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", text or "")
    if match is None:
        return None
    unit = _UNITS.get(match[2].upper())
    value = float(match[1])
    if unit is None or not math.isfinite(value):
        return None
    return int(value * unit)


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name == key:
                    return int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """What a cgroup v2 memory limit leaves (None without a limit)."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
            current = int(handle.read().strip())
        return max(int(limit) - current, 0)
    except (OSError, ValueError):
        return None


def available() -> Available:
    """The memory snnc may use, and where the figure comes from (see the module)."""
    override = os.environ.get(ENV_LIMIT)
    if override is not None and override.strip():
        size = parse_size(override)
        if size is not None:
            return Available(size, ENV_LIMIT)
        problem = (f"{ENV_LIMIT}={override!r} is not a size (write e.g. 8G, 512M or a number of "
                   "bytes)")
    else:
        problem = None
    free = _meminfo("MemAvailable")
    source = "MemAvailable"
    if free is None:
        try:
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            source = "physical memory"
        except (ValueError, OSError, AttributeError):
            free, source = None, "unknown"
    room = _cgroup_room()
    if room is not None and (free is None or room < free):
        free, source = room, "cgroup memory limit"
    return Available(free, source, problem)


def available_bytes() -> int | None:
    """The bytes snnc may use (``SNNC_MEMORY_LIMIT``, else MemAvailable), None when unknown."""
    return available().bytes
