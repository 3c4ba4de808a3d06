"""Graphs that the peers write themselves (README, "NIR: export and import"; docs/interop.md).

Neither Norse 1.1.0's ``to_nir`` nor snnTorch 1.0.0's ``export_to_nir`` writes a ``dt`` or any
metadata, so they are recognised by their content, and only when the graph has no ``dt`` of
its own (it is given with ``--dt``):

- Norse writes ``tau = dt / tau_mem_inv`` (and ``tau_syn = dt / tau_syn_inv``) instead of
  ``1 / tau_mem_inv``. When every time constant of the graph is at most dt (no Euler update
  would decay) and every one divided by dt is above dt, the graph is read as Norse's: the time
  constants are divided by dt (W619, naming the bug). Its ``LIFCell`` exports as a CubaLIF with
  ``w_in = 1`` although the current jumps by the input itself: such nodes get
  ``w_in = tau_syn / dt`` (in the same warning).
- snnTorch resets by subtraction by default and does not write the reset mechanism. A node
  whose ``metadata`` says ``reset`` (``zero`` or ``subtract``, snnc's own export writes it)
  is imported with that reset; ``snntorch_subtract`` (``snnc.peers.export_snntorch`` writes
  it for snnTorch's default reset, which subtracts the threshold after the decay) is refused
  by name (E619). A graph that bears
  snnTorch's export's signature (every LIF/CubaLIF with ``r = tau / 1e-4``, ``v_reset = 0``,
  CubaLIF ``w_in = tau_syn / 1e-4``) and no reset metadata is imported with the reset the
  graph says (zero, as snnTorch's own ``import_from_nir`` does) with a warning (W619) that
  names the missing reset mechanism.
"""

from __future__ import annotations

import numpy as np

from snnc.diagnostics import Diagnostics

SPIKING = ("LIF", "CubaLIF", "IF")
RESETS = ("zero", "subtract")
SNNTORCH_DT = 1e-4
NORSE_BUG = ("Norse 1.1.0's to_nir writes tau = dt / tau_mem_inv (and tau_syn = dt / "
             "tau_syn_inv) instead of 1 / tau_mem_inv")
NORSE_W_IN_BUG = ("Norse 1.1.0 exports LIFCell as a CubaLIF with w_in = 1 although its current "
                  "jumps by the input itself (w_in = tau_syn / dt)")


def time_constants(node) -> dict[str, np.ndarray]:
    return {key: np.asarray(value, dtype=np.float64) for key, value in vars(node).items()
            if key.startswith("tau") and value is not None}


def looks_like_norse(graph, dt: float) -> bool:
    """Every time constant at most dt, and every one over dt above dt (and finite)."""
    found = False
    for node in graph.nodes.values():
        for value in time_constants(node).values():
            if value.size == 0 or not np.all(np.isfinite(value)) or np.any(value <= 0):
                return False
            if np.any(value > dt) or np.any(value / dt <= dt):
                return False
            found = True
    return found


def correct_norse(graph, dt: float, diag: Diagnostics) -> None:
    """Divide the time constants by dt, and set CubaLIF ``w_in = tau_syn / dt`` where it is 1."""
    fixed_w_in = []
    for name, node in graph.nodes.items():
        for key, value in time_constants(node).items():
            setattr(node, key, value / dt)
        if type(node).__name__ == "CubaLIF" and np.all(np.asarray(node.w_in) == 1):
            node.w_in = np.asarray(node.tau_syn, dtype=np.float64) / dt
            fixed_w_in.append(name)
    message = (f"the graph's time constants are all below dt = {dt:g} s: read as written by "
               f"{NORSE_BUG}; imported with tau divided by dt")
    if fixed_w_in:
        message += (f", and w_in = tau_syn / dt for {', '.join(map(repr, sorted(fixed_w_in)))} "
                    f"({NORSE_W_IN_BUG})")
    diag.warning("W619", None, message,
                 hint="a graph from another tool with time constants below dt is not "
                      "importable at this dt; give the graph's real dt with --dt")


def close(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(a.size and np.allclose(a, b, rtol=1e-5, atol=0))


def looks_like_snntorch(graph) -> bool:
    neurons = [node for node in graph.nodes.values()
               if type(node).__name__ in ("LIF", "CubaLIF")]
    if not neurons:
        return False
    for node in neurons:
        tau = node.tau if type(node).__name__ == "LIF" else node.tau_mem
        if not close(node.r, np.asarray(tau, dtype=np.float64) / SNNTORCH_DT) or \
                np.any(np.asarray(node.v_reset) != 0):
            return False
        if type(node).__name__ == "CubaLIF" and \
                not close(node.w_in, np.asarray(node.tau_syn, dtype=np.float64) / SNNTORCH_DT):
            return False
    return True


def node_reset(name: str, node, diag: Diagnostics) -> str | None:
    """The reset a node's metadata names (None: none named); E619 for another value."""
    metadata = getattr(node, "metadata", None)
    value = metadata.get("reset") if isinstance(metadata, dict) else None
    if value is None:
        return None
    value = value.decode() if isinstance(value, bytes) else str(np.asarray(value).item()) \
        if np.asarray(value).size == 1 else value
    if value == "snntorch_subtract":
        diag.error("E619", None, f"node '{name}' resets as snnTorch's 'subtract' does: "
                   "mem <- beta mem + input - threshold on the step after a spike (the "
                   "threshold is subtracted after the decay), which is not snnc's reset = "
                   "subtract (v <- v - threshold at the spike, then the decay)",
                   hint="train or export the snnTorch network with reset_mechanism='zero', "
                        "or run it in snnTorch (snnc.peers)")
        return ""
    if value not in RESETS:
        diag.error("E619", None, f"node '{name}': metadata reset = {value!r}, which snnc does "
                   "not import", hint=f"NIR importers reset to v_reset ('zero'); snnc also "
                                      f"reads {', '.join(RESETS)}")
        return ""
    return value


def recognise(graph, dt: float, dt_given: bool, diag: Diagnostics) -> dict[str, str] | None:
    """Correct or refuse the peers' own exports (see the module's docstring); the reset of
    every spiking node that names one. None after errors."""
    resets = {name: node_reset(name, node, diag) for name, node in graph.nodes.items()
              if type(node).__name__ in SPIKING}
    if "" in resets.values():
        return None
    named = {name: reset for name, reset in resets.items() if reset is not None}
    if not dt_given:
        return named
    if looks_like_norse(graph, dt):
        correct_norse(graph, dt, diag)
    elif not named and looks_like_snntorch(graph):
        diag.warning("W619", None,
                     "the graph looks written by snnTorch 1.0.0's export_to_nir (r = tau / 1e-4, "
                     "v_reset = 0), which does not record the reset mechanism: imported with "
                     "reset = zero, as the graph says; a network trained with snnTorch's "
                     "default reset_mechanism='subtract' runs differently",
                     hint="export with snnc.peers.export_snntorch(net, sample), which records "
                          "each layer's reset (snnTorch's subtract is then refused by name, "
                          "E619)")
    return named
