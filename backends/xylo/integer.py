"""Xylo's integer arithmetic in numpy, bit for bit what xylosim 0.1.3 (``xylosim.v2``) computes.

``xylosim.v2`` is the C++ simulator behind rockpool 3.1.0's ``XyloSim``
(``rockpool.devices.xylo.syns61201`` for Xylo Audio 2, ``syns63300`` for Xylo IMU and Xylo Audio
3). :func:`simulate` takes the keywords of ``XyloSim.from_specification`` and returns what
``XyloSim.evolve(inputs, record=True)`` records, from the zero state. Line numbers below are
those of the xylosim 0.1.3 sdist, ``src/v2/cpp/`` (docs/synsense.md, section 1.4).

Numbers. Weights are int8; the shifted weight ``int16(w << shift)`` is passed to
``receiveSpike(int16_t weight, ...)`` (``XyloLayer.cpp`` line 276, ``XyloIAFNeuron.cpp`` line
67), so a shift above 8 can wrap (127 << 9 = 65024 -> -512). Synaptic currents, membranes,
thresholds and biases are int16; ``sat(x)`` clamps to [-32768, 32767], and
``safe_add(x, y, 16)`` (``XyloIAFNeuron.h`` lines 48-69) is exactly ``sat(x + y)``.
``>>`` is the arithmetic shift (floor division by 2**d).

Decay (``XyloIAFNeuron.cpp`` lines 10-28)::

    decay(v, d) = v >> d, except 1 when v > 0 and v >> d == 0       (the minimum-decay rule)
    v - decay(v, d) = v - floor(v / 2**d), but v - 1 when 0 < v < 2**d; 0 when d = 0

so every non-zero state loses at least one unit per step (a negative v never needs the rule:
``v >> d`` is at most -1).

One time step (``XyloLayer::evolve``, ``XyloLayer.cpp`` lines 145-221), from the state
(isyn[j][s], v[j], spk[j] = the hidden spike counts of the previous step)::

  1. inputs: for channel c = 0 .. Nin-1 with n = min(x[c], 15) events, for each synapse
     (c -> hidden j < Nien, receptor s, weight w), n times
         isyn[j][s] = sat(isyn[j][s] + int16(w << shift_in))                 (lines 156-162)
  2. recurrent: for hidden i = 0 .. Nh-1 with n = min(spk[i], 31), the same with w_rec, shift_rec
  3. readout: the same spikes of the LAST Noen hidden neurons to the output currents (shift_out)
  4. clear the spike buffers                                                  (lines 179-180)
  5. hidden j = 0 .. Nh-1 in index order (evolve_neurons, lines 299-358), starting from the
     count n its buffer already holds (alias spikes of lower-index sources, step 6):
         isyn[j][s] -= decay(isyn[j][s], dash_syn[j][s])
         dv = int16(-decay(v[j], dash_mem[j]))      # int16 negation: -(-32768) wraps to -32768
         dv = sat(dv + sum_s isyn[j][s]); dv = sat(dv + bias[j]); v[j] = sat(v[j] + dv)
         while v[j] >= th[j] and n < 31: n += 1; v[j] = int16(v[j] - th[j])   # subtractive reset
         spk[j] = n
  6.     for each alias target a of j: spk[a] = min(spk[a] + n, 31)          (lines 325-344)
  7. output neurons: step 5 with one receptor, at most 1 spike, no aliases

(``XyloIAFNeuron::evolve``, ``XyloIAFNeuron.cpp`` lines 168-224.) ``XyloSim`` records, per step,
each neuron's isyn and v at the end of step 5/7 and the hidden spike buffer after step 6 (so a
lower-index alias target's record includes the counts its higher-index sources added). An input
event of step t reaches the membrane in step t after one synaptic decay; a hidden spike of step
t reaches hidden and output neurons in step t + 1.

Order. Each current (j, s) receives its events in source order: input channels first, then
hidden neurons, each source's ``n`` events at once (n additions of one weight with saturation
are ``sat(x + n w)``). Only the currents that receive both signs and whose partial sums can
leave the int16 range (bounded run by run of sources, :meth:`_Synapses.deliver`) depend on the
order; they are folded in order (:func:`_fold`, over each current's non-zero weights), all
others are ``sat(x + sum)`` from one matrix product.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

INT16_MIN, INT16_MAX = -(2 ** 15), 2 ** 15 - 1
#: events per input channel per step (``MAX_NUM_INP_SPIKES``, XyloIAFNeuron.h line 3)
MAX_INPUT_EVENTS = 15
#: spikes per hidden neuron per step (``MAX_NUM_SPIKES``, line 4)
MAX_SPIKES = 31
#: spikes per output neuron per step (``MAX_NUM_OUT_SPIKES``, line 5)
MAX_OUTPUT_SPIKES = 1
#: the diagnostic code of a specification or input that cannot be simulated
CODE = "E640"

#: ``XyloSim.from_specification`` keywords that do not change the arithmetic (accepted, unused)
UNUSED_KEYS = ("dt", "verify_config", "output_mode")
KEYS = ("weights_in", "weights_out", "weights_rec", "dash_mem", "dash_mem_out", "dash_syn",
        "dash_syn_2", "dash_syn_out", "threshold", "threshold_out", "bias", "bias_out",
        "weight_shift_in", "weight_shift_rec", "weight_shift_out", "aliases") + UNUSED_KEYS

#: dashes xylosim computes deterministically: ``v >> dash`` on an int is defined for 0..31
DASH_RANGE = (0, 31)
#: weight shifts: int16(w << s) is 0 from 16 on, so 0..15 covers every distinct weight
SHIFT_RANGE = (0, 15)
#: runs of sources whose partial sums are bounded separately (:meth:`_Synapses.deliver`)
BLOCKS = 8


class SpecificationError(ValueError):
    """A specification or input that xylosim would refuse or compute undefined: ``code``,
    the ``option`` (keyword) at fault, the message and a hint."""

    def __init__(self, option: str, message: str, hint: str):
        super().__init__(f"{CODE} {option}: {message} (hint: {hint})")
        self.code, self.option, self.message, self.hint = CODE, option, message, hint


def _integers(name: str, value, low: int, high: int, allow_bool: bool = False) -> np.ndarray:
    """``value`` as an int64 array after checking that it holds integers in [low, high]."""
    array = np.asarray(value)
    if array.dtype == bool and allow_bool:
        array = array.astype(np.int64)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise SpecificationError(name, "holds values that are not integers",
                                     "quantise first (rockpool.transform.quantize_methods)")
    elif array.dtype.kind not in "iu":
        raise SpecificationError(name, f"has dtype {array.dtype}; integers are expected",
                                 "pass an integer numpy array")
    if array.size and (array.min() < low or array.max() > high):
        raise SpecificationError(name, f"holds {int(array.min())}..{int(array.max())}, "
                                 f"outside {low}..{high}", f"keep it within {low}..{high}")
    return array.astype(np.int64)


def _shaped(name: str, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if array.shape != shape:
        raise SpecificationError(name, f"has shape {array.shape}; {shape} is expected",
                                 "see XyloSim.from_specification for the shapes")
    return array


def _weights(name: str, value, ndims: tuple[int, ...]) -> np.ndarray:
    """An int8 weight array as [rows, columns, receptors] (receptors 1 or 2)."""
    array = _integers(name, value, -128, 127)
    if array.ndim not in ndims or (array.ndim == 3 and array.shape[2] not in (1, 2)):
        hint = ("weights_out is [Noen, Nout]" if ndims == (2,) else
                "weights are [pre, post] or [pre, post, receptors] with 1 or 2 receptors")
        raise SpecificationError(name, f"has shape {array.shape}", hint)
    return array.reshape(array.shape[0], array.shape[1], -1)


def _shifted(weights: np.ndarray, shift: int) -> np.ndarray:
    """``int16(w << shift)``: the weight as receiveSpike's int16_t argument gets it."""
    return ((weights << shift) + 2 ** 15) % 2 ** 16 - 2 ** 15


