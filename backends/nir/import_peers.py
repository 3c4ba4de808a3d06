"""Graphs that the peers write themselves, and the reset of every spiking node (README, "NIR:
export and import"; docs/interop.md).

A spiking node's reset is read, in this order, from the node's ``metadata["reset"]`` (snnc's own
export and ``snnc.peers.export_snntorch`` write it), from the user's statement (``snnc
import-nir --reset``, ``import_graph(reset=...)``: :func:`parse_reset`), or else NIR's own
meaning, reset to ``v_reset`` (``zero``). The kinds (:data:`RESETS`):

- ``zero``: ``v <- v_reset`` at the spike (NIR's reset; snnTorch's ``reset_mechanism='zero'``,
  Norse's ``reset_value``);
- ``subtract``: ``v <- v - threshold`` at the spike, before the next decay (snnc's
  ``reset = subtract``; Norse's ``reset_subtract``);
- ``none``: no reset (snnTorch's ``reset_mechanism='none'``);
- ``snntorch_subtract``: snnTorch's default ``reset_mechanism='subtract'`` (``reset_delay =
  True``): ``mem <- beta mem + input - threshold`` on the step after a spike, the threshold
  subtracted after the decay. Imported exactly (:func:`subtract_after_decay`): snnc's subtract
  of ``threshold / beta`` at the spike, the membrane shifted by ``threshold / beta -
  threshold`` (note N619).

snnTorch's subtract with ``reset_delay=False`` (metadata ``snntorch_subtract_no_delay``)
subtracts at the spike and again on the next step while the membrane stays above threshold,
which snnc cannot express: E619 by name.

Neither Norse 1.1.0's ``to_nir`` nor snnTorch 1.0.0's ``export_to_nir`` writes a ``dt``, any
metadata or the reset mechanism, so their graphs are recognised by their content, and a reset
they do not record is never guessed:

- Norse writes ``tau = dt / tau_mem_inv`` (and ``tau_syn = dt / tau_syn_inv``) instead of
  ``1 / tau_mem_inv``. When the graph has no ``dt`` of its own (it is given with ``--dt``) and
  every time constant is at most dt (no Euler update would decay) and every one divided by dt
  is above dt, the graph is read as Norse's: the time constants are divided by dt (W619, naming
  the bug). Its ``LIFCell`` exports as a CubaLIF with ``w_in = 1`` although the current jumps
  by the input itself: such nodes get ``w_in = tau_syn / dt`` (in the same warning). Its
  ``LIFBoxCell`` (a LIF node) resets by ``reset_value`` or ``reset_subtract``, which the graph
  does not say: E619 unless the reset is stated (``LIFCell`` and ``IAFCell`` always reset to
  the value).
- snnTorch resets by subtraction by default. A graph that bears the signature of its export
  (every LIF/CubaLIF with ``r = tau / 1e-4``, ``v_reset = 0``, CubaLIF ``w_in = tau_syn /
  1e-4``), whatever its dt, has spiking nodes without a recorded reset: E619 unless the reset is
  stated; a stated ``subtract`` is E619 too (snnTorch's is ``snntorch_subtract``).
"""

from __future__ import annotations

import numpy as np

from snnc.diagnostics import Diagnostic, Diagnostics, Severity, did_you_mean
from snnc.literals import py

SPIKING = ("LIF", "CubaLIF", "IF")
#: the resets a node's metadata or the user's statement may name (the module's docstring)
RESETS = ("zero", "subtract", "none", "snntorch_subtract")
#: other names of these in node metadata (``snnc.peers.export_snntorch`` writes them)
ALIASES = {"snntorch_none": "none"}
SNNTORCH_DT = 1e-4
NORSE_BUG = ("Norse 1.1.0's to_nir writes tau = dt / tau_mem_inv (and tau_syn = dt / "
             "tau_syn_inv) instead of 1 / tau_mem_inv")
NORSE_W_IN_BUG = ("Norse 1.1.0 exports LIFCell as a CubaLIF with w_in = 1 although its current "
                  "jumps by the input itself (w_in = tau_syn / dt)")
SNNTORCH_SIGNATURE = ("the graph bears the signature of snnTorch 1.0.0's export_to_nir (r = "
                      "tau / 1e-4, v_reset = 0)")


