"""Outputs (snnc.output): nothing snnc did not write is replaced or deleted, protected paths
never, devices/FIFOs/symlinks never written through, parents created, modes from the umask,
temporaries cleaned (also those of a killed run), outputs checked before any work.

Each data-loss case runs in a scratch folder with sentinel files and asserts that every
sentinel, with its content, survives and that nothing else appeared.
"""

import io
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from snnc import output
from snnc.cli import main

SMALL = """network small {
  dt = 1 ms
  seed = 3
}
input x[4]: poisson(rate = 50 Hz)
population h: LIF[5]
x -> h { weight = 0.5 }
"""

TRAIN_NET = """network tiny {
  dt = 1 ms
  seed = 5
}
input units[8]
population hidden: CubaLIF[6] {
  tau_mem = 20 ms
  tau_syn = 10 ms
  threshold = 1
  surrogate = fast_sigmoid(beta = 10)
}
readout out: LI[3] { tau_mem = 20 ms }
units -> hidden: dense { weight = normal(0, 0.3)
  learn bptt(lr = 1e-2, readout = out) }
hidden -> out: dense { weight = normal(0, 0.1)
  learn delta(lr = 1e-2, readout = out) }
loss cross_entropy(sum_over_time(out.v))
"""
DATA = "randman:classes=3,units=8,samples=12,steps=10,seed=2"


def snapshot(root) -> dict:
    """Every entry below ``root``: relative path -> (kind, bytes or link target)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, root)
            if os.path.islink(path):
                found[key] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[key] = ("dir", None)
            elif not os.path.isfile(path):  # a FIFO: never opened
                found[key] = ("special", stat.S_IFMT(os.lstat(path).st_mode))
            else:
                with open(path, "rb") as handle:
                    found[key] = ("file", handle.read())
    return found


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A project folder with the user's files; the current folder."""
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "small.snn").write_text(SMALL)
    (root / "notes.txt").write_text("my notes\n")
    (root / "data" / "weights.npy").write_bytes(b"not really weights")
    (root / "mapping").mkdir()
    (root / "mapping" / "plan.txt").write_text("the user's own mapping folder\n")
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "project").mkdir(parents=True)
    (tmp_path / "home" / "project" / "thesis.tex").write_text("\\chapter{Years of work}\n")
    return root


def refused(capsys, argv, code) -> str:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 1, err
    assert f"error[{code}]" in err, err
    assert "Traceback" not in err and "internal error" not in err
    return err


# ---- the data-loss cases of issue 13 -----------------------------------------------------------

@pytest.mark.parametrize("command", ["compile", "map"])
@pytest.mark.parametrize("where", ["cwd", "abs-cwd", "parent", "root", "input-folder",
                                   "home", "home-parent"])
def test_protected_folders_are_never_replaced_even_with_force(scratch, capsys, command, where):
    before = snapshot(scratch.parent)
    path = {"cwd": ".", "abs-cwd": str(scratch), "parent": "..", "root": "/",
            "input-folder": str(scratch), "home": os.environ["HOME"],
            "home-parent": os.path.dirname(os.environ["HOME"])}[where]
    source = "small.snn" if where != "input-folder" else str(scratch / "small.snn")
    for force in ([], ["--force"]):
        err = refused(capsys, [command, source, "-o", path, *force], "E631")
        assert "never replaces" in err
    assert snapshot(scratch.parent) == before


def test_output_folder_holding_the_input_is_protected(scratch, capsys, monkeypatch):
    (scratch / "sub").mkdir()
    (scratch / "sub" / "x.snn").write_text(SMALL)
    before = snapshot(scratch)
    err = refused(capsys, ["compile", "sub/x.snn", "-o", "sub", "--force"], "E631")
    assert "the input 'sub/x.snn'" in err
    monkeypatch.chdir(scratch / "sub")  # from inside sub: -o ../sub is the current folder
    refused(capsys, ["compile", "x.snn", "-o", "../sub", "--force"], "E631")
    assert snapshot(scratch) == before


