"""The processes of feedback rules' learning signals in ``build()`` (:mod:`.feedback`): each
readout's ``ReadoutError``, each random feedback's ``RandomFeedback``, and the port-to-port
connections that deliver the signals to the post neurons' ``a_third_y2``/``a_third_y3`` in the
step the readout's voltage is computed (no Dense: it would add a step). The processes take
their fixed-point scales as arguments (:mod:`.fixed_feedback`; the floating-point models
ignore them): the groups' integer voltage per unit (``fixed/<group>.scale`` of network.npz),
psi's and the signals' sigma."""

from __future__ import annotations

from snnc.backends.lava.fixed_feedback import ERROR_SIGMA, feedback_sigma, psi_sigma
from snnc.backends.lava.graph import LavaGraph, NeuronGroup
from snnc.literals import py, py_comment


def group_arguments(g: NeuronGroup) -> list[str]:
    """The FeedbackLIF<k> process's own arguments: its surrogate (psi as y1) and third
    factors, and in fixed point its voltage's scale and psi's sigma."""
    role = g.feedback
    surrogate = None if role.surrogate is None else [role.surrogate[0], role.surrogate[1]]
    sigma = None if role.surrogate is None else psi_sigma(*role.surrogate)
    return [f"surrogate={py(surrogate)}", f"thirds={py(sorted(role.thirds))}",
            f"scale=data[{py('fixed/' + g.name + '.scale')}].item()", f"psi_sigma={py(sigma)}"]


def group_comments(g: NeuronGroup) -> list[str]:
    role = g.feedback
    lines = []
    if role.surrogate is not None:
        lines.append(f"#   y1 = psi(v - vth), the surrogate {py_comment(role.surrogate[0])} of "
                     "surrogate(post.v) (in fixed point times psi_sigma)")
    for slot, projection in sorted(role.thirds.items()):
        lines.append(f"#   {slot} = the learning signal of {py_comment(projection)}, received "
                     f"on a_third_{slot}")
    if role.sends_v:
        lines.append("#   v_out: its voltage, to the error process")
    return lines


def feedback_lines(graph: LavaGraph, data: dict) -> list[str]:
    """The lines of ``build()`` that make the error and feedback processes (after every group
    and connection); their arrays go into ``data`` (network.npz)."""
    from snnc.backends.lava.render import call
    lines = []
    for e in graph.errors:
        name, readout = py(e.name), py(e.readout)
        lines += ["", f"# the loss's error of the readout {py_comment(e.readout)} at each step "
                  f"({e.loss}): softmax(v) - onehot(label)"]
        lines += call(f"procs[{name}]", "ReadoutError", [
            f"shape=({e.size},)", "labels=step_labels(labels, steps, samples)",
            f"offset=data[{py('offset/' + e.readout)}]",
            f"scale=data[{py('fixed/' + e.readout + '.scale')}].item()",
            f"sigma={py(ERROR_SIGMA)}", f"name={name}"])
        lines.append(f"procs[{readout}].v_out.connect(procs[{name}].v_in)")
    for f in graph.feedbacks:
        error, post = py(f.error), py(f.post)
        if f.matrix is None:
            lines += [f"# readout_error of {py_comment(f.projection)}: the error itself, as "
                      f"{f.slot}",
                      f"procs[{error}].e_out.connect(procs[{post}].a_third_{f.slot})"]
            continue
        name = py(f.name)
        data[f"feedback/{f.name}"] = f.matrix
        lines += [f"# random_feedback of {py_comment(f.projection)}: L = B e, as {f.slot} "
                  f"(B [{f.matrix.shape[0]}, {f.matrix.shape[1]}] drawn as snnc draws it)",
                  *call(f"procs[{name}]", "RandomFeedback",
                        [f"matrix=data[{py('feedback/' + f.name)}]",
                         f"sigma_in={py(ERROR_SIGMA)}",
                         f"sigma_out={py(feedback_sigma(f.matrix))}", f"name={name}"]),
                  f"procs[{error}].e_out.connect(procs[{name}].e_in)",
                  f"procs[{name}].l_out.connect(procs[{post}].a_third_{f.slot})"]
    return lines


def model_names(graph: LavaGraph) -> set[str]:
    """The program's own processes of the learning signals (imported from models.py)."""
    names = {"ReadoutError"} if graph.errors else set()
    return names | ({"RandomFeedback"} if any(f.matrix is not None for f in graph.feedbacks)
                    else set())


def dot_lines(graph: LavaGraph, dot) -> list[str]:
    """The error and feedback processes in the process graph's DOT (``dot``: the DOT string
    quoting of :mod:`snnc.literals`), dashed as the sources of third factors are."""
    lines = []
    for e in graph.errors:
        label = dot(e.name, f"ReadoutError ({e.loss})")
        lines.append(f"  {dot(e.name)} [shape=box, style=\"rounded,dashed\", label={label}];")
        lines.append(f"  {dot(e.readout)} -> {dot(e.name)} [label={dot('v_out')}, "
                     "style=dashed];")
    for f in graph.feedbacks:
        target = f"{dot(f.post)} [label={dot('a_third_' + f.slot)}, style=dashed];"
        if f.matrix is None:
            lines.append(f"  {dot(f.error)} -> {target}")
            continue
        label = dot(f.name, f"RandomFeedback B [{f.matrix.shape[0]}, {f.matrix.shape[1]}]")
        lines.append(f"  {dot(f.name)} [shape=box, style=\"rounded,dashed\", label={label}];")
        lines.append(f"  {dot(f.error)} -> {dot(f.name)} [style=dashed];")
        lines.append(f"  {dot(f.name)} -> {target}")
    return lines
