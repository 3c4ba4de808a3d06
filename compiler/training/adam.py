"""Adam (Kingma & Ba 2015) on a dictionary of weight matrices.

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   t <- t + 1
    w <- w - lr m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps)
"""

from __future__ import annotations

import numpy as np

B1, B2, EPS = 0.9, 0.999, 1e-8


class Adam:
    def __init__(self, rates: dict[str, float], weights: dict[str, np.ndarray]):
        self.rates = dict(rates)
        self.m = {name: np.zeros_like(weights[name]) for name in rates}
        self.v = {name: np.zeros_like(weights[name]) for name in rates}
        self.t = 0

    def step(self, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update ``weights`` in place with the gradients of the projections it trains."""
        self.t += 1
        for name, rate in self.rates.items():
            g = grads[name]
            self.m[name] = B1 * self.m[name] + (1 - B1) * g
            self.v[name] = B2 * self.v[name] + (1 - B2) * g * g
            m_hat = self.m[name] / (1 - B1 ** self.t)
            v_hat = self.v[name] / (1 - B2 ** self.t)
            weights[name] -= rate * m_hat / (np.sqrt(v_hat) + EPS)

    def state(self) -> dict[str, np.ndarray]:
        out = {"adam.t": np.int64(self.t)}
        for name in self.rates:
            out[f"adam.m.{name}"] = self.m[name]
            out[f"adam.v.{name}"] = self.v[name]
        return out

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["adam.t"])
        for name in self.rates:
            self.m[name] = np.array(state[f"adam.m.{name}"], dtype=np.float64)
            self.v[name] = np.array(state[f"adam.v.{name}"], dtype=np.float64)
