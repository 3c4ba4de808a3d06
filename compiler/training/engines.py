"""One mini-batch of training, two ways.

- :class:`OracleEngine`: exact gradients from :class:`GradientModel` (``bptt`` or ``rtrl``),
  averaged over the batch, g = (1/B) sum_b dL_b/dW, and one Adam step per batch.
- :class:`OnlineEngine`: the generated simulation runs the batch with its rules on, in one of
  two ways (``snnc train --update``):

  - ``batch``: the weights stay fixed during the batch while the rules compute their updates
    online; their sum is the rule's gradient estimate, g = -(1/lr) sum_n lr * mean_b dw_b[n],
    and drives one Adam step per batch with the rule's ``lr``: the oracles' optimizer, so
    that only the gradient estimate differs (the protocol of the e-prop paper).
  - ``step``: the rules change the weights at every step (w <- w + lr * mean_b dw_b[n], or
    the rule's own per-step Adam), as on a chip. The training accuracy is then measured while
    the network learns, so a sample's own label already shapes its later steps.

  Either way only the validation and test accuracy (frozen weights) measure generalisation.

Both evaluate in the same way: the readout's trajectory, reduced as the loss says
(:mod:`snnc.training.metrics`), gives the loss and the predicted class.

Both check their numbers: NaN or inf in the simulated state (the generated simulation checks
it after every step), the loss, a gradient or the weights after an update raises
:class:`NonFiniteError`; with ``allow_nonfinite`` the first one is kept in ``nonfinite``
instead and training goes on.
"""

from __future__ import annotations

import re

import numpy as np

from snnc.backends.reference.gradients import GradientModel
from snnc.ir.network import Network
from snnc.training.adam import Adam
from snnc.training.metrics import evaluate
from snnc.training.setup import Method
from snnc.weights import OLD_PREFIX, weight_key


