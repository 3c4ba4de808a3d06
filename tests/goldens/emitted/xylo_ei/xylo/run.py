"""Run network 'xylo_ei' on Rockpool's bit-accurate Xylo simulator and save the spikes.

    python run.py [--steps N] [--input data.npz [--split test]] [-o recording.npz]
    python run.py --check-only

Needs numpy, rockpool 3.1.0 and xylosim 0.1.3 (`pip install --no-deps rockpool==3.1.0` and
`pip install xylosim==0.1.3`; xylosim builds from source with a C++ compiler). Rockpool's Xylo
packages import samna, SynSense's closed driver, in two modules that the simulator and the
mapper do not use; when samna is not installed, those imports get empty modules here.

First Rockpool's own mapper (rockpool.devices.xylo.syns61201.mapper, with its design rules)
maps a Rockpool network built from spec.npz (the weights times 2^shift, tau = dt 2^dash, the
integer thresholds and biases); every array it returns must equal the specification, else
the run stops. `--check-only` stops there. Then XyloSim.from_specification(**spec) runs each
sample from the zero state.

Inputs: the Poisson and file inputs' spikes snnc drew (inputs.npz, 1000
steps, the same for every sample); data inputs from --input: an .npz with an array [steps,
*shape] or [steps, samples, *shape] per data input, named like the input, or with --split a
data file of `snnc train --save-data`.

The output has the layout of `snnc run -o` ('dt', 'steps', '<population>.v' and '.i' [steps,
samples, *shape] as the chip's integers, spikes '<population>.s' as events, a neuron firing k
spikes in a step k times); `snnc run SOURCE --arithmetic CHIP` computes the same file (the
constants below). With labels ('label') and a loss in the program, the accuracy is printed and
saved ('accuracy', 'prediction' [samples]), decided as `snnc train` decides: the argmax of the
loss's readout reduced over time. Every mistake in the command line or the data is one line 'run.py: error: ...' and exit
status 1.
"""

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import sys
import types
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
#: the program this was compiled from
SOURCE = 'xylo_ei.snn'
DEFAULT_STEPS = 1000
#: the chip and the Rockpool package of its simulator and mapper
CHIP = 'xylo'
PACKAGE = 'syns61201'
MAX_HIDDEN_NEURONS = 1000
MAX_OUTPUT_NEURONS = 8
#: what is recorded: '<population>.s', '.v', '.i', '<input>.s'
RECORD = ['exc.s', 'inh.s', 'out.s', 'out.v']
#: [first channel or neuron, count] of each input, hidden population and readout
INPUTS = {'mic': [0, 16]}
HIDDEN = {'inh': [0, 32], 'exc': [32, 96]}
OUTPUTS = {'out': [0, 8]}
#: the splits of a data file of snnc train ('<split>.<input>', '<split>.label')
SPLITS = ("train", "validation", "test")
#: the program's first loss (the readout snnc run and snnc train decide the class with), or None
LOSS = None
network = types.SimpleNamespace(
    SHAPES={'mic': [16], 'exc': [96], 'inh': [32], 'out': [8]},
    SOURCES={'mic': 'poisson'},
    DATA_INPUTS=[])


class Problem(Exception):
    """A mistake in the command line or the data: printed, exit status 1."""


