"""Physical units of the language: dimensions, unit words, and quantities in SI.

A dimension is a pair of exponents (time, voltage): ``ms`` is (1, 0), ``Hz`` is (-1, 0),
``mV`` is (0, 1). Every quantity is converted to SI once, when it is read, so
``20 ms`` becomes ``Quantity(0.02, TIME)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dim:
    """Exponents of time (s) and voltage (V)."""

    time: int = 0
    voltage: int = 0

    def __mul__(self, other: Dim) -> Dim:
        return Dim(self.time + other.time, self.voltage + other.voltage)

    def __truediv__(self, other: Dim) -> Dim:
        return Dim(self.time - other.time, self.voltage - other.voltage)

    def __pow__(self, exponent: int) -> Dim:
        return Dim(self.time * exponent, self.voltage * exponent)

    def __str__(self) -> str:
        return describe(self)


DIMENSIONLESS = Dim()
TIME = Dim(time=1)
FREQUENCY = Dim(time=-1)
VOLTAGE = Dim(voltage=1)

#: unit word -> (dimension, factor to SI)
UNITS: dict[str, tuple[Dim, float]] = {
    "s": (TIME, 1.0),
    "ms": (TIME, 1e-3),
    "us": (TIME, 1e-6),
    "Hz": (FREQUENCY, 1.0),
    "kHz": (FREQUENCY, 1e3),
    "V": (VOLTAGE, 1.0),
    "mV": (VOLTAGE, 1e-3),
}

DIM_NAMES = {DIMENSIONLESS: "dimensionless", TIME: "time", FREQUENCY: "frequency",
             VOLTAGE: "voltage"}
EXAMPLE_UNIT = {TIME: "ms", FREQUENCY: "Hz", VOLTAGE: "mV"}


def describe(dim: Dim) -> str:
    if dim in DIM_NAMES:
        return DIM_NAMES[dim]
    parts = []
    for symbol, exponent in (("s", dim.time), ("V", dim.voltage)):
        if exponent:
            parts.append(symbol if exponent == 1 else f"{symbol}^{exponent}")
    return "*".join(parts)


@dataclass(frozen=True)
class Quantity:
    """A value in SI units with its dimension."""

    value: float
    dim: Dim = DIMENSIONLESS

    @property
    def dimensionless(self) -> bool:
        return self.dim == DIMENSIONLESS

    def __str__(self) -> str:
        if self.dim == DIMENSIONLESS:
            return f"{self.value:g}"
        unit = EXAMPLE_UNIT.get(self.dim)
        if unit is None:
            return f"{self.value:g} {describe(self.dim)}"
        return f"{self.value / UNITS[unit][1]:g} {unit}"
