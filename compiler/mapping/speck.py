"""Speck (DYNAP-CNN): layers onto cores as sinabs 3.1.3 assigns them (docs/synsense.md, 3).

A Speck core runs one DYNAP-CNN layer: one weight layer (a convolution), integrate-and-fire
neurons and optional pooling; sinabs places the layers with ``get_valid_mapping``. In snnc every
population is a layer, fed by exactly one projection that is its weight layer:

- ``conv2d(kernel k, stride s, padding p, channels f)`` from a [c, h, w] pre: weights
  (f, c, k, k), output (f, H, W) with H = floor((h + 2p - k) / s) + 1 (``_get_conv_output_shape``,
  ``dynapcnn_layer.py`` lines 246-270, dilation 1);
- ``sumpool2d(kernel k, stride s)``: the pooled population has neurons of its own, which
  sinabs's pooling (after a layer's neurons, before the next weights) has not, so it is the
  convolution ``Conv2d(c, c, k, stride=s, bias=False)`` whose diagonal taps are the pooling
  weights: weights (c, c, k, k);
- ``dense`` from a [c, h, w] pre (a 1-D pre of n neurons is [n, 1, 1]): ``nn.Linear`` as
  ``convert_linear_to_conv`` turns it into a convolution whose kernel covers the input
  (``dynapcnn_layer.py`` lines 17-52): weights (f, c, h, w), output (f, 1, 1).

A layer's memories, ``DynapcnnLayer.memory_summary`` (``dynapcnn_layer.py`` lines 213-244), with
clog2(x) = ceil(log2 x):

    kernel = c * 2**(clog2(kh * kw) + clog2(f))
    neuron = f * 2**(clog2(H) + clog2(W))
    bias   = f with a bias, else 0

snnc's projections have no bias term; the neurons' constant input 'bias' is the convolution's
bias, so a layer whose population has a bias other than the constant 0 has f bias entries
(whether per-neuron values fit one bias per channel is the backend's question). The cores'
memories are :data:`CORE_MEMORY`; a layer may go to a core when all three fit
(``LayerConstraints.fits``, ``mapping.py`` lines 13-41), and layers go to cores by
:func:`edmonds_matching`.

Refusals (each names the layer, the figure and the limit): E401 no core holds all three of a
layer's memories; E402 more layers than cores; E403 a layer feeding more than two layers (the two destination
slots, ``chips/dynapcnn.py`` line 95); E405 what a DYNAP-CNN layer cannot be (a connectivity
other than conv2d / sumpool2d / dense, two projections into one population, a recurrent
projection, a non-square kernel (``dynapcnn_layer.py`` lines 114-116), a kernel over 16 or more
than 1,024 output channels (``validate_memory_speck.py`` lines 46-49), a stride other than 1, 2,
4, 8 (``check_stride``, lines 93-102), a chip input of more than 2 channels (the DVS,
``dvs_layer.py`` lines 98-100)); E408 every layer fits some core but no assignment gives each
its own core (``recover_mapping``'s "No valid mapping found", ``mapping.py`` lines 209-231).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.ir.nodes import Projection
from snnc.ir.values import Constant

#: (kernel, neuron, bias) memory entries of cores 0-8: ``DynapcnnConfigBuilder.get_constraints``,
#: sinabs 3.1.3 ``backend/dynapcnn/chips/dynapcnn.py`` lines 298-332 (Speck 2E and 2F alike)
CORE_MEMORY = ((16384, 65536, 1024), (16384, 65536, 1024), (16384, 65536, 1024),
               (32768, 32768, 1024), (32768, 32768, 1024), (65536, 16384, 1024),
               (65536, 16384, 1024), (16384, 16384, 1024), (16384, 16384, 1024))
#: strides a layer may have (``validate_memory_speck.py`` ``check_stride``, lines 93-102)
STRIDES = (1, 2, 4, 8)
#: channels of the chip's input, the DVS (``dvs_layer.py`` lines 98-100)
DVS_CHANNELS = 2
#: layers a layer sends to: the two destination slots (``chips/dynapcnn.py`` line 95)
DESTINATIONS = 2
KERNEL_MAX = 16      # ``validate_memory_speck.py`` line 46
CHANNELS_MAX = 1024  # ``validate_memory_speck.py`` line 49
MEMORIES = ("kernel", "neuron", "bias")
#: connectivities that are a DYNAP-CNN weight layer
WEIGHT_LAYERS = ("conv2d", "sumpool2d", "dense")


def applies(profile) -> bool:
    """Whether ``profile`` is Speck, whose cores take layers: the built-in, or a target based
    on it (its ``family``)."""
    return profile.family == "speck"


def core_memory(profile) -> tuple[tuple[int, int, int], ...]:
    """The (kernel, neuron, bias) memories of the profile's cores: Speck's first ``cores``
    (a target based on speck may state fewer; sinabs knows nine)."""
    cores = int(profile.capacity.get("cores", len(CORE_MEMORY)))
    return CORE_MEMORY[:max(0, min(cores, len(CORE_MEMORY)))]


def error_count(diag: Diagnostics) -> int:
    return sum(1 for _ in diag.errors())


def clog2(x: int) -> int:
    return math.ceil(math.log2(x))


def memory(f: int, c: int, kh: int, kw: int, height: int, width: int,
           bias: bool = False) -> tuple[int, int, int]:
    """(kernel, neuron, bias) entries of a layer: ``memory_summary`` (module docstring)."""
    return (c * 2 ** (clog2(kh * kw) + clog2(f)), f * 2 ** (clog2(height) + clog2(width)),
            f if bias else 0)


def fitting_cores(need: tuple[int, int, int], memory=CORE_MEMORY) -> list[int]:
    """The cores whose three memories hold ``need`` (``find_chip_layers``), ascending."""
    return [core for core, room in enumerate(memory)
            if all(0 <= n <= r for n, r in zip(need, room, strict=True))]


def edmonds_matching(candidates: list[list[int]], cores: int = len(CORE_MEMORY)) -> list[int | None]:
    """The core of each layer, or None, as sinabs's ``get_valid_mapping`` finds them.

    ``make_flow_graph`` (``mapping.py`` lines 142-206): node 0 the source, 1..L the layers,
    L+1..L+cores the cores, the last the sink; edges source -> layer, layer -> each fitting core
    (ascending), core -> sink, each of capacity 1 with a reverse edge of capacity 0, in that
    insertion order. ``edmonds`` (lines 92-139): a breadth-first search from the source over
    the edges with room (cap > flow), in insertion order, recording the first edge into each
    node; when it reaches the sink, one unit flows back along those edges; repeat until it does
    not. ``recover_mapping`` reads each layer's edge with flow 1. Replayed edge for edge,
    sinabs's quirk included (each sink edge is its own reverse), so that ties break alike."""
    layers = len(candidates)
    sink = layers + cores + 1
    edges: list[list[int]] = []  # [s, t, cap, flow, rev]
    out: list[list[int]] = [[] for _ in range(sink + 1)]

    def add(s: int, t: int, cap: int) -> int:
        edges.append([s, t, cap, 0, -1])
        out[s].append(len(edges) - 1)
        return len(edges) - 1

    def pair(s: int, t: int) -> None:
        forward, backward = add(s, t, 1), add(t, s, 0)
        edges[forward][4], edges[backward][4] = backward, forward

    for i in range(layers):
        pair(0, i + 1)
    for i, fitting in enumerate(candidates):
        for core in fitting:
            pair(i + 1, layers + 1 + core)
    for core in range(layers + 1, sink):
        forward, backward = add(core, sink, 1), add(sink, core, 0)
        edges[forward][4], edges[backward][4] = backward, backward
    while True:
        pred: list[int | None] = [None] * (sink + 1)
        queue, head = [0], 0
        while head < len(queue):
            for e in out[queue[head]]:
                s, t, cap, flow, _ = edges[e]
                if pred[t] is None and t != 0 and cap > flow:
                    pred[t] = e
                    queue.append(t)
            head += 1
        if pred[sink] is None:
            break
        e = pred[sink]
        while e is not None:  # every edge has room 1, so the path carries one unit
            edges[e][3] += 1
            edges[edges[e][4]][3] -= 1
            e = pred[edges[e][0]]
    found: list[int | None] = [None] * layers
    for i in range(layers):
        for e in out[i + 1]:
            if edges[e][3] == 1:
                found[i] = edges[e][1] - layers - 1
    return found