class EmptySamna(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of samna with empty modules (only when samna is not installed)."""

    def find_spec(self, name, path, target=None):
        if name == "samna" or name.startswith("samna."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        from unittest import mock
        module = mock.MagicMock()
        module.__name__, module.__path__, module.__spec__ = spec.name, [], spec
        return module

    def exec_module(self, module):
        pass


def rockpool_chip():
    """rockpool.devices.xylo.<PACKAGE> (XyloSim, mapper); Problem when not installed."""
    for needed in ("rockpool", "xylosim"):
        if importlib.util.find_spec(needed) is None:
            raise Problem(f"{needed} is not installed (pip install --no-deps rockpool==3.1.0; "
                          "pip install xylosim==0.1.3)")
    if importlib.util.find_spec("samna") is None:
        sys.meta_path.insert(0, EmptySamna())
    return importlib.import_module("rockpool.devices.xylo." + PACKAGE)


def program_arrays(name):
    """The arrays of the program's own file `name` (spec.npz, inputs.npz); Problem when it
    is missing or damaged."""
    try:
        with np.load(os.path.join(HERE, name), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise Problem(f"{name} of this program cannot be read ({error}); compile the program "
                      "again with snnc compile --emit xylo") from None


def load_spec():
    """The keyword arguments of XyloSim.from_specification from spec.npz."""
    spec = program_arrays("spec.npz")
    try:
        for key in ("weight_shift_in", "weight_shift_rec", "weight_shift_out"):
            spec[key] = int(spec[key].item())
        spec["dt"] = float(spec["dt"].item())
    except (KeyError, ValueError) as error:
        raise Problem(f"spec.npz of this program lacks or damages {error}; compile the "
                      "program again with snnc compile --emit xylo") from None
    return spec


def slots_of(spec):
    return spec["weights_in"].shape[2] if spec["weights_in"].ndim == 3 else 1


def rockpool_network(spec):
    """A Rockpool network (Linear, LIF, Linear, LIF) whose mapping is the specification: the
    weights times 2^shift, tau = dt 2^dash, the thresholds and biases as they are."""
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIF, Linear
    dt, slots = spec["dt"], slots_of(spec)
    n_hidden, n_out = len(spec["dash_mem"]), len(spec["dash_mem_out"])
    w_in = np.zeros((spec["weights_in"].shape[0], n_hidden, slots))
    w_in[:, :spec["weights_in"].shape[1]] = spec["weights_in"].reshape(
        spec["weights_in"].shape[0], -1, slots) * 2.0 ** spec["weight_shift_in"]
    w_out = np.zeros((n_hidden, n_out))
    w_out[n_hidden - spec["weights_out"].shape[0]:] = spec["weights_out"] * \
        2.0 ** spec["weight_shift_out"]
    dashes = [spec["dash_syn"]] + ([spec["dash_syn_2"]] if slots > 1 else [])
    recurrent = {}
    if "weights_rec" in spec:
        recurrent = dict(has_rec=True, w_rec=spec["weights_rec"].reshape(n_hidden, -1) *
                         2.0 ** spec["weight_shift_rec"])
    return Sequential(
        Linear((w_in.shape[0], n_hidden * slots), weight=w_in.reshape(w_in.shape[0], -1)),
        LIF((n_hidden * slots, n_hidden), tau_mem=dt * 2.0 ** spec["dash_mem"],
            tau_syn=dt * 2.0 ** np.stack(dashes, axis=1), threshold=spec["threshold"] * 1.0,
            bias=spec["bias"] * 1.0, dt=dt, **recurrent),
        Linear((n_hidden, n_out), weight=w_out),
        LIF(n_out, tau_mem=dt * 2.0 ** spec["dash_mem_out"],
            tau_syn=dt * 2.0 ** spec["dash_syn_out"].reshape(n_out, 1),
            threshold=spec["threshold_out"] * 1.0, bias=spec["bias_out"] * 1.0, dt=dt))


def imu_mapper_workaround(spec, options):
    """Rockpool 3.1.0's IMU mapper fails ("N is not in list") when the same hidden neurons
    take the inputs and drive the outputs: it allocates them twice. Its Audio 3 mapper is the
    same code with that fixed (and without the IMU's one-synapse rule), so the IMU's own
    design rules run first, then the Audio 3 mapper with the IMU's sizes."""
    from rockpool.devices.xylo.syns63300 import xylo_mapper as imu
    from rockpool.devices.xylo.syns65302 import xylo_mapper as audio3
    imu.check_drc(rockpool_network(spec).as_graph(), imu.xylo_drc)
    print("run.py: Rockpool's IMU mapper allocates the hidden neurons that take the inputs "
          "and drive the outputs twice (a bug its Audio 3 mapper fixes): the IMU's design "
          "rules passed; mapped with the Audio 3 mapper and the IMU's sizes")
    return audio3.mapper(rockpool_network(spec).as_graph(), **options)


def audio3_dashes(mapped):
    """The hidden neurons' two synaptic dashes as Rockpool's Audio 3 neuron conversion
    computed them: its mapper (3.1.0, syns65302/xylo_mapper.py line 366) reads the
    interleaved list [neuron 0 synapse 1, neuron 0 synapse 2, ...] as one dash per neuron and
    leaves dash_syn_2 at zero, so the returned arrays are wrong with two synapses."""
    from rockpool.devices.xylo.syns65302.xylo_graph_modules import XyloA3HiddenNeurons
    from rockpool.graph import find_modules_of_subclass
    dashes = {"dash_syn": np.zeros(len(mapped["dash_syn"])),
              "dash_syn_2": np.zeros(len(mapped["dash_syn"]))}
    for module in find_modules_of_subclass(mapped["mapped_graph"], XyloA3HiddenNeurons):
        pairs = np.asarray(module.dash_syn, dtype=float).reshape(-1, 2)
        dashes["dash_syn"][module.hw_ids] = pairs[:, 0]
        dashes["dash_syn_2"][module.hw_ids] = pairs[:, 1]
    print("run.py: Rockpool's Audio 3 mapper returns the two synaptic dashes wrongly "
          "(interleaved, dash_syn_2 zero): compared with those of its neuron conversion")
    return dashes


def check_with_mapper(chip, spec):
    """Rockpool's mapper (and its design rules) on rockpool_network(spec): every array it
    returns must equal the specification's. The mapped specification."""
    options = dict(weight_dtype="float", threshold_dtype="float", dash_dtype="float",
                   max_hidden_neurons=MAX_HIDDEN_NEURONS, max_output_neurons=MAX_OUTPUT_NEURONS)
    try:
        try:
            mapped = chip.mapper(rockpool_network(spec).as_graph(), **options)
        except ValueError as error:
            if PACKAGE != "syns63300" or "is not in list" not in str(error):
                raise
            mapped = imu_mapper_workaround(spec, options)
    except Exception as error:  # Rockpool's DRCError and the errors of its conversions
        raise Problem(f"Rockpool's mapper refused the specification: {error}") from None
    n_hidden, slots = len(spec["dash_mem"]), slots_of(spec)
    expected = dict(spec)
    w_in = np.zeros((spec["weights_in"].shape[0], n_hidden, slots))
    w_in[:, :spec["weights_in"].shape[1]] = spec["weights_in"].reshape(
        spec["weights_in"].shape[0], -1, slots)
    expected["weights_in"] = w_in * 2.0 ** spec["weight_shift_in"]
    w_out = np.zeros((n_hidden, len(spec["dash_mem_out"])))
    w_out[n_hidden - spec["weights_out"].shape[0]:] = spec["weights_out"]
    expected["weights_out"] = w_out * 2.0 ** spec["weight_shift_out"]
    if "weights_rec" in spec:
        expected["weights_rec"] = spec["weights_rec"].reshape(n_hidden, n_hidden, slots) * \
            2.0 ** spec["weight_shift_rec"]
    if PACKAGE == "syns65302" and slots > 1:
        mapped = dict(mapped, **audio3_dashes(mapped))
    for key, want in expected.items():
        if key.startswith("weight_shift") or key == "dt":
            continue
        got = np.asarray(mapped.get(key), dtype=float)
        want = np.asarray(want, dtype=float)
        if got.size != want.size or not np.array_equal(got.reshape(want.shape), want):
            raise Problem(f"Rockpool's mapper gives another {key!r} than spec.npz")
    return mapped


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



def inputs_of(args):
    """(steps, samples, {input: spikes [steps, samples or 1, *shape]}, the labels or None)."""
    given, labels = {}, None
    if args.input is not None:
        arrays = read_data(args.input, args.split, network)
        given = data_spikes(arrays, args.input, network)
        labels = arrays.get("label")
    elif network.DATA_INPUTS:
        print(f"run.py: warning: the data inputs {', '.join(network.DATA_INPUTS)} get no "
              "spikes (give --input DATA.npz)", file=sys.stderr)
    drawn = [name for name, source in network.SOURCES.items() if source != "data"]
    if drawn:
        path = os.path.join(HERE, "inputs.npz")
        if not os.path.exists(path):
            raise Problem(f"inputs.npz is missing: snnc writes the spikes of {', '.join(drawn)} "
                          "there when the network has a 'duration'; give it one and compile "
                          "again")
        arrays = program_arrays("inputs.npz")
        for name in drawn:
            if name not in arrays:
                raise Problem(f"inputs.npz of this program has no spikes for {name!r}; "
                              "compile the program again with snnc compile --emit xylo")
            given[name] = arrays[name][:, None]
    if args.steps is not None and args.steps < 1:
        raise Problem("--steps must be positive")
    steps = args.steps or DEFAULT_STEPS or min((a.shape[0] for a in given.values()),
                                               default=None)
    if steps is None or steps < 1:
        raise Problem("give a positive --steps (the network has no duration)")
    for name, array in given.items():
        if array.shape[0] < steps:
            raise Problem(f"input {name!r} has {array.shape[0]} steps; {steps} are simulated "
                          "(pass --steps with at most that many)")
    samples = max((a.shape[1] for a in given.values()), default=1)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != samples or labels.dtype.kind not in "iu":
            raise Problem(f"--input: 'label' must hold one class index per sample ({samples})")
        if LOSS is None:
            print("run.py: warning: the data has labels but the program has no loss to decide "
                  "the class with", file=sys.stderr)
            labels = None
    return steps, samples, given, labels


def channels(given, steps, samples):
    """The chip's input events [steps, samples, channels] (int64)."""
    total = sum(size for _, size in INPUTS.values())
    counts = np.zeros((steps, samples, total), dtype=np.int64)
    for name, (start, size) in INPUTS.items():
        if name in given:
            array = np.asarray(given[name][:steps]).reshape(steps, -1, size)
            counts[:, :, start:start + size] = array
    return counts


def simulate(chip, spec, counts):
    """XyloSim's recordings of every sample, each from the zero state: {name: [steps,
    samples, n]} for 'Spikes', 'Vmem', 'Isyn', 'Spikes_out', 'Vmem_out', 'Isyn_out'."""
    sim = chip.XyloSim.from_specification(**spec)
    runs = []
    for sample in range(counts.shape[1]):
        sim.reset_state()
        output, _, recording = sim.evolve(counts[:, sample], record=True)
        recording = {key: np.asarray(recording[key]) for key in
                     ("Spikes", "Vmem", "Isyn", "Vmem_out", "Isyn_out")}
        recording["Spikes_out"] = np.asarray(output)
        runs.append(recording)
    return {key: np.stack([run[key] for run in runs], axis=1) for key in runs[0]}


def recordings(results, counts, steps, record):
    """``record`` in snnc's names: spikes as counts (uint8), states as the chip's integers."""
    out = {}
    for key in record:
        owner, variable = key.rsplit(".", 1)
        if owner in INPUTS:
            start, size = INPUTS[owner]
            values = counts[:, :, start:start + size]
        else:
            hidden = owner in HIDDEN
            start, size = HIDDEN[owner] if hidden else OUTPUTS[owner]
            name = {"s": "Spikes", "v": "Vmem", "i": "Isyn"}[variable] + ("" if hidden else "_out")
            values = results[name][:, :, start:start + size]
        values = values.astype(np.uint8 if variable == "s" else np.int32)
        out[key] = values.reshape((steps, values.shape[1], *network.SHAPES[owner]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, help="steps to simulate (default: the network's "
                        "duration, else the inputs')")
    parser.add_argument("--input", metavar="DATA.npz", help="spikes for the data inputs")
    parser.add_argument("--split", choices=SPLITS, help="a split of a data file of snnc train")
    parser.add_argument("--check-only", action="store_true",
                        help="only check the specification with Rockpool's mapper")
    parser.add_argument("--record-dense", action="store_true",
                        help="keep spikes as counts [steps, samples, *shape] (uint8)")
    parser.add_argument("-o", "--output", default="recording.npz", metavar="OUT.npz")
    args = parser.parse_args(argv)
    try:
        if args.split is not None and args.input is None:
            raise Problem("--split reads a data file: give --input DATA.npz")
        path = None if args.check_only else output_path(args.output)
        spec = load_spec()
        if not args.check_only:  # the inputs' mistakes first, before Rockpool is loaded
            steps, samples, given, labels = inputs_of(args)
        chip = rockpool_chip()
        check_with_mapper(chip, spec)
        print(f"run.py: Rockpool's mapper ({PACKAGE}) accepts the specification")
        if args.check_only:
            return 0
        counts = channels(given, steps, samples)
        counts = np.broadcast_to(counts, (steps, samples, counts.shape[2]))
        results = simulate(chip, spec, np.ascontiguousarray(counts))
        record = list(RECORD)
        if labels is not None:  # the loss's readout decides the class
            record = list(dict.fromkeys(record + [f"{LOSS['population']}.{LOSS['variable']}"]))
        out = recordings(results, counts, steps, record)
        out.update(dt=np.float64(spec["dt"]), steps=np.int64(steps), record_every=np.int64(1))
        if labels is not None:
            readout = out[f"{LOSS['population']}.{LOSS['variable']}"].astype(np.float64)
            out["prediction"] = predict(readout, LOSS["reduction"])
            out["accuracy"] = np.float64(np.mean(out["prediction"] == labels))
            print(f"run.py: accuracy {100 * float(out['accuracy']):.1f} % ({samples} samples)")
        write_npz(path, out, dense=args.record_dense)
    except Problem as problem:
        print(f"run.py: error: {problem}", file=sys.stderr)
        return 1
    total = {key: int(out[key].sum()) for key in RECORD if key.endswith(".s")}
    print(f"run.py: {steps} steps x {samples} sample(s) on XyloSim ({CHIP}); spikes "
          + ", ".join(f"{key} {count:,}" for key, count in total.items()) + f"; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
