"""Exact gradients of a network's loss: BPTT, RTRL and block-diagonal RTRL (docs/learning.md).

The model is the reference simulator's (same order of updates, same delivery), written out
for differentiation, in float64, for networks of dense projections between LIF, CubaLIF,
IF, LI and CubaLI populations. Per population p and step n::

    J[n] = sum_q W_q s_q[n - d_q]             (d_q: effective delay, 0 or more)
    I[n] = a_syn I[n-1] + J[n]                (LIF, IF, LI: I[n] = J[n])
    V[n] = a_mem (U[n-1] - v_leak) + v_leak + c_in (I[n] + bias)      (before the reset)
    s[n] = H(V[n] - threshold)                ('smooth' mode: sigma(V - threshold))
    U[n] = V[n] - threshold s[n]  (subtract),  V[n] (1 - s[n]) + v_reset s[n]  (zero)

The derivative of H is the population's surrogate sigma'. By default the reset carries no
gradient (``detach_reset``); with ``detach_reset=False`` and ``smooth=True`` the model is an
ordinary differentiable function, whose gradient finite differences can check.

- ``bptt``: the adjoint recursion backwards in time (O(N T) memory).
- ``rtrl``: forward sensitivities M[n] = dh[n]/dW of every state to every weight
  (O(N P) memory, P ~ N^2 parameters: O(N^3)), accumulated online into dL/dW.
- ``rtrl(block_diagonal=True)``: the same with the Jacobian cut to each neuron's own block:
  sensitivities do not cross from one neuron to another, and each step's loss gradient is
  taken with respect to the neuron's own state only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.ir.discrete import Plan, PopulationPlan, build_plan
from snnc.ir.network import Network


def surrogate(kind: str, params: dict, x: np.ndarray, threshold) -> np.ndarray:
    """sigma'(x) of the population's surrogate."""
    if kind == "fast_sigmoid":
        return 1.0 / (params["beta"] * np.abs(x) + 1.0) ** 2
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-params["beta"] * x))
        return params["beta"] * s * (1.0 - s)
    if kind == "exponential":
        return params["gamma"] * np.exp(-params["beta"] * np.abs(x))
    return params["gamma"] * np.maximum(0.0, 1.0 - np.abs(x) / threshold)


def smooth_spike(kind: str, params: dict, x: np.ndarray) -> np.ndarray:
    """An antiderivative of sigma' (the 'smooth' spike, for finite-difference checks)."""
    if kind == "fast_sigmoid":
        return x / (1.0 + params["beta"] * np.abs(x))
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-params["beta"] * x))
    raise ValueError(f"no smooth spike for the '{kind}' surrogate; use fast_sigmoid or sigmoid")


@dataclass
class Layer:
    """One population's constants (scalars, since the oracles need uniform parameters)."""

    name: str
    size: int
    spiking: bool
    has_syn: bool
    a_mem: float
    a_syn: float
    c_in: float
    v_leak: float
    bias: float
    threshold: float
    v_reset: float
    v_init: float
    reset: str
    surrogate: tuple[str, dict]

    @classmethod
    def of(cls, pop: PopulationPlan) -> Layer:
        if pop.adaptive or pop.arrays or pop.refractory or pop.receptors:
            raise ValueError("the gradient oracles support populations without adaptation, "
                             "with uniform parameters, no refractoriness and no receptors; "
                             f"'{pop.name}' does not qualify")
        value = pop.scalars.get
        return cls(pop.name, pop.size, pop.spiking, pop.has_syn, value("a_mem", 1.0),
                   value("a_syn", 0.0), value("c_in", 1.0), value("v_leak", 0.0),
                   value("bias", 0.0), value("threshold", 1.0), value("v_reset", 0.0),
                   value("v_init", 0.0), pop.reset, pop.surrogate)


@dataclass
class Edge:
    name: str
    pre: str
    post: str
    delay: int
    offset: int  # first column of this weight matrix in the flat parameter vector
    shape: tuple[int, int]


