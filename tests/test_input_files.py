"""Every file snnc reads is validated before use (issue 13): programs and imports, arrays named
by ``file(...)``, ``--input``, ``--data``, checkpoints, ``--rates``, target JSON, ``--mapping``
and ``snnc plot`` recordings. Each broken file is a diagnostic with its code and the program's
span or the option at fault; exit 1 or 2, never 3 (internal error); a FIFO never blocks."""

import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from snnc import files
from snnc.cli import main

ROOT = Path(__file__).resolve().parents[1]
RSTDP = str(ROOT / "examples" / "rstdp.snn")
RANDMAN = str(ROOT / "examples" / "eprop_randman.snn")


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status in (1, 2), f"exit {status}: {err}"
    assert "internal error" not in err and "Traceback" not in err, err
    return status, err


def snnc_subprocess(*argv, timeout=60):
    """``python -m snnc argv`` with a timeout (a FIFO must not hang it)."""
    result = subprocess.run([sys.executable, "-m", "snnc", *map(str, argv)], capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return result


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=True)
    return buffer.getvalue()


def claiming(shape, dtype="<f8") -> bytes:
    """An .npy header claiming ``shape`` followed by 16 bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue() + bytes(16)


# ---- programs and imports ------------------------------------------------------------------

@pytest.mark.parametrize("path, kind", [("/dev/zero", "character device"),
                                        ("/dev/urandom", "character device")])
def test_a_device_as_a_program_is_refused_before_reading(capsys, path, kind):
    status, err = run(capsys, "check", path)
    assert status == 1 and "error[E607]" in err and kind in err


def test_a_directory_as_a_program(tmp_path, capsys):
    status, err = run(capsys, "check", tmp_path)
    assert status == 1 and "error[E607]" in err and "a directory" in err


def test_an_import_of_a_device_points_at_the_import(tmp_path, capsys):
    (tmp_path / "main.snn").write_text('import "/dev/urandom"\n')
    status, err = run(capsys, "check", tmp_path / "main.snn")
    assert status == 1 and f"{tmp_path / 'main.snn'}:1:8: error[E607]" in err


def test_a_fifo_as_a_program_or_an_import_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.snn"
    os.mkfifo(fifo)
    result = snnc_subprocess("check", fifo, timeout=60)
    assert result.returncode == 1 and "error[E607]" in result.stderr and "FIFO" in result.stderr
    (tmp_path / "main.snn").write_text('import "pipe.snn"\n')
    result = snnc_subprocess("check", tmp_path / "main.snn", timeout=60)
    assert result.returncode == 1 and "main.snn:1:8: error[E607]" in result.stderr


def test_a_program_above_the_size_limit(tmp_path, capsys):
    big = tmp_path / "big.snn"
    with open(big, "wb") as handle:  # sparse: nothing is written to disk
        handle.truncate(files.SOURCE_LIMIT + 1)
    status, err = run(capsys, "check", big)
    assert status == 1 and "error[E608]" in err and "16.0 MiB" in err


# ---- file(...) in a program ----------------------------------------------------------------

def program(tmp_path, value, size=4):
    path = tmp_path / "net.snn"
    path.write_text(f"population p: LIF[{size}] {{\n  bias = {value}\n}}\n")
    return path


def write_zip_bomb(path, megabytes=32):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("b.npy", "w", force_zip64=True) as member:
            member.write(claiming((megabytes << 17,))[:-16])  # float64: `megabytes` MiB
            chunk = bytes(1 << 20)
            for _ in range(megabytes):
                member.write(chunk)


BROKEN_FILES = {
    "missing": ("E601", None),
    "object": ("E609", npy_bytes(np.array([{"a": 1}, None], dtype=object))),
    "string": ("E609", npy_bytes(np.array(["1", "2", "3", "4"]))),
    "structured": ("E609", npy_bytes(np.zeros(4, dtype=[("a", "<f8"), ("b", "<i4")]))),
    "empty": ("E609", b""),
    "text": ("E609", b"0.1 0.2 0.3 0.4\n"),
    "truncated": ("E609", npy_bytes(np.arange(4.0))[:-7]),
    "claims 1e12": ("E608", claiming((10 ** 12,))),
    "nan": ("E615", npy_bytes(np.array([0.0, np.nan, 0.0, 0.0]))),
    "inf": ("E615", npy_bytes(np.array([0.0, 0.0, -np.inf, 0.0]))),
    "complex": ("E609", npy_bytes(np.zeros(4, complex))),
}


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
def test_a_broken_file_is_a_diagnostic_at_the_file_call(tmp_path, capsys, case):
    code, content = BROKEN_FILES[case]
    if content is not None:
        (tmp_path / "b.npy").write_bytes(content)
    path = program(tmp_path, 'file("b.npy")')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:2:10: error[{code}]" in err, err


@pytest.mark.parametrize("target, kind", [("/dev/zero", "character device"),
                                          (".", "directory")])
def test_a_device_or_folder_as_a_file_is_refused(tmp_path, capsys, target, kind):
    path = program(tmp_path, f'file("{target}")')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:2:10: error[E607]" in err and kind in err


def test_a_fifo_as_a_file_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "b.npy")
    path = program(tmp_path, 'file("b.npy")')
    result = snnc_subprocess("check", path, timeout=60)
    assert result.returncode == 1 and f"{path}:2:10: error[E607]" in result.stderr


def test_a_missing_npz_key_names_the_keys_present(tmp_path, capsys):
    np.savez(tmp_path / "b.npz", bias=np.zeros(4), gain=np.ones(4))
    path = program(tmp_path, 'file("b.npz", key = "biass")')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:2:10: error[E609]" in err
    assert "'bias', 'gain'" in err


def test_an_npz_member_claiming_1e12_elements(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "b.npz", "w") as archive:
        archive.writestr("bias.npy", claiming((10 ** 6, 10 ** 6)))
    path = program(tmp_path, 'file("b.npz", key = "bias")')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:2:10: error[E608]" in err and "TiB" in err


def test_a_zip_bomb_is_refused_from_its_declared_size(tmp_path, capsys, monkeypatch):
    write_zip_bomb(tmp_path / "b.npz", megabytes=32)
    assert (tmp_path / "b.npz").stat().st_size < 1 << 20  # 32 MiB deflate to little
    monkeypatch.setenv("SNNC_MAX_ARRAY_BYTES", str(8 << 20))
    path = program(tmp_path, 'file("b.npz")')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:2:10: error[E608]" in err and "inflate to 32.0 MiB" in err


def test_the_snnc_stamp_member_is_ignored(tmp_path):
    np.savez(tmp_path / "b.npz", __snnc__=np.zeros(1), bias=np.arange(3.0))
    assert list(files.read_npz(str(tmp_path / "b.npz"))) == ["bias"]
    assert files.read_array(str(tmp_path / "b.npz")).tolist() == [0.0, 1.0, 2.0]


def test_a_good_file_is_read_once_at_lowering(tmp_path, capsys):
    (tmp_path / "b.npy").write_bytes(npy_bytes(np.arange(4.0)))
    path = program(tmp_path, 'file("b.npy")')
    assert main(["check", str(path)]) == 0
    import snnc
    from snnc.diagnostics import Diagnostics
    net = snnc.compile_file(str(path), Diagnostics())
    (tmp_path / "b.npy").write_bytes(b"broken later")  # later stages never read it again
    assert net.node("p").params["bias"].materialize(4).tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2, 2, 2)])
def test_a_file_of_the_wrong_size_is_a_diagnostic_at_check(tmp_path, capsys, shape):
    (tmp_path / "b.npy").write_bytes(npy_bytes(np.zeros(shape)))
    path = program(tmp_path, 'file("b.npy")')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:2:10: error[E609]" in err and "needs 4" in err


def test_input_spike_files_hold_zeros_and_ones(tmp_path, capsys):
    (tmp_path / "s.npy").write_bytes(npy_bytes(np.full((5, 3), 2.0)))
    path = tmp_path / "net.snn"
    path.write_text('input x[3]: file("s.npy")\npopulation p: LIF[3]\nx -> p: one_to_one\n')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:1:13: error[E609]" in err and "0 and 1" in err


def test_a_weight_file_of_strings_is_a_diagnostic(tmp_path, capsys):
    (tmp_path / "w.npy").write_bytes(npy_bytes(np.array([["a", "b"]] * 2)))
    path = tmp_path / "net.snn"
    path.write_text('input x[2]\npopulation p: LIF[2]\nx -> p: file("w.npy")\n')
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:3:9: error[E609]" in err and "string" in err


# ---- non-finite parameters -----------------------------------------------------------------

@pytest.mark.parametrize("value, column", [("1e308 * 10", 10), ("exp(1000)", 10),
                                           ("uniform(0, 1e308 * 1e308)", 21)])
def test_a_parameter_that_overflows_is_e615(tmp_path, capsys, value, column):
    path = program(tmp_path, value)
    status, err = run(capsys, "check", path)
    assert status == 1 and f"{path}:2:{column}: error[E615]" in err, err


# ---- snnc run --input ----------------------------------------------------------------------

def test_input_data_files(tmp_path, capsys):
    steps = ["run", RANDMAN, "--steps", "20", "--input"]
    (tmp_path / "empty.npz").write_bytes(b"")
    status, err = run(capsys, *steps, tmp_path / "empty.npz")
    assert status == 1 and "error[E609]: --input: " in err and "empty (0 bytes)" in err
    np.savez(tmp_path / "good.npz", units=np.zeros((20, 20), bool))
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    status, err = run(capsys, *steps, tmp_path / "cut.npz")
    assert status == 1 and "error[E609]: --input: " in err
    np.save(tmp_path / "units.npy", np.zeros((20, 20), bool))
    status, err = run(capsys, *steps, tmp_path / "units.npy")
    assert status == 1 and "error[E609]: --input: " in err and "an .npy array, not an .npz" in err
    np.savez(tmp_path / "short.npz", units=np.zeros((5, 20), bool))
    status, err = run(capsys, *steps, tmp_path / "short.npz")
    assert status == 1 and "error[E604]" in err and "has 5 steps" in err
    status, err = run(capsys, *steps, "/dev/zero")
    assert status == 1 and "error[E607]: --input: " in err


@pytest.mark.parametrize("labels, code, message", [
    (np.array([12]), "E604", "class indices 0 .. 9"),
    (np.array([-1]), "E604", "class indices"),
    (np.array([np.nan]), "E615", "NaN"),
])
def test_labels_out_of_range_or_nan(tmp_path, capsys, labels, code, message):
    np.savez(tmp_path / "d.npz", units=np.zeros((20, 20), bool), **{"target.out": labels})
    status, err = run(capsys, "run", RANDMAN, "--steps", "20", "--input", tmp_path / "d.npz")
    assert status == 1 and f"error[{code}]: --input: " in err and message in err, err


def test_a_nan_reward_is_e615(tmp_path, capsys):
    reward = np.zeros(20)
    reward[3] = np.nan
    np.savez(tmp_path / "d.npz", pattern=np.zeros((20, 50), bool), reward=reward)
    status, err = run(capsys, "run", RSTDP, "--steps", "20", "--input", tmp_path / "d.npz")
    assert status == 1 and "error[E615]: --input: 'reward'" in err


# ---- snnc train --data and checkpoints -----------------------------------------------------

NETWORK = """network t {
  dt = 1 ms
  seed = 1
}
input units[8]
population hidden: LIF[6] { tau_mem = 20 ms }
readout out: LI[3] { tau_mem = 20 ms }
units -> hidden: dense { weight = normal(0, 0.3)
  learn eprop(lr = 1e-2, readout = out) }
