"""Run network 'conv_events' in Lava's CPU simulator and save the recordings.

    python run.py --steps 200 [--input data.npz] [--precision fixed_pt] [-o recording.npz]
    python run.py --input data.npz --split test [--samples 100] [--precision fixed_pt] -o out.npz

The output has the layout of `snnc run -o`: 'dt', 'steps', '<population>.v' arrays [steps,
samples, *shape], the spikes '<population>.s' as events ('<population>.s.events.step', '.batch',
'.index', one entry per spike, and '.shape' [steps, samples, *shape]; --record-dense: bool
arrays [steps, samples, *shape]), and the final weights '<projection>.w' ([post, pre] for dense
projections, one value per synapse in CSR order by pre neuron otherwise); compressed, the same
recordings giving the same bytes.

--input: an .npz with an array [steps, *shape] (one sample) or [steps, samples, *shape] per data
input, named like the input, and 'reward' [steps] for rules that read the reward; or, with --split, a data file of `snnc train --save-data`
('<split>.<input>' [steps, samples, *shape], '<split>.label' [samples]). The samples run one
after another in one Lava process graph, its state set back to the initial values between two
(`network.reset`), so each sample runs as if alone, as `snnc run --batch` runs them side by side.
With labels ('label') and a loss in the program, the accuracy is printed and saved ('accuracy',
'prediction' [samples]), decided as `snnc train` decides: the argmax of the loss's readout reduced
over time as the loss reduces it (summed over time for a per-step loss).

-o: the output file ('.npz' is appended when missing, as numpy does), checked before anything
runs: an existing folder, or a file in a folder that does not exist or cannot be written, is
refused. It is written at the end, atomically (a temporary file in the same folder renamed over
it), so a failed run leaves no partial file and an existing one as it was. Every mistake in the
command line or the data is one line 'run.py: error: ...' and exit status 1.
"""

import argparse
import io
import os
import sys
import tempfile
import time
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STEPS = None
#: the splits of a data file of snnc train ('<split>.<input>', '<split>.label')
SPLITS = ("train", "validation", "test")


class Problem(Exception):
    """A mistake in the command line or the data: printed, exit status 1."""


def run(steps, inputs=None, precision="floating_pt", record=None, samples=1, reward=None):
    """Build the network once, run `samples` samples of `steps` steps one after another (the
    state reset between two), and read back the recordings as arrays [steps, samples, *shape].
    `reward` [steps]: the third factor of rules that read the reward."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    import network
    from models import exception_models

    record = network.RECORD if record is None else list(record)
    with tempfile.TemporaryDirectory() as folder:
        procs, probes, roots = network.build(steps, inputs, precision, record, folder,
                                             samples=samples, reward=reward)
        config = Loihi2SimCfg(select_tag=precision,
                              exception_proc_model_map=exception_models(precision))
        try:
            for sample in range(samples):
                if sample:
                    network.reset(procs)
                for root in roots:
                    procs[root].run(condition=RunSteps(num_steps=steps), run_cfg=config)
            return collect(network, procs, probes, steps, precision, record, samples)
        finally:
            for root in roots:
                procs[root].stop()


def collect(network, procs, probes, steps, precision, record, samples=1):
    """Recordings in the population's neuron order, voltages unshifted (v = v' + v_reset)."""
    data = network.load()
    out = {"dt": np.array(network.DT), "steps": np.array(steps)}
    for key in record:
        population, variable = key.rsplit(".", 1)
        shape = tuple(network.SHAPES[population])
        size = int(np.prod(shape))
        values = np.zeros((samples * steps, size), bool if variable == "s" else float)
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
        values = values.reshape((samples, steps, size)).swapaxes(0, 1)  # the samples played in turn
        out[key] = values.reshape((steps, samples) + shape)
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


def read_data(path, split, network):
    """The arrays of the data file `path`; with `split`, those of '<split>.<name>' under
    '<name>' (the layout of snnc train: '<split>.label' becomes 'label')."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not hasattr(archive, "files"):
            raise Problem(f"--input: {path!r} is a single array; give an .npz with one array "
                          "per input")
        with archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise Problem(f"--input: cannot read {path!r} as .npz ({error})") from None
    layout = [s for s in SPLITS if any(key.startswith(s + ".") for key in arrays)]
    wanted = list(network.DATA_INPUTS)
    if split is None:
        if layout and not set(wanted) & set(arrays):
            raise Problem(f"--input: {path!r} is a training data file (splits "
                          f"{', '.join(layout)}); its spikes are '<split>.<input>': choose a "
                          f"split with --split {' or '.join(layout)}")
        return arrays
    if split not in layout:
        raise Problem(f"--input: {path!r} has no split {split!r} (no array '{split}.<input>'; "
                      f"splits: {', '.join(layout) or '-'})")
    arrays = {key[len(split) + 1:]: a for key, a in arrays.items() if key.startswith(split + ".")}
    for name in wanted:
        if name not in arrays:
            raise Problem(f"--input: {path!r} has no array '{split}.{name}' for the input "
                          f"{name!r} (arrays of the split: {', '.join(sorted(arrays)) or '-'})")
    return arrays