@dataclasses.dataclass(frozen=True)
class Network:
    """A checked specification, in the simulator's integers.

    Defaults are ``XyloSim.from_specification``'s (rockpool 3.1.0, syns61201/xylo_sim.py lines
    224-262): no recurrent weights, every dash 0 (a dash_syn of 0 loses every input), every
    threshold 0 (a neuron at rest fires the maximum count), biases 0, shifts 0, no aliases. The
    hidden population has ``weights_rec.shape[0]`` neurons, or ``Nien`` without weights_rec.
    """

    n_in: int
    n_hidden: int
    n_out: int
    #: 1, or 2 when weights_in or weights_rec has two receptors
    receptors: int
    #: [Nin + Nh, Nh * receptors]: shifted input rows (zero beyond Nien), then recurrent rows
    w_hidden: np.ndarray
    #: [Noen, Nout]: shifted readout weights from the last Noen hidden neurons
    w_out: np.ndarray
    dash_syn: np.ndarray      # [Nh, receptors]
    dash_mem: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    dash_syn_out: np.ndarray  # [Nout, 1]
    dash_mem_out: np.ndarray
    threshold_out: np.ndarray
    bias_out: np.ndarray
    #: (source, target) pairs in the order xylosim visits them
    aliases: tuple[tuple[int, int], ...]

    @classmethod
    def from_specification(cls, spec: Mapping) -> "Network":
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise SpecificationError(unknown[0], "is not a keyword of "
                                     "XyloSim.from_specification", "remove it (the mapper's "
                                     "'mapped_graph' is one such key)")
        for name in ("weights_in", "weights_out"):
            if spec.get(name) is None:
                raise SpecificationError(name, "is missing", "it has no default")
        w_in = _weights("weights_in", spec["weights_in"], (2, 3))
        w_out = _weights("weights_out", spec["weights_out"], (2,))[:, :, 0]
        n_in, n_ien = w_in.shape[:2]
        if spec.get("weights_rec") is None:
            n_hidden = n_ien
            w_rec = np.zeros((n_hidden, n_hidden, 1), np.int64)
        else:
            w_rec = _weights("weights_rec", spec["weights_rec"], (2, 3))
            n_hidden = w_rec.shape[0]
            _shaped("weights_rec", w_rec[:, :, 0], (n_hidden, n_hidden))
        n_oen, n_out = w_out.shape
        if n_ien > n_hidden or n_oen > n_hidden:
            raise SpecificationError("weights_in" if n_ien > n_hidden else "weights_out",
                                     f"addresses {max(n_ien, n_oen)} hidden neurons of "
                                     f"{n_hidden}", "XyloSim needs Nien <= Nh and Noen <= Nh")
        receptors = max(w_in.shape[2], w_rec.shape[2])
        shifts = [int(_shaped(name, _integers(name, spec.get(name, 0), *SHIFT_RANGE), ()))
                  for name in ("weight_shift_in", "weight_shift_rec", "weight_shift_out")]
        w_hidden = np.zeros((n_in + n_hidden, n_hidden, receptors), np.int64)
        w_hidden[:n_in, :n_ien, :w_in.shape[2]] = _shifted(w_in, shifts[0])
        w_hidden[n_in:, :, :w_rec.shape[2]] = _shifted(w_rec, shifts[1])

        def vector(name, size, low, high):
            value = spec.get(name)
            if value is None:
                return np.zeros(size, np.int64)
            return _shaped(name, _integers(name, value, low, high), (size,))

        dash_syn = [vector("dash_syn", n_hidden, *DASH_RANGE),
                    vector("dash_syn_2", n_hidden, *DASH_RANGE)]
        return cls(
            n_in=n_in, n_hidden=n_hidden, n_out=n_out, receptors=receptors,
            w_hidden=w_hidden.reshape(n_in + n_hidden, n_hidden * receptors),
            w_out=_shifted(w_out, shifts[2]),
            dash_syn=np.stack(dash_syn[:receptors], axis=1),
            dash_mem=vector("dash_mem", n_hidden, *DASH_RANGE),
            threshold=vector("threshold", n_hidden, INT16_MIN, INT16_MAX),
            bias=vector("bias", n_hidden, INT16_MIN, INT16_MAX),
            dash_syn_out=vector("dash_syn_out", n_out, *DASH_RANGE)[:, None],
            dash_mem_out=vector("dash_mem_out", n_out, *DASH_RANGE),
            threshold_out=vector("threshold_out", n_out, INT16_MIN, INT16_MAX),
            bias_out=vector("bias_out", n_out, INT16_MIN, INT16_MAX),
            aliases=_aliases(spec.get("aliases"), n_hidden))