hidden -> out: dense { weight = normal(0, 0.1)
  learn delta(lr = 1e-2, readout = out) }
loss cross_entropy(sum_over_time(out.v))
"""
DATA = "randman:classes=3,units=8,samples=20,steps=20,seed=2"


def train(tmp_path, data, *extra):
    (tmp_path / "net.snn").write_text(NETWORK)
    return main(["train", str(tmp_path / "net.snn"), "--data", str(data), "--epochs", "1",
                 "--batch", "4", "-o", str(tmp_path / "run"), *extra])


@pytest.mark.parametrize("spec, code, message", [
    ("randman:classes=1", "E620", "classes must be at least 2"),
    ("randman:alpha=nan", "E615", "alpha=nan is not a finite number"),
    ("randman:samples=10,samples=20", "E620", "'samples' is given twice"),
    ("randman:samples=100000000", "E617", "of memory is available"),
    ("randman:samples=0", "E620", "samples must be at least 1"),
    ("randman:alpha=-1", "E620", "alpha must be positive"),
    ("randman:steps=-3", "E620", "steps must be at least 1"),
])
def test_bad_data_options(tmp_path, capsys, spec, code, message):
    assert train(tmp_path, spec) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]: --data: " in err and message in err, err
    assert "internal error" not in err


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut", b"not a zip"])
def test_a_broken_data_file(tmp_path, capsys, content):
    (tmp_path / "d.npz").write_bytes(content)
    assert train(tmp_path, tmp_path / "d.npz") == 1
    err = capsys.readouterr().err
    assert "error[E609]: --data: " in err and "internal error" not in err


def test_broken_checkpoints_are_e623(tmp_path, capsys):
    assert train(tmp_path, DATA) == 0, capsys.readouterr().err
    checkpoint = tmp_path / "run" / "checkpoint.npz"
    good = checkpoint.read_bytes()
    state = files.read_npz(str(checkpoint), text=True)
    weight = next(k for k in state if k.endswith(".w"))
    moment = next(k for k in state if k.startswith("adam.m."))
    cases = {
        "truncated": good[: len(good) // 2],
        "empty": b"",
        "int8 weights": {**state, weight: state[weight].astype(np.int8)},
        "wrong shapes": {**state, moment: np.zeros((2, 2))},
        "nan weights": {**state, weight: np.full(state[weight].shape, np.nan)},
    }
    for case, content in cases.items():
        if isinstance(content, dict):
            buffer = io.BytesIO()
            np.savez(buffer, **content)
            content = buffer.getvalue()
        checkpoint.write_bytes(content)
        capsys.readouterr()
        assert train(tmp_path, DATA, "--resume") == 1, case
        err = capsys.readouterr().err
        assert "error[E623]" in err and "internal error" not in err, (case, err)


# ---- rates, targets, mappings, recordings --------------------------------------------------

MAP_NET = """network m { dt = 1 ms }
input x[10]: poisson(rate = 10 Hz)
population p: LIF[20]
x -> p: dense { weight = 0.1 }
target loihi
"""


@pytest.mark.parametrize("case, code, message", [
    ("strings", "E609", "string"),
    ("nan", "E615", "non-finite"),
    ("negative", "E604", "finite and non-negative"),
    ("shape", "E604", "have 3 values"),
    ("device", "E607", "character device"),
])
def test_bad_rates(tmp_path, capsys, case, code, message):
    (tmp_path / "net.snn").write_text(MAP_NET)
    rates = tmp_path / "rates.npz"
    arrays = {"strings": {"p": np.array(["fast"] * 20)}, "nan": {"p": np.full(20, np.nan)},
              "negative": {"p": np.full(20, -1.0)}, "shape": {"p": np.ones(3)}}.get(case)
    if arrays is None:
        rates = "/dev/zero"
    else:
        np.savez(rates, **arrays)
    status, err = run(capsys, "map", tmp_path / "net.snn", "--rates", rates,
                      "-o", tmp_path / "m")
    assert status == 1 and f"error[{code}]" in err and message in err, err
    if code != "E604":
        assert "--rates: " in err


@pytest.mark.parametrize("document, message", [
    ({"capacityy": {"cores": 4}}, "did you mean 'capacity'?"),
    ({"capacity": {"cores": "many"}}, "capacity 'cores' must be a whole number from 0 to"),
    ({"capacity": {"cores": float("nan")}}, "capacity 'cores' must be a whole number"),
    ({"capacity": {"cores": 12.5}}, "capacity 'cores' must be a whole number"),
    ({"capacity": {"cores": 1e300}}, "capacity 'cores' must be a whole number"),
    ({"mesh": {"mesh_width": 2.5}}, "mesh 'mesh_width' must be a whole number from 1 to"),
    ({"mesh": {"chips_x": 0}}, "mesh 'chips_x' must be a whole number"),
    ({"learning": {"pre_traces": -1}}, "'pre_traces' must be a whole number from 0 to"),
    ({"learning": {"engine": "magic"}}, "learning engine 'magic'"),
    ({"name": 3}, "'name' must be a string"),
])
def test_invalid_target_json_is_e618(tmp_path, capsys, document, message):
    (tmp_path / "net.snn").write_text(MAP_NET)
    (tmp_path / "chip.json").write_text(json.dumps(document))
    status, err = run(capsys, "map", tmp_path / "net.snn", "--target", tmp_path / "chip.json",
                      "-o", tmp_path / "m")
    assert status == 1 and "error[E618]: --target: " in err and message in err, err


def test_every_builtin_target_is_valid():
    from snnc.targets import builtin_names, schema_problems
    folder = ROOT / "compiler" / "targets"
    for name in builtin_names():
        assert schema_problems(json.loads((folder / f"{name}.json").read_text())) == [], name


def test_a_target_file_that_is_a_device_or_not_json(tmp_path, capsys):
    (tmp_path / "net.snn").write_text(MAP_NET)
    status, err = run(capsys, "map", tmp_path / "net.snn", "--target", "/dev/zero.json")
    assert status == 1 and "error[E601]" in err  # /dev/zero.json does not exist
    (tmp_path / "chip.json").write_text("{ not json")
    status, err = run(capsys, "map", tmp_path / "net.snn", "--target", tmp_path / "chip.json",
                      "-o", tmp_path / "m")
    assert status == 1 and "error[E618]" in err


def test_mapping_json_is_validated(tmp_path, capsys):
    synfire = ROOT / "examples" / "synfire.snn"
    for path, code in (("/dev/zero", "E607"), (tmp_path / "nan.json", "E609"),
                       (tmp_path / "text.json", "E609")):
        (tmp_path / "nan.json").write_text('{"slices": NaN}')
        (tmp_path / "text.json").write_text("slices")
        status, err = run(capsys, "compile", synfire, "--emit", "lava", "--mapping", path,
                          "-o", tmp_path / "out")
        assert status == 1 and f"error[{code}]: --mapping: " in err, err


@pytest.mark.parametrize("case, code", [("five-d npy", "E609"), ("bad layout", "E604"),
                                        ("device", "E607"), ("empty", "E609")])
def test_plot_refuses_what_is_not_a_recording(tmp_path, capsys, case, code):
    pytest.importorskip("matplotlib")
    path = tmp_path / "rec.npz"
    if case == "five-d npy":
        np.save(tmp_path / "rec.npy", np.zeros((2, 2, 2, 2, 2)))
        path = tmp_path / "rec.npy"
    elif case == "bad layout":
        np.savez(path, **{"p.s": np.zeros(4), "dt": np.zeros(3)})
    elif case == "device":
        path = "/dev/zero"
    else:
        path.write_bytes(b"")
    status, err = run(capsys, "plot", path, "-o", tmp_path / "pictures")
    assert status == 1 and f"error[{code}]" in err, err


def test_plot_of_an_npz_without_a_recording(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    status, err = run(capsys, "plot", tmp_path / "other.npz", "-o", tmp_path / "pictures")
    assert status == 1 and "holds no spikes, voltages or weights" in err


# ---- the readers themselves ----------------------------------------------------------------

def test_open_regular_never_blocks_on_a_fifo_and_reads_nothing_from_devices(tmp_path):
    os.mkfifo(tmp_path / "f")
    for path in (tmp_path / "f", "/dev/zero", tmp_path):
        with pytest.raises(files.FileProblem) as caught:
            files.open_regular(str(path))
        assert caught.value.code == "E607"
    assert stat.S_ISFIFO(os.stat(tmp_path / "f").st_mode)


def test_a_socket_is_refused(tmp_path):
    import socket
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(files.FileProblem) as caught:
            files.read_npy(str(path))
        assert caught.value.code == "E607" and "socket" in caught.value.message
    finally:
        server.close()


def test_a_big_endian_fortran_array_reads_like_numpy(tmp_path):
    array = np.asfortranarray(np.arange(12, dtype=">i4").reshape(3, 4))
    np.save(tmp_path / "a.npy", array)
    assert np.array_equal(files.read_npy(str(tmp_path / "a.npy")), array)


@pytest.mark.parametrize("label", [10, -1, 2.5])
def test_labels_outside_the_readout_of_the_loss_are_e604(tmp_path, capsys, label):
    """'label' holds class indices of the loss's readout (10 neurons in eprop_random.snn): 10,
    -1 or 2.5 would silently count as wrong predictions."""
    program = Path(__file__).resolve().parents[1] / "examples" / "randman" / "eprop_random.snn"
    data = tmp_path / "data.npz"
    np.savez(data, units=np.zeros((5, 2, 20)), label=np.array([3, label]))
    code = main(["run", str(program), "--steps", "5", "--batch", "2", "--input", str(data)])
    err = capsys.readouterr().err
    assert code == 1 and "E604" in err and "class indices 0 .. 9" in err, err