@dataclass(frozen=True)
class Layer:
    """One population as a DYNAP-CNN layer: its weight layer ``projection`` with weights
    (f, c, kh, kw), convolution output (f, H, W), stride, and its memories."""

    population: str
    projection: Projection
    weights: tuple[int, int, int, int]
    output: tuple[int, int, int]
    stride: int
    need: tuple[int, int, int]

    def as_dict(self, core: int | None) -> dict:
        room = CORE_MEMORY[core] if core is not None else (None, None, None)
        return {"layer": self.population, "weight_layer": self.projection.name,
                "kind": self.projection.connectivity.kind, "weights": list(self.weights),
                "output": list(self.output), "core": core,
                **{f"{m}_memory": n for m, n in zip(MEMORIES, self.need, strict=True)},
                **{f"core_{m}_memory": r for m, r in zip(MEMORIES, room, strict=True)}}


@dataclass(frozen=True)
class SpeckMapping:
    """The layers in declaration order and the core of each (sinabs's assignment)."""

    layers: tuple[Layer, ...]
    cores: tuple[int, ...]

    def as_list(self) -> list[dict]:
        return [layer.as_dict(core) for layer, core in zip(self.layers, self.cores, strict=True)]


def as_image(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """A shape as sinabs's (channels, height, width): [n] is [n, 1, 1]."""
    return tuple(shape) if len(shape) == 3 else (math.prod(shape), 1, 1)


def has_bias(population) -> bool:
    """Whether the neurons have a constant input ('bias' other than the constant 0): on Speck
    the convolution's bias, one entry per output channel."""
    bias = population.params.get("bias")
    return bias is not None and not (isinstance(bias, Constant) and bias.value == 0)


def weight_layer(net: Network, p: Projection, diag: Diagnostics) -> Layer | None:
    """The layer that projection ``p`` (conv2d, sumpool2d or dense, the only one into its post)
    makes, or None after E405."""
    c = p.connectivity
    name = f"layer '{p.post}' (weight layer '{p.name}')"
    pre, post = net.node(p.pre).shape, net.node(p.post).shape
    if c.kind == "dense":
        channels_in, height, width = as_image(pre)
        if height != width:
            diag.error("E405", p.span, f"{name}: a dense layer from '{p.pre}' [{channels_in}, "
                       f"{height}, {width}] is a {height} x {width} convolution, but Speck's "
                       "kernels are square", hint="pool or reshape the pre population to a "
                       "square [c, h, h] first, or make it 1-D")
            return None
        f = math.prod(post)
        weights, out, stride = (f, channels_in, height, width), (f, 1, 1), 1
    else:  # conv2d, sumpool2d
        f = c.channels if c.kind == "conv2d" else pre[0]
        weights, out, stride = (f, pre[0], c.kernel, c.kernel), tuple(post), c.stride
    before = error_count(diag)
    if weights[2] > KERNEL_MAX:
        diag.error("E405", p.span, f"{name} has a {weights[2]} x {weights[3]} kernel but Speck "
                   f"allows {KERNEL_MAX} x {KERNEL_MAX}", hint="use smaller kernels (stack two "
                   "convolutions, or pool before a dense layer)")
    if weights[0] > CHANNELS_MAX:
        diag.error("E405", p.span, f"{name} has {weights[0]:,} output channels but Speck "
                   f"allows {CHANNELS_MAX:,}", hint="use fewer channels")
    if stride not in STRIDES:
        diag.error("E405", p.span, f"{name} has stride {stride} but Speck allows "
                   f"{', '.join(map(str, STRIDES))}", hint="use a stride of 1, 2, 4 or 8")
    if error_count(diag) > before:
        return None
    need = memory(weights[0], weights[1], weights[2], weights[3], out[1], out[2],
                  has_bias(net.node(p.post)))
    return Layer(p.post, p, weights, out, stride, need)


def layers_of(net: Network, diag: Diagnostics) -> list[Layer] | None:
    """The network's layers in declaration order, or None after E403 / E405 (all reported)."""
    before = error_count(diag)
    for i in net.inputs():
        image = as_image(i.shape)
        if len(i.shape) == 3 and image[0] > DVS_CHANNELS:
            diag.error("E405", i.span, f"input '{i.name}' has {image[0]} channels but Speck's "
                       f"input (the DVS) has {DVS_CHANNELS}", hint="feed 1 or 2 polarity "
                       "channels; other inputs need a first layer off the chip")
    layers = []
    for population in net.populations():
        targets = sorted({p.post for p in net.projections() if p.pre == population.name})
        if len(targets) > DESTINATIONS:
            diag.error("E403", population.span, f"layer '{population.name}' sends to "
                       f"{len(targets)} layers ({', '.join(targets)}) but a Speck layer has "
                       f"{DESTINATIONS} destinations", hint="chain the layers, or feed at most "
                       "two populations from each population")
        incoming = net.incoming(population.name)
        for p in incoming:
            if p.pre == p.post:
                diag.error("E405", p.span, f"layer '{population.name}': the recurrent projection "
                           f"'{p.name}' makes a cycle, but Speck's layers form a feed-forward "
                           "graph", hint="remove the recurrence (sinabs refuses cycles)")
            elif p.connectivity.kind not in WEIGHT_LAYERS:
                diag.error("E405", p.span, f"layer '{population.name}': {p.connectivity.kind} "
                           f"connectivity ('{p.name}') is no DYNAP-CNN weight layer",
                           hint="Speck runs conv2d, sumpool2d and dense projections only")
        if len(incoming) != 1:
            diag.error("E405", population.span, f"layer '{population.name}' has {len(incoming)} "
                       "incoming projections but a DYNAP-CNN layer has exactly one weight layer",
                       hint="feed each population through one projection")
            continue
        if incoming[0].pre == population.name or incoming[0].connectivity.kind not in \
                WEIGHT_LAYERS:
            continue
        layer = weight_layer(net, incoming[0], diag)
        if layer is not None:
            layers.append(layer)
    return None if error_count(diag) > before else layers


def check(net: Network, diag: Diagnostics, memory=CORE_MEMORY) -> SpeckMapping | None:
    """The layers and sinabs's assignment of them to the cores with ``memory``
    (:func:`core_memory`), or None after E401-E408."""
    layers = layers_of(net, diag)
    if layers is None:
        return None
    if len(layers) > len(memory):
        where = net.node(layers[len(memory)].population).span if memory else None
        diag.error("E402", where, f"the network has {len(layers)} layers but the chip has "
                   f"{len(memory)} cores (Speck's: one layer each)",
                   hint="merge layers, or split the network across chips")
        return None
    candidates = [fitting_cores(layer.need, memory) for layer in layers]
    for layer, fitting in zip(layers, candidates, strict=True):
        if not fitting:
            diag.error("E401", layer.projection.span, f"layer '{layer.population}' needs "
                       f"{describe(layer.need)} but no Speck core holds all three "
                       f"({where_each_fits(layer.need, memory)})",
                       hint=shrink_hint(layer))
    if not all(candidates):
        return None
    found = edmonds_matching(candidates, len(memory))
    if None in found:
        stranded = [layer for layer, core in zip(layers, found, strict=True) if core is None]
        for layer in stranded:
            rivals = [other.population for other, fitting in zip(layers, candidates, strict=True)
                      if other is not layer and set(fitting) & set(candidates[layers.index(layer)])]
            diag.error("E408", layer.projection.span, f"layer '{layer.population}' "
                       f"({describe(layer.need)}) fits cores "
                       f"{', '.join(map(str, candidates[layers.index(layer)]))} only, and no "
                       f"assignment of the {len(layers)} layers gives it one of them (also "
                       f"wanted by {', '.join(rivals)})", hint=shrink_hint(layer))
        return None
    return SpeckMapping(tuple(layers), tuple(found))


def where_each_fits(need: tuple[int, int, int], memory=CORE_MEMORY) -> str:
    """For each memory of ``need``, the cores that hold it (or the largest core's figure)."""
    parts = []
    for index, name in enumerate(MEMORIES):
        cores = [core for core, room in enumerate(memory) if need[index] <= room[index]]
        if not cores:
            top = max(room[index] for room in memory)
            parts.append(f"{name} {need[index]:,} fits no core (largest {top:,})")
        else:
            which = "every core" if len(cores) == len(memory) else \
                f"core{'s' * (len(cores) > 1)} {', '.join(map(str, cores))}"
            parts.append(f"{name} {need[index]:,} fits {which}")
    return "; ".join(parts)


def describe(need: tuple[int, int, int]) -> str:
    return ", ".join(f"{m} memory {n:,}" for m, n in zip(MEMORIES, need, strict=True))


def shrink_hint(layer: Layer) -> str:
    f, c, kh, kw = layer.weights
    return (f"memories are powers of two: kernel c * 2^(ceil(log2(kh*kw)) + ceil(log2(f))) = "
            f"{c} * 2^({clog2(kh * kw)} + {clog2(f)}), neuron f * 2^(ceil(log2(H)) + "
            f"ceil(log2(W))) = {f} * 2^({clog2(layer.output[1])} + {clog2(layer.output[2])}); "
            "fewer channels, a smaller map (stride or pooling before it) or a kernel of at "
            "most a power of two taps shrinks them")
