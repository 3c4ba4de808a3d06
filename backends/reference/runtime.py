"""The runtime library of snnc's reference simulator, copied verbatim next to every generated
``simulation.py`` as ``snnc_runtime.py`` (the output stays standalone: numpy only, numba used
when installed and ``SNNC_NO_NUMBA`` is not set).

The generated module holds what is particular to one network (its constants, ``__init__``,
``reset`` and ``step``, straight-line code with keyword arguments and provenance comments);
this module holds what every network shares:

- the errors a run raises (:class:`TargetError`, :class:`NonFiniteError`);
- the kernels ``step`` calls: event-driven delivery (``_propagate``), current decay
  (``_decay_add``, ``_decay_deliver``) and the membrane step (``_neuron``), as numpy code,
  replaced by numba loops of the same arithmetic when numba is available. The membrane's
  maths is written once (``_integrate``, ``_fires``, ``_adapt``, ``_reset_value``) and used
  by both versions, so they give the same numbers bit for bit;
- the helpers of learning rules (surrogate derivatives, softmax, batch outer products);
- :class:`SimulationBase`, the generated ``Simulation``'s base: loading ``network.npz``,
  targets and rewards, recording, the NaN/inf watch and ``run``.

In an output folder this file is snnc's copy: edit it here (``backends/reference/runtime.py``)
and regenerate with ``snnc compile --emit reference``; ruff checks it and the tests import it.
"""

import os

import numpy as np

#: how a spiking membrane resets after a spike (the ``reset`` argument of ``_neuron``)
RESET_NONE, RESET_ZERO, RESET_SUBTRACT = 0, 1, 2


class TargetError(ValueError):
    """Targets, class labels or a reward passed to ``run`` whose shape or values do not fit
    the network (the readout's size, the batch or the number of steps)."""


class NonFiniteError(ArithmeticError):
    """NaN or inf appeared in the state of a population or projection during a run."""

    def __init__(self, kind, owner, variable, step, value):
        super().__init__(f"{kind} {owner!r}: {variable} is {value} after step {step}")
        self.kind, self.owner, self.variable, self.step, self.value = \
            kind, owner, variable, step, value


def _nonfinite_value(array):
    """'nan', 'inf' or '-inf': the first non-finite element of ``array`` ('nan or inf' when
    it no longer holds one: a membrane reset or held after it overflowed)."""
    bad = np.asarray(array)[~np.isfinite(array)]
    if bad.size == 0:
        return "nan or inf"
    value = float(bad.flat[0])
    return "nan" if value != value else ("inf" if value > 0 else "-inf")


# ---- kernels: numpy versions, replaced by identical numba loops when numba is installed ----