def _aliases(value, n_hidden: int) -> tuple[tuple[int, int], ...]:
    if value is None:
        return ()
    hint = "aliases is one list of hidden-neuron indices per hidden neuron"
    if len(value) != n_hidden:
        raise SpecificationError("aliases", f"has {len(value)} entries for {n_hidden} hidden "
                                 "neurons", hint)
    pairs = []
    for source, targets in enumerate(value):
        for target in _integers("aliases", np.asarray(targets).reshape(-1), 0, n_hidden - 1):
            pairs.append((source, int(target)))
    return tuple(pairs)


def _decay(v: np.ndarray, dash: np.ndarray) -> np.ndarray:
    """``decay(v, dash)``: ``v >> dash``, at least 1 for v > 0 (XyloIAFNeuron.cpp 10-28)."""
    dv = v >> dash
    return np.where((dv == 0) & (v > 0), 1, dv)


def _integrate(isyn: np.ndarray, v: np.ndarray, dash_syn: np.ndarray, dash_mem: np.ndarray,
               bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 5 up to the threshold: decayed currents [B, N, S] and the integrated membrane.

    ``dv = int16(-decay(v))`` wraps 32768 to -32768 (only v = -32768 with dash 0 reaches it),
    ``dv = sat(sat(dv + sum isyn) + bias)``, ``v = sat(v + dv)`` (XyloIAFNeuron.cpp 186-206; a
    zero bias adds nothing, so the has_bias flag needs no modelling here).
    """
    isyn = isyn - _decay(isyn, dash_syn)
    dv = -_decay(v, dash_mem)
    dv[dv == 2 ** 15] = INT16_MIN
    dv = np.clip(dv + isyn.sum(axis=-1), INT16_MIN, INT16_MAX)
    dv = np.clip(dv + bias, INT16_MIN, INT16_MAX)
    return isyn, np.clip(v + dv, INT16_MIN, INT16_MAX)


def _fire(v: np.ndarray, threshold: np.ndarray, start, limit: int):
    """The subtractive-reset loop (XyloIAFNeuron.cpp 208-221) from ``start`` spikes.

    For a positive threshold it is closed-form: k = clip(floor(v / th), 0, limit - start)
    spikes, v - k th (never below 0, no wrap). For th <= 0 the loop runs while v >= th and
    n < limit with ``v = int16(v - th)``, which can wrap above 32767 and stop there.
    """
    start = np.broadcast_to(start, v.shape)
    positive = threshold > 0
    count = np.clip(v // np.where(positive, threshold, 1), 0, limit - start)
    count = np.where(positive, count, 0)
    n, v = start + count, v - count * threshold
    looped = np.flatnonzero(~positive)
    if looped.size:
        vl, nl, th = v[..., looped], n[..., looped], threshold[looped]
        for _ in range(limit):
            go = (vl >= th) & (nl < limit)
            if not go.any():
                break
            nl = nl + go
            vl = np.where(go, (vl - th + 2 ** 15) % 2 ** 16 - 2 ** 15, vl)
        v, n = v.copy(), n.copy()
        v[..., looped], n[..., looped] = vl, nl
    return n, v


class _Synapses:
    """One weight matrix [K sources, M currents] and its delivery (steps 1-3)."""

    def __init__(self, weights: np.ndarray):
        self.weights = weights
        self.signed = np.concatenate([np.maximum(weights, 0), np.minimum(weights, 0)],
                                     axis=1).astype(np.float32)
        # each current's non-zero weights in source order, padded with weight 0 (a zero term
        # leaves an in-range value unchanged) to [M, _width(widest fan-in)]
        targets, sources = np.nonzero(weights.T)
        self.fan_in = np.bincount(targets, minlength=weights.shape[1])
        first = np.concatenate([[0], np.cumsum(self.fan_in)[:-1]])
        slot = np.arange(targets.size) - first[targets]
        width = _width(max(2, int(self.fan_in.max(initial=0))))
        self.sources = np.zeros((weights.shape[1], width), np.intp)
        # int32 holds every partial sum |sum_k n_k w_k| <= K * 31 * 32768 up to K = 2112
        small = weights.shape[0] * MAX_SPIKES * 2 ** 15 < 2 ** 31 - 2 ** 16
        self.values = np.zeros((weights.shape[1], width), np.int32 if small else np.int64)
        self.sources[targets, slot] = sources
        self.values[targets, slot] = weights[sources, targets]

    def deliver(self, state: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """``state`` [B, M] after every source's events ``counts`` [B, K], in source order.

        The sources with events are cut into :data:`BLOCKS` runs in source order. For each
        run, P_j and N_j, the sums of its positive and of its negative terms ``count * w``,
        come from one float32 product. With S_j = x + the sum of the earlier runs, every
        partial sum lies in [S_j + N_j, S_j + P_j]; when all these stay in [-32768, 32767]
        nothing saturates and the result is x + P + N. With one sign only (N = 0 or P = 0)
        it is sat(x + P + N) in any order. The remaining pairs (both signs, a bound outside
        int16) are folded in order by :func:`_fold`. float32 is exact here: every sum of
        integers of one sign below 2**24 is exact (and one that is not is far beyond int16),
        so S_j, P_j and N_j are exact while the bounds hold, and beyond them only the sign
        of P and N and the side of the range are used.
        """
        active = np.flatnonzero(counts.any(axis=0))
        if active.size == 0:
            return state
        if 2 * active.size > counts.shape[1]:  # copying the rows would cost more than it saves
            active = np.arange(counts.shape[1])
        m = self.weights.shape[1]
        events = counts[:, active].astype(np.float32)
        signed = self.signed if active.size == counts.shape[1] else self.signed[active]
        running, safe = state.astype(np.float32), np.ones(state.shape, bool)
        positive = negative = np.float32(0)
        edges = np.linspace(0, active.size, min(BLOCKS, active.size) + 1).astype(int)
        for begin, end in zip(edges[:-1], edges[1:], strict=True):
            sums = events[:, begin:end] @ signed[begin:end]
            p, n = sums[:, :m], sums[:, m:]
            safe &= (running + p <= INT16_MAX) & (running + n >= INT16_MIN)
            running, positive, negative = running + (p + n), positive + p, negative + n
        result = np.clip(running, INT16_MIN, INT16_MAX).astype(np.int64)
        mixed = ~safe & (positive > 0) & (negative < 0)
        if mixed.any():
            rows, columns = np.nonzero(mixed)
            width = _width(int(self.fan_in[columns].max()))  # >= 2: both signs arrive
            flat = self.sources[columns, :width] + rows[:, None] * counts.shape[1]
            values = self.values[columns, :width]
            terms = np.take(counts.astype(values.dtype), flat) * values
            result[rows, columns] = _fold(state[rows, columns].astype(values.dtype), terms)
        return result


def _width(n: int) -> int:
    """A fan-in ``n`` padded for :func:`_fold`'s tree: the smallest multiple of 2**k >= n,
    k = max(1, bit_length(n) - 4), so even, at most 16 tree leaves left, at most 1/8 more."""
    k = max(1, n.bit_length() - 4)
    return -(-n // 2 ** k) * 2 ** k


def _fold(start: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """x <- sat(x + a_k) for k = 0, 1, ... (the columns of ``terms`` [P, K], K >= 2 even),
    P values at once.

    Each step is f_k(x) = min(max(x + a, lo), hi) with a = a_k, lo = -32768, hi = 32767; such
    functions compose into the same form (f2 after f1: a = a1 + a2,
    hi = min(max(hi1 + a2, lo2), hi2), lo = min(max(lo1 + a2, lo2), hi)), so the fold is a
    pairwise tree while the width is even, then applied to x in order; lo and hi stay within
    int16.
    """
    a, a2 = terms[:, ::2], terms[:, 1::2]
    hi = np.clip(INT16_MAX + a2, INT16_MIN, INT16_MAX)
    lo = np.minimum(np.maximum(INT16_MIN + a2, INT16_MIN), hi)
    a = a + a2
    while a.shape[1] % 2 == 0:
        a2, lo2, hi2 = a[:, 1::2], lo[:, 1::2], hi[:, 1::2]
        hi = np.minimum(np.maximum(hi[:, ::2] + a2, lo2), hi2)
        lo = np.minimum(np.maximum(lo[:, ::2] + a2, lo2), hi)
        a = a[:, ::2] + a2
    x = start
    for k in range(a.shape[1]):
        x = np.minimum(np.maximum(x + a[:, k], lo[:, k]), hi[:, k])
    return x


class _Aliases:
    """Steps 5-6 for aliased neurons.

    A source j < a ("forward") has evolved before a: a starts its loop from
    n0 = min(sum of those sources' counts, 31) and fires at most 31 - n0 more. A source j >= a
    (including a itself) adds its count after a has evolved: the buffer becomes
    min(count_a + sum, 31). Capped additions of non-negative counts equal one capped sum.
    """

    def __init__(self, pairs: tuple[tuple[int, int], ...]):
        forward: dict[int, list[int]] = {}
        for source, target in pairs:
            if source < target:
                forward.setdefault(target, []).append(source)
        self.forward = [(target, np.array(forward[target])) for target in sorted(forward)]
        backward = [(s, t) for s, t in pairs if s >= t]
        self.back_sources = np.array([s for s, _ in backward], np.int64)
        self.back_targets = np.array([t for _, t in backward], np.int64)

    def apply(self, v_integrated, threshold, n, v):
        """Counts and membranes [B, Nh] of aliased targets, then the buffer after step 6."""
        for target, sources in self.forward:
            start = np.minimum(n[:, sources].sum(axis=1), MAX_SPIKES)
            counts, membrane = _fire(v_integrated[:, target:target + 1],
                                     threshold[target:target + 1], start[:, None], MAX_SPIKES)
            n[:, target], v[:, target] = counts[:, 0], membrane[:, 0]
        if self.back_sources.size == 0:
            return n, v
        added = np.zeros_like(n)
        np.add.at(added, (slice(None), self.back_targets), n[:, self.back_sources])
        return np.minimum(n + added, MAX_SPIKES), v


def _inputs(inputs, n_in: int) -> tuple[np.ndarray, bool]:
    """Input counts as [steps, batch, Nin] clipped at 15, and whether a batch was given."""
    counts = _integers("inputs", inputs, 0, np.iinfo(np.int64).max, allow_bool=True)
    if counts.ndim not in (2, 3) or counts.shape[-1] != n_in:
        raise SpecificationError("inputs", f"has shape {counts.shape}; [steps, {n_in}] or "
                                 f"[steps, batch, {n_in}] is expected",
                                 "one column per input channel (weights_in's first axis)")
    batched = counts.ndim == 3
    counts = np.minimum(counts, MAX_INPUT_EVENTS)
    return (counts if batched else counts[:, None, :]), batched


def simulate(spec: Mapping[str, np.ndarray | int | None], inputs: np.ndarray,
             record_state: bool = True) -> dict[str, np.ndarray]:
    """Run the specification ``spec`` (the keywords of ``XyloSim.from_specification``) on
    ``inputs`` (event counts [steps, Nin], or [steps, batch, Nin] for independent samples),
    from the zero state, as xylosim 0.1.3 does (module docstring).

    Returns 'spikes' [steps, (batch,) Nh] (hidden spike counts 0..31, after aliases: XyloSim's
    'Spikes'), 'spikes_out' [steps, (batch,) Nout] (0/1, XyloSim's output) and, with
    ``record_state``, 'vmem', 'isyn' (and 'isyn2' with two receptors) [.., Nh], 'vmem_out',
    'isyn_out' [.., Nout]: each neuron's state at the end of the step, as XyloSim records it.
    Raises :class:`SpecificationError` for a specification xylosim would refuse.
    """
    net = Network.from_specification(spec)
    x, batched = _inputs(inputs, net.n_in)
    steps, batch = x.shape[:2]
    nh, no, s = net.n_hidden, net.n_out, net.receptors
    hidden, readout = _Synapses(net.w_hidden), _Synapses(net.w_out)
    aliases = _Aliases(net.aliases)
    isyn = np.zeros((batch, nh, s), np.int64)
    v = np.zeros((batch, nh), np.int64)
    spikes = np.zeros((batch, nh), np.int64)
    isyn_out = np.zeros((batch, no, 1), np.int64)
    v_out = np.zeros((batch, no), np.int64)
    record = {"spikes": np.zeros((steps, batch, nh), np.uint8),
              "spikes_out": np.zeros((steps, batch, no), np.uint8)}
    if record_state:
        record.update({name: np.zeros((steps, batch, size), np.int16) for name, size in
                       (("vmem", nh), ("isyn", nh), ("vmem_out", no), ("isyn_out", no))})
        if s == 2:
            record["isyn2"] = np.zeros((steps, batch, nh), np.int16)
    n_oen = net.w_out.shape[0]
    for t in range(steps):
        sources = np.concatenate([x[t], spikes], axis=1)
        isyn = hidden.deliver(isyn.reshape(batch, nh * s), sources).reshape(batch, nh, s)
        isyn_out = readout.deliver(isyn_out[:, :, 0], spikes[:, nh - n_oen:])[:, :, None]
        isyn, v_integrated = _integrate(isyn, v, net.dash_syn, net.dash_mem, net.bias)
        spikes, v = _fire(v_integrated, net.threshold, 0, MAX_SPIKES)
        spikes, v = aliases.apply(v_integrated, net.threshold, spikes, v)
        isyn_out, v_out = _integrate(isyn_out, v_out, net.dash_syn_out, net.dash_mem_out,
                                     net.bias_out)
        spikes_out, v_out = _fire(v_out, net.threshold_out, 0, MAX_OUTPUT_SPIKES)
        record["spikes"][t], record["spikes_out"][t] = spikes, spikes_out
        if record_state:
            record["vmem"][t], record["isyn"][t] = v, isyn[:, :, 0]
            record["vmem_out"][t], record["isyn_out"][t] = v_out, isyn_out[:, :, 0]
            if s == 2:
                record["isyn2"][t] = isyn[:, :, 1]
    return record if batched else {name: array[:, 0] for name, array in record.items()}