def stored_weights(state: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The weights of projection ``name`` in a checkpoint: ``<name>.w``, or ``w.<name>`` as
    checkpoints before the one key convention (:mod:`snnc.weights`) named them; KeyError."""
    key = weight_key(name) if weight_key(name) in state else OLD_PREFIX + name
    return state[key]


OPTIMIZER_STATE = re.compile(r"^w\d+_r\d+_[mvt]$")  # Adam moments of online rules (rules.py)


class NonFiniteError(ArithmeticError):
    """NaN or inf in training: ``kind`` ('population', 'projection' or 'loss'), ``owner`` and
    ``variable`` say what, ``step`` the simulation step (None when not in a step), ``value``
    'nan', 'inf' or '-inf'; ``where`` (epoch and batch) is filled in by the trainer."""

    def __init__(self, kind: str, owner: str, variable: str, step: int | None, value: str,
                 where: str = ""):
        super().__init__(f"{kind} '{owner}': {variable} is {value}")
        self.kind, self.owner, self.variable, self.step, self.value = \
            kind, owner, variable, step, value
        self.where = where

    @classmethod
    def of(cls, error) -> NonFiniteError:
        """The same fault, raised by a generated simulation (its own NonFiniteError)."""
        return cls(error.kind, error.owner, error.variable, error.step, error.value)


def nonfinite(kind: str, owner: str, variable: str, value) -> NonFiniteError | None:
    """A NonFiniteError when ``value`` (a number or an array) holds NaN or inf, else None."""
    array = np.asarray(value, dtype=np.float64)
    finite = np.isfinite(array)
    if finite.all():
        return None
    first = float(array[~finite].flat[0])
    text = "nan" if first != first else ("inf" if first > 0 else "-inf")
    return NonFiniteError(kind, owner, variable, None, text)


class Checked:
    """The engines' handling of non-finite values: raise, or keep the first one (until the
    trainer takes it) and let training go on."""

    allow_nonfinite = False

    def guard(self, *faults: NonFiniteError | None) -> None:
        for fault in faults:
            if fault is None:
                continue
            if not self.allow_nonfinite:
                raise fault
            if not vars(self).get("reported"):
                self.reported = True
                vars(self).setdefault("pending", []).append(fault)

    def take_nonfinite(self) -> list[NonFiniteError]:
        """The faults let through by ``allow_nonfinite`` since the last call."""
        return vars(self).pop("pending", [])

    def check_weights(self, variable: str = "w") -> None:
        self.guard(*(nonfinite("projection", name, variable, w)
                     for name, w in self.weights.items()))


def loss_target(method: Method, labels: np.ndarray, steps: int) -> np.ndarray:
    """Labels as GradientModel expects them: [B], or [T, B] for a per-step loss."""
    if method.loss.reduction is None:
        return np.broadcast_to(labels, (steps, len(labels)))
    return labels


class OracleEngine(Checked):
    """Training by ``bptt`` or ``rtrl`` (a ValueError if the network has unsupported models);
    ``delivery`` as the simulation's (``snnc train --delivery``): the model's forward pass is
    the simulator's with that convention, and its gradients are of that network."""

    def __init__(self, net: Network, method: Method, delivery: str = "same_step"):
        self.method = method
        self.model = GradientModel(net, delivery=delivery)
        self.weights = self.model.weights
        self.adam = Adam(method.rates, self.weights)
        self.last_gradient: dict[str, np.ndarray] = {}  # of the last training batch
        self.input = next(node.name for node in net.inputs() if node.source == "data")

    def gradient(self, x: np.ndarray, labels: np.ndarray, mode: str | None = None):
        """(summed loss, mean gradient per projection) of one batch; x [T, B, n]."""
        oracle = getattr(self.model, mode or self.method.mode)
        with np.errstate(all="ignore"):  # non-finite values are checked, not warned about
            loss, grads = oracle({self.input: x.astype(np.float64)},
                                 loss_target(self.method, labels, x.shape[0]))
        return loss, {name: g / len(labels) for name, g in grads.items()}

    def train_batch(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """(summed loss, correct predictions) of the batch before the update."""
        _, grads = self.gradient(x, labels)
        self.last_gradient = grads
        with np.errstate(all="ignore"):
            loss, correct = evaluate(self.model.last_readout, labels,
                                     self.method.loss.reduction)
            self.guard(nonfinite("loss", self.method.loss.population, self.method.loss.kind, loss),
                       *(nonfinite("projection", name, "gradient", g)
                         for name, g in grads.items()))
            self.adam.step(self.weights, grads)
        self.check_weights()
        return loss, correct

    def predict(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        with np.errstate(all="ignore"):
            traj = self.model.forward({self.input: x.astype(np.float64)})
            loss, correct = evaluate(self.model.readout_values(traj), labels,
                                     self.method.loss.reduction)
        self.guard(nonfinite("loss", self.method.loss.population, self.method.loss.kind, loss))
        return loss, correct

    def state(self) -> dict[str, np.ndarray]:
        out = {weight_key(name): w for name, w in self.weights.items()}
        out.update(self.adam.state())
        return out

    def load(self, state: dict[str, np.ndarray]) -> None:
        for name in self.weights:
            self.weights[name][...] = stored_weights(state, name)
        self.adam.load(state)


class OnlineEngine(Checked):
    """Training by the online rules of the generated simulation."""

    def __init__(self, net: Network, method: Method, module, seed: int, update: str = "batch"):
        self.method = method
        self.module = module
        self.seed = seed
        self.update = update
        self.input = next(node.name for node in net.inputs() if node.source == "data")
        loss = method.loss
        self.readout = f"{loss.population}.{loss.variable}"
        self.sims: dict[int, object] = {}
        first = self.sim(1)
        self.weights = {name: getattr(first, attr).copy() for name, attr in module.WEIGHTS.items()}
        self.optimizer: dict[str, np.ndarray] = {}  # Adam state of rules with 'optimizer adam'
        self.adam = Adam(method.rates, self.weights) if update == "batch" else None
        self.last_gradient: dict[str, np.ndarray] = {}  # the rules' estimate, last batch

    def sim(self, batch: int):
        if batch not in self.sims:
            self.sims[batch] = self.module.Simulation(batch=batch, seed=self.seed)
        return self.sims[batch]

    def run(self, x: np.ndarray, labels: np.ndarray, learn: bool) -> tuple[float, int]:
        sim = self.sim(len(labels))
        for name, attr in self.module.WEIGHTS.items():
            getattr(sim, attr)[...] = self.weights[name]
        for attr, value in self.optimizer.items():
            setattr(sim, attr, value.copy() if isinstance(value, np.ndarray) else value)
        sim.reset()
        accumulate = learn and self.update == "batch"
        try:
            out = sim.run(x.shape[0], {self.input: x}, record=[self.readout], learn=learn,
                          accumulate=accumulate,
                          targets={self.method.loss.population: labels, "label": labels},
                          allow_nonfinite=self.allow_nonfinite)
        except self.module.NonFiniteError as error:
            raise NonFiniteError.of(error) from None
        self.guard(*(NonFiniteError.of(error) for error in sim.nonfinite))
        rates = self.method.rates
        if accumulate:
            self.last_gradient = {name: -out[name + ".dw"] / rates[name] for name in rates}
            with np.errstate(all="ignore"):
                self.adam.step(self.weights, self.last_gradient)
            for name, clips in self.module.BOUNDS.items():
                for low, high in clips:
                    np.clip(self.weights[name], low, high, out=self.weights[name])
            self.check_weights()
        elif learn:
            after = {name: out[name + ".w"] for name in self.module.WEIGHTS}
            self.last_gradient = {name: -(after[name] - self.weights[name]) / rates[name]
                                  for name in rates}
            self.weights = after
            self.optimizer = {attr: np.copy(getattr(sim, attr)) for attr in vars(sim)
                              if OPTIMIZER_STATE.match(attr)}
        values = out[self.readout].reshape(x.shape[0], len(labels), -1)
        with np.errstate(all="ignore"):
            loss, correct = evaluate(values, labels, self.method.loss.reduction)
        self.guard(nonfinite("loss", self.method.loss.population, self.method.loss.kind, loss))
        return loss, correct

    def train_batch(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """(summed loss, correct predictions) of the batch: before its Adam step (``batch``),
        or while it learns (``step``)."""
        return self.run(x, labels, learn=True)

    def predict(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        return self.run(x, labels, learn=False)

    def state(self) -> dict[str, np.ndarray]:
        out = {weight_key(name): w for name, w in self.weights.items()}
        out.update({f"opt.{attr}": np.asarray(v) for attr, v in self.optimizer.items()})
        if self.adam is not None:
            out.update(self.adam.state())
        return out

    def load(self, state: dict[str, np.ndarray]) -> None:
        for name, w in self.weights.items():
            if stored_weights(state, name).shape != w.shape:
                raise ValueError(f"'{name}' has shape {list(w.shape)}, the checkpoint's "
                                 f"{list(stored_weights(state, name).shape)}")
        self.weights = {name: np.array(stored_weights(state, name)) for name in self.weights}
        self.optimizer = {key[4:]: (state[key] if state[key].ndim else state[key].item())
                          for key in state if key.startswith("opt.")}
        if self.adam is not None:
            self.adam.load(state)