def data_spikes(arrays, path, network):
    """{data input: bool array [steps, samples or 1, *shape]} of the data inputs in `arrays`."""
    inputs = {}
    for name in network.DATA_INPUTS:
        shape = tuple(network.SHAPES[name])
        dims = ", ".join(map(str, shape))
        if name not in arrays:
            print(f"run.py: warning: input {name!r} gets no spikes (give --input DATA.npz with "
                  f"an array {name!r} of shape [steps, {dims}])", file=sys.stderr)
            continue
        array = np.asarray(arrays[name])
        if array.ndim == len(shape) + 1 and array.shape[1:] == shape:
            array = array[:, None]
        elif array.ndim != len(shape) + 2 or array.shape[2:] != shape:
            raise Problem(f"--input: input {name!r} in {path!r} has shape {list(array.shape)}; "
                          f"expected [steps, {dims}] or [steps, samples, {dims}]")
        if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
            raise Problem(f"--input: input {name!r} in {path!r} must hold spikes (0 or 1)")
        inputs[name] = array.astype(bool)
    for name in sorted(set(arrays) - set(inputs) - set(network.SOURCES)):
        if name not in ("label", "reward") and not name.startswith("target."):
            print(f"run.py: warning: {path!r} holds {name!r}, which is not a data input "
                  f"(data inputs: {', '.join(inputs) or '-'})", file=sys.stderr)
    return inputs


def output_path(path):
    """The output file, with '.npz' appended as numpy does; refused before anything runs when
    it is a folder, or its folder does not exist or cannot be written."""
    if not path:
        raise Problem("-o: give a file name (e.g. recording.npz)")
    given, path = path, path if path.endswith(".npz") else path + ".npz"
    for name in (given, path):
        if os.path.isdir(name):
            raise Problem(f"-o: {name!r} is a folder; give a file name (e.g. "
                          f"{os.path.join(name, 'recording.npz')})")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise Problem(f"-o: {folder!r} is a file, not a folder")
    if not os.path.isdir(folder):
        raise Problem(f"-o: the folder {folder!r} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (os.path.exists(path)
                                          and not os.access(path, os.W_OK)):
        raise Problem(f"-o: {path!r} cannot be written (permission denied)")
    return path


def index_type(limit):
    """int32 for indices up to `limit`, int64 past 2**31 - 1."""
    return np.int32 if limit < 2**31 else np.int64


def spike_events(arrays):
    """`arrays` with every recorded spike array '<population>.s' (bool [steps, samples,
    *shape], or uint8 spike counts) replaced by its events, as snnc run -o saves them:
    '<population>.s.events.step', '.batch' and '.index' (np.nonzero of the spikes as [steps,
    samples, neurons], so sorted by step, sample, neuron; the neuron's flat index; a count of
    k is k equal events) and '.shape' (the dense shape, int64)."""
    out = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        if not (name.endswith(".s") and array.dtype in (bool, np.uint8) and array.ndim >= 2):
            out[name] = array
            continue
        flat = array.reshape(array.shape[0], array.shape[1], -1)
        found = np.nonzero(flat)
        repeats = flat[found].astype(np.int64) if array.dtype == np.uint8 else 1
        limits = (array.shape[0], array.shape[1], int(np.prod(array.shape[2:])))
        for field, values, limit in zip(("step", "batch", "index"), found, limits, strict=True):
            out[f"{name}.events.{field}"] = np.repeat(values, repeats).astype(index_type(limit))
        out[f"{name}.events.shape"] = np.array(array.shape, np.int64)
    return out


def spikes_dense(arrays, name):
    """The spikes `name` of a recording as bool [steps, samples, *shape], from its events
    ('<name>.events.*') or its dense array; None when it has neither."""
    shape = arrays.get(f"{name}.events.shape")
    if shape is None:
        return None if arrays.get(name) is None else np.asarray(arrays[name]).astype(bool)
    shape = tuple(int(k) for k in shape)
    dense = np.zeros(shape, bool)
    dense.reshape(shape[0], shape[1], -1)[tuple(
        arrays[f"{name}.events.{field}"] for field in ("step", "batch", "index"))] = True
    return dense


