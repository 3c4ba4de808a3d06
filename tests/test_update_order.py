"""The update order of populations (snnc.ir.discrete.update_order) against networkx's
lexicographical topological sort (the peer) on random networks with cycles, self-loops,
repeated edges and delayed projections."""


import networkx as nx
import numpy as np
import pytest
from simulate import compile_text

from snnc.ir.discrete import update_order


def random_network(seed: int) -> str:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    lines = ["network order {\n  dt = 1 ms\n  seed = 1\n}"]
    lines += [f"population q{k}: LIF[3]" for k in range(n)]
    for number in range(int(rng.integers(1, 3 * n))):
        pre, post = (int(x) for x in rng.integers(0, n, 2))
        delay = "  delay = 2 ms\n" if rng.random() < 0.2 else ""
        lines.append(f"q{pre} -> q{post} as e{number}: fixed_fan_in(k = 1) {{\n"
                     f"  weight = 0.1\n{delay}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(40))
def test_the_order_is_networkx_lexicographical_topological_sort(seed):
    net = compile_text(random_network(seed))
    for with_delayed in (False, True):
        order, back = update_order(net, with_delayed)
        names = [p.name for p in net.populations()]
        graph = nx.DiGraph()
        graph.add_nodes_from(names)
        edges = [p for p in net.projections() if with_delayed or p.delay_steps == 0]
        graph.add_edges_from((p.pre, p.post) for p in edges if p.name not in back)
        rank = {name: k for k, name in enumerate(names)}
        assert order == list(nx.lexicographical_topological_sort(graph, key=rank.__getitem__))
        assert sorted(order) == sorted(names)
        for p in edges:  # every edge left out closes a cycle: its pre is not before its post
            if p.name in back:
                assert order.index(p.pre) >= order.index(p.post)
