"""The code snnc emits, pinned and linted: `snnc compile examples/<example>.snn --emit
reference|lava|xylo` for every example against tests/goldens/emitted/<example>/<backend>/ (text
files as they are; binary files, and the reference runtime that is a verbatim copy of
snnc.backends.reference.runtime, as sha256 sums in SHA256SUMS; a backend that refuses the
example as its diagnostics in REFUSED.txt), regenerated with SNNC_REGENERATE_GOLDENS=1; ruff
on every emitted Python file; the generated simulation run as a user runs it, from another
working directory."""

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snnc.backends.reference import codegen
from snnc.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDENS = ROOT / "tests" / "goldens" / "emitted"
#: the lint of emitted code: the repository's rules, the Lava programs' import sections aside
RUFF_CONFIG = GOLDENS / "ruff.toml"
EXAMPLES = sorted(path.stem for path in (ROOT / "examples").glob("*.snn"))
BACKENDS = ("reference", "lava", "xylo")
#: files pinned by their digest: binary data, and the runtime (pinned as runtime.py itself)
HASHED = {".npz"}
HASHED_NAMES = {"snnc_runtime.py"}
MARKER = ".snnc-output"

_emitted: dict[tuple[str, str], tuple[Path | None, str]] = {}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("emitted")


def emit(example: str, backend: str, workspace: Path) -> tuple[Path | None, str]:
    """The output folder of `snnc compile examples/<example>.snn --emit <backend>` run from
    the repository root (None when it fails) and its standard error; once per session."""
    key = (example, backend)
    if key not in _emitted:
        out = workspace / f"{example}.{backend}"
        errors = io.StringIO()
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
                code = main(["compile", f"examples/{example}.snn", "--emit", backend,
                             "-o", str(out)])
        finally:
            os.chdir(cwd)
        assert code in (0, 1), errors.getvalue()
        _emitted[key] = (out if code == 0 else None, errors.getvalue())
    return _emitted[key]


def golden_view(folder: Path | None, errors: str) -> dict[str, str]:
    """What the goldens hold of an output: file name -> text."""
    if folder is None:
        return {"REFUSED.txt": errors}
    view, sums = {}, []
    for path in sorted(folder.iterdir()):
        if path.name in (MARKER, "__pycache__", "process_graph.png"):  # the picture: Graphviz's
            continue
        if path.suffix in HASHED or path.name in HASHED_NAMES:
            sums.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}")
        else:
            view[path.name] = path.read_text(encoding="utf-8")
    view["SHA256SUMS"] = "\n".join(sums) + "\n"
    return view


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_emitted_code_matches_its_golden(example, backend, workspace):
    folder, errors = emit(example, backend, workspace)
    view = golden_view(folder, errors)
    golden = GOLDENS / example / backend
    if os.environ.get("SNNC_REGENERATE_GOLDENS"):
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for name, text in view.items():
            (golden / name).write_text(text, encoding="utf-8")
    assert sorted(p.name for p in golden.iterdir()) == sorted(view), \
        f"the files of {golden} (regenerate with SNNC_REGENERATE_GOLDENS=1)"
    for name, text in view.items():
        assert text == (golden / name).read_text(encoding="utf-8"), \
            f"{golden / name} (regenerate with SNNC_REGENERATE_GOLDENS=1)"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_emitted_python_passes_ruff(example, backend, workspace):
    pytest.importorskip("ruff")
    folder, _ = emit(example, backend, workspace)
    if folder is None:
        pytest.skip(f"{backend} refuses {example}")
    files = sorted(str(path) for path in folder.glob("*.py"))
    assert files
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                             str(RUFF_CONFIG), *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lint_catches_an_unused_import(tmp_path):
    """The ruff run above can fail: an unused import in emitted code is reported (F401)."""
    pytest.importorskip("ruff")
    path = tmp_path / "network.py"
    path.write_text("import os\n\nfrom lava.proc.lif.process import LIF\n\nHERE = os.sep\n")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                             str(RUFF_CONFIG), str(path)], capture_output=True, text=True)
    assert result.returncode == 1 and "F401" in result.stdout


def test_the_reference_output_carries_the_runtime_verbatim(workspace):
    folder, _ = emit("stdp", "reference", workspace)
    runtime = Path(codegen.__file__).with_name("runtime.py").read_bytes()
    assert (folder / "snnc_runtime.py").read_bytes() == runtime
    assert codegen.runtime_source().encode() == runtime