def test_a_folder_snnc_did_not_write_is_refused_and_replaced_only_with_force(scratch, capsys):
    before = snapshot(scratch.parent)
    err = refused(capsys, ["map", "small.snn", "--target", "loihi2"], "E630")  # default -o
    assert "'mapping'" in err and "--force" in err
    thesis = os.path.join(os.environ["HOME"], "project")
    refused(capsys, ["compile", "small.snn", "-o", thesis], "E630")
    assert snapshot(scratch.parent) == before
    assert main(["map", "small.snn", "--target", "loihi2", "--force"]) == 0
    assert sorted(os.listdir("mapping")) == [".snnc-output", "mapping.json", "mapping.png"]


def test_a_marked_or_empty_folder_is_replaced_and_the_marker_is_what_counts(scratch, capsys):
    assert main(["compile", "small.snn", "-o", "build"]) == 0
    assert (scratch / "build" / output.MARKER).read_bytes() == output.MARKER_TEXT
    (scratch / "build" / "stale.txt").write_text("from an older compile")
    assert main(["compile", "small.snn", "-o", "build"]) == 0  # marked: replaced whole
    assert not (scratch / "build" / "stale.txt").exists()
    (scratch / "build" / output.MARKER).unlink()  # the user takes the folder over
    (scratch / "build" / "mine.txt").write_text("keep")
    refused(capsys, ["compile", "small.snn", "-o", "build"], "E630")
    assert (scratch / "build" / "mine.txt").read_text() == "keep"
    (scratch / "empty").mkdir()
    assert main(["compile", "small.snn", "-o", "empty"]) == 0
    assert (scratch / "empty" / "simulation.py").is_file()


def test_single_files_snnc_did_not_write_are_refused(scratch, capsys):
    (scratch / "out.npz").write_bytes(b"the user's archive")
    np.savez(scratch / "rates.npz", h=np.ones(5))  # a numpy archive, not snnc's
    before = snapshot(scratch)
    refused(capsys, ["run", "small.snn", "--steps", "5", "-o", "out.npz"], "E630")
    refused(capsys, ["run", "small.snn", "--steps", "5", "--rates", "rates.npz"], "E630")
    refused(capsys, ["run", "small.snn", "--steps", "5", "-o", "small.snn", "--force"], "E631")
    assert snapshot(scratch) == before
    assert main(["run", "small.snn", "--steps", "5", "-o", "out.npz", "--force"]) == 0
    assert output.stamped(str(scratch / "out.npz"), "npz")
    assert main(["run", "small.snn", "--steps", "5", "-o", "out.npz"]) == 0  # now snnc's


@pytest.mark.parametrize("argv", [
    ["run", "small.snn", "--steps", "5", "-o", "/dev/null"],
    ["run", "small.snn", "--steps", "5", "--rates", "/dev/null"],
    ["run", "small.snn", "--steps", "5", "-o", "/dev/zero", "--force"],
    ["compile", "small.snn", "-o", "/dev/null", "--force"],
    ["map", "small.snn", "--target", "loihi2", "-o", "notes.txt", "--force"],
    ["compile", "small.snn", "-o", "notes.txt", "--force"],
    ["run", "small.snn", "--steps", "5", "-o", "data", "--force"],
    ["train", "small.snn", "--data", DATA, "--save-data", "/dev/null"],
    ["train", "small.snn", "--data", DATA, "-o", "notes.txt", "--force"],
    ["plot", "notes.txt", "-o", "/dev/null"],
])
def test_devices_and_wrong_kinds_are_never_written(scratch, capsys, argv):
    if argv[0] == "train" and "-o" not in argv:
        argv = [*argv, "-o", "run"]
    before, null = snapshot(scratch), os.stat("/dev/null")
    refused(capsys, argv, "E632")
    assert snapshot(scratch) == before
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == null.st_ino


def test_import_nir_refuses_devices_and_foreign_files(scratch, capsys):
    pytest.importorskip("nir")
    assert main(["compile", "small.snn", "--emit", "nir", "-o", "graph"]) == 0
    capsys.readouterr()
    refused(capsys, ["import-nir", "graph/network.nir", "-o", "/dev/null"], "E632")
    before = snapshot(scratch)
    refused(capsys, ["import-nir", "graph/network.nir", "-o", "notes.txt"], "E630")
    refused(capsys, ["import-nir", "graph/network.nir", "-o", "graph/network.nir", "--force"],
            "E631")
    assert snapshot(scratch) == before
    assert main(["import-nir", "graph/network.nir", "-o", "net/x.snn"]) == 0
    text = (scratch / "net" / "x.snn").read_text()
    assert text.startswith(output.SNN_STAMP)
    first = snapshot(scratch / "net")
    assert main(["import-nir", "graph/network.nir", "-o", "net/x.snn"]) == 0  # its own: replaced
    assert snapshot(scratch / "net") == first  # byte-identical