def parse_reset(value) -> dict[str | None, str]:
    """A reset statement: ``KIND`` (every spiking node whose reset the graph does not record)
    and ``NODE=KIND`` items, comma-separated (``"zero,3=snntorch_subtract"``), or a mapping
    ``{NODE or None: KIND}``. Returns ``{node or None: kind}``; raises ValueError naming what
    is wrong (an unknown kind, with a did-you-mean; a node stated twice; nothing stated)."""
    if isinstance(value, dict):
        items = [(None if node is None else str(node), str(kind)) for node, kind in value.items()]
    else:
        items = []
        for item in (part.strip() for part in str(value).split(",")):
            if item:
                node, _, kind = item.rpartition("=")
                items.append((node.strip() or None if "=" in item else None, kind.strip()))
    if not items:
        raise ValueError(f"{value!r} states no reset: choose from {', '.join(RESETS)}, or "
                         "NODE=KIND for one node (comma-separated)")
    out: dict[str | None, str] = {}
    for node, kind in items:
        if kind not in RESETS:
            close = did_you_mean(kind, RESETS)
            raise ValueError(f"unknown reset {kind!r}" + (f" ({close})" if close else "") +
                             f": choose from {', '.join(RESETS)}, or NODE=KIND for one node")
        if node in out and out[node] != kind:
            where = "every node" if node is None else f"node {node!r}"
            raise ValueError(f"{where} is stated twice, as {out[node]!r} and {kind!r}")
        out[node] = kind
    return out


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
        message += (f", and w_in = tau_syn / dt for {', '.join(map(py, sorted(fixed_w_in)))} "
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
    value = ALIASES.get(value, value)
    if value == "snntorch_subtract_no_delay":
        diag.error("E619", None, f"node {py(name)} resets as snnTorch's subtract with "
                   "reset_delay=False: the threshold subtracted at the spike and again on the "
                   "next step while the membrane stays above threshold, which snnc cannot "
                   "express (neither snnc's subtract nor snnTorch's default, 'snntorch_subtract')",
                   hint="train or export the snnTorch network with reset_delay=True (imported "
                        "exactly) or reset_mechanism='zero', or run it in snnTorch (snnc.peers)")
        return ""
    if value not in RESETS:
        diag.error("E619", None, f"node {py(name)}: metadata reset = {py(str(value))}, which snnc does "
                   "not import", hint=f"NIR importers reset to v_reset ('zero'); snnc also "
                                      f"reads {', '.join(RESETS)}")
        return ""
    return value


def recognise(graph, dt: float, dt_given: bool, diag: Diagnostics,
              stated: dict[str | None, str] | None = None) -> dict[str, str] | None:
    """Correct the peers' own exports (see the module's docstring) and settle every spiking
    node's reset: {node: reset} for those that record one or are stated (the others reset to
    v_reset, NIR's meaning). None after errors (E619: a reset that is neither recorded, nor
    stated, nor NIR's by the graph's own account)."""
    spiking = {name: node for name, node in graph.nodes.items()
               if type(node).__name__ in SPIKING}
    recorded = {name: node_reset(name, node, diag) for name, node in spiking.items()}
    if "" in recorded.values():
        return None
    recorded = {name: reset for name, reset in recorded.items() if reset is not None}
    author, unknown = None, []
    if dt_given and looks_like_norse(graph, dt):
        correct_norse(graph, dt, diag)
        author = "norse"
        unknown = [name for name, node in spiking.items()
                   if type(node).__name__ == "LIF" and name not in recorded]
    elif len(recorded) < len(spiking) and looks_like_snntorch(graph):
        author = "snntorch"
        unknown = [name for name in spiking if name not in recorded]
    resets = settle(stated or {}, spiking, recorded, author, diag)
    if resets is None:
        return None
    missing = sorted(name for name in unknown if name not in resets)
    if missing:
        refuse_unrecorded(author, missing, diag)
        return None
    shifted = sorted(name for name, reset in resets.items() if reset == "snntorch_subtract")
    if shifted:
        diag.report(Diagnostic(
            "N619", Severity.NOTE, f"snnTorch's subtract (the threshold subtracted on the step "
            f"after a spike, after the decay) of {', '.join(map(py, shifted))} is imported "
            "exactly as reset = subtract of threshold / beta at the spike (beta = 1 - dt / tau) "
            "with the membrane shifted by threshold / beta - threshold (threshold, v_leak and "
            "v_init raised by it): the spikes are snnTorch's, the voltages snnTorch's plus the "
            "shift", None))
    return resets


def settle(stated: dict[str | None, str], spiking: dict, recorded: dict[str, str],
           author: str | None, diag: Diagnostics) -> dict[str, str] | None:
    """The recorded resets with the statement applied: ``NODE=KIND`` to that node (E619 if it
    is no spiking node, or records another reset), ``KIND`` to every spiking node that records
    none. A stated ``subtract`` on an snnTorch graph is E619 (snnTorch's own is
    ``snntorch_subtract``)."""
    resets = dict(recorded)
    for node, kind in stated.items():
        if node is None:
            continue
        if node not in spiking:
            close_name = did_you_mean(node, spiking)
            diag.error("E619", None, f"--reset {py(node)[1:-1]}={kind}: the graph has no "
                       f"spiking node {py(node)}", hint=close_name or f"its spiking nodes: "
                       f"{', '.join(map(py, sorted(spiking))) or 'none'}")
            return None
        if recorded.get(node, kind) != kind:
            diag.error("E619", None, f"--reset {py(node)[1:-1]}={kind}: node {py(node)} records its "
                       f"reset in its metadata, reset = {recorded[node]!r}",
                       hint="a reset the graph records is read as recorded; drop this item")
            return None
        resets[node] = kind
    if None in stated:
        resets.update({name: stated[None] for name in spiking if name not in resets})
    ambiguous = sorted(name for name, kind in resets.items()
                       if kind == "subtract" and name not in recorded)
    if author == "snntorch" and ambiguous:
        diag.error("E619", None, f"--reset subtract for {', '.join(map(py, ambiguous))}: "
                   f"{SNNTORCH_SIGNATURE}, and snnTorch's reset_mechanism='subtract' is not "
                   "snnc's subtract: with its default reset_delay=True it subtracts the "
                   "threshold on the step after a spike, after the decay (that is --reset "
                   "snntorch_subtract); with reset_delay=False it subtracts at the spike and "
                   "again on the next step while the membrane stays above threshold, which snnc "
                   "cannot express", hint="--reset snntorch_subtract for snnTorch's default; "
                   "snnc's own subtract only through the node's metadata reset = 'subtract'")
        return None
    return resets


def refuse_unrecorded(author: str, missing: list[str], diag: Diagnostics) -> None:
    """E619: spiking nodes of a peer's graph whose reset the graph does not record."""
    nodes = ", ".join(map(py, missing))
    first, last = py(missing[0])[1:-1], py(missing[-1])[1:-1]
    example = f"{first}=zero" if len(missing) == 1 else f"{first}=zero,{last}=..."
    if author == "snntorch":
        diag.error("E619", None, f"{SNNTORCH_SIGNATURE}, which does not record the reset "
                   f"mechanism of {nodes}: snnTorch's default, reset_mechanism='subtract', "
                   "is not the reset to v_reset that the graph says, and snnc does not guess",
                   hint=f"state it: --reset zero (reset_mechanism='zero'), --reset "
                        f"snntorch_subtract (reset_mechanism='subtract', the default), --reset "
                        f"none, or per node (--reset {example}); or export with "
                        "snnc.peers.export_snntorch(net, sample), which records it")
    else:
        diag.error("E619", None, f"the graph was read as written by Norse 1.1.0's to_nir "
                   f"(W619), which does not record the reset of its LIF nodes {nodes} "
                   "(LIFBoxCell resets by its reset_method, reset_value or reset_subtract), "
                   "and snnc does not guess",
                   hint=f"state it: --reset zero (reset_value, the default), --reset subtract "
                        f"(reset_subtract), or per node (--reset {example})")


def subtract_after_decay(kind: str, settings: dict, dt: float) -> None:
    """snnTorch's subtract, ``m <- beta m + input - threshold s[n-1]``, as snnc's (the module's
    docstring): with ``U = m + d`` and ``d = threshold / beta - threshold``, ``U`` spikes when
    ``m`` does and follows snnc's ``reset = subtract`` of ``threshold / beta`` around ``v_leak +
    d`` from ``v_init = d``. ``settings`` are the population's (the importer's), changed in
    place."""
    threshold = np.asarray(settings["threshold"][0], dtype=np.float64)
    settings["reset"] = ("subtract", None)
    if kind == "IF":  # beta = 1: the same as snnc's
        return
    beta = 1.0 - dt / np.asarray(settings["tau_mem"][0], dtype=np.float64)
    raised = threshold / beta
    shift = raised - threshold
    v_leak = np.asarray(settings.get("v_leak", (np.zeros(1), ""))[0], dtype=np.float64)
    settings["threshold"] = (raised, "")
    settings["v_leak"] = (v_leak + shift, "")
    settings["v_init"] = (shift, "")
