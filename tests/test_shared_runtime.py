"""One runtime library per process for the simulations snnc runs from its cache
(snnc.backends.reference.runner.shared_runtime): numba's kernels, cached by the module's file
and name, are compiled once per kernel shape and serve every later network, instead of once
per network's own copy of the runtime."""

import os
import sys

import pytest
from simulate import compile_text

from snnc.backends.reference import runner

NETWORK = """network shared_{n} {{
  dt = 1 ms
  seed = {n}
}}
population p: LIF[{n}] {{
  tau_mem = {tau} ms
  bias = 1.5
  refractory = 2 ms
}}
p -> p: fixed_fan_in(k = 3) {{ weight = 0.2 }}
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(runner, "LOADED", {})
    for name in [name for name in sys.modules if name.startswith("snnc_simulation_")]:
        monkeypatch.delitem(sys.modules, name)  # no module loaded by another test
    return tmp_path / "cache"


def test_networks_share_one_runtime_from_its_own_entry(cache):
    modules = [runner.load_simulation(compile_text(NETWORK.format(n=n, tau=tau)))
               for n, tau in ((30, 10), (70, 25))]
    first, second = (sys.modules[module.__name__ + "_runtime"] for module in modules)
    assert first is second
    home = os.path.dirname(first.__file__)
    assert sorted(os.listdir(home)) == ["__pycache__", "snnc_runtime.py"]
    assert os.path.dirname(home) == str(cache)
    (code,) = os.listdir(os.path.join(home, "__pycache__"))  # its compiled code (code_of)
    assert code.startswith("snnc_runtime.") and code.endswith(".code")
    for module in modules:  # each network's entry keeps its own copy (a standalone folder)
        folder = os.path.dirname(module.__file__)
        assert folder != home and os.path.exists(os.path.join(folder, "snnc_runtime.py"))


def test_numba_compiles_a_kernel_shape_once_for_all_networks(cache, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("SNNC_NO_NUMBA", raising=False)
    monkeypatch.setenv("SNNC_NO_NATIVE", "1")  # the Python loop, with numba
    runtime = None
    for n, tau in ((30, 10), (70, 25), (11, 40)):
        module = runner.load_simulation(compile_text(NETWORK.format(n=n, tau=tau)))
        out = module.Simulation().run(40, record=["p.s"])
        assert out["p.s"].sum() > 0
        runtime = sys.modules[module.__name__ + "_runtime"]
    assert len(runtime._NUMBA["_neuron"].signatures) == 1
    assert len(runtime._NUMBA["_propagate"].signatures) == 1
    home = os.path.dirname(runtime.__file__)
    kernels = [name for name in os.listdir(os.path.join(home, "__pycache__"))
               if name.endswith((".nbi", ".nbc"))]
    assert kernels  # numba's cache, beside the shared runtime
    for entry in os.listdir(cache):
        folder = cache / entry
        if entry.startswith("sim-") and str(folder) != home:
            cached = folder / "__pycache__"
            assert not cached.exists() or not any(
                name.endswith((".nbi", ".nbc")) for name in os.listdir(cached))


def test_compiled_code_is_kept_beside_the_source_and_a_broken_copy_is_compiled_again(
        cache, monkeypatch):
    """runner.code_of: the code object of an entry's source is marshalled into the entry's
    __pycache__ and loaded from there (no compile) by the next process; a file that does not
    load, or holds another file's code, is compiled again; outside the cache nothing is kept."""
    module = runner.load_simulation(compile_text(NETWORK.format(n=12, tau=15)))
    folder = os.path.dirname(module.__file__)
    path = os.path.join(folder, "simulation.py")
    source = open(path, "rb").read()
    (stored,) = [name for name in os.listdir(os.path.join(folder, "__pycache__"))
                 if name.startswith("simulation.") and name.endswith(".code")]
    stored = os.path.join(folder, "__pycache__", stored)
    compiled = []
    real_compile = compile
    monkeypatch.setattr("builtins.compile", lambda *a, **k: compiled.append(a[1]) or
                        real_compile(*a, **k))
    expected = real_compile(source, path, "exec", dont_inherit=True)
    assert runner.code_of(path, source) == expected and compiled == []
    whole = open(stored, "rb").read()
    for broken in (b"", b"garbage", whole[:40]):
        with open(stored, "wb") as handle:
            handle.write(broken)
        assert runner.code_of(path, source) == expected
        assert compiled == [path]  # compiled again, and stored whole again
        assert open(stored, "rb").read() == whole
        compiled.clear()
    other = os.path.join(folder, "elsewhere.py")
    assert runner.code_of(other, source).co_filename == other  # another path, another entry
    outside = str(cache.parent / "private" / "simulation.py")
    compiled.clear()
    runner.code_of(outside, source)
    assert compiled == [outside] and not os.path.exists(os.path.dirname(outside))