def test_dev_stdout_is_not_replaced(scratch):
    for args in (["-o", "/dev/stdout"], ["--rates", "/dev/stdout", "--force"]):
        result = subprocess.run([sys.executable, "-m", "snnc", "run", "small.snn", "--steps", "5",
                                 *args], capture_output=True, text=True, check=False)
        assert result.returncode == 1, result.stderr
        assert "error[E632]" in result.stderr and "Traceback" not in result.stderr
    assert os.path.islink("/dev/stdout")


def test_symlinks_are_followed_only_to_regular_files(scratch, capsys):
    os.mkfifo(scratch / "pipe")
    os.symlink("/dev/null", scratch / "null.npz")
    os.symlink(scratch / "pipe", scratch / "fifo.npz")
    os.symlink(scratch / "nowhere.npz", scratch / "dangling.npz")
    before = snapshot(scratch)
    for name in ("pipe", "null.npz", "fifo.npz", "dangling.npz"):
        refused(capsys, ["run", "small.snn", "--steps", "5", "-o", name, "--force"], "E632")
    assert snapshot(scratch) == before
    # a symlink to a regular file: the target is replaced atomically, the link kept
    (scratch / "real").mkdir()
    assert main(["run", "small.snn", "--steps", "5", "-o", "real/out.npz"]) == 0
    os.symlink(scratch / "real" / "out.npz", scratch / "link.npz")
    (scratch / "real" / "out.npz").write_bytes(b"")  # no stamp any more
    refused(capsys, ["run", "small.snn", "--steps", "5", "-o", "link.npz"], "E630")
    assert main(["run", "small.snn", "--steps", "5", "-o", "link.npz", "--force"]) == 0
    assert os.readlink(scratch / "link.npz") == str(scratch / "real" / "out.npz")
    with np.load(scratch / "real" / "out.npz") as data:
        assert list(data["h.s.events.shape"]) == [5, 1, 5]


def test_missing_parents_are_created_and_announced_or_refused(scratch, capsys):
    assert main(["run", "small.snn", "--steps", "5", "-o", "a/b/out.npz", "--format",
                 "json"]) == 0
    captured = capsys.readouterr()
    assert f"created the folder '{os.path.realpath(scratch / 'a' / 'b')}'" in captured.err
    assert (scratch / "a" / "b" / "out.npz").is_file()
    before = snapshot(scratch)
    refused(capsys, ["run", "small.snn", "--steps", "5", "-o", "notes.txt/out.npz"], "E633")
    refused(capsys, ["compile", "small.snn", "-o", "notes.txt/deeper/build"], "E633")
    refused(capsys, ["run", "small.snn", "--steps", "5", "-o", "/proc/snnc/out.npz"], "E633")
    refused(capsys, ["compile", "small.snn", "-o", "/proc/snnc-build"], "E633")
    assert snapshot(scratch) == before


def test_a_bad_output_fails_before_any_work(scratch, capsys):
    (scratch / "broken.snn").write_text("population p: LFI[3]\n")
    err = refused(capsys, ["compile", "broken.snn", "-o", "."], "E631")
    assert "E203" not in err  # the program was not even read
    status = main(["run", "small.snn", "--steps", "5", "-o", "data"])
    captured = capsys.readouterr()
    assert status == 1 and "steps of" not in captured.out  # nothing simulated


def test_a_failing_write_leaves_the_previous_folder_and_no_temporaries(scratch, capsys,
                                                                        monkeypatch):
    assert main(["compile", "small.snn", "-o", "build"]) == 0
    before = snapshot(scratch)

    def broken(staging, real):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(output, "install", broken)
    refused(capsys, ["compile", "small.snn", "-o", "build"], "E633")
    assert snapshot(scratch) == before


# ---- modes, temporaries, reproducibility --------------------------------------------------------

@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755),
                                                           (0o077, 0o600, 0o700),
                                                           (0o002, 0o664, 0o775)])
