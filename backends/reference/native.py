"""The native loop: a network's steps as one C function (``simulation.c``), for networks whose
step is only inputs, delivery, membranes and spike rings (no learning, no dense projections).

The generated Python module calls a numba (or numpy) kernel per population and projection
and step; at a few thousand neurons that per-call overhead is most of the run. For a network
without learning, :func:`c_source` writes the same step as C: the arithmetic of
``_propagate`` and ``_neuron`` (:mod:`.runtime`) in the same order, operation by operation,
so a run gives the same numbers bit for bit (C's ``double`` and ``float`` are IEEE binary64
and binary32; the runtime compiles with ``-ffp-contract=off`` and without fast-math, so no
multiply-add is fused and nothing is reassociated). The runtime compiles it once per content
and dtype with the system's C compiler and runs whole blocks of steps per call
(``SimulationBase._native_loop``); without a compiler the Python kernels run as before.

The function (all arrays C-contiguous, row-major, in the order of :attr:`NativeLoop.arrays`)::

    int64_t snnc_steps(int64_t n0, int64_t count, int64_t batch, void *const *a,
                       void *const *inputs, int64_t slots, void *const *src,
                       const int64_t *parts, void *const *dst, const int64_t *bytes,
                       const int64_t *every, int64_t *rows, int32_t check, double *faults)

runs the steps n0 .. n0 + count - 1. Each step starts by copying its row of every input's
block ``inputs[k]`` [count, batch, size] (bool) into that input's spikes. After each step n, every recording slot r with
n % every[r] == 0 writes row rows[r] of dst[r] (bytes[r] bytes) and counts the row: a copy of
its one source array, or the sum 0 + x1 + x2 + ... of its ``parts[r]`` sources (as Python's
``sum`` of the arrays: a population's receptor currents recorded as its ``i``); the sources
of the slots follow each other in ``src``.
``faults[p]`` receives the last non-finite membrane value of population p (nan, inf, -inf as
``_fault`` reports it); with ``check`` the function returns after the first step in which one
occurred. It returns the number of steps it ran.

Names in the C code are the indices of the generated Python (``p0_v``, ``w3_post``); user names
appear only in comments, through :func:`c_comment`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: the C type of an array's elements by its kind; "index" arrays get SNNC_I<k> (int32_t or
#: int64_t, whatever the data file holds), "real" ones the simulation's dtype
C_TYPES = {"real": "real", "bool": "uint8_t", "int32": "int32_t"}


def c_comment(text: str) -> str:
    """``text`` safe inside a C block comment: characters outside a plain set as \\xNN (so
    no ``*/``, no newline and no trigraph can end or bend the comment)."""
    return re.sub(r"[^A-Za-z0-9_ .,:;()\[\]=+\-<>'#@!?%&|^~{}$]",
                  lambda m: "".join(f"\\x{b:02x}" for b in m.group().encode("utf-8")), text)


def c_real(code: str) -> str:
    """A parameter of the generated Python as C: a float literal (``repr`` of a double, read
    back to the same double by C) converted to the simulation's type, as numpy converts a
    Python float for an array of that dtype."""
    value = float(code)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite literal: {code}")
    return f"(real) {float(code)!r}"


@dataclass
class NativeLoop:
    """What the emitter records as it writes the Python step, for the C version of it.

    ``arrays``: (attribute, kind, index, per sample, fixed) of every array the step uses, in
    the order the C function receives them (``index``: an element of a tuple attribute, or
    None; the array holds per sample * batch + fixed elements, which the runtime checks before
    it passes a pointer); ``synapses``: (indptr, post, weights, n_pre, n_post) positions in
    ``arrays`` and sizes of every projection (the runtime checks that the indices stay inside
    the arrays); ``body``: the C statements of one step; ``populations``: (fault attribute,
    NaN/inf watch index) per population in update order (``faults[p]``)."""

    arrays: list[tuple[str, str, int | None, int, int]] = field(default_factory=list)
    synapses: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # the populations' step functions
    populations: list[tuple[str, int]] = field(default_factory=list)
    #: (attribute of its spikes, name, source, size, probability of a Poisson input) per input
    inputs: list[tuple[str, str, str, int, float | None]] = field(default_factory=list)
    #: the C names of the arrays the step only reads (declared const): weights, indices,
    #: per-neuron parameters and decays
    read_only: set[str] = field(default_factory=set)

    def array(self, attribute: str, kind: str, per_sample: int, fixed: int = 0,
              index: int | None = None, const: bool = False) -> str:
        """The C name of an array argument (added once); ``const``: the step only reads it."""
        entry = (attribute, kind, index, per_sample, fixed)
        if entry not in self.arrays:
            self.arrays.append(entry)
        if const:
            self.read_only.add(self.c_name(entry))
        return self.c_name(entry)

    def position(self, attribute: str) -> int:
        return next(k for k, entry in enumerate(self.arrays) if entry[0] == attribute)

    @staticmethod
    def c_name(entry) -> str:
        attribute, _, index = entry[:3]
        return attribute if index is None else f"{attribute}_{index}"

    # -- the step's operations, in the order the Python step does them -----------------------
    def input(self, comment: str, ident: str, name: str, source: str, size: int,
              probability: float | None) -> None:
        """This step's spikes of an input, row n - n0 of the block ``inputs[k]`` [count,
        batch, size] that the runtime fills before each call as the Python step makes them
        (the data's rows, the file's rows, or the Poisson generator's draws for those steps)."""
        spikes = self.array(f"{ident}_s", "bool", size)
        self.body += [f"/* {c_comment(comment)} */",
                      f"memcpy({spikes}, (const uint8_t *) inputs[{len(self.inputs)}] + "
                      f"(n - n0) * batch * {size}, (size_t) batch * {size});"]
        self.inputs.append((f"{ident}_s", name, source, size, probability))

    def ring_row(self, source: str, delay: int, depth: int, size: int) -> str:
        """The spikes ``source`` emitted ``delay`` steps ago: its spikes, or a row of its
        ring [depth, batch, size] (Python's (n - delay) % depth is never negative)."""
        if delay == 0:
            return self.array(f"{source}_s", "bool", size)
        ring = self.array(f"{source}_ring", "bool", depth * size)
        return f"{ring} + (((n - {delay}) % {depth} + {depth}) % {depth}) * batch * {size}"

    def propagate(self, comment: str, spikes: str, n_pre: int, n_post: int, weights: str,
                  synapses: int, out: str) -> None:
        """out[b, post[s]] += w[s] for every synapse s of every spiking pre neuron j, in the
        order b, j, s (``_propagate``)."""
        indptr = self.array(f"{weights}_indptr", "index", 0, n_pre + 1, const=True)
        post = self.array(f"{weights}_post", "index", 0, synapses, const=True)
        w = self.array(weights, "real", 0, synapses, const=True)
        self.synapses.append((self.position(f"{weights}_indptr"),
                              self.position(f"{weights}_post"), self.position(weights), n_pre,
                              n_post))
        out = self.array(out, "real", n_post)
        self.body += [
            f"/* {c_comment(comment)} */",
            "{",
            f"    const uint8_t *spikes = {spikes};",
            "    for (int64_t b = 0; b < batch; b++) {",
            f"        real *ob = {out} + b * {n_post};",
            f"        const uint8_t *sb = spikes + b * {n_pre};",
            f"        for (int64_t j = 0; j < {n_pre}; j++) {{",
            "            if (!sb[j]) continue;",
            f"            for (int64_t s = {indptr}[j]; s < {indptr}[j + 1]; s++) "
            f"ob[{post}[s]] += {w}[s];",
            "        }",
            "    }",
            "}",
        ]

    def store_ring(self, source: str, depth: int, size: int) -> None:
        """ring[n % depth] = spikes."""
        ring = self.array(f"{source}_ring", "bool", depth * size)
        spikes = self.array(f"{source}_s", "bool", size)
        self.body.append(f"memcpy({ring} + (n % {depth}) * batch * {size}, {spikes}, "
                         f"(size_t) batch * {size});")

    def neuron(self, comment: str, ident: str, size: int, currents: list[tuple[str, object]],
               params: dict[str, str], reset: str, refractory: int, spiking: bool,
               ref: bool, adapt: bool, checked: int) -> None:
        """One step of a population (``_neuron``, element by element, as its numba version):
        currents (now <- arriving; arriving <- decay * now; total = 0 + now...), the
        membrane (v - v_leak) a_mem + v_leak + (total + bias) c_in, refractory hold, spike
        v > threshold (+ beta a), adaptation a rho + s, reset, and the NaN/inf watch (the
        membrane before the reset, which only rules read, is not kept). It is
        a function of its own (``neuron_<pop>``) whose array parameters are ``restrict``: its
        loop over the neurons vectorises."""
        parameters = {}  # C name -> its parameter declaration

        def use(attribute, kind, per_sample, fixed=0, index=None, const=False) -> str:
            name = self.array(attribute, kind, per_sample, fixed, index, const)
            parameters[name] = f"{'const ' if const else ''}{C_TYPES[kind]} *restrict {name}"
            return name

        def value(code) -> str:
            if isinstance(code, tuple):
                return f"{use(code[0], 'real', 0, size, code[1], const=True)}[k]"
            if code.startswith("self."):
                return f"{use(code[5:], 'real', 0, size, const=True)}[k]"
            return c_real(code)

        p = {name: value(code) for name, code in params.items()}
        v = use(f"{ident}_v", "real", size)
        lines = ["    int bad = 0, nans = 0, high = 0;",
                 "    for (int64_t b = 0; b < batch; b++) {",
                 f"        for (int64_t k = 0; k < {size}; k++) {{",
                 f"            const int64_t i = b * {size} + k;",
                 "            real total = (real) 0.0, x;"]
        for name, decay in currents:
            now = use(f"{ident}_{name}", "real", size)
            then = use(f"{ident}_{name}_in", "real", size)
            lines += [f"            x = {then}[i];", f"            {now}[i] = x;",
                      f"            {then}[i] = {value(decay)} * x;",
                      "            total += x;"]
        lines += [f"            x = ({v}[i] - {p['v_leak']}) * {p['a_mem']} + {p['v_leak']}"
                  f" + (total + {p['bias']}) * {p['c_in']};",
                  "            bad |= (x - x) != (real) 0.0;",
                  "            nans |= x != x;",
                  "            high |= x == (real) INFINITY;"]
        if not spiking:
            lines.append(f"            {v}[i] = x;")
        else:
            s = use(f"{ident}_s", "bool", size)
            if ref:
                r = use(f"{ident}_ref", "int32", size)
                lines += [f"            const int held = {r}[i] > 0;",
                          f"            if (held) x = {p['v_reset']};",
                          f"            const int32_t left = held ? {r}[i] - 1 : {r}[i];"]
            if adapt:
                a = use(f"{ident}_a", "real", size)
                lines += [f"            const int fire = x > {p['threshold']} + {p['beta']} * "
                          f"{a}[i];",
                          f"            {a}[i] = {a}[i] * {p['rho']} + (real) fire;"]
            else:
                lines.append(f"            const int fire = x > {p['threshold']};")
            after = {"RESET_ZERO": p["v_reset"], "RESET_SUBTRACT": f"x - {p['threshold']}",
                     "RESET_NONE": "x"}[reset]
            lines += [f"            {s}[i] = (uint8_t) fire;",
                      f"            {v}[i] = fire ? {after} : x;"]
            if ref:
                lines.append(f"            {r}[i] = fire ? {int(refractory)} : left;")
        lines += ["        }", "    }",
                  "    return bad ? (nans ? NAN : high ? INFINITY : -INFINITY) : 0.0;", "}"]
        function = f"neuron_{ident}"
        head = f"static double {function}(int64_t batch"
        self.functions += [f"/* {c_comment(comment)}: 0, or the first kind of non-finite "
                           "membrane (nan, inf, -inf) */",
                           head + "".join(f",\n{' ' * (len(head) - 13)}{declaration}"
                                          for declaration in parameters.values()) + ")",
                           "{", *lines, ""]
        number = len(self.populations)
        self.populations.append((f"{ident}_fault", checked))
        self.body += [f"/* {c_comment(comment)} */",
                      f"fault = {function}(batch, {', '.join(parameters)});",
                      "if (fault != 0.0) {  /* nan != 0.0 too */",
                      f"    faults[{number}] = fault;",
                      "    faulty = 1;",
                      "}"]


def c_source(loop: NativeLoop, name: str, version: str) -> str:
    """The C file: the step function over the arrays ``loop`` recorded (types: ``real`` and
    ``SNNC_I<k>`` are defined by the runtime before it compiles, from the arrays it passes)."""
    declarations = []
    for k, entry in enumerate(loop.arrays):
        attribute, kind, index = entry[:3]
        ctype = f"SNNC_I{k}" if kind == "index" else C_TYPES[kind]
        const = "const " if NativeLoop.c_name(entry) in loop.read_only else ""
        where = attribute if index is None else f"{attribute}[{index}]"
        declarations.append(f"    {const}{ctype} *restrict {NativeLoop.c_name(entry)} = "
                            f"({const}{ctype} *) a[{k}];  /* self.{where} */")
    body = ["        " + line for line in loop.body]
    return "\n".join([
        f"/* The steps of the network {c_comment(name)}, generated by snnc {c_comment(version)}",
        "   beside simulation.py: the same arithmetic as its Python step, in the same order",
        "   (see snnc_runtime.py, SimulationBase._native_loop). Do not edit: regenerate with",
        "   `snnc compile --emit reference`. */",
        "#include <math.h>",
        "#include <stdint.h>",
        "#include <string.h>",
        "",
        "typedef SNNC_REAL real;",
        "",
        *loop.functions,
        "int64_t snnc_steps(int64_t n0, int64_t count, int64_t batch, void *const *a,",
        "                   void *const *inputs, int64_t slots, void *const *src,",
        "                   const int64_t *parts, void *const *dst, const int64_t *bytes,",
        "                   const int64_t *every, int64_t *rows, int32_t check, double *faults)",
        "{",
        *declarations,
        "    for (int64_t n = n0; n < n0 + count; n++) {",
        "        int faulty = 0;",
        "        double fault;",
        *body,
        "        for (int64_t r = 0, first = 0; r < slots; first += parts[r], r++) {",
        "            if (n % every[r] != 0) continue;",
        "            char *row = (char *) dst[r] + rows[r]++ * bytes[r];",
        "            if (parts[r] == 1) {",
        "                memcpy(row, src[first], (size_t) bytes[r]);",
        "                continue;",
        "            }",
        "            for (int64_t e = 0; e < bytes[r] / (int64_t) sizeof(real); e++) {",
        "                real sum = (real) 0;",
        "                for (int64_t q = 0; q < parts[r]; q++) "
        "sum += ((const real *) src[first + q])[e];",
        "                ((real *) row)[e] = sum;",
        "            }",
        "        }",
        "        if (check && faulty) return n - n0 + 1;",
        "    }",
        "    return count;",
        "}",
        "",
    ])
