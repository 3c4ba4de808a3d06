"""The runtime library of snnc's reference simulator, copied verbatim next to every generated
``simulation.py`` as ``snnc_runtime.py`` (the output stays standalone: numpy only; numba used
when installed and ``SNNC_NO_NUMBA`` is not set, the C steps of ``simulation.c`` when a C
compiler is there and ``SNNC_NO_NATIVE`` is not set).

The generated module holds what is particular to one network (its constants, ``__init__``,
``reset`` and ``step``, straight-line code with keyword arguments and provenance comments);
this module holds what every network shares:

- the errors a run raises (:class:`TargetError`, :class:`NonFiniteError`);
- the kernels ``step`` calls: event-driven delivery (``_propagate``) and one step of a
  population (``_neuron``: its currents' decay, the membrane, spikes, refractoriness,
  adaptation and reset in one pass over the neurons), as numpy code, replaced by numba loops
  of the same arithmetic when numba is available. The membrane's maths is written once
  (``_integrate``, ``_fires``, ``_adapt``, ``_reset_value``) and used by both versions, so
  they give the same numbers bit for bit. The numba kernels are generic over sizes; a
  network's constants are arguments (scalars, or per-neuron vectors where they vary), so
  the kernels compile once per argument types, not once per network;
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
    """Event-driven delivery: out[b, post[s]] += weights[s] for every synapse s (CSR by pre
    neuron) of every pre neuron j spiking in sample b, added one at a time in the order b, j,
    s (np.add.at is unbuffered, so its sums round as the numba loop's do)."""
    b, j = np.nonzero(spikes)
    if j.size == 0:
        return
    starts = indptr[j]
    counts = indptr[j + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return
    index = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    np.add.at(out, (np.repeat(b, counts), post[index]), weights[index])


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


def _fault(bad, nans, high):
    """What a membrane kernel reports: 0.0 when no value was NaN or inf (``bad`` counts those
    that were), else nan when one was NaN (``nans``), else inf when one was +inf (``high``),
    else -inf."""
    if not bad:
        return 0.0
    if nans:
        return np.nan
    return np.inf if high else -np.inf


def _neuron(v, currents, arriving, decays, a_mem, v_leak, c_in, bias, threshold, v_reset,
            beta, rho, reset, refractory, spiking, ref, adapt, spikes, u):
    """One step of a population's neurons [batch, n], currents and membrane in one call (numpy;
    the numba version below does the same arithmetic element by element, in one pass).

    Currents (tuples, one entry per current: the model's own ``i`` first, then one per
    receptor): ``arriving[c]`` holds ``decays[c] * currents[c]`` of the last step plus the
    weights delivered since, so this step's current is ``currents[c] <- arriving[c]``, and
    ``arriving[c] <- decays[c] * currents[c]`` starts the next step's; the input of the
    membrane is total = 0 + currents[0] + currents[1] + ...

    Membrane: v <- _integrate(v, total, a_mem, v_leak, c_in, bias); then, for spiking models,
    refractory hold (v = v_reset while ``ref`` > 0, counting down; ``ref`` is None without
    refractoriness), spike v > threshold + beta * adapt (``adapt`` None: v > threshold, no
    adaptation), adapt <- rho adapt + s, reset (``RESET_*``), ref <- refractory on a spike.
    ``u`` (None when nothing reads it) keeps the membrane before the reset, for surrogate
    derivatives. Parameters and decays are scalars or per-neuron vectors [n]. Returns 0.0 when
    the new membrane (before hold and reset) is finite everywhere, else nan, inf or -inf
    (``_fault``)."""
    total = np.zeros_like(v)
    for now, then, decay in zip(currents, arriving, decays, strict=True):
        now[...] = then
        then *= decay
        total += now
    v[...] = _integrate(v, total, a_mem, v_leak, c_in, bias)
    fault = 0.0 if np.isfinite(v).all() else \
        _fault(1, int(np.isnan(v).any()), int((v == np.inf).any()))
    if not spiking:
        if u is not None:
            u[...] = v
        return fault
    if ref is not None:
        held = ref > 0
        np.copyto(v, v_reset, where=held)
        ref -= held
    if u is not None:
        u[...] = v
    if adapt is None:
        spikes[...] = v > threshold
    else:
        spikes[...] = _fires(v, threshold, beta, adapt)
        adapt[...] = _adapt(adapt, rho, spikes)
    if reset != RESET_NONE:
        np.copyto(v, _reset_value(v, threshold, v_reset, reset), where=spikes)
    if ref is not None:
        ref[spikes] = refractory
    return fault


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


# ---- numba: the same kernels compiled, bound when a run first takes the Python loop ----------

#: SNNC_NO_NUMBA set when this module was loaded (or when a run starts): numpy kernels
_NUMBA_WANTED = not os.environ.get("SNNC_NO_NUMBA")
_NUMBA = {}  # kernel name -> its numba version, once compiled (or loaded from numba's cache)
#: the kernels the generated module calls, rebound to their numba versions
_KERNELS = ("_propagate", "_neuron")
#: what the numba kernels call (their Python versions until _accelerate compiles them; the
#: numpy kernels call the plain functions, which stay Python)
_integrate_nb, _fires_nb, _adapt_nb, _reset_value_nb, _fault_nb = \
    _integrate, _fires, _adapt, _reset_value, _fault


def _at(x, k):
    """x[k] for a per-neuron vector, x itself for a scalar (numba picks one by type)."""
    return x[k] if isinstance(x, np.ndarray) else x


def _like(x, array):
    """A scalar parameter in ``array``'s dtype (float32 simulations compute in float32,
    as numpy does with a Python float); a per-neuron vector as it is."""
    return x if isinstance(x, np.ndarray) else array.dtype.type(x)


def _propagate_loop(spikes, indptr, post, weights, out):
    """``_propagate`` as loops (compiled by numba)."""
    for b in range(spikes.shape[0]):
        ob = out[b]
        for j in range(spikes.shape[1]):
            if spikes[b, j]:
                for s in range(indptr[j], indptr[j + 1]):
                    ob[post[s]] += weights[s]


def _neuron_loop(v, currents, arriving, decays, a_mem, v_leak, c_in, bias, threshold,
                 v_reset, beta, rho, reset, refractory, spiking, ref, adapt, spikes, u):
    """``_neuron`` as one pass over the neurons (compiled by numba). The currents are tuples,
    so their number is a constant of each compiled version and the loop over them unrolls;
    None arguments remove their branches when compiled; the selects are branch-free, so the
    loop vectorises."""
    a_mem, v_leak, c_in, bias = _like(a_mem, v), _like(v_leak, v), _like(c_in, v), \
        _like(bias, v)
    threshold, v_reset = _like(threshold, v), _like(v_reset, v)
    beta, rho = _like(beta, v), _like(rho, v)
    zero = _like(0.0, v)
    bad = nans = high = 0
    for b in range(v.shape[0]):
        vb, sb = v[b], spikes[b]
        for k in range(v.shape[1]):
            total = zero
            for c in range(len(currents)):
                x = arriving[c][b, k]
                currents[c][b, k] = x
                arriving[c][b, k] = _at(_like(decays[c], v), k) * x
                total += x
            x = _integrate_nb(vb[k], total, _at(a_mem, k), _at(v_leak, k), _at(c_in, k),
                              _at(bias, k))
            bad += (x - x) != 0.0  # NaN for NaN and inf
            nans += x != x
            high += x == np.inf
            if not spiking:
                vb[k] = x
                if u is not None:
                    u[b, k] = x
                continue
            if ref is not None:
                held = ref[b, k] > 0
                x = _at(v_reset, k) if held else x
                left = ref[b, k] - 1 if held else ref[b, k]
            if u is not None:
                u[b, k] = x
            if adapt is None:
                fire = x > _at(threshold, k)
            else:
                fire = _fires_nb(x, _at(threshold, k), _at(beta, k), adapt[b, k])
                adapt[b, k] = _adapt_nb(adapt[b, k], _at(rho, k), fire)
            sb[k] = fire
            after = _reset_value_nb(x, _at(threshold, k), _at(v_reset, k), reset)
            vb[k] = after if fire else x
            if ref is not None:
                ref[b, k] = refractory if fire else left
    return _fault_nb(bad, nans, high)


def _accelerate(namespace):
    """Bind the numba versions of the kernels in ``namespace`` (the generated module's
    globals) where it holds the numpy ones; numba is imported and the kernels compiled (or
    loaded from numba's cache beside this file) on the first call. Nothing without numba or
    with SNNC_NO_NUMBA (when this module was loaded or now)."""
    global _integrate_nb, _fires_nb, _adapt_nb, _reset_value_nb, _fault_nb
    if not _NUMBA_WANTED or os.environ.get("SNNC_NO_NUMBA"):
        return
    if not _NUMBA:
        try:
            import numba
            from numba.extending import overload
        except ImportError:  # the numpy kernels stay in use
            return
        plain_at, plain_like = _at, _like

        def _at_typed(x, k):
            if isinstance(x, numba.types.Array):
                return lambda x, k: x[k]
            return lambda x, k: x

        def _like_typed(x, array):
            if isinstance(x, numba.types.Array):
                return lambda x, array: x
            dtype = array.dtype
            return lambda x, array: dtype(x)

        overload(plain_at)(_at_typed)
        overload(plain_like)(_like_typed)
        jit = numba.njit(cache=True)
        _integrate_nb, _fires_nb, _adapt_nb = jit(_integrate), jit(_fires), jit(_adapt)
        _reset_value_nb, _fault_nb = jit(_reset_value), jit(_fault)
        _NUMBA.update(_propagate=jit(_propagate_loop), _neuron=jit(_neuron_loop))
    for name in _KERNELS:
        if namespace.get(name) is globals()[name]:
            namespace[name] = _NUMBA[name]


# ---- the native loop: simulation.c compiled with the system's C compiler ----------------------

#: SNNC_NO_NATIVE set when this module was loaded (or when a run starts): steps in Python
_NATIVE_WANTED = not os.environ.get("SNNC_NO_NATIVE")
#: no contraction into fused multiply-adds, no fast-math: C computes what numpy computes
#: (-fno-trapping-math only lets comparisons of floats vectorise: the values stay the same);
#: for this machine's processor (its description is part of the library's key), or for any
#: processor of its kind where the compiler does not know -march=native
_C_FLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
            "-fno-trapping-math")
_C_HOST = ("-march=native",)
_LIBRARIES = {}  # compiled library's key -> its step function (None: it did not compile)
_C_TYPES = {"float64": "double", "float32": "float", "int64": "int64_t", "int32": "int32_t"}


def _compiler():
    """The C compiler: $CC, else cc, gcc or clang on the PATH; None when there is none."""
    import shutil
    names = ([os.environ["CC"]] if os.environ.get("CC") else []) + ["cc", "gcc", "clang"]
    return next((path for path in map(shutil.which, names) if path), None)


def _processor():
    """This machine's processor as the compiler sees it for -march=native: its architecture
    and, where Linux describes it, the model and feature flags of its first core."""
    import platform
    described = [platform.machine()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.split(":")[0].strip() in ("model name", "flags", "Features"):
                    described.append(line.strip())
                elif not line.strip() and len(described) > 1:
                    break
    except OSError:
        pass
    return "\n".join(described)


def _native_function(folder, defines):
    """The step function of ``folder``/simulation.c compiled with ``defines`` (the C types of
    its arrays), or None (no compiler, no C file, or it did not compile: then a
    RuntimeWarning once). The library is kept in ``folder``/__pycache__ as
    simulation.<digest>.so, the digest of the compiler, its flags, the defines and the source;
    where that folder cannot be written, or a file under that name cannot be loaded (it is left
    as it is), it is compiled into a temporary folder for this process and removed once loaded."""
    import hashlib
    import shutil

    compiler = _compiler()
    try:
        with open(os.path.join(folder, "simulation.c"), "rb") as handle:
            source = defines.encode() + handle.read()
    except OSError:
        return None
    if compiler is None:
        return None
    key = hashlib.sha256("\0".join((compiler, *_C_FLAGS, *_C_HOST, _processor())).encode()
                         + b"\0" + source).hexdigest()[:16]
    if key in _LIBRARIES:
        return _LIBRARIES[key]
    _LIBRARIES[key] = None
    library = os.path.join(folder, "__pycache__", f"simulation.{key}.so")
    function = _load(library) if os.path.exists(library) else None
    if function is None:
        try:
            if os.path.exists(library):
                raise FileExistsError(library)  # not loadable, and not ours to replace
            os.makedirs(os.path.dirname(library), exist_ok=True)
            built = _build(compiler, source, os.path.dirname(library), folder)
            if built is not None:
                os.replace(built, library)
                os.rmdir(os.path.dirname(built))
            function = None if built is None else _load(library)
        except OSError:  # a folder we may not write: compile for this process only
            private = _build(compiler, source, None, folder)
            function = None if private is None else _load(private)
            if private is not None:  # loaded (or not): the file itself is no longer needed
                shutil.rmtree(os.path.dirname(private), ignore_errors=True)
    _LIBRARIES[key] = function
    return function


def _build(compiler, source, where, folder):
    """The library compiled from ``source`` in a new folder inside ``where`` (None: the
    system's temporary folder), its path; None when the compiler failed (a RuntimeWarning, and
    nothing of the attempt is left)."""
    import shutil
    import subprocess
    import tempfile
    import warnings

    work = tempfile.mkdtemp(prefix="snnc-c-", dir=where)
    c_file, built = os.path.join(work, "simulation.c"), os.path.join(work, "simulation.so")
    with open(c_file, "wb") as handle:
        handle.write(source)
    for host in (_C_HOST, ()):
        try:
            result = subprocess.run([compiler, *_C_FLAGS, *host, "-o", built, c_file],
                                    capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as error:
            result, reason = None, str(error)
            break
        reason = (result.stderr.strip().splitlines() or ["no message"])[0]
        if result.returncode == 0:
            break
    os.unlink(c_file)
    if result is None or result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        warnings.warn(f"the C compiler {compiler} failed on {folder}/simulation.c "
                      f"({reason}); the steps run in Python", RuntimeWarning, stacklevel=5)
        return None
    return built


def _load(library):
    """The step function of a compiled library, None when it cannot be loaded."""
    import ctypes
    try:
        function = ctypes.CDLL(library).snnc_steps
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int64
    function.argtypes = [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 2 + [ctypes.c_int64] + \
        [ctypes.c_void_p] * 6 + [ctypes.c_int32, ctypes.c_void_p]
    return function


def _pointers(arrays):
    """The addresses of ``arrays`` as a C array of pointers."""
    return np.array([array.ctypes.data for array in arrays], np.uintp)


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
        self.folder = folder
        self.batch = int(batch)
        self.dtype = np.dtype(dtype)
        self.seed = int(seed)
        self.targets, self.reward, self.learning = {}, None, True
        self.accumulate, self.updates = False, {}
        self._faulty = []  # populations whose membrane was not finite in this step

    def _array(self, key):
        return np.asarray(self.data[key], dtype=self.dtype).copy()

    def _full(self, key, shape):
        """An array of ``shape`` holding everywhere the one number ``key`` of the data (a
        weight that every synapse of a projection shares, stored once): what ``_array`` gives
        for the array of that number, in the simulation's dtype."""
        return np.full(shape, self.data[key], dtype=self.dtype)

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
            learn=True, accumulate=False, every=1, count=(), allow_nonfinite=False,
            events=False):
        """Simulate ``steps`` steps; returns {variable: array [steps, batch, *shape]} and the
        final weights of the projections as {'<projection>.w': array} (a copy for a projection
        with learning rules; a read-only view of the simulation's own array for one without).

        ``record`` names VARIABLES (population and input variables, the traces and signals of
        learning rules as '<projection>.<name>') and '<projection>.w' (the weight history,
        returned as '<projection>.w.history' [recorded steps, *weight shape]); they are kept
        after the steps n = 0, every, 2 every, ... ``count`` names spike variables whose
        totals over the run are returned as '<variable>.count' [batch, *shape] (found from
        the spikes' events, never from a dense array). With ``events``, a recorded spike
        variable (bool) is returned as its events instead of [kept, batch, *shape]: the
        arrays '<variable>.events.step', '.events.batch', '.events.index' (the recorded
        step's row, the sample, the neuron's flat index), which are np.nonzero of the dense
        recording reshaped to [kept, batch, n], so sorted by step, then sample, then neuron,
        and '<variable>.events.shape' [kept, batch, *shape] (int64) to rebuild it; the
        indices are int32 (int64 past 2**31 - 1).
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
                        for attribute in self.WEIGHTS.values()} if self.accumulate else {}
        inputs = self._inputs(steps, inputs)
        every = int(every)
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, not {every}")
        recorders = self._recorders(record, -(-steps // every), events, count if every == 1
                                    else ())
        counted = {r.key for r in recorders if isinstance(r, _Spikes) and r.total is not None}
        counters = [_Spikes(key, self.VARIABLES[key][0], steps, self.batch,
                            self.VARIABLES[key][1], keep=False, count=True)
                    for key in dict.fromkeys(count) if key not in counted]
        self._loop(steps, inputs, every, recorders, counters, progress, allow_nonfinite)
        out = {}
        for recorder in recorders + counters:
            out.update(recorder.results())
        plastic = {entry[0] for entry in self.CHECKED if entry[1] == "projection"}
        for name, attribute in self.WEIGHTS.items():
            weights = getattr(self, attribute)
            if attribute in plastic:
                out[name + ".w"] = weights.copy()
            else:  # no rule changes it: the array itself, read-only (no copy of every weight)
                out[name + ".w"] = weights.view()
                out[name + ".w"].flags.writeable = False
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

    def _recorders(self, record, kept, events, count):
        """A recorder (_Dense or _Spikes) for every recorded name, ``kept`` steps; spike
        variables as events when ``events``, also counted when named in ``count``."""
        recorders = []
        for key in dict.fromkeys(record):
            if key.endswith(".w") and key[:-2] in self.WEIGHTS:
                attribute = self.WEIGHTS[key[:-2]]
                shape = tuple(getattr(self, attribute).shape)
                recorders.append(_Dense(key + ".history", attribute,
                                        np.zeros((kept,) + shape, self.dtype), (kept,) + shape))
                continue
            attribute, shape = self.VARIABLES[key]
            spikes = np.asarray(self._state(attribute)).dtype == bool
            if spikes and events:
                recorders.append(_Spikes(key, attribute, kept, self.batch, shape,
                                         count=key in count))
                continue
            buffer = np.zeros((kept, self.batch, int(np.prod(shape))), bool if spikes
                              else self.dtype)
            recorders.append(_Dense(key, attribute, buffer, (kept, self.batch) + tuple(shape)))
        return recorders

    def _loop(self, steps, inputs, every, recorders, counters, progress, allow_nonfinite):
        """The steps, with recording, counting and the NaN/inf watch after each: in C
        (``_native_loop``) where the network has a C version and this run allows it, else
        step by step in Python with the numba kernels (when installed)."""
        native = self._native(recorders + counters)
        if native is not None:
            self._native_loop(native, steps, inputs, every, recorders, counters, progress,
                              allow_nonfinite)
            return
        _accelerate(type(self).step.__globals__)
        watched = [c for c in self.CHECKED if self.learning and c[1] == "projection"]
        checking = True
        self.nonfinite, self._faulty = [], []
        with np.errstate(all="ignore"):  # non-finite values are reported below, not warned
            for n in range(steps):
                self.step(n, inputs)
                if n % every == 0:
                    for recorder in recorders:
                        recorder.keep(self._state(recorder.attribute))
                for counter in counters:
                    counter.keep(getattr(self, counter.attribute))
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


    def _native(self, recorders):
        """(step function, the arrays it takes, their addresses) when this run can take the
        native loop: the network has a C version (``NATIVE``), SNNC_NO_NATIVE was not set, a
        C compiler is there, and every array is writable and has the type and size the C
        code expects (checked before any pointer is passed, as are the synapses' indices: inside the
        arrays they index). Else None."""
        if self.NATIVE is None or not _NATIVE_WANTED or os.environ.get("SNNC_NO_NATIVE") or \
                self.dtype.name not in _C_TYPES:
            return None
        kinds = {"real": (self.dtype.name,), "bool": ("bool",), "int32": ("int32",),
                 "index": ("int32", "int64")}
        arrays, defines = [], [f"#define SNNC_REAL {_C_TYPES[self.dtype.name]}"]
        for k, (attribute, kind, index, per_sample, fixed) in enumerate(self.NATIVE["arrays"]):
            array = getattr(self, attribute, None)
            if index is not None and isinstance(array, tuple):
                array = array[index]
            if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or \
                    not array.flags.writeable or array.dtype.name not in kinds[kind] or \
                    array.size != per_sample * self.batch + fixed:
                return None
            arrays.append(array)
            if kind == "index":
                defines.append(f"#define SNNC_I{k} {_C_TYPES[array.dtype.name]}")
        for indptr, post, weights, _, n_post in self.NATIVE["synapses"]:
            indptr, post, weights = arrays[indptr], arrays[post], arrays[weights]
            if indptr[0] != 0 or indptr[-1] != post.size or post.size != weights.size or \
                    (np.diff(indptr) < 0).any() or \
                    post.size and (post.min() < 0 or post.max() >= n_post):
                return None
        function = _native_function(self.folder, "\n".join(defines) + "\n")
        return None if function is None else (function, arrays, _pointers(arrays))

    def _input_block(self, entry, n, count, inputs):
        """The spikes of an input for the steps n .. n + count - 1 [count, batch, size]
        (bool, contiguous), as the Python step makes them one step at a time: the data's
        rows, the file's rows for every sample, or the draws of the input's Poisson
        generator (one call for the block draws what ``count`` calls would)."""
        attribute, name, source, size, probability = entry
        shape = (count, self.batch, size)
        if source == "data":
            block = inputs[name][n:n + count]
        elif source == "poisson":
            block = getattr(self, attribute[:-2] + "_rng").random(shape) < probability
        else:
            rows = getattr(self, attribute[:-2] + "_spikes")[n:n + count]
            block = np.broadcast_to(rows.reshape(count, 1, size), shape)
        return np.ascontiguousarray(block, dtype=bool)

    def _native_loop(self, native, steps, inputs, every, recorders, counters, progress,
                     allow_nonfinite):
        """The steps in C, a block at a time: as many steps per call as the recorders'
        buffers hold (a spike recorder's block, then its events are found in Python) and
        the inputs' blocks (up to _BLOCK_BYTES each) allow, the
        C function copying each recorded variable into its buffer after each recorded step.
        A step whose membrane was not finite ends the call; the NaN/inf watch then reports
        it as the Python loop does (``_nonfinite``) and, with ``allow_nonfinite``, the rest
        runs unchecked."""
        function, _, pointers = native
        slots = [(recorder, every) for recorder in recorders] + \
            [(counter, 1) for counter in counters]
        sources = [[getattr(self, part) for part in recorder.attribute.split("+")]
                   for recorder, _ in slots]
        buffers = [recorder.block if isinstance(recorder, _Spikes) else recorder.buffer
                   for recorder, _ in slots]
        for parts, buffer in zip(sources, buffers, strict=True):
            for part in parts:
                if not part.flags.c_contiguous or buffer.dtype != part.dtype or \
                        buffer[0].nbytes != part.nbytes or len(parts) > 1 and \
                        part.dtype != self.dtype:
                    raise ValueError(f"a recorded array does not fit its buffer: {part.shape} "
                                     f"{part.dtype} into rows of {buffer.shape[1:]} "
                                     f"{buffer.dtype}")
        src = _pointers([part for parts in sources for part in parts])
        parts = np.array([len(parts) for parts in sources], np.int64)
        dst = _pointers(buffers)
        sizes = np.array([buffer[0].nbytes for buffer in buffers], np.int64)
        periods = np.array([period for _, period in slots], np.int64)
        rows = np.zeros(len(slots), np.int64)
        faults = np.zeros(max(1, len(self.NATIVE["populations"])))
        self.nonfinite, self._faulty = [], []
        checking, n = True, 0
        fed = self.NATIVE["inputs"]
        poisson = [entry for entry in fed if entry[2] == "poisson"]
        generators = [getattr(self, entry[0][:-2] + "_rng") for entry in poisson]
        while n < steps:
            count = steps - n if progress is None else min(steps - n, 1000)
            for entry in fed:
                count = min(count, max(1, _BLOCK_BYTES // (self.batch * entry[3])))
            for k, (recorder, period) in enumerate(slots):
                spikes = isinstance(recorder, _Spikes)
                rows[k] = recorder.filled if spikes else recorder.row
                left = len(buffers[k]) - rows[k]
                count = min(count, period * (-(-n // period) + int(left)) - n)
            faults[:] = 0.0
            drawn = [(rng, rng.bit_generator.state) for rng in generators]
            blocks = [self._input_block(entry, n, count, inputs) for entry in fed]
            feeds = _pointers(blocks)
            done = function(n, count, self.batch, pointers.ctypes.data, feeds.ctypes.data,
                            len(slots),
                            src.ctypes.data, parts.ctypes.data, dst.ctypes.data,
                            sizes.ctypes.data,
                            periods.ctypes.data, rows.ctypes.data, int(checking),
                            faults.ctypes.data)
            n += done
            if done < count:  # stopped at a fault: the generators draw only the steps run
                for (rng, state), entry in zip(drawn, poisson, strict=True):
                    rng.bit_generator.state = state
                    rng.random((done, self.batch, entry[3]))
            for k, (recorder, _) in enumerate(slots):
                if isinstance(recorder, _Spikes):
                    recorder.filled = int(rows[k])
                    if recorder.filled == len(recorder.block):
                        recorder._search()
                else:
                    recorder.row = int(rows[k])
            faulty = [(attribute, number, float(value)) for (attribute, number), value
                      in zip(self.NATIVE["populations"], faults[:len(self.NATIVE["populations"])],
                             strict=True) if value]
            for attribute, _, value in faulty:
                setattr(self, attribute, value)
            if checking and faulty:
                self._faulty = [number for _, number, _ in faulty]
                fault = self._nonfinite(n - 1, [])
                if not allow_nonfinite:
                    raise fault
                self.nonfinite.append(fault)
                checking = False
            if progress is not None:
                progress(n)


#: bytes of spikes gathered before they are searched for the spiking neurons (per variable)
_BLOCK_BYTES = 1 << 20


def _index_type(limit):
    """int32 for indices up to ``limit``, int64 past 2**31 - 1."""
    return np.int32 if limit <= np.iinfo(np.int32).max else np.int64


class _Dense:
    """A recorded variable kept whole: ``buffer`` [kept, ...] gets its value after each
    recorded step; returned as ``shape``."""

    def __init__(self, key, attribute, buffer, shape):
        self.key, self.attribute, self.buffer, self.shape = key, attribute, buffer, shape
        self.row = 0

    def keep(self, value):
        self.buffer[self.row] = value.reshape(self.buffer.shape[1:])
        self.row += 1

    def results(self):
        return {self.key: self.buffer.reshape(self.shape)}


class _Spikes:
    """A spike variable [batch, *shape] seen after each of ``rows`` steps, kept as events and/or
    counted, never held as a dense [rows, batch, n] array. Up to _BLOCK_BYTES of consecutive
    steps are copied into a block whose spiking entries are found at once (np.flatnonzero); the
    flat position f of a spike in the rows r0.. of a block is the event (step r0 + f // (B n),
    sample f % (B n) // n, neuron f % n), so the events come out in the order of np.nonzero of
    the dense [rows, batch, n], and the count of (sample, neuron) is its number of events."""

    def __init__(self, key, attribute, rows, batch, shape, keep=True, count=False):
        self.key, self.attribute = key, attribute
        self.shape = (int(rows), int(batch)) + tuple(int(k) for k in shape)
        self.neurons = max(1, int(np.prod(shape, dtype=np.int64)))
        self.width = int(batch) * self.neurons
        depth = max(1, min(int(rows), _BLOCK_BYTES // self.width))
        self.block = np.zeros((depth, self.width), bool)
        self.filled = self.row = 0
        self.found = [] if keep else None  # (first row, flat positions) of each block
        self.total = np.zeros(self.width, np.int64) if count else None

    def keep(self, value):
        self.block[self.filled] = value.reshape(-1)
        self.filled += 1
        if self.filled == len(self.block):
            self._search()

    def _search(self):
        if not self.filled:
            return
        flat = np.flatnonzero(self.block[:self.filled])
        if self.total is not None:
            self.total += np.bincount(flat % self.width, minlength=self.width)
        if self.found is not None:
            self.found.append((self.row, flat.astype(_index_type(self.filled * self.width))))
        self.row += self.filled
        self.filled = 0

    def results(self):
        self._search()
        out = {}
        if self.total is not None:
            out[self.key + ".count"] = self.total.reshape(self.shape[1:])
        if self.found is None:
            return out
        size = sum(len(flat) for _, flat in self.found)
        fields = {"step": np.empty(size, _index_type(self.shape[0])),
                  "batch": np.empty(size, _index_type(self.shape[1])),
                  "index": np.empty(size, _index_type(self.neurons))}
        at = 0
        for first, flat in self.found:
            end = at + len(flat)
            row, rest = np.divmod(flat, self.width)
            fields["step"][at:end] = row + first
            fields["batch"][at:end], fields["index"][at:end] = np.divmod(rest, self.neurons)
            at = end
        self.found = []
        out.update({f"{self.key}.events.{name}": array for name, array in fields.items()})
        out[self.key + ".events.shape"] = np.array(self.shape, np.int64)
        return out