def test_modes_follow_the_umask(scratch, capsys, umask, file_mode, folder_mode):
    old = os.umask(umask)
    try:
        assert main(["compile", "small.snn", "-o", "new/build"]) == 0
        assert main(["run", "small.snn", "--steps", "5", "-o", "runs/out.npz"]) == 0
        assert main(["map", "small.snn", "--target", "loihi2", "-o", "m", "--force"]) == 0
    finally:
        os.umask(old)
    for folder in ("new", "new/build", "runs", "m"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == folder_mode, folder
    for path in ("new/build/simulation.py", "new/build/network.npz", "new/build/.snnc-output",
                 "runs/out.npz", "m/mapping.json"):
        assert stat.S_IMODE(os.stat(path).st_mode) == file_mode, path


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_temporaries_of_dead_runs_are_removed_and_nothing_else(scratch, capsys):
    dead = dead_pid()
    (scratch / f".snnc-tmp-{dead}-0a1b2c").write_bytes(b"half an archive")
    (scratch / f".snnc-tmp-{dead}-3d4e5f").mkdir()
    (scratch / f".snnc-tmp-{dead}-3d4e5f" / "simulation.py").write_text("half")
    keep = [f".snnc-tmp-{os.getppid()}-aaaaaa", f".snnc-tmp-{os.getpid()}-bbbbbb",
            ".snnc-tmp-notapid-cccccc", ".snnc-old-xyz", ".snnc-keep", f"snnc-tmp-{dead}-dddddd"]
    for name in keep:
        (scratch / name).write_text("not snnc's to remove")
    assert main(["run", "small.snn", "--steps", "5", "-o", "out.npz"]) == 0
    names = set(os.listdir(scratch))
    assert not any(name.startswith(f".snnc-tmp-{dead}-") for name in names)
    assert set(keep) <= names
    assert all((scratch / name).read_text() == "not snnc's to remove" for name in keep)


def test_the_temporaries_of_a_killed_run_are_cleaned_by_the_next(scratch, capsys):
    script = ("import sys, time; from snnc import output; "
              "staging = output.new_folder(sys.argv[1]); "
              "output.replace(staging, staging + '/simulation.py', b'x' * 1000); "
              "print(staging, flush=True); time.sleep(120)")
    process = subprocess.Popen([sys.executable, "-c", script, str(scratch)],
                               stdout=subprocess.PIPE, text=True)
    staging = process.stdout.readline().strip()
    assert os.path.isdir(staging) and os.path.basename(staging).startswith(
        f".snnc-tmp-{process.pid}-")
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert os.path.isdir(staging)  # SIGKILL leaves it behind
    assert main(["compile", "small.snn", "-o", "build"]) == 0
    assert not os.path.exists(staging)
    assert [n for n in os.listdir(scratch) if n.startswith(".snnc-tmp-")] == []


def test_killing_a_compile_leaves_at_most_a_temporary_that_the_next_run_removes(scratch):
    pytest.importorskip("nir")
    before = snapshot(scratch)
    for delay in (0.3, 0.8, 1.5):
        process = subprocess.Popen([sys.executable, "-m", "snnc", "compile", "small.snn",
                                    "-o", "killed", "--emit", "nir"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert main(["run", "small.snn", "--steps", "2", "-o", "out.npz"]) == 0
        left = set(os.listdir(scratch)) - set(before) - {"out.npz", "killed"}
        assert left == set(), left
        if os.path.isdir(scratch / "killed"):  # the compile finished: a whole output
            assert sorted(os.listdir(scratch / "killed")) == [".snnc-output", "network.nir"]
    for name, entry in before.items():
        assert snapshot(scratch).get(name) == entry


def test_repeated_outputs_are_byte_identical(scratch, capsys):
    for name in ("one", "two"):
        assert main(["compile", "small.snn", "-o", f"{name}/build"]) == 0
        assert main(["run", "small.snn", "--steps", "20", "-o", f"{name}/out.npz",
                     "--rates", f"{name}/rates.npz"]) == 0
        assert main(["map", "small.snn", "--target", "loihi2", "--no-kahip", "-o",
                     f"{name}/map"]) == 0
    assert snapshot(scratch / "one") == snapshot(scratch / "two")
    assert main(["run", "small.snn", "--steps", "20", "-o", "one/out.npz"]) == 0
    assert snapshot(scratch / "one") == snapshot(scratch / "two")


def test_stamps_are_recognised_and_invisible_to_readers(tmp_path):
    path = tmp_path / "a.npz"
    path.write_bytes(output.npz_bytes({"b": np.arange(3), "a": np.float64(2.0)}))
    assert output.stamped(str(path), "npz")
    with np.load(path) as data:
        assert data.files == ["a", "b"]  # no extra member
    with zipfile.ZipFile(path) as archive:
        assert archive.comment == output.NPZ_STAMP
    np.savez(tmp_path / "numpy.npz", a=np.arange(3))
    assert not output.stamped(str(tmp_path / "numpy.npz"), "npz")
    (tmp_path / "short.npz").write_bytes(b"PK")
    assert not output.stamped(str(tmp_path / "short.npz"), "npz")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure()
    (tmp_path / "ours.png").write_bytes(output.png_bytes(fig, dpi=20))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=20)
    plt.close(fig)
    (tmp_path / "theirs.png").write_bytes(buffer.getvalue())
    assert output.stamped(str(tmp_path / "ours.png"), "png")
    assert not output.stamped(str(tmp_path / "theirs.png"), "png")


def test_plot_writes_into_a_folder_and_keeps_foreign_pictures(scratch, capsys):
    pytest.importorskip("matplotlib")
    assert main(["run", "small.snn", "--steps", "20", "-o", "out.npz", "--record",
                 "spikes,v"]) == 0
    assert main(["plot", "out.npz"]) == 0  # default -o .: files into the current folder
    assert output.stamped(str(scratch / "raster.png"), "png")
    assert not (scratch / output.MARKER).exists()  # the current folder is never marked
    first = (scratch / "raster.png").read_bytes()
    assert main(["plot", "out.npz"]) == 0
    assert (scratch / "raster.png").read_bytes() == first
    (scratch / "pics").mkdir()
    (scratch / "pics" / "voltages.png").write_bytes(b"\x89PNG my own picture")
    before = snapshot(scratch / "pics")
    refused(capsys, ["plot", "out.npz", "-o", "pics"], "E630")
    assert snapshot(scratch / "pics") == before
    assert main(["plot", "out.npz", "-o", "pics", "--force"]) == 0
    refused(capsys, ["plot", "out.npz", "-o", "out.npz"], "E632")


def test_train_folder_marker_force_resume_and_save_data(scratch, capsys):
    (scratch / "net.snn").write_text(TRAIN_NET)
    base = ["train", "net.snn", "--data", DATA, "--batch", "4", "--epochs", "1"]
    (scratch / "runs").mkdir()
    (scratch / "runs" / "results.csv").write_text("irreplaceable\n")
    before = snapshot(scratch)
    refused(capsys, [*base, "-o", "runs"], "E630")
    refused(capsys, [*base, "-o", "runs", "--resume"], "E630")
    refused(capsys, [*base, "-o", "new", "--save-data", "notes.txt"], "E630")
    refused(capsys, [*base, "-o", ".", "--force"], "E631")
    assert snapshot(scratch) == before
    assert main([*base, "-o", "run", "--save-data", "data.npz"]) == 0
    assert sorted(os.listdir("run")) == [".snnc-output", "checkpoint.npz", "curves.png",
                                        "frozen.npz", "frozen.snn", "log.json", "timing.json"]
    assert output.stamped("data.npz", "npz") and output.stamped("run/curves.png", "png")
    log = (scratch / "run" / "log.json").read_bytes()
    assert main(["train", "net.snn", "--data", DATA, "--batch", "4", "--epochs", "2",
                 "-o", "run", "--resume"]) == 0
    assert (scratch / "run" / output.MARKER).is_file() and (scratch / "run" / "log.json"
                                                            ).read_bytes() != log
    (scratch / "run" / "extra.txt").write_text("from the old run")
    assert main([*base, "-o", "run", "--save-data", "data.npz"]) == 0  # a fresh run: replaced
    assert not (scratch / "run" / "extra.txt").exists()
    assert (scratch / "run" / "log.json").read_bytes() == log
    assert [n for n in os.listdir(scratch) if n.startswith(".snnc-tmp-")] == []


def test_exit_status_is_documented():
    result = subprocess.run([sys.executable, "-m", "snnc", "--help"], capture_output=True,
                            text=True, check=True)
    text = " ".join(result.stdout.split())
    assert "0 ok" in text and "1 errors in the input" in text and "2 usage error" in text
    assert "3 internal error" in text and "outputs:" in text and "--force" in text
