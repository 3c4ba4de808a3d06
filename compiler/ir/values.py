"""Parameter values of the IR: a constant, a distribution drawn per element, or a file.

All numbers are SI. Values stay procedural until a backend asks for arrays
(:meth:`materialize`): a per-neuron parameter of a million-neuron population costs nothing
until then. Random draws come from a generator seeded by the network seed and the owner's
name (:func:`rng_for`), never from global state, so the same program gives the same arrays.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:  # numpy is imported where arrays are made: checking needs none
    import numpy as np


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """A generator determined by the network seed and an object's name (stable across runs)."""
    import numpy as np
    digest = hashlib.sha256("\x1f".join(names).encode("utf-8")).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, *words])


@dataclass(frozen=True)
class Constant:
    """The same value for every element."""

    value: float

    uniform = True

    def materialize(self, n: int, rng: np.random.Generator | None = None,
                    dtype="float64") -> np.ndarray:
        import numpy as np
        return np.full(n, self.value, dtype=dtype)

    def describe(self) -> str:
        return f"{self.value:.9g}"

    @property
    def mean(self) -> float:
        return self.value


@dataclass(frozen=True)
class Uniform:
    """One independent draw per element from U[low, high)."""

    low: float
    high: float

    uniform = False

    def materialize(self, n: int, rng: np.random.Generator, dtype="float64") -> np.ndarray:
        return rng.uniform(self.low, self.high, n).astype(dtype, copy=False)

    def describe(self) -> str:
        return f"uniform({self.low:.9g}, {self.high:.9g})"

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Normal:
    """One independent draw per element from N(mean, std^2)."""

    mean: float
    std: float

    uniform = False

    def materialize(self, n: int, rng: np.random.Generator, dtype="float64") -> np.ndarray:
        return rng.normal(self.mean, self.std, n).astype(dtype, copy=False)

    def describe(self) -> str:
        return f"normal({self.mean:.9g}, {self.std:.9g})"


@dataclass(frozen=True)
class FromFile:
    """Values read from a ``.npy`` file or an array of a ``.npz`` file (``key``).

    Lowering reads and validates the file once (``ValueChecker.read_file`` in lower_values)
    and keeps the array in ``data``: later stages never read the file again, so they never see
    a file that changed or broke after ``snnc check``. ``span`` is the ``file(...)`` call."""

    path: str
    key: str | None = None
    span: object = field(default=None, compare=False, repr=False)
    data: np.ndarray | None = field(default=None, compare=False, repr=False)

    uniform = False

    def load(self) -> np.ndarray:
        """The array (validated: numeric, finite, within the size limit); a
        :class:`snnc.files.FileProblem` (a ValueError) when the file cannot be used."""
        if self.data is not None:
            return self.data
        from snnc.files import read_array
        return read_array(self.path, self.key, finite=True)

    def materialize(self, n: int, rng: np.random.Generator | None = None,
                    dtype="float64") -> np.ndarray:
        values = self.load().astype(dtype).reshape(-1)
        if values.size != n:
            from snnc.files import FileProblem
            raise FileProblem("E609", f"'{self.path}' holds {values.size} values, expected {n}")
        return values

    def describe(self) -> str:
        return f'file("{self.path}"' + (f', key = "{self.key}")' if self.key else ")")

    @property
    def mean(self) -> float:
        import numpy as np
        return float(np.mean(self.load()))


ParamValue = Union[Constant, Uniform, Normal, FromFile]