class GradientModel:
    """A network's loss and its exact gradients with respect to every projection's weights.

    After ``bptt`` or ``rtrl``, ``last_readout`` holds the readout trajectory [T, B, K] of
    the forward pass they ran (training reports its accuracy without a second pass)."""

    def __init__(self, net: Network, weights: dict[str, np.ndarray] | None = None,
                 delivery: str = "same_step"):
        plan: Plan = build_plan(net, delivery)
        if any(not p.dense and p.n_pre * p.n_post > 0 for p in plan.projections):
            dense = {p.name: p.dense_weights() for p in plan.projections}
        else:
            dense = {p.name: p.weights for p in plan.projections}
        self.layers = [Layer.of(p) for p in plan.populations]
        self.inputs = [x.name for x in plan.inputs]
        self.input_sizes = {x.name: x.size for x in plan.inputs}
        self.edges, offset = [], 0
        for p in plan.projections:
            self.edges.append(Edge(p.name, p.pre, p.post, p.delay, offset, (p.n_post, p.n_pre)))
            offset += p.n_post * p.n_pre
        self.n_params = offset
        self.weights = {name: np.array(w, dtype=np.float64) for name, w in dense.items()}
        if weights:
            self.weights.update({k: np.array(v, dtype=np.float64) for k, v in weights.items()})
        losses = net.losses
        if len(losses) != 1:
            raise ValueError("the gradient oracles need exactly one loss")
        self.loss = losses[0]
        self.max_delay = max((e.delay for e in self.edges), default=0)
        self.last_readout: np.ndarray | None = None

    # -- the loss ---------------------------------------------------------------------------
    def loss_and_gradient(self, values: np.ndarray, target) -> tuple[float, np.ndarray]:
        """L and dL/dvalues for the readout trajectory values [T, B, N]; summed over the batch."""
        kind, reduction = self.loss.kind, self.loss.reduction
        steps = values.shape[0]
        if reduction is None:
            reduced, back = values, None
        elif reduction in ("sum_over_time", "mean_over_time"):
            scale = 1.0 if reduction == "sum_over_time" else 1.0 / steps
            reduced = values.sum(axis=0) * scale
            back = lambda g: np.broadcast_to(g * scale, values.shape).copy()  # noqa: E731
        elif reduction == "last":
            reduced = values[-1]
            def back(g):
                out = np.zeros_like(values)
                out[-1] = g
                return out
        else:  # max_over_time
            where = values.argmax(axis=0)
            reduced = values.max(axis=0)
            def back(g):
                out = np.zeros_like(values)
                b, k = np.indices(where.shape)
                out[where, b, k] = g
                return out
        if kind == "mse":
            diff = reduced - target
            loss, grad = 0.5 * float(np.sum(diff ** 2)), diff
        else:
            labels = np.asarray(target, dtype=int)
            z = reduced - reduced.max(axis=-1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            picked = np.take_along_axis(logp, labels[..., None], axis=-1)
            loss = -float(np.sum(picked))
            grad = np.exp(logp)
            np.put_along_axis(grad, labels[..., None], np.take_along_axis(grad, labels[..., None],
                                                                          axis=-1) - 1.0, axis=-1)
        return loss, (grad if back is None else back(grad))

    # -- forward ----------------------------------------------------------------------------
    def forward(self, x: dict[str, np.ndarray], smooth: bool = False):
        """Trajectories {name: {'I','V','U','s': [T, B, N]}} for inputs [T, B, n]."""
        steps, batch = next(iter(x.values())).shape[:2]
        spikes = {name: np.asarray(x[name], dtype=np.float64).reshape(steps, batch, -1)
                  for name in self.inputs}
        out = {}
        for layer in self.layers:
            out[layer.name] = {k: np.zeros((steps, batch, layer.size)) for k in "IVUsg"}
            spikes[layer.name] = out[layer.name]["s"]
        for n in range(steps):
            for layer in self.layers:
                self.step(layer, n, spikes, out, smooth)
        return out

    def delivered(self, edge: Edge, n: int, spikes) -> np.ndarray:
        m = n - edge.delay
        source = spikes[edge.pre]
        if m < 0:
            return np.zeros(source.shape[1:])
        return source[m]

    def step(self, layer: Layer, n: int, spikes, out, smooth: bool) -> None:
        t = out[layer.name]
        batch = t["V"].shape[1]
        current = np.zeros((batch, layer.size))
        for edge in self.edges:
            if edge.post == layer.name:
                current += self.delivered(edge, n, spikes) @ self.weights[edge.name].T
        if layer.has_syn:
            previous = t["I"][n - 1] if n else 0.0
            current = layer.a_syn * previous + current
        t["I"][n] = current
        previous_u = t["U"][n - 1] if n else np.full((batch, layer.size), layer.v_init)
        v = layer.a_mem * (previous_u - layer.v_leak) + layer.v_leak + \
            layer.c_in * (current + layer.bias)
        t["V"][n] = v
        if not layer.spiking:
            t["U"][n] = v
            return
        x = v - layer.threshold
        kind, params = layer.surrogate
        s = smooth_spike(kind, params, x) if smooth else (x > 0).astype(np.float64)
        t["s"][n] = s
        t["g"][n] = surrogate(kind, params, x, layer.threshold)
        if layer.reset == "subtract":
            t["U"][n] = v - layer.threshold * s
        elif layer.reset == "zero":
            t["U"][n] = v * (1.0 - s) + layer.v_reset * s
        else:
            t["U"][n] = v

    def readout_values(self, traj) -> np.ndarray:
        key = {"v": "U", "i": "I", "s": "s"}[self.loss.variable]
        return traj[self.loss.population][key]

    def loss_value(self, x, target, smooth: bool = False) -> float:
        return self.loss_and_gradient(self.readout_values(self.forward(x, smooth)), target)[0]

    # -- local derivatives ----------------------------------------------------------------------
    @staticmethod
    def reset_derivatives(layer: Layer, t, n: int, detach: bool):
        """(dU/dV, dU/ds) at step n."""
        if not layer.spiking or layer.reset == "none":
            return 1.0, 0.0
        s, v = t["s"][n], t["V"][n]
        if layer.reset == "subtract":
            return 1.0, (0.0 if detach else -layer.threshold)
        return 1.0 - s, (0.0 if detach else layer.v_reset - v)

    # -- BPTT -------------------------------------------------------------------------------------
    def bptt(self, x, target, smooth: bool = False, detach_reset: bool = True):
        """(loss, {projection: dL/dW}) by backpropagation through time.

        Adjoints run backwards over the steps and, within a step, backwards over the update
        order (a population later in the order may read this step's spikes)."""
        traj = self.forward(x, smooth)
        values = self.last_readout = self.readout_values(traj)
        loss, g_values = self.loss_and_gradient(values, target)
        steps, batch = values.shape[:2]
        key = {"v": "U", "i": "I", "s": "s"}[self.loss.variable]
        direct = {layer.name: {k: np.zeros_like(traj[layer.name]["V"]) for k in ("U", "I", "s")}
                  for layer in self.layers}
        direct[self.loss.population][key] += g_values
        grads = {e.name: np.zeros(e.shape) for e in self.edges}
        names = {layer.name for layer in self.layers}
        sources = {name: np.asarray(x[name], dtype=np.float64).reshape(steps, batch, -1)
                   for name in self.inputs}
        next_v = {layer.name: np.zeros((batch, layer.size)) for layer in self.layers}
        next_i = {layer.name: np.zeros((batch, layer.size)) for layer in self.layers}
        for n in range(steps - 1, -1, -1):
            for layer in reversed(self.layers):
                t, d = traj[layer.name], direct[layer.name]
                du_dv, du_ds = self.reset_derivatives(layer, t, n, detach_reset)
                g_u = d["U"][n] + layer.a_mem * next_v[layer.name]
                g_s = d["s"][n] + g_u * du_ds
                g_v = g_u * du_dv + (g_s * t["g"][n] if layer.spiking else 0.0)
                g_i = layer.c_in * g_v + d["I"][n]
                if layer.has_syn:
                    g_i = g_i + layer.a_syn * next_i[layer.name]
                next_v[layer.name], next_i[layer.name] = g_v, g_i
                for edge in self.edges:
                    m = n - edge.delay
                    if edge.post != layer.name or m < 0:
                        continue
                    source = traj[edge.pre]["s"] if edge.pre in names else sources[edge.pre]
                    grads[edge.name] += g_i.T @ source[m]
                    if edge.pre in names:
                        direct[edge.pre]["s"][m] += g_i @ self.weights[edge.name]
        return loss, grads

    # -- RTRL -------------------------------------------------------------------------------------
    def rtrl(self, x, target, smooth: bool = False, detach_reset: bool = True,
             block_diagonal: bool = False):
        """(loss, {projection: dL/dW}) by real-time recurrent learning (forward sensitivities).

        The loss gradient is accumulated online for per-step and summed losses; 'last' and
        'max_over_time' losses keep the sensitivity of the step that counts."""
        traj = self.forward(x, smooth)
        values = self.last_readout = self.readout_values(traj)
        loss, g_values = self.loss_and_gradient(values, target)
        steps, batch = values.shape[:2]
        key = {"v": "U", "i": "I", "s": "s"}[self.loss.variable]
        P = self.n_params
        depth = self.max_delay + 1  # sensitivities are kept for the last `depth` steps only
        sens = {layer.name: {k: np.zeros((depth, batch, layer.size, P)) for k in "IVUs"}
                for layer in self.layers}
        gradient = np.zeros(P)
        for n in range(steps):
            for layer in self.layers:
                t, m_ = traj[layer.name], sens[layer.name]
                d_j = np.zeros((batch, layer.size, P))
                for edge in self.edges:
                    if edge.post != layer.name:
                        continue
                    k = n - edge.delay
                    if k < 0:
                        continue
                    source = traj[edge.pre]["s"][k] if edge.pre in sens else \
                        np.asarray(x[edge.pre], dtype=np.float64).reshape(steps, batch, -1)[k]
                    # direct dependence on this edge's own weights: dJ_i / dW_ij = s_j
                    block = d_j[:, :, edge.offset:edge.offset + edge.shape[0] * edge.shape[1]]
                    block = block.reshape(batch, edge.shape[0], edge.shape[0], edge.shape[1])
                    for i in range(edge.shape[0]):
                        block[:, i, i, :] += source
                    if edge.pre in sens and not block_diagonal:
                        d_j += np.einsum("ij,bjp->bip", self.weights[edge.name],
                                         sens[edge.pre]["s"][k % depth])
                now, before = n % depth, (n - 1) % depth
                d_i = d_j
                if layer.has_syn and n:
                    d_i = layer.a_syn * m_["I"][before] + d_j
                m_["I"][now] = d_i
                previous = m_["U"][before] if n else 0.0
                d_v = layer.a_mem * previous + layer.c_in * d_i
                m_["V"][now] = d_v
                if layer.spiking:
                    d_s = t["g"][n][..., None] * d_v
                    m_["s"][now] = d_s
                    du_dv, du_ds = self.reset_derivatives(layer, t, n, detach_reset)
                    du_dv = du_dv[..., None] if isinstance(du_dv, np.ndarray) else du_dv
                    du_ds = du_ds[..., None] if isinstance(du_ds, np.ndarray) else du_ds
                    m_["U"][now] = du_dv * d_v + du_ds * d_s
                else:
                    m_["U"][now] = d_v
            readout = sens[self.loss.population][key][n % depth]
            gradient += np.einsum("bk,bkp->p", g_values[n], readout)
        grads = {e.name: gradient[e.offset:e.offset + e.shape[0] * e.shape[1]].reshape(e.shape)
                 for e in self.edges}
        return loss, grads

    # -- finite differences -----------------------------------------------------------------------
    def finite_differences(self, x, target, projection: str, entries, h: float = 1e-6):
        """Central differences of the smooth model's loss for the given (post, pre) entries."""
        out = []
        for i, j in entries:
            original = self.weights[projection][i, j]
            self.weights[projection][i, j] = original + h
            plus = self.loss_value(x, target, smooth=True)
            self.weights[projection][i, j] = original - h
            minus = self.loss_value(x, target, smooth=True)
            self.weights[projection][i, j] = original
            out.append((plus - minus) / (2 * h))
        return np.array(out)