def write_npz(path, arrays, dense=False):
    """Write `arrays` to `path` in the layout of snnc run -o: recorded spikes as their events
    unless `dense` (spike_events), deflated, the members sorted and dated 1980-01-01 (the same
    arrays give the same bytes). Atomically: a temporary file in the same folder, renamed over
    it (an interrupted or failed write leaves no partial file and a previous one as it was)."""
    arrays = arrays if dense else spike_events(arrays)
    temporary = f"{path}.{os.getpid()}.tmp.npz"
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(arrays):
                member = io.BytesIO()
                np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, member.getvalue())
        os.replace(temporary, path)
    except OSError as error:
        raise Problem(f"-o: cannot write {path!r} ({error.strerror or error})") from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


#: the loss's reduction of the readout over time, before the argmax (snnc.training.metrics)
REDUCTIONS = {
    None: lambda v: v.sum(axis=0),
    "sum_over_time": lambda v: v.sum(axis=0),
    "mean_over_time": lambda v: v.mean(axis=0),
    "max_over_time": lambda v: v.max(axis=0),
    "last": lambda v: v[-1],
}


def predict(values, reduction):
    """The class of each sample: the argmax of the readout [steps, samples, *shape] reduced
    over time by the loss's reduction (as snnc.training.metrics.evaluate decides)."""
    values = np.asarray(values)
    logits = REDUCTIONS[reduction](values.reshape(values.shape[0], values.shape[1], -1))
    return logits.argmax(axis=-1)


def sizes(inputs, labels, args):
    """(steps, samples) of the run: --steps, else the network's duration, else the data's;
    --samples, else every sample of the data (one without a sample axis)."""
    if (args.steps is not None and args.steps < 1) or (args.samples is not None
                                                        and args.samples < 1):
        raise Problem("--steps and --samples must be positive")
    steps = args.steps or DEFAULT_STEPS or min((a.shape[0] for a in inputs.values()),
                                               default=None)
    if steps is None:
        raise Problem("give --steps (the network has no duration)")
    for name, array in inputs.items():
        if array.shape[0] < steps:
            raise Problem(f"--input: input {name!r} has {array.shape[0]} steps; {steps} are "
                          "simulated (pass --steps with at most that many)")
    counts = sorted({a.shape[1] for a in inputs.values()} - {1})
    if labels is not None and np.ndim(labels) != 1:
        raise Problem(f"--input: 'label' must hold one class index per sample, not an array of "
                      f"shape {list(np.shape(labels))}")
    if len(counts) > 1:
        raise Problem(f"--input: the inputs have different numbers of samples ({counts})")
    if labels is not None and counts and len(labels) != counts[0]:
        raise Problem(f"--input: 'label' has {len(labels)} samples, the inputs {counts[0]}")
    samples = args.samples or (counts[0] if counts else 1)
    if counts and samples > counts[0]:
        raise Problem(f"--samples {samples}: the data has {counts[0] if counts else 1} "
                      "sample(s)")
    return steps, samples


def readout(labels, samples, record, network):
    """The recorded variable that decides the class ('<population>.<variable>' of the loss),
    added to `record`, and the labels of the run's samples; (None, None) without a decision."""
    if labels is None:
        return None, None
    loss = network.LOSS
    if loss is None:
        print("run.py: warning: the data has labels but the program has no loss to decide the "
              "class with", file=sys.stderr)
        return None, None
    key = f"{loss['population']}.{loss['variable']}"
    if loss["population"] not in network.GROUPS or loss["variable"] not in ("s", "v"):
        print(f"run.py: warning: no accuracy: Lava records spikes and voltages, not {key!r}",
              file=sys.stderr)
        return None, None
    labels = np.asarray(labels)
    classes = int(np.prod(network.SHAPES[loss["population"]]))
    whole = labels.dtype.kind in "iu" or (labels.dtype.kind == "f"
                                          and bool(np.all(labels == np.round(labels))))
    if labels.ndim != 1 or not whole or (labels.size and (labels.min() < 0
                                                          or labels.max() >= classes)):
        raise Problem(f"--input: 'label' must hold class indices 0 .. {classes - 1}, one per "
                      "sample")
    if len(labels) < samples:
        raise Problem(f"--input: 'label' has {len(labels)} samples; {samples} are run")
    if key not in record:
        record.append(key)
    return key, labels[:samples].astype(np.int64)


def recorded(text, network):
    """The variables to record: --record or the program's record statements."""
    if not text:
        return list(network.RECORD)
    record = [word.strip() for word in text.split(",") if word.strip()]
    for key in record:
        population, _, variable = key.rpartition(".")
        if population not in network.GROUPS or variable not in ("s", "v"):
            raise Problem(f"--record: cannot record {key!r} (Lava records '<population>.s' and "
                          f"'<population>.v' of: {', '.join(network.GROUPS)})")
    return record


def arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, help="steps per sample (default: the network's "
                        "duration, else the data's steps)")
    parser.add_argument("--input", help="spikes of the data inputs: .npz with an array "
                                        "[steps, *shape] or [steps, samples, *shape] per input "
                                        "name, or a data file of snnc train (--split)")
    parser.add_argument("--split", choices=SPLITS, help="read this split of a data file of "
                                                        "snnc train (--input)")
    parser.add_argument("--samples", type=int, help="run the first N samples (default: all)")
    parser.add_argument("--precision", choices=("floating_pt", "fixed_pt"),
                        default="floating_pt")
    parser.add_argument("--record", help="comma-separated '<population>.s|v' (default: the "
                                         "program's record statements)")
    parser.add_argument("--record-dense", action="store_true",
                        help="save spikes as bool arrays [steps, samples, *shape] (default: "
                             "events, the step, sample and neuron of each spike)")
    parser.add_argument("-o", "--output", default="recording.npz")
    return parser.parse_args(argv)


def read_reward(arrays, path, steps, network):
    """The data's 'reward' [steps] for the rules that read it (None without one: zero, as snnc
    run has it)."""
    reward = arrays.get("reward")
    if not network.THIRD_FACTORS:
        return None
    if reward is None:
        print("run.py: warning: the program learns with a reward but the data has none (give "
              "an array 'reward' [steps] in --input); the reward is zero", file=sys.stderr)
        return None
    reward = np.asarray(reward)
    if reward.dtype.kind not in "biuf" or reward.ndim not in (1, 2) or \
            (reward.ndim == 2 and reward.shape[1] != 1):
        raise Problem(f"--input: 'reward' in {path!r} must be numbers [steps] (one run), not "
                      f"an array of shape {list(reward.shape)} and type {reward.dtype}")
    if not np.isfinite(reward).all():
        raise Problem(f"--input: 'reward' in {path!r} holds NaN or infinite values")
    if len(reward) < steps:
        raise Problem(f"--input: 'reward' in {path!r} has {len(reward)} steps; {steps} are "
                      "simulated (pass --steps with at most that many)")
    return reward.reshape(len(reward))[:steps].astype(float)


def prepare(args, network):
    """(steps, samples, inputs, record, readout key, labels, reward) of the command line."""
    if args.split is not None and args.input is None:
        raise Problem("--split reads a data file: give --input DATA.npz")
    arrays = read_data(args.input, args.split, network) if args.input else {}
    inputs = data_spikes(arrays, args.input, network)
    labels = arrays.get("label")
    steps, samples = sizes(inputs, labels, args)
    if samples > 1 and network.PLASTIC:
        raise Problem(f"this program learns ({', '.join(network.PLASTIC)}); a run of several "
                      "samples needs the inference program: snnc compile FILE --no-learn "
                      "--emit lava (or the frozen.snn of snnc train)")
    record = recorded(args.record, network)
    key, labels = readout(labels, samples, record, network)
    inputs = {name: array[:steps, :samples] for name, array in inputs.items()}
    reward = read_reward(arrays, args.input, steps, network)
    if reward is not None and args.precision == "fixed_pt":
        for name, source in network.THIRD_FACTORS.items():
            peak = float(np.abs(reward).max()) * source["gain"]["fixed_pt"]
            if peak > 127.5:
                print(f"run.py: warning: in fixed point the reward reaches {peak:.0f} units of "
                      f"the third factor ({name}), clipped at 127: rewards above "
                      f"{127.5 / source['gain']['fixed_pt']:.3g} saturate", file=sys.stderr)
    return steps, samples, inputs, record, key, labels, reward


def main(argv=None):
    args = arguments(argv)
    sys.path.insert(0, HERE)
    import network
    try:
        output = output_path(args.output)
        steps, samples, inputs, record, key, labels, reward = prepare(args, network)
        start = time.perf_counter()
        out = run(steps, inputs, args.precision, record, samples, reward)
        seconds = time.perf_counter() - start
        print(f"{samples} sample{'s' if samples > 1 else ''} of {steps} steps in "
              f"{args.precision} ({seconds:.1f} s)")
        if key is not None:
            out["prediction"] = predict(out[key], network.LOSS["reduction"])
            correct = int((out["prediction"] == labels).sum())
            out["accuracy"] = np.array(correct / samples)
            split = f" {args.split}" if args.split else ""
            print(f"  accuracy {100 * correct / samples:.1f} % ({correct:,} of {samples:,}"
                  f"{split} samples, readout {key})")
        write_npz(output, out, args.record_dense)
    except (Problem, ValueError, KeyError) as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 1
    print(f"  recordings: {output} ({', '.join(record)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
