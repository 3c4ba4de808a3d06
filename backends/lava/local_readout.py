"""DECOLLE's learning signal in the Lava program: a fixed random local readout of the post layer.

``signal L = local_readout(size = K, loss = mse)`` (the standard library's ``decolle``) gives
each layer its own readout: with the layer's spikes ``s[n]`` of this step and a fixed random
matrix ``R`` [K, n_post] drawn from N(0, 1/n_post) exactly as the reference simulator draws it
(network seed, projection, rule, ``"local"``),

    y[n] = R s[n],   e[n] = y[n] - onehot(label)   (cross-entropy: softmax(y[n]) - onehot),
    L[n] = R^T e[n],

the label being the sample's class (a zero target without labels, as in snnc). The signal
never leaves the layer (class b). In the program a ``LocalReadout`` process receives the post
neurons' spikes port to port and sends ``L`` back to their ``a_third_<slot>`` within the same
time step (no Dense in between, which would add a step), as :mod:`.feedback` does for the
readout's error; the rule itself is translated as e-prop's (:func:`.feedback.translate`:
``-L psi p`` with the cascade ``p = lowpass(lowpass(pre.s))`` as two pre traces).

Floating point only: a fixed-point ``LocalReadout`` is not built yet (the program says so).
"""

from __future__ import annotations

import math

import numpy as np

from snnc.backends.lava.graph import LavaGraph, LocalReadoutProcess
from snnc.ir import rules as ir
from snnc.ir.network import Network
from snnc.ir.nodes import Projection
from snnc.ir.values import rng_for
from snnc.literals import py, py_comment

#: the generator this module computes
LOCAL_READOUT = "local_readout"


def local_matrix(seed: int, projection: str, rule: str, size: int, n_post: int) -> np.ndarray:
    """``R`` [size, n_post] of ``local_readout`` on ``projection``: N(0, 1/n_post), drawn from
    the network seed and the projection's and rule's names, as snnc draws it."""
    rng = rng_for(seed, projection, rule, "local")
    return rng.normal(0, 1 / math.sqrt(n_post), (size, n_post))


def local_error(y: np.ndarray, label: int, loss: str) -> np.ndarray:
    """The local readout's error for one sample: ``y - onehot`` (mse) or ``softmax(y) -
    onehot`` (cross_entropy); ``label`` < 0: a zero target."""
    y = np.asarray(y, float)
    out = y.copy()
    if loss == "cross_entropy":
        z = np.exp(y - y.max(axis=-1, keepdims=True))
        out = z / z.sum(axis=-1, keepdims=True)
    if label >= 0:
        out[..., label] -= 1.0
    return out


def size_of(instance, generator: ir.Generator) -> int:
    """The readout's size K (a number or a rule parameter)."""
    expr = generator.args["size"]
    value = instance.args[expr.name].value if isinstance(expr, ir.Param) else expr.value
    return int(value)


def attach_local(net: Network, graph: LavaGraph, projection: Projection, translated) -> None:
    """Give the graph what computes the rule's local readout signal (``translated``: the
    :class:`.feedback.FeedbackRule`): the post neurons' role (psi as y1, the signal's port)
    and the LocalReadout process. Raises NotExpressible (a split post population)."""
    from snnc.backends.lava import feedback as fb
    from snnc.backends.lava import learning as lr
    rule, instance = translated.rule, projection.rules[0]
    post = fb.single_group(graph, projection.post, lr.NotExpressible)
    role = fb.take(post, graph)
    if translated.surrogate is not None:
        role.surrogate = translated.surrogate
    signal = instance.rule.signals[0]
    generator = signal.generator
    size = size_of(instance, generator)
    loss = generator.loss if generator.loss is not None else "mse"
    matrix = local_matrix(net.settings.seed, projection.name, instance.rule.name, size,
                          post.size)
    role.thirds[rule.third.slot] = projection.name
    graph.local_readouts.append(LocalReadoutProcess(
        f"local readout of {projection.name}", projection.name, post.name, rule.third.slot,
        matrix, loss))


def local_lines(graph: LavaGraph, data: dict) -> list[str]:
    """The lines of ``build()`` that make the local readouts; R goes into ``data``."""
    from snnc.backends.lava.render import call
    lines = []
    for r in graph.local_readouts:
        name, post = py(r.name), py(r.post)
        data[f"local/{r.name}"] = r.matrix
        size = r.matrix.shape[0]
        lines += ["", f"# local_readout of {py_comment(r.projection)} (DECOLLE): L = R^T (R s - "
                  f"onehot(label)) ({r.loss}), as {r.slot}; R [{size}, "
                  f"{r.matrix.shape[1]}] drawn as snnc draws it",
                  f"if labels is not None and (np.asarray(labels)[:samples] >= {size}).any():",
                  f"    raise ValueError({py(f'--input: a label is not one of the {size} classes (0 to {size - 1}) of the local readout of {r.projection!r}')})"]
        lines += call(f"procs[{name}]", "LocalReadout", [
            f"matrix=data[{py('local/' + r.name)}]", f"loss={py(r.loss)}",
            "labels=step_labels(labels, steps, samples)", f"name={name}"])
        lines += [f"procs[{post}].s_out.connect(procs[{name}].s_in)",
                  f"procs[{name}].l_out.connect(procs[{post}].a_third_{r.slot})"]
    return lines


def dot_lines(graph: LavaGraph, dot) -> list[str]:
    """The local readouts in the process graph's DOT, dashed as the sources of third factors
    are."""
    lines = []
    for r in graph.local_readouts:
        label = dot(r.name, f"LocalReadout R [{r.matrix.shape[0]}, {r.matrix.shape[1]}] "
                            f"({r.loss})")
        lines.append(f"  {dot(r.name)} [shape=box, style=\"rounded,dashed\", label={label}];")
        lines.append(f"  {dot(r.post)} -> {dot(r.name)} [label={dot('s_out')}, style=dashed];")
        lines.append(f"  {dot(r.name)} -> {dot(r.post)} [label={dot('a_third_' + r.slot)}, "
                     "style=dashed];")
    return lines
