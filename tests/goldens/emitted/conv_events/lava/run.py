"""Run network 'conv_events' in Lava's CPU simulator and save the recordings.

    python run.py --steps 200 [--input data.npz] [--precision fixed_pt] [-o recording.npz]

The output has the layout of `snnc run -o`: 'dt', 'steps', '<population>.s' (bool) and
'<population>.v' arrays [steps, 1, *shape], and the final weights '<projection>.w' ([post, pre] for dense
projections, one value per synapse in CSR order by pre neuron otherwise).
"""

import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STEPS = None


def run(steps, inputs=None, precision="floating_pt", record=None):
    """Build, run and read back the network; returns the recordings as a dict of arrays."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    import network
    from models import exception_models

    record = network.RECORD if record is None else list(record)
    with tempfile.TemporaryDirectory() as folder:
        procs, probes, roots = network.build(steps, inputs, precision, record, folder)
        config = Loihi2SimCfg(select_tag=precision,
                              exception_proc_model_map=exception_models(precision))
        try:
            for root in roots:
                procs[root].run(condition=RunSteps(num_steps=steps), run_cfg=config)
            return collect(network, procs, probes, steps, precision, record)
        finally:
            for root in roots:
                procs[root].stop()


def collect(network, procs, probes, steps, precision, record):
    """Recordings in the population's neuron order, voltages unshifted (v = v' + v_reset)."""
    data = network.load()
    out = {"dt": np.array(network.DT), "steps": np.array(steps)}
    for key in record:
        population, variable = key.rsplit(".", 1)
        shape = tuple(network.SHAPES[population])
        size = int(np.prod(shape))
        values = np.zeros((steps, size), bool if variable == "s" else float)
        for name in network.GROUPS[population]:
            index = data["index/" + name]
            probe = probes[(key, name)]
            if variable == "s":
                values[:, index] = np.load(probe)
            else:
                v = np.asarray(probe.get_data()[name]["v"], float)
                if precision == "fixed_pt":
                    v = v / data["fixed/" + name + ".scale"]
                values[:, index] = v + data["offset/" + name]
        out[key] = values.reshape((steps, 1) + shape)
    for projection, names in network.PROJECTIONS.items():
        out[projection + ".w"] = final_weights(network, data, procs, names, precision)
    return out


def final_weights(network, data, procs, names, precision):
    """A projection's weights in snnc's units (the input scaling divided out). Only plastic
    weights are read back from Lava (reading a Var is slow); the others are as built."""
    full = None
    prefix = "float/" if precision == "floating_pt" else "fixed/"
    for name in names:
        if name in network.PLASTIC:
            weights = procs[name].weights.get()
        elif prefix + name + ".weights" in data:
            weights = data[prefix + name + ".weights"]
        else:
            weights = np.zeros((len(data["post_index/" + name]), len(data["pre_index/" + name])))
            weights[data[prefix + name + ".rows"], data[prefix + name + ".cols"]] = \
                data[prefix + name + ".values"]
        weights = weights.toarray() if hasattr(weights, "toarray") else np.asarray(weights)
        weights = weights.astype(float)
        if precision == "fixed_pt":
            weights = weights * 2.0 ** procs[name].proc_params.get("weight_exp", 0) * 64 \
                / data["fixed/" + name + ".post_scale"][:, None]
        weights = weights / data["scale/" + name][:, None]
        pre, post = data["pre_index/" + name], data["post_index/" + name]
        if full is None:
            full = np.zeros(tuple(int(x) for x in data["shape/" + names[0]]))
        full[np.ix_(post, pre)] = weights
    layout = "synapses/" + names[0]
    if layout + ".post" in data:
        return full[data[layout + ".post"], data[layout + ".pre"]]
    return full


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help="number of steps (default: %(default)s)")
    parser.add_argument("--input", help="spikes of the data inputs: .npz with an array "
                                        "[steps, *shape] per input name")
    parser.add_argument("--precision", choices=("floating_pt", "fixed_pt"),
                        default="floating_pt")
    parser.add_argument("--record", help="comma-separated '<population>.s|v' (default: the "
                                         "program's record statements)")
    parser.add_argument("-o", "--output", default="recording.npz")
    args = parser.parse_args(argv)
    if args.steps is None or args.steps < 1:
        parser.error("give --steps (the network has no duration)")
    inputs = {}
    if args.input:
        with np.load(args.input, allow_pickle=False) as archive:
            inputs = {key: archive[key] for key in archive.files}
    record = [r.strip() for r in args.record.split(",")] if args.record else None
    sys.path.insert(0, HERE)
    import network
    for name, (kind, _, _) in network.SOURCES.items():
        if kind == "data" and name not in inputs:
            print(f"run.py: warning: input {name!r} gets no spikes (give --input DATA.npz with an "
                  f"array {name!r} of shape [steps, {', '.join(map(str, network.SHAPES[name]))}])",
                  file=sys.stderr)
    try:
        out = run(args.steps, inputs, args.precision, record)
    except (ValueError, KeyError) as error:
        print(f"run.py: {error}", file=sys.stderr)
        return 1
    np.savez(args.output, **out)
    print(f"{args.steps} steps in {args.precision}: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
