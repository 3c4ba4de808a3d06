"""Lowered networks kept between processes (snnc.ir.lowered_cache, issue 18's fixed costs): a
program loaded again, unchanged, gives the network and the diagnostics a fresh load gives,
without parsing; any change to the root, to an import or to snnc reads it again; what the
digest does not cover (data files) is never stored; a broken or foreign entry is a miss."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from snnc.backends.reference.runner import CanonicalPickler, network_key
from snnc.diagnostics import Diagnostics, render
from snnc.frontend import loader
from snnc.ir import lowered_cache
from snnc.ir.dump import dump
from snnc.ir.lower import lower

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = '''import "rules.snn"

network small {
  dt = 1 ms
  seed = 3
}

input a[4]: poisson(rate = 50 Hz)
population b: LIF[3] {
  refractory = 1.5 ms
}
a -> b: dense {
  weight = normal(0.5, 0.1)
  learn mine(lr = 0.01)
}
'''
IMPORTED = '''rule mine(lr) {
  trace x_pre = lowpass(pre.s, 20 ms)
  dw = lr * x_pre * post.s
}
'''


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A fresh front-end cache; returns its folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.delenv("SNNC_NO_LOWERED_CACHE", raising=False)
    return tmp_path / "home-cache" / "snnc" / "parser"


@pytest.fixture
def program(tmp_path, monkeypatch):
    """A root file importing a rule; the working folder is its folder (relative paths)."""
    (tmp_path / "rules.snn").write_text(IMPORTED)
    (tmp_path / "net.snn").write_text(RULES)
    monkeypatch.chdir(tmp_path)
    return "net.snn"


def fresh(path: str):
    """The network and diagnostics of a load without any cache."""
    diag = Diagnostics()
    program = loader.load_file(path, diag)
    return (lower(program, diag) if program is not None else None), diag


def cached(path: str):
    diag = Diagnostics()
    return lowered_cache.load_lowered(path, diag), diag


def rendered(diag: Diagnostics) -> list[str]:
    return [render(d, diag.sources) for d in diag.sorted()]


def entries(folder) -> list:
    return sorted(p.name for p in folder.glob(lowered_cache.PREFIX + "*"))


def test_a_second_load_comes_from_the_cache_equal_to_a_fresh_one(folder, program, monkeypatch):
    first, diag_first = cached(program)
    assert first is not None and len(entries(folder)) == 1
    expected, diag_expected = fresh(program)
    assert rendered(diag_first) == rendered(diag_expected)
    assert [d.code for d in diag_expected.items] == ["W201"]  # the refractory 1.5 ms warning
    with monkeypatch.context() as patch:
        patch.setattr(loader, "load_file", lambda *a, **k: pytest.fail("parsed"))
        patch.setattr("snnc.ir.lower.lower", lambda *a, **k: pytest.fail("lowered"))
        second, diag_second = cached(program)
    assert dump(second) == dump(expected)
    assert network_key(second, "same_step") == network_key(expected, "same_step")
    # the replayed warning renders with its source line, as a fresh load renders it
    assert rendered(diag_second) == rendered(diag_expected)
    assert "refractory = 1.5 ms" in rendered(diag_second)[0]
    assert set(diag_second.sources) >= {"net.snn", *dict(loader.stdlib_sources())}


def test_the_network_key_does_not_depend_on_shared_strings(program, folder):
    """The simulation cache's key pickles the network canonically: the same network lowered
    now or unpickled (where equal strings may be one object) has the same key."""
    net, _ = fresh(program)
    again = pickle.loads(pickle.dumps(net, pickle.HIGHEST_PROTOCOL))
    assert network_key(again, "same_step") == network_key(net, "same_step")
    buffer = io.BytesIO()
    CanonicalPickler(buffer, protocol=4).dump(net)
    assert dump(pickle.loads(buffer.getvalue())) == dump(net)  # still a pickle that loads


@pytest.mark.parametrize("edited", ["net.snn", "rules.snn"])
def test_an_edit_of_the_root_or_an_import_loads_the_program_again(folder, program, edited,
                                                                  tmp_path):
    cached(program)
    before = network_key(fresh(program)[0], "same_step")
    path = tmp_path / edited
    path.write_text(path.read_text().replace("0.5, 0.1", "0.25, 0.1").replace("20 ms", "7 ms"))
    net, diag = cached(program)
    expected, _ = fresh(program)
    assert network_key(net, "same_step") == network_key(expected, "same_step") != before
    assert len(entries(folder)) == 1  # the entry is replaced
    again, _ = cached(program)
    assert network_key(again, "same_step") == network_key(expected, "same_step")


def test_a_change_of_snnc_s_sources_is_a_new_entry(folder, program, monkeypatch):
    cached(program)
    monkeypatch.setattr(lowered_cache, "source_stamp", lambda: "another snnc")
    net, _ = cached(program)
    assert net is not None and len(entries(folder)) == 2


def test_the_same_relative_path_in_another_folder_is_another_program(folder, tmp_path,
                                                                     monkeypatch):
    for name, weight in (("one", "0.5"), ("two", "0.75")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rules.snn").write_text(IMPORTED)
        (tmp_path / name / "net.snn").write_text(RULES.replace("0.5, 0.1", f"{weight}, 0.1"))
    for _ in range(2):
        for name, weight in (("one", "0.5"), ("two", "0.75")):
            monkeypatch.chdir(tmp_path / name)
            net, _ = cached("net.snn")
            assert f"normal({weight}" in dump(net).replace("normal(mean=", "normal(")


def test_programs_with_errors_are_not_stored(folder, program, tmp_path):
    (tmp_path / "net.snn").write_text(RULES.replace("LIF[3]", "LIF[3"))
    for _ in range(2):
        net, diag = cached(program)
        assert net is None and diag.has_errors
    assert entries(folder) == []


def test_a_network_with_data_files_is_not_stored(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "w.npy", np.full(12, 0.5))
    (tmp_path / "f.snn").write_text('network f {\n  dt = 1 ms\n}\ninput a[4]: poisson(rate = '
                                    '10 Hz)\npopulation b: LIF[3]\na -> b: dense {\n  weight ='
                                    ' file("w.npy")\n}\n')
    first, _ = cached("f.snn")
    np.save(tmp_path / "w.npy", np.full(12, 0.25))
    second, _ = cached("f.snn")
    assert entries(folder) == []
    weights = [p.weight for p in second.projections()][0].load()
    assert np.all(weights == 0.25)


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", None])
def test_a_broken_entry_is_a_miss_and_is_replaced(folder, program, garbage):
    expected, _ = cached(program)
    (entry,) = folder.glob(lowered_cache.PREFIX + "*")
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2] if garbage is None else garbage)
    net, _ = cached(program)
    assert dump(net) == dump(expected)
    assert entry.read_bytes() == data  # stored again whole


def test_a_link_or_a_writable_entry_is_never_read(folder, program, tmp_path, monkeypatch):
    cached(program)
    (entry,) = folder.glob(lowered_cache.PREFIX + "*")
    other = tmp_path / "elsewhere.pickle"
    other.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(other)
    calls = []
    real = loader.load_file
    monkeypatch.setattr(loader, "load_file", lambda *a: calls.append(1) or real(*a))
    assert cached(program)[0] is not None and calls == [1]  # the link was not followed
    entry.unlink()
    cached(program)
    os.chmod(entry, 0o622)
    assert cached(program)[0] is not None and calls == [1, 1, 1]


def test_an_unusable_folder_or_the_variable_turns_the_cache_off(tmp_path, monkeypatch,
                                                                  program):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    net, _ = cached(program)
    assert net is not None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SNNC_NO_LOWERED_CACHE", "1")
    assert cached(program)[0] is not None
    assert not list((tmp_path / "cache").rglob(lowered_cache.PREFIX + "*"))


def test_the_least_recently_used_entries_are_pruned(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(lowered_cache, "MAX_ENTRIES", 8)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules.snn").write_text(IMPORTED)
    for index in range(12):
        (tmp_path / f"n{index}.snn").write_text(RULES)
        assert cached(f"n{index}.snn")[0] is not None
        if index == 0:
            (stranger := folder / "not-an-entry.txt").write_text("kept")
        cached("n0.snn")  # n0 stays recently used
    names = entries(folder)
    assert len(names) <= 8 and stranger.exists()
    monkeypatch.setattr(loader, "load_file", lambda *a: pytest.fail("n0 was pruned"))
    assert cached("n0.snn")[0] is not None


def test_snnc_run_twice_prints_the_same_and_the_second_does_not_import_the_parser(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"),
               SNNC_CACHE_DIR=str(tmp_path / "sims"))
    probe = ("import runpy, sys; sys.argv = ['snnc'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('snnc', run_name='__main__')\n"
             "except SystemExit as done:\n    code = done.code\n"
             "print('LARK', 'lark' in sys.modules, file=sys.stderr)\nsys.exit(code)\n")
    example = os.path.join(ROOT, "examples", "stdp.snn")
    outputs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", probe, "run", example, "--steps", "200",
                               "--format", "json"], capture_output=True, text=True, env=env,
                              cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        outputs.append((done.stdout, done.stderr))
    first, second = (json.loads(out) for out, _ in outputs)
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    assert "LARK True" in outputs[0][1] and "LARK False" in outputs[1][1]


def test_a_removed_working_folder_loads_without_the_cache(folder, program, monkeypatch,
                                                           tmp_path):
    def gone():
        raise FileNotFoundError("the working folder was removed")
    monkeypatch.setattr(lowered_cache.os, "getcwd", gone)  # (an absolute root needs no cwd)
    net, diag = cached(str(tmp_path / program))
    assert net is not None and [d.code for d in diag.items] == ["W201"]
    assert entries(folder) == []
