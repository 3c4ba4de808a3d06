"""The simulation cache of `snnc run`: in the user's own cache folder, created 0700, never
trusted because an entry exists: a planted simulation never runs, whoever planted it."""

import dataclasses
import os
import pwd
import stat
import subprocess
import sys

import numpy as np
import pytest

from snnc.api import compile_network
from snnc.backends.reference import ReferenceBackend, runner
from snnc.cli import main
from snnc.diagnostics import Diagnostics

PROGRAM = """network cached {
  dt = 1 ms
  seed = 3
}
input src[20]: poisson(rate = 80 Hz)
population out: LIF[6] { tau_mem = 10 ms }
src -> out: dense { weight = 0.3 }
record out.s, out.v
"""

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """numpy kernels (fast), no cache variables inherited, no module kept from another test."""
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    monkeypatch.delenv("SNNC_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for name in [n for n in sys.modules if n.startswith("snnc_simulation_")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(runner, "LOADED", {})


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "cached.snn"
    path.write_text(PROGRAM)
    return path


def entry_name(path) -> str:
    net = compile_network(str(path), Diagnostics())
    files = runner.content_of(ReferenceBackend().emit(net))
    return "sim-" + runner.digest_of(files)[:16], files


def runtime_entry(files) -> str:
    """The entry of the runtime library the process's simulations share (runner.shared_runtime)."""
    return "sim-" + runner.digest_of({"snnc_runtime.py": files["snnc_runtime.py"]})[:16]


def run(path, out) -> dict:
    """`snnc run` in-process (a fresh module each time); its recordings."""
    for name in [n for n in sys.modules if n.startswith("snnc_simulation_")]:
        del sys.modules[name]
    runner.LOADED.clear()
    assert main(["run", str(path), "--steps", "60", "-o", str(out)]) == 0
    with np.load(out) as data:
        return {key: data[key] for key in data.files}


def expected(tmp_path, program, monkeypatch) -> dict:
    """The recordings from a clean private cache."""
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "clean-cache"))
    result = run(program, tmp_path / "expected.npz")
    monkeypatch.delenv("SNNC_CACHE_DIR")
    return result


def plant(folder, pwned) -> None:
    """A simulation whose module body writes the file ``pwned``, with a numba-like cache."""
    os.makedirs(folder / "__pycache__", exist_ok=True)
    (folder / "simulation.py").write_text(f"open({str(pwned)!r}, 'w').write('owned')\n")
    (folder / "network.npz").write_bytes(b"not an archive")
    (folder / "__pycache__" / "simulation._neuron-1.py311.nbi").write_bytes(b"pickled payload")


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


@as_root
def test_a_cache_folder_of_another_user_is_never_used(tmp_path, program, monkeypatch, capsys):
    want = expected(tmp_path, program, monkeypatch)
    nobody = pwd.getpwnam("nobody").pw_uid
    cache, pwned = tmp_path / "shared-cache", tmp_path / "PWNED"
    name, _ = entry_name(program)
    plant(cache / name, pwned)
    for top, folders, files in os.walk(cache):
        for item in [top, *(os.path.join(top, f) for f in folders + files)]:
            os.chown(item, nobody, -1)
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    got = run(program, tmp_path / "out.npz")
    assert not pwned.exists()
    same(got, want)
    err = capsys.readouterr().err
    assert "owned by another user" in err and str(cache) in err
    assert (cache / name / "simulation.py").read_text().startswith("open(")  # left alone


def test_a_mismatching_entry_of_ours_is_replaced_never_run(tmp_path, program, monkeypatch):
    want = expected(tmp_path, program, monkeypatch)
    cache, pwned = tmp_path / "cache", tmp_path / "PWNED"
    name, files = entry_name(program)
    cache.mkdir(mode=0o700)
    plant(cache / name, pwned)
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    got = run(program, tmp_path / "out.npz")
    assert not pwned.exists()
    same(got, want)
    entry = cache / name
    for file, content in files.items():  # replaced by exactly what snnc emits
        assert (entry / file).read_bytes() == content
    assert not (entry / "__pycache__" / "simulation._neuron-1.py311.nbi").exists()
    (index,) = [n for n in os.listdir(cache) if n.startswith("net-")]  # the network's index
    # no staging or trash left: the entry, its index and the shared runtime's entry
    assert sorted(os.listdir(cache)) == sorted([name, index, runtime_entry(files)])


