"""Where spikes go once neurons sit on cores: remote packets and the traffic matrix.

A core multicasts a spike once per destination core, not once per synapse. With ``reach(i, c)``
= 1 when neuron i has at least one synapse onto a neuron of core c (for ``random`` synapse
sets its expectation, 1 - (1 - p)^m_c with m_c post neurons on c) and P(i) the core of i:

    dests_i  = sum_c reach(i, c)                       destination cores of neuron i
    remote   = sum_i r_i dt * (dests_i - reach(i, P(i)))   remote packets per step
    T[a, b]  = sum_{i on a} r_i dt * reach(i, b),  a != b   packets per step from core a to b

Input neurons are off the mesh: all their destination cores are remote, and they add to
``remote`` but not to T. Dense sets have reach(i, c) = [core c holds a post neuron].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.mapping.arrays import distinct
from snnc.mapping.assignment import Assignment
from snnc.mapping.graph import MapGraph, SynapseSet


@dataclass
class Flow:
    """One synapse set under an assignment (K cores)."""

    synapses: np.ndarray  # [K] synapses onto each core
    axons: np.ndarray     # [K] distinct pre neurons reaching each core
    dests: np.ndarray     # [n_pre] destination cores of each pre neuron
    remote: np.ndarray    # [n_pre] the same without the pre neuron's own core
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]  # (source core, destination core, packets)


def flow(s: SynapseSet, graph: MapGraph, a: Assignment) -> Flow:
    k = a.cores
    pre = graph.groups[s.projection.pre]
    post_core = a.core_of[s.projection.post]
    pre_core = None if pre.is_input else a.core_of[pre.name]
    packets = pre.rates * graph.dt
    m = np.bincount(post_core, minlength=k).astype(np.float64)
    if s.form == "exact":
        cores = post_core[s.posts]
        synapses = np.bincount(cores, minlength=k).astype(np.float64)
        pairs = distinct(s.pres * k + cores)
        src, dst = np.divmod(pairs, k)
        axons = np.bincount(dst, minlength=k).astype(np.float64)
        dests = np.bincount(src, minlength=s.n_pre).astype(np.float64)
        if pre_core is None:
            remote = dests
            routed = (np.zeros(0, np.int64),) * 2 + (np.zeros(0),)
        else:
            local = pre_core[src] == dst
            remote = dests - np.bincount(src[local], minlength=s.n_pre)
            keep = ~local
            routed = (pre_core[src[keep]], dst[keep], packets[src[keep]])
        return Flow(synapses, axons, dests, remote, routed)
    reach = (m > 0).astype(np.float64) if s.form == "dense" else 1.0 - (1.0 - s.p) ** m
    synapses = m * s.n_pre * (1.0 if s.form == "dense" else s.p)
    axons = s.n_pre * reach
    dests = np.full(s.n_pre, reach.sum())
    if pre_core is None:
        return Flow(synapses, axons, dests, dests, (np.zeros(0, np.int64),) * 2 + (np.zeros(0),))
    remote = dests - reach[pre_core]
    out = np.bincount(pre_core, weights=packets, minlength=k)
    holds_pre = np.bincount(pre_core, minlength=k) > 0
    src, dst = np.nonzero(np.outer(holds_pre, reach > 0))
    keep = src != dst
    src, dst = src[keep], dst[keep]
    return Flow(synapses, axons, dests, remote, (src, dst, out[src] * reach[dst]))


def flows(graph: MapGraph, a: Assignment) -> list[Flow]:
    return [flow(s, graph, a) for s in graph.sets]


def remote_packets(graph: MapGraph, fs: list[Flow]) -> float:
    """Remote packets per step: sum_i r_i dt (dests_i - reach(i, P(i)))."""
    return float(sum(np.dot(graph.groups[s.projection.pre].rates * graph.dt, f.remote)
                     for s, f in zip(graph.sets, fs, strict=True)))


def traffic_matrix(fs: list[Flow], cores: int) -> np.ndarray:
    """T[a, b]: packets per step from core a to core b (a != b); inputs are not included."""
    t = np.zeros(cores * cores)
    for f in fs:
        src, dst, w = f.pairs
        if len(src):
            t += np.bincount(src * cores + dst, weights=w, minlength=cores * cores)
    return t.reshape(cores, cores)