def test_the_runtime_names_a_module_imports_are_the_ones_it_uses(workspace):
    """simulation.py takes from the runtime what its code uses, and nothing else."""
    text = (emit("cuba", "reference", workspace)[0] / "simulation.py").read_text()
    taken = {line.split(" = ")[0] for line in text.splitlines() if " = _runtime." in line}
    assert taken == {"NonFiniteError", "SimulationBase", "TargetError", "RESET_ZERO",
                     "_propagate", "_neuron"}


def test_provenance_comments_name_parameters_units_and_decays(workspace):
    text = (emit("cuba", "reference", workspace)[0] / "simulation.py").read_text()
    assert "# population exc[3200]: LIF (as CubaNeuron)" in text
    assert "#   tau_mem = 20 ms -> a_mem = exp(-dt/tau_mem) = 0.995012" in text
    assert "#   receptor excitatory: tau = 5 ms -> a = exp(-dt/tau) = 0.980199" in text
    assert "# projection exc->exc: exc -> exc, 205013 synapses, delay 1 step (0 as written, " \
           "same_step delivery), receptor excitatory" in text
    assert "reset=RESET_ZERO" in text and "refractory=50" in text


def test_user_text_in_comments_cannot_end_them(tmp_path):
    """A name with a line break (a quoted name of a NIR import, say) stays in its comment."""
    from snnc.backends.reference.provenance import projection_comment
    plan = type("Plan", (), {"net": None, "delivery": "same_step"})()
    projection = type("P", (), {"name": "x\ny", "pre": "a\rb", "post": "c", "dense": True,
                                "n_post": 1, "n_pre": 1, "delay": 0, "receptor": None,
                                "learning": False, "weights": np.zeros((1, 1))})()
    line = projection_comment(plan, projection)
    assert "\n" not in line and "\r" not in line and "x\\ny" in line


PROGRAM = """network standalone {
  dt = 1 ms
  seed = 5
}
input src[12]: poisson(rate = 150 Hz)
population hid: ALIF[8] { tau_mem = 12 ms
  tau_adapt = 50 ms
  beta_adapt = 0.2
  reset = subtract
  refractory = 2 ms }
population out: CubaLIF[4] { tau_mem = 10 ms
  tau_syn = 4 ms
  threshold = 0.5 }
src -> hid: dense { weight = 0.4 }
hid -> out: sparse(p = 0.5) { weight = 0.6 }
record hid.s, out.s, out.v
"""

SCRIPT = """
import sys
import numpy as np
{load}
out = Simulation(batch=2).run(80, record=["hid.s", "out.s", "out.v"])
np.savez(sys.argv[2], **out)
"""

LOADERS = {
    "folder on sys.path": "sys.path.insert(0, sys.argv[1])\nfrom simulation import Simulation",
    "by its path": ("import importlib.util, os\n"
                    "spec = importlib.util.spec_from_file_location('mysim', "
                    "os.path.join(sys.argv[1], 'simulation.py'))\n"
                    "module = importlib.util.module_from_spec(spec)\n"
                    "spec.loader.exec_module(module)\nSimulation = module.Simulation"),
}


@pytest.mark.parametrize("numba", ["", "1"], ids=["numba", "numpy"])
@pytest.mark.parametrize("how", sorted(LOADERS))
def test_the_output_runs_standalone_from_another_directory(tmp_path, how, numba):
    """A user's run of the output folder (imported, or loaded by path) from another working
    directory gives the spikes and voltages `snnc run` gives, with numba or numpy kernels."""
    source = tmp_path / "standalone.snn"
    source.write_text(PROGRAM)
    out = tmp_path / "build"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["compile", str(source), "--emit", "reference", "-o", str(out)]) == 0
        assert main(["run", str(source), "--steps", "80", "--batch", "2", "--record",
                     "hid.s,out.s,out.v", "--record-dense", "-o", str(tmp_path / "run.npz")]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, SNNC_NO_NUMBA=numba)
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(load=LOADERS[how]), str(out),
                             str(tmp_path / "user.npz")], cwd=elsewhere, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "user.npz") as user, np.load(tmp_path / "run.npz") as run:
        for key in ("hid.s", "out.s", "out.v"):
            assert np.array_equal(user[key], run[key]), key
        assert user["hid.s"].any() and user["out.s"].any()


def test_the_output_runs_as_a_script(tmp_path, workspace):
    folder, _ = emit("stdp", "reference", workspace)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    result = subprocess.run([sys.executable, str(copy / "simulation.py")], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