def test_a_planted_runtime_beside_the_right_simulation_is_replaced_never_run(tmp_path, program,
                                                                           monkeypatch):
    """Every emitted file counts: a simulation.py and network.npz that match do not make an
    entry whose snnc_runtime.py differs usable."""
    want = expected(tmp_path, program, monkeypatch)
    cache, pwned = tmp_path / "cache", tmp_path / "PWNED"
    name, files = entry_name(program)
    assert "snnc_runtime.py" in files
    entry = cache / name
    entry.mkdir(mode=0o700, parents=True)
    os.chmod(cache, 0o700)
    for file, content in files.items():
        (entry / file).write_bytes(content)
    (entry / "snnc_runtime.py").write_text(f"open({str(pwned)!r}, 'w').write('owned')\n")
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    same(run(program, tmp_path / "out.npz"), want)
    assert not pwned.exists()
    assert (entry / "snnc_runtime.py").read_bytes() == files["snnc_runtime.py"]


def test_an_entry_that_matches_is_used_as_it_is(tmp_path, program, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    first = run(program, tmp_path / "a.npz")
    name, _ = entry_name(program)
    marker = cache / name / "__pycache__"
    marker.mkdir(exist_ok=True)
    (marker / "kept").write_text("numba's files stay while the entry matches")
    same(run(program, tmp_path / "b.npz"), first)
    assert (marker / "kept").exists()


def test_an_entry_of_ours_open_to_others_is_made_private_and_used(tmp_path, program,
                                                                  monkeypatch, capsys):
    """Under umask 002 numba writes a group-writable __pycache__: harmless inside an entry of
    mode 0700, which the entry is made again when someone opened it."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    first = run(program, tmp_path / "a.npz")
    name, _ = entry_name(program)
    entry = cache / name
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o700
    (entry / "__pycache__").mkdir(exist_ok=True)
    (entry / "__pycache__" / "kept").write_text("numba")
    os.chmod(entry / "__pycache__", 0o775)
    os.chmod(entry, 0o755)
    capsys.readouterr()
    same(run(program, tmp_path / "b.npz"), first)
    assert "warning" not in capsys.readouterr().err
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o700
    assert (entry / "__pycache__" / "kept").exists()


def test_a_link_in_an_entry_of_ours_makes_it_replaced(tmp_path, program, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    first = run(program, tmp_path / "a.npz")
    name, files = entry_name(program)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cache / name / "__pycache__").mkdir(exist_ok=True)
    os.symlink(elsewhere, cache / name / "__pycache__" / "linked")
    same(run(program, tmp_path / "b.npz"), first)
    assert not os.path.lexists(cache / name / "__pycache__" / "linked")
    assert elsewhere.exists()  # the link was removed, not followed
    assert (cache / name / "simulation.py").read_bytes() == files["simulation.py"]


@as_root
def test_an_entry_of_another_user_in_our_folder_is_not_used(tmp_path, program, monkeypatch,
                                                            capsys):
    want = expected(tmp_path, program, monkeypatch)
    cache, pwned = tmp_path / "cache", tmp_path / "PWNED"
    cache.mkdir(mode=0o700)
    name, _ = entry_name(program)
    plant(cache / name, pwned)
    os.chown(cache / name, pwd.getpwnam("nobody").pw_uid, -1)
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    same(run(program, tmp_path / "out.npz"), want)
    assert not pwned.exists()
    assert "owned by another user" in capsys.readouterr().err
    assert (cache / name / "simulation.py").read_text().startswith("open(")


@pytest.mark.parametrize("how", ["group-writable", "world-writable", "symlink", "file"])
def test_an_unsafe_cache_folder_is_refused(tmp_path, program, monkeypatch, capsys, how):
    want = expected(tmp_path, program, monkeypatch)
    cache, pwned = tmp_path / "cache", tmp_path / "PWNED"
    name, _ = entry_name(program)
    if how == "symlink":
        real = tmp_path / "elsewhere"
        real.mkdir(mode=0o700)
        plant(real / name, pwned)
        cache.symlink_to(real)
    elif how == "file":
        cache.write_text("not a folder")
    else:
        cache.mkdir()
        plant(cache / name, pwned)
        os.chmod(cache, 0o775 if how == "group-writable" else 0o777)
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    same(run(program, tmp_path / "out.npz"), want)
    assert not pwned.exists()
    err = capsys.readouterr().err
    assert f"simulation cache '{cache}'" in err and "not used" in err
    reason = {"group-writable": "writable by group or others",
              "world-writable": "writable by group or others",
              "symlink": "symbolic link", "file": "not a folder"}[how]
    assert reason in err


def test_snnc_cache_dir_is_honoured_and_created_private(tmp_path, program, monkeypatch):
    cache = tmp_path / "mine" / "cache"
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run(program, tmp_path / "out.npz")
    name, files = entry_name(program)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert (cache / name / "simulation.py").read_bytes() == files["simulation.py"]
    assert not (tmp_path / "xdg" / "snnc" / "simulations").exists()  # (the front end's
    # cache, parser tables and lowered networks, stays in $XDG_CACHE_HOME/snnc/parser)


def test_xdg_cache_home_is_honoured(tmp_path, program, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run(program, tmp_path / "out.npz")
    root = tmp_path / "xdg" / "snnc" / "simulations"
    name, files = entry_name(program)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert (root / name / "network.npz").read_bytes() == files["network.npz"]


def test_the_default_is_the_home_cache_folder(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    assert runner.cache_root() == "/home/someone/.cache/snnc/simulations"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert runner.cache_root() == "/home/someone/.cache/snnc/simulations"


def child_env(tmp_path, **extra) -> dict:
    env = dict(os.environ, SNNC_NO_NUMBA="1", TMPDIR=str(tmp_path / "tmp"), **extra)
    env.pop("SNNC_CACHE_DIR", None)
    env.pop("XDG_CACHE_HOME", None)
    env.update(extra)
    os.makedirs(env["TMPDIR"], exist_ok=True)
    return env


def test_the_private_fallback_folder_is_removed_at_exit(tmp_path, program):
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o777)
    env = child_env(tmp_path, SNNC_CACHE_DIR=str(cache))
    result = subprocess.run([sys.executable, "-m", "snnc", "run", str(program), "--steps", "20"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "private temporary folder" in result.stderr
    assert os.listdir(tmp_path / "tmp") == []
    assert os.listdir(cache) == []


def test_two_processes_racing_on_one_entry_both_work(tmp_path, program):
    env = child_env(tmp_path, SNNC_CACHE_DIR=str(tmp_path / "cache"))
    outs = [tmp_path / f"out{k}.npz" for k in range(3)]
    children = [subprocess.Popen([sys.executable, "-m", "snnc", "run", str(program), "--steps",
                                  "40", "-o", str(out)], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for out in outs]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        assert "warning" not in err
    results = []
    for out in outs:
        with np.load(out) as data:
            results.append({key: data[key] for key in data.files})
    for other in results[1:]:
        same(other, results[0])
    name, files = entry_name(program)
    assert sorted(n for n in os.listdir(tmp_path / "cache") if not n.startswith("net-")) == \
        sorted([name, runtime_entry(files)])
    assert (tmp_path / "cache" / name / "simulation.py").read_bytes() == files["simulation.py"]


@as_root
def test_an_entry_of_ours_holding_files_of_another_user_is_left_alone(tmp_path, program,
                                                                      monkeypatch, capsys):
    """A numba cache file of another user inside our entry: neither loaded nor deleted."""
    want = expected(tmp_path, program, monkeypatch)
    cache, pwned = tmp_path / "cache", tmp_path / "PWNED"
    cache.mkdir(mode=0o700)
    name, _ = entry_name(program)
    plant(cache / name, pwned)
    planted = cache / name / "__pycache__" / "simulation._neuron-1.py311.nbi"
    os.chown(planted, pwd.getpwnam("nobody").pw_uid, -1)
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    same(run(program, tmp_path / "out.npz"), want)
    assert not pwned.exists() and planted.exists()
    assert "holds files of another user" in capsys.readouterr().err


def emits_counted(monkeypatch) -> list:
    """Counts the reference backend's code generations."""
    calls, original = [], ReferenceBackend.emit

    def emit(self, net):
        calls.append(1)
        return original(self, net)

    monkeypatch.setattr(ReferenceBackend, "emit", emit)
    return calls


def test_an_unchanged_network_is_not_generated_again(tmp_path, program, monkeypatch):
    """The second run of the same network reads the recorded files back (no code generation)
    and gives the same recordings; the index file is private."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    calls = emits_counted(monkeypatch)
    first = run(program, tmp_path / "a.npz")
    assert len(calls) == 1
    (index,) = [n for n in os.listdir(cache) if n.startswith("net-")]
    assert stat.S_IMODE(os.stat(cache / index).st_mode) & 0o077 == 0
    same(run(program, tmp_path / "b.npz"), first)
    assert len(calls) == 1  # not generated again
    program.write_text(PROGRAM.replace("seed = 3", "seed = 4"))  # another network
    other = run(program, tmp_path / "c.npz")
    assert len(calls) == 2
    assert not all(np.array_equal(other[k], first[k]) for k in first)


def test_recorded_files_that_changed_are_generated_again_never_run(tmp_path, program,
                                                                   monkeypatch):
    """An entry whose files no longer have the recorded digest is not used from the index:
    the network is generated again and the entry replaced."""
    cache, pwned = tmp_path / "cache", tmp_path / "PWNED"
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    calls = emits_counted(monkeypatch)
    first = run(program, tmp_path / "a.npz")
    name, files = entry_name(program)
    calls.clear()
    (cache / name / "simulation.py").write_text(f"open({str(pwned)!r}, 'w').write('owned')\n")
    same(run(program, tmp_path / "b.npz"), first)
    assert not pwned.exists() and len(calls) == 1
    assert (cache / name / "simulation.py").read_bytes() == files["simulation.py"]
    (index,) = [n for n in os.listdir(cache) if n.startswith("net-")]
    (cache / index).write_text("garbage")  # an unreadable index: generated again
    same(run(program, tmp_path / "c.npz"), first)
    assert len(calls) == 2


def test_the_network_key_ignores_set_order_and_follows_the_content(tmp_path, program):
    """The same network gives the same key in processes with different string hashes; a
    changed setting or delivery gives another."""
    probe = ("import sys; from snnc.api import compile_network; from snnc.diagnostics import "
             "Diagnostics; from snnc.backends.reference import runner; "
             f"net = compile_network({str(program)!r}, Diagnostics()); "
             "print(runner.network_key(net, 'same_step'), runner.network_key(net, 'next_step'))")
    keys = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                                text=True, check=True)
        keys.append(result.stdout.split())
    assert keys[0] == keys[1] and keys[0][0] != keys[0][1]
    net = compile_network(str(program), Diagnostics())
    key = runner.network_key(net, "same_step")
    net.settings = dataclasses.replace(net.settings, seed=net.settings.seed + 1)
    assert runner.network_key(net, "same_step") != key


def test_an_entry_file_is_compared_chunk_by_chunk(tmp_path, monkeypatch):
    """``runner.holds``: a file of ours against the emitted bytes, read a chunk at a time
    (here 7 bytes, so the cases cross chunks): equal only when the length and every byte
    agree; never through a link or for a missing file."""
    monkeypatch.setattr(runner, "CHUNK", 7)
    expected = bytes(range(50))
    path = tmp_path / "network.npz"
    path.write_bytes(expected)
    assert runner.holds(str(path), expected)
    for other in (expected[:-1], expected + b"\0", expected[:49] + b"\1",
                  b"\1" + expected[1:], expected[:21] + b"\xff" + expected[22:], b""):
        path.write_bytes(other)
        assert not runner.holds(str(path), expected), other
    assert runner.holds(str(path), b"")
    path.write_bytes(expected)
    (tmp_path / "link").symlink_to(path)
    assert not runner.holds(str(tmp_path / "link"), expected)
    assert not runner.holds(str(tmp_path / "missing"), expected)


def test_an_entry_is_verified_holding_only_its_python_sources(tmp_path, program, monkeypatch):
    """``runner.verified_sources``: the digest of every file (the oracle: ``digest_of`` of
    the emitted files), returning the Python sources only (network.npz is hashed a chunk at a
    time, here 5 bytes); any changed byte, missing file or unsafe name is None."""
    monkeypatch.setattr(runner, "CHUNK", 5)
    _, files = entry_name(program)
    runner.write_files(str(tmp_path), files)
    digest = runner.digest_of(files)
    sources = runner.verified_sources(str(tmp_path), list(files), digest)
    assert sources == {name: content for name, content in files.items() if name.endswith(".py")}
    assert "network.npz" in files and "network.npz" not in sources
    assert runner.verified_sources(str(tmp_path), [*files, "../x"], digest) is None
    assert runner.verified_sources(str(tmp_path), [*files, "missing"], digest) is None
    npz = tmp_path / "network.npz"
    changed = bytearray(files["network.npz"])
    changed[len(changed) // 2] ^= 1
    npz.write_bytes(bytes(changed))
    assert runner.verified_sources(str(tmp_path), list(files), digest) is None


def test_a_recorded_network_npz_that_changed_is_generated_again(tmp_path, program,
                                                                monkeypatch):
    """The index's entry whose network.npz lost a bit: generated again, the entry replaced
    with the emitted bytes, the recordings those of the first run."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SNNC_CACHE_DIR", str(cache))
    calls = emits_counted(monkeypatch)
    first = run(program, tmp_path / "a.npz")
    name, files = entry_name(program)
    calls.clear()
    npz = cache / name / "network.npz"
    changed = bytearray(npz.read_bytes())
    changed[-40] ^= 1
    npz.write_bytes(bytes(changed))
    same(run(program, tmp_path / "b.npz"), first)
    assert len(calls) == 1 and npz.read_bytes() == files["network.npz"]