def _propagate(spikes, indptr, post, weights, out):
    """Event-driven delivery: add the weights of the synapses of every spiking pre neuron."""
    b, j = np.nonzero(spikes)
    if j.size == 0:
        return
    starts = indptr[j]
    counts = indptr[j + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return
    index = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    flat = np.repeat(b, counts) * out.shape[1] + post[index]
    out += np.bincount(flat, weights=weights[index], minlength=out.size).reshape(out.shape)


def _decay_add(current, decay, delivered, total):
    """current <- decay * current + delivered; total += current; delivered is cleared."""
    current *= decay
    current += delivered
    total += current
    delivered.fill(0.0)


def _decay_deliver(current, decay, spikes, indptr, post, weights, total):
    """current <- decay * current, plus the weights of every spiking pre neuron's synapses
    (added one by one, in order); total += current."""
    current *= decay
    b, j = np.nonzero(spikes)
    if j.size:
        starts = indptr[j]
        counts = indptr[j + 1] - starts
        index = np.repeat(starts - (np.cumsum(counts) - counts), counts) + \
            np.arange(int(counts.sum()))
        np.add.at(current, (np.repeat(b, counts), post[index]), weights[index])
    total += current


def _integrate(v, total, a_mem, v_leak, c_in, bias):
    """The membrane after one step's input, before hold, spike and reset:
    a_mem (v - v_leak) + v_leak + c_in (total + bias). Arrays or scalars."""
    return (v - v_leak) * a_mem + v_leak + (total + bias) * c_in


def _fires(v, threshold, beta, adapt):
    """Whether the membrane spikes: v > threshold + beta * adapt."""
    return v > threshold + beta * adapt


def _adapt(adapt, rho, fired):
    """The adaptation after a step: rho * adapt + s."""
    return adapt * rho + fired


def _reset_value(v, threshold, v_reset, reset):
    """The membrane after a spike: v_reset (RESET_ZERO), v - threshold (RESET_SUBTRACT) or v
    unchanged (RESET_NONE)."""
    if reset == RESET_ZERO:
        return v_reset
    if reset == RESET_SUBTRACT:
        return v - threshold
    return v


def _neuron(v, total, params, reset, refractory, ref, adapt, spikes, spiking, u):
    """One membrane step of a population [batch, n] (numpy; the numba version below does the
    same arithmetic element by element): v <- _integrate(v, total, ...); then, for spiking
    models, refractory hold (v = v_reset for ``refractory`` steps after a spike), spike
    v > threshold + beta * adapt, adapt <- rho adapt + s, reset (``RESET_*``). ``u`` keeps the
    membrane before the reset (for surrogate derivatives); ``total`` is cleared for the next
    step. ``params`` rows: a_mem, v_leak, c_in, bias, threshold, v_reset, beta, rho. Returns
    whether the new membrane (before hold and reset) is finite everywhere."""
    a_mem, v_leak, c_in, bias, threshold, v_reset, beta, rho = params
    v[...] = _integrate(v, total, a_mem, v_leak, c_in, bias)
    total.fill(0.0)
    finite = bool(np.isfinite(v).all())
    if not spiking:
        u[...] = v
        return finite
    if refractory > 0:
        held = ref > 0
        np.copyto(v, np.broadcast_to(v_reset, v.shape), where=held)
        ref -= held
    u[...] = v
    spikes[...] = _fires(v, threshold, beta, adapt)
    adapt[...] = _adapt(adapt, rho, spikes)
    if reset != RESET_NONE:
        np.copyto(v, np.broadcast_to(_reset_value(v, threshold, v_reset, reset), v.shape),
                  where=spikes)
    if refractory > 0:
        ref[spikes] = refractory
    return finite


# ---- learning helpers ----------------------------------------------------------------------

def _surrogate_fast_sigmoid(x, beta):
    return 1.0 / (beta * np.abs(x) + 1.0) ** 2


def _surrogate_piecewise_linear(x, gamma, threshold):
    return gamma * np.maximum(0.0, 1.0 - np.abs(x) / threshold)


def _surrogate_sigmoid(x, beta):
    s = 1.0 / (1.0 + np.exp(-beta * x))
    return beta * s * (1.0 - s)


def _surrogate_exponential(x, beta, gamma):
    return gamma * np.exp(-beta * np.abs(x))


def _softmax(x):
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _batch_outer(post, pre, batch):
    """sum_b post[b, i] pre[b, j] for factors [batch, n] (or [1, n], the same for every sample)."""
    post = np.broadcast_to(post, (batch, post.shape[-1]))
    pre = np.broadcast_to(pre, (batch, pre.shape[-1]))
    return post.T @ pre


def _local_error(y, target, loss):
    """Error of a local readout y [batch, size] against one-hot targets."""
    return (_softmax(y) if loss == "cross_entropy" else y) - target


def _transpose_deliver(error, pre, post, weights, out):
    """out[b, pre] += sum over synapses of weights * error[b, post] (W^T e for CSR weights)."""
    for b in range(error.shape[0]):
        out[b] += np.bincount(pre, weights=weights * error[b, post], minlength=out.shape[1])


try:
    import numba
except ImportError:  # the numpy kernels above stay in use
    numba = None

if numba is not None and not os.environ.get("SNNC_NO_NUMBA"):
    @numba.njit(cache=True)
    def _propagate(spikes, indptr, post, weights, out):  # noqa: F811
        for b in range(spikes.shape[0]):
            for j in range(spikes.shape[1]):
                if spikes[b, j]:
                    for k in range(indptr[j], indptr[j + 1]):
                        out[b, post[k]] += weights[k]

    @numba.njit(cache=True)
    def _decay_deliver(current, decay, spikes, indptr, post, weights, total):  # noqa: F811
        for b in range(current.shape[0]):
            cb = current[b]
            for k in range(current.shape[1]):
                cb[k] = cb[k] * decay[k]
            for j in range(spikes.shape[1]):
                if spikes[b, j]:
                    for s in range(indptr[j], indptr[j + 1]):
                        cb[post[s]] += weights[s]
            tb = total[b]
            for k in range(current.shape[1]):
                tb[k] = tb[k] + cb[k]

    @numba.njit(cache=True)
    def _decay_add(current, decay, delivered, total):  # noqa: F811
        for b in range(current.shape[0]):
            for k in range(current.shape[1]):
                x = current[b, k] * decay[k]
                x = x + delivered[b, k]
                current[b, k] = x
                total[b, k] = total[b, k] + x
                delivered[b, k] = 0.0

    _integrate = numba.njit(cache=True)(_integrate)  # noqa: F811
    _fires = numba.njit(cache=True)(_fires)  # noqa: F811
    _adapt = numba.njit(cache=True)(_adapt)  # noqa: F811
    _reset_value = numba.njit(cache=True)(_reset_value)  # noqa: F811

    @numba.njit(cache=True)
    def _neuron(v, total, params, reset, refractory, ref, adapt, spikes, spiking,  # noqa: F811
                u):
        a_mem, v_leak, c_in, bias = params[0], params[1], params[2], params[3]
        threshold, v_reset, beta, rho = params[4], params[5], params[6], params[7]
        bad = 0
        for b in range(v.shape[0]):
            vb, tb, ub = v[b], total[b], u[b]
            ab, sb, rb = adapt[b], spikes[b], ref[b]
            for k in range(v.shape[1]):
                x = _integrate(vb[k], tb[k], a_mem[k], v_leak[k], c_in[k], bias[k])
                tb[k] = 0.0
                bad += (x - x) != 0.0  # NaN for NaN and inf
                if not spiking:
                    ub[k] = x
                    vb[k] = x
                    continue
                # branch-free selects, so that the loop vectorises
                held = rb[k] > 0
                x = v_reset[k] if held else x
                rb[k] = rb[k] - 1 if held else rb[k]
                ub[k] = x
                fire = _fires(x, threshold[k], beta[k], ab[k])
                sb[k] = fire
                ab[k] = _adapt(ab[k], rho[k], fire)
                after = _reset_value(x, threshold[k], v_reset[k], reset)
                x = after if fire else x
                rb[k] = refractory if fire else rb[k]
                vb[k] = x
        return bad == 0


class SimulationBase:
    """What every generated ``Simulation`` shares. The subclass sets the network's tables as
    class attributes: ``VARIABLES`` (recordable name -> (attribute, shape)), ``INPUTS`` (name
    -> (shape, source)), ``EVENTS`` (file input -> steps it holds), ``WEIGHTS`` (projection ->
    weight attribute) and ``CHECKED`` (the NaN/inf watch), and defines ``reset`` and ``step``."""

    VARIABLES, INPUTS, EVENTS, WEIGHTS, CHECKED = {}, {}, {}, {}, []

    def __init__(self, batch, dtype, seed, data, folder):
        """``data``: the arrays of the network (None: read ``network.npz`` in ``folder``)."""
        if data is None:
            with np.load(os.path.join(folder, "network.npz"), allow_pickle=False) as archive:
                data = {key: archive[key] for key in archive.files}
        self.data = data
        self.batch = int(batch)
        self.dtype = np.dtype(dtype)
        self.seed = int(seed)
        self.targets, self.reward, self.learning = {}, None, True
        self.accumulate, self.updates = False, {}
        self._faulty = []  # populations whose membrane was not finite in this step

    def _array(self, key):
        return np.asarray(self.data[key], dtype=self.dtype).copy()

    # ---- targets of supervised rules and rewards ----------------------------------------------

    def _error(self, n, readout, loss, value):
        """Per-step error dL/dv of a readout: softmax(v) - onehot(label), or v - target."""
        target = self.targets.get(readout)
        if target is None:
            return np.zeros_like(value)
        try:
            return self._target_error(n, readout, loss, value, np.asarray(target))
        except TargetError:
            raise
        except (IndexError, ValueError) as error:  # numpy: a target of the wrong shape or range
            raise TargetError(str(error)) from error

    def _target_error(self, n, readout, loss, value, target):
        if loss == "cross_entropy":
            labels = target if target.ndim == 1 else target[n]
            if labels.shape != (value.shape[0],):
                raise TargetError(f"targets of readout {readout!r} (cross_entropy) are class "
                                  f"labels [batch] or [steps, batch], not {list(target.shape)}")
            onehot = np.zeros_like(value)
            onehot[np.arange(value.shape[0]), labels.astype(int)] = 1.0
            return _softmax(value) - onehot
        if target.ndim == 3:
            target = target[n]
        if target.shape[-1] != value.shape[-1]:
            raise TargetError(f"targets of readout {readout!r} ({loss}) must be [steps, batch, "
                              f"{value.shape[-1]}] or [batch, {value.shape[-1]}], not "
                              f"{list(np.shape(self.targets[readout]))}")
        return value - target

    def _labels(self, n, size):
        """One-hot class labels [batch, size] for local readouts (targets['label'])."""
        labels = self.targets.get("label")
        out = np.zeros((self.batch, size), self.dtype)
        if labels is not None:
            labels = np.asarray(labels)
            try:
                labels = labels if labels.ndim == 1 else labels[n]
                out[np.arange(self.batch), labels.astype(int)] = 1.0
            except IndexError as error:  # labels of the wrong shape or out of range
                raise TargetError(str(error)) from error
        return out

    def _reward(self, n):
        """The reward of step n, [batch, 1] (zero without a reward signal)."""
        if self.reward is None:
            return np.zeros((self.batch, 1), self.dtype)
        reward = np.asarray(self.reward, dtype=self.dtype)
        try:
            return np.broadcast_to(reward[n].reshape(-1, 1), (self.batch, 1))
        except (IndexError, ValueError) as error:  # a reward of the wrong shape
            raise TargetError(str(error)) from error

    def _state(self, attribute):
        """A recorded value: an attribute, or the sum of several ('p0_r0+p0_r1': the receptor
        currents of a population without a current of its own)."""
        if "+" not in attribute:
            return getattr(self, attribute)
        return sum(getattr(self, part) for part in attribute.split("+"))

    def _nonfinite(self, n, watched):
        """A NonFiniteError for the first NaN or inf of step ``n``, else None: a population
        whose kernel reported a non-finite membrane (``self._faulty``), else a projection of
        ``watched`` whose weights (or accumulated updates) are not finite. A current, trace or
        signal feeding it that is not finite is named instead, as the cause."""
        faulty, self._faulty = self._faulty, []
        found = [self.CHECKED[index] for index in faulty[:1]]
        for entry in watched:
            if found:
                break
            value = self.updates[entry[0]] if self.accumulate else getattr(self, entry[0])
            if not np.isfinite(value).all():
                found = [entry]
        if not found:
            return None
        attribute, kind, owner, variable, causes = found[0]
        value = getattr(self, attribute)
        if kind == "projection" and self.accumulate:
            value, variable = self.updates[attribute], "dw"
        for cause, name in causes:
            if not np.isfinite(getattr(self, cause)).all():
                value, variable = getattr(self, cause), name
                break
        return NonFiniteError(kind, owner, variable, n, _nonfinite_value(value))

    def run(self, steps, inputs=None, record=(), progress=None, targets=None, reward=None,
            learn=True, accumulate=False, every=1, count=(), allow_nonfinite=False):
        """Simulate ``steps`` steps; returns {variable: array [steps, batch, *shape]} and the
        final weights of the projections as {'<projection>.w': array}.

        ``record`` names VARIABLES (population and input variables, the traces and signals of
        learning rules as '<projection>.<name>') and '<projection>.w' (the weight history,
        returned as '<projection>.w.history' [recorded steps, *weight shape]); they are kept
        after the steps n = 0, every, 2 every, ... ``count`` names spike variables whose
        totals over the run are returned as '<variable>.count' [batch, *shape].
        After every step the state is checked for NaN and inf: the first one raises
        NonFiniteError (population or projection, variable, step), or with
        ``allow_nonfinite`` is appended to ``self.nonfinite`` and the run goes on unchecked.

        ``targets`` maps a readout to its labels [batch] (cross-entropy) or target values
        [steps, batch, n] (mse), and 'label' to the class labels of local readouts; ``reward``
        is [steps] or [steps, batch]; ones that do not fit raise TargetError (a ValueError).
        ``learn=False`` freezes the weights.
        ``accumulate=True`` (with ``learn``) keeps the weights fixed and returns the sum of
        the updates the rules would make, sum_n lr * mean_b dw_b[n], as '<projection>.dw' (the
        caller applies it, e.g. once per mini-batch; bounds in BOUNDS)."""
        self.targets = dict(targets or {})
        self.reward = reward
        self.learning = bool(learn)
        self.accumulate = bool(accumulate)
        self.updates = {attribute: np.zeros_like(getattr(self, attribute))
                        for attribute in self.WEIGHTS.values()}
        inputs = self._inputs(steps, inputs)
        every = int(every)
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, not {every}")
        recorders = self._recorders(record, -(-steps // every))
        counters = {key: np.zeros((self.batch, int(np.prod(self.VARIABLES[key][1]))), np.int64)
                    for key in count}
        self._loop(steps, inputs, every, recorders, counters, progress, allow_nonfinite)
        out = {key: buffer.reshape(shape) for key, _, buffer, shape in recorders}
        for key, total in counters.items():
            out[key + ".count"] = total.reshape((self.batch,) + tuple(self.VARIABLES[key][1]))
        for name, attribute in self.WEIGHTS.items():
            out[name + ".w"] = getattr(self, attribute).copy()
            if self.accumulate:
                out[name + ".dw"] = self.updates[attribute]
        return out

    def _inputs(self, steps, inputs):
        """The data inputs as bool arrays [steps, batch, n] (zeros for those not given);
        ValueError when an input, or a file input's spikes, hold fewer than ``steps`` steps."""
        inputs = dict(inputs or {})
        for name, (shape, source) in self.INPUTS.items():
            if source == "data":
                given = np.asarray(inputs.get(name, np.zeros((steps, 1) + tuple(shape), bool)))
                given = given.reshape(given.shape[0], -1, int(np.prod(shape)))
                if given.shape[0] < steps:
                    raise ValueError(f"input {name!r} has {given.shape[0]} steps, {steps} needed")
                inputs[name] = np.broadcast_to(given.astype(bool), (given.shape[0], self.batch,
                                                                   given.shape[2]))
        for name, available in self.EVENTS.items():
            if available < steps:
                raise ValueError(f"input {name!r} has {available} steps of spikes in its file, "
                                 f"{steps} needed")
        return inputs

    def _recorders(self, record, kept):
        """(output key, attribute, buffer, shape) for every recorded name, ``kept`` steps."""
        recorders = []
        for key in record:
            if key.endswith(".w") and key[:-2] in self.WEIGHTS:
                attribute = self.WEIGHTS[key[:-2]]
                shape = tuple(getattr(self, attribute).shape)
                recorders.append((key + ".history", attribute,
                                  np.zeros((kept,) + shape, self.dtype), (kept,) + shape))
                continue
            attribute, shape = self.VARIABLES[key]
            dtype = bool if np.asarray(self._state(attribute)).dtype == bool else self.dtype
            recorders.append((key, attribute, np.zeros((kept, self.batch, int(np.prod(shape))),
                                                       dtype),
                              (kept, self.batch) + tuple(shape)))
        return recorders

    def _loop(self, steps, inputs, every, recorders, counters, progress, allow_nonfinite):
        """The steps, with recording, counting and the NaN/inf watch after each."""
        watched = [c for c in self.CHECKED if self.learning and c[1] == "projection"]
        checking = True
        self.nonfinite, self._faulty = [], []
        with np.errstate(all="ignore"):  # non-finite values are reported below, not warned
            for n in range(steps):
                self.step(n, inputs)
                if n % every == 0:
                    for _, attribute, buffer, _ in recorders:
                        buffer[n // every] = self._state(attribute).reshape(buffer.shape[1:])
                for key, total in counters.items():
                    total += getattr(self, self.VARIABLES[key][0])
                if checking and (self._faulty or watched):
                    fault = self._nonfinite(n, watched)
                    if fault is not None:
                        if not allow_nonfinite:
                            raise fault
                        self.nonfinite.append(fault)
                        checking = False
                elif self._faulty:
                    self._faulty.clear()
                if progress is not None:
                    progress(n + 1)
