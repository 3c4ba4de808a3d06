"""The Backend contract (snnc.backends.base) and the passes' prerequisites: every registered
backend keeps it, a backend package added from outside snnc gets `snnc compile --emit` and its
own flags without an edit to snnc, and the pass manager refuses a pass before its
prerequisites."""

import ast
import dataclasses
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import snnc
from snnc import Diagnostics, api
from snnc.backends import BUILTIN, backend_class, base, declared_options, get_backend, registry
from snnc.cli import main
from snnc.passes import (
    DEFAULT_PIPELINE,
    MAPPING_PIPELINE,
    REGISTRY,
    PassOrderError,
    check_order,
    get_pass,
    ran,
    requirements,
    run_pipeline,
    schedule,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
STDP = str(ROOT / "examples" / "stdp.snn")
#: the flags of snnc compile that are not a backend's
OWN_FLAGS = {"file", "emit", "output", "target", "force", "help"}

#: `snnc compile --help` at 80 columns (the flags come from the backends; issue 20 added
#: xylo, which has no --delivery: the chip has its own timing)
COMPILE_HELP = """\
usage: snnc compile [-h] [--emit {lava,nest,nir,reference,xylo}] -o DIR
                    [--target NAME] [--weights FILE.npz] [--no-learn]
                    [--delivery {same_step,next_step}] [--mapping JSON]
                    [--connectivity {nest,exact}]
                    [--poisson {generator,exact}] [--record-neurons N]
                    [--allow-lossy [NAMES]] [--force]
                    FILE

Check FILE and write the artifacts of a backend into a folder. The folder is replaced atomically: a failed compile leaves the previous output intact. An existing folder is replaced only when snnc wrote it (its .snnc-output marker) or it is empty; else pass --force.

positional arguments:
  FILE

options:
  -h, --help            show this help message and exit
  --emit {lava,nest,nir,reference,xylo}
                        the backend (default: reference)
  -o DIR, --output DIR  output folder (replaced as a whole when snnc wrote it)
  --target NAME         check against this target
  --weights FILE.npz    trained weights: a checkpoint.npz of snnc train or a
                        snnc run output ('<projection>.w')
  --no-learn            drop the learning rules (note N501): the inference
                        network
  --delivery {same_step,next_step}
                        lava, nest, nir, reference: when a spike reaches its
                        target (see README; default: same_step, and next_step
                        for lava, whose only convention it is)
  --mapping JSON        lava, nir: record the core assignment of this
                        mapping.json (from snnc map)
  --connectivity {nest,exact}
                        nest: the synapses: drawn by NEST's connection rules
                        ('nest', default) or snnc's own ('exact': step for
                        step as snnc run)
  --poisson {generator,exact}
                        nest: Poisson inputs: NEST's poisson_generator
                        ('generator', default) or the spikes snnc run draws
                        ('exact')
  --record-neurons N    nest: record only the first N neurons of each recorded
                        population (default: all; NEST needs ~33 KB per
                        recorded neuron)
  --allow-lossy [NAMES]
                        nir: export without the named constructs NIR cannot
                        express (warnings instead of errors), comma-separated:
                        reset, adaptation, refractory, bias, v_init, learning
                        (always: rules go into the metadata), or all
  --force               replace an existing output that snnc did not write
                        (never /, the home or current folder, an input, or a
                        folder containing one)

example:
  snnc compile examples/cuba.snn --emit reference -o build/cuba
"""

#: a backend package from outside snnc: one text file, two flags of its own
DUMMY = '''\
"""A backend that lists the populations."""

from dataclasses import dataclass
from typing import ClassVar

from snnc.backends.base import Backend, delivery_option, option


@dataclass
class DummyBackend(Backend):
    name: ClassVar[str] = "dummy"
    description: ClassVar[str] = "populations.txt, the populations by name"
    required_passes: ClassVar[tuple[str, ...]] = ("check-locality",)
    greeting: str = option("hello", "the first word of populations.txt", metavar="WORD")
    shout: bool = option(False, "write populations.txt in capitals", exclusive=True)
    delivery: str = delivery_option("same_step")

    def check(self, net, diag):
        if self.greeting == "boom":
            diag.error("E599", None, "the dummy backend refuses to say boom", hint="say hi")

    def emit(self, net):
        words = [self.greeting, *(p.name for p in net.populations()), self.delivery]
        text = " ".join(words) + "\\n"
        return {"populations.txt": text.upper() if self.shout else text}

    def summary(self, files):
        return [f"  {len(files['populations.txt'].split())} words"]


BACKEND = DummyBackend
'''


@pytest.fixture
def fresh_registry():
    registry.cache_clear()
    yield
    registry.cache_clear()


@pytest.fixture
def dummy(tmp_path, monkeypatch, fresh_registry):
    """The package ``snnc_dummy`` and its distribution's entry point, on sys.path."""
    site = tmp_path / "site"
    (site / "snnc_dummy").mkdir(parents=True)
    (site / "snnc_dummy" / "__init__.py").write_text(DUMMY)
    info = site / "snnc_dummy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: snnc-dummy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[snnc.backends]\ndummy = snnc_dummy\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("snnc_dummy", None)


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# -- the contract ------------------------------------------------------------------------------
def test_every_backend_keeps_the_contract():
    assert list(registry()) == sorted(registry()) == ["lava", "nest", "nir", "reference", "xylo"]
    for name, backend in registry().items():
        assert issubclass(backend, base.Backend) and dataclasses.is_dataclass(backend)
        assert backend.name == name and backend.description
        # Xylo's timing is the chip's own (inputs the same step, hidden spikes the next)
        assert backend.default_delivery() in (("same_step", "next_step") if name != "xylo"
                                              else (None,))
        assert set(backend.required_passes) <= set(REGISTRY)
        for field in backend.options():
            assert isinstance(field.metadata["flag"], base.Flag)
            assert field.name not in OWN_FLAGS
        for method in ("check", "emit"):
            assert getattr(backend, method) is not getattr(base.Backend, method), (name, method)
    assert [(name, [b for b, _ in declared]) for name, declared in declared_options().items()] \
        == [("delivery", ["lava", "nest", "nir", "reference"]), ("mapping", ["lava", "nir"]),
            ("connectivity", ["nest"]), ("poisson", ["nest"]), ("record_neurons", ["nest"]),
            ("allow_lossy", ["nir"])]


def test_a_built_in_backend_is_imported_alone():
    """``get_backend("reference")`` (what ``snnc run`` asks for) loads the reference package
    only: not the other backends, not the entry points; every built-in package is named after
    its backend (what that shortcut relies on), and the shortcut gives the registry's class."""
    code = ("import sys; from snnc.backends import get_backend, BUILTIN; "
            "get_backend('reference'); "
            "print(sorted(p for p in BUILTIN if p in sys.modules), "
            "'importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['snnc.backends.reference']", "False"]
    for package in BUILTIN:
        name = package.rsplit(".", 1)[1]
        assert registry()[name].name == name and backend_class(name) is registry()[name]
    with pytest.raises(KeyError):
        backend_class("loihi9")


def test_old_names_still_answer():
    from snnc.backends import MAPPED
    from snnc.backends import REGISTRY as BACKENDS
    assert MAPPED == api.MAPPED == ("lava", "nir")
    assert list(BACKENDS) == ["lava", "nest", "nir", "reference", "xylo"]
    assert get_backend("lava").delivery == "next_step"
    assert get_backend("nir", allow_lossy=True).allow_lossy is True


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="argparse formats help differently "
                                                      "from Python 3.13 on")
def test_compile_help_is_pinned(capsys, monkeypatch):
    """Built from the backends' declared options; issue 15 added --weights, --no-learn and
    --allow-lossy NAMES (the help was byte-identical before, through issue 14)."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as stop:
        main(["compile", "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == COMPILE_HELP


def test_the_cli_and_the_api_name_no_backend():
    """Every backend is reached through the registry: no backend's name in snnc compile or in
    the API's backend functions."""
    names = set(registry())
    api_source = inspect.getsource(api)
    functions = [node for node in ast.parse(api_source).body if isinstance(node, ast.FunctionDef)
                 and node.name in ("emit_artifacts", "backend_options", "summary_lines")]
    sources = [ast.parse((ROOT / "compiler" / "cli" / "compile.py").read_text()), *functions]
    found = [node.value for tree in sources for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and node.value in names - {"reference"}]
    assert found == [] and len(functions) == 3


def test_a_missing_extra_is_a_usage_error(tmp_path, capsys, monkeypatch, fresh_registry):
    nir_backend = registry()["nir"]
    monkeypatch.setattr(nir_backend, "extra_modules", ("snnc_no_such_module",))
    status, _, err = run(capsys, "compile", STDP, "--emit", "nir", "-o", str(tmp_path / "o"))
    assert status == 2
    assert "backend 'nir' needs: pip install 'snnc[nir]' (snnc_no_such_module is missing)" in err
    assert not (tmp_path / "o").exists()


def test_the_api_runs_the_passes_a_backend_requires():
    """A lowered network that no pass checked gets check-locality (and what it needs) before
    the Lava backend reads its reports; the files equal those of the checked network."""
    diag = Diagnostics()
    lowered = snnc.compile_file(STDP, diag, passes=())
    assert ran(lowered) == []
    files = api.emit_artifacts(lowered, "lava", diag)
    assert ran(lowered) == ["check-rule-variables", "check-locality"]
    checked = api.compile_network(STDP, diag)
    assert files == api.emit_artifacts(checked, "lava", diag) and not diag.has_errors
    assert ran(checked) == list(DEFAULT_PIPELINE)


# -- a backend from outside snnc ---------------------------------------------------------------
def test_a_backend_package_registers_itself(dummy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert list(registry()) == ["dummy", "lava", "nest", "nir", "reference", "xylo"]
    with pytest.raises(SystemExit):
        main(["compile", "--help"])
    help_text = capsys.readouterr().out
    assert "--emit {dummy,lava,nest,nir,reference,xylo}" in help_text
    assert "--greeting WORD       dummy: the first word of populations.txt" in help_text
    assert "--shout               dummy: write populations.txt in capitals" in help_text
    assert "--mapping JSON        lava, nir: record" in help_text

    out_dir = tmp_path / "out"
    status, out, err = run(capsys, "compile", STDP, "--emit", "dummy", "--greeting", "hi",
                           "--shout", "--delivery", "next_step", "-o", str(out_dir))
    assert (status, err) == (0, "")
    assert out == f"{STDP}: wrote dummy artifacts to {out_dir}\n  3 words\n"
    assert (out_dir / "populations.txt").read_text() == "HI OUT NEXT_STEP\n"
    assert (out_dir / ".snnc-output").exists()


def test_a_backend_packages_check_and_flags_follow_the_contract(dummy, tmp_path, capsys):
    status, _, err = run(capsys, "compile", STDP, "--emit", "dummy", "--greeting", "boom",
                         "-o", str(tmp_path / "a"))
    assert status == 1 and "E599" in err and not (tmp_path / "a").exists()
    status, _, err = run(capsys, "compile", STDP, "--emit", "reference", "--shout",
                         "-o", str(tmp_path / "b"))
    assert status == 2 and err == "snnc compile: --shout goes with --emit dummy\n"
    status, _, err = run(capsys, "compile", STDP, "--emit", "dummy", "--mapping", "m.json",
                         "-o", str(tmp_path / "c"))
    assert status == 2 and err == "snnc compile: --mapping goes with --emit lava or nir\n"


def test_the_snnc_command_finds_an_installed_backend(dummy, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(dummy), os.environ.get(
        "PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-m", "snnc", "compile", STDP, "--emit", "dummy",
                             "-o", str(tmp_path / "out")], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "populations.txt").read_text() == "hello out same_step\n"


# -- the passes' prerequisites -----------------------------------------------------------------
def test_every_pass_declares_registered_prerequisites():
    for name in REGISTRY:
        assert get_pass(name).name == name
        assert set(requirements(name)) <= set(REGISTRY) - {name}
    check_order(DEFAULT_PIPELINE)
    check_order(DEFAULT_PIPELINE + MAPPING_PIPELINE)
    assert requirements("check-target") == ("check-locality",)
    assert requirements("place") == ("partition",)


def test_a_pass_before_its_prerequisites_is_an_internal_error():
    diag = Diagnostics()
    lowered = snnc.compile_file(STDP, diag, passes=())
    with pytest.raises(PassOrderError, match="pass 'check-target' needs 'check-locality' to "
                                             "run before it"):
        run_pipeline(lowered, diag, ["check-rule-variables", "check-target", "check-locality"])
    assert ran(lowered) == []  # refused before any pass ran
    with pytest.raises(PassOrderError, match="'partition'"):
        snnc.compile_file(STDP, diag, passes=DEFAULT_PIPELINE + ("place",))


def test_prerequisites_that_ran_before_count():
    diag = Diagnostics()
    net = snnc.compile_file(STDP, diag, passes=("check-rule-variables", "check-locality"))
    assert run_pipeline(net, diag, ["check-target"]) is net and not diag.has_errors
    assert ran(net) == ["check-rule-variables", "check-locality", "check-target"]


def test_schedule_adds_and_orders_the_prerequisites():
    assert schedule(["place"]) == ["check-rule-variables", "check-locality", "check-target",
                                   "check-shapes", "check-fit", "partition", "place"]
    assert schedule(["check-target", "check-locality"]) == [
        "check-rule-variables", "check-locality", "check-target"]
    assert schedule(["check-target"], done=["check-rule-variables", "check-locality"]) == [
        "check-target"]
    assert schedule(DEFAULT_PIPELINE) == list(DEFAULT_PIPELINE)


def test_a_cycle_of_prerequisites_is_refused(monkeypatch):
    from snnc.passes.check_shapes import CheckShapes
    monkeypatch.setattr(CheckShapes, "requires", ("check-fit",))
    with pytest.raises(PassOrderError, match="cycle: check-fit -> check-shapes -> check-fit"):
        schedule(["check-fit"])


def test_snnc_passes_lists_every_pass_with_its_prerequisites(capsys):
    status, out, _ = run(capsys, "passes")
    lines = out.splitlines()
    assert status == 0 and sorted(line.split()[0] for line in lines) == sorted(REGISTRY)
    assert [line.split()[0] for line in lines] == [*DEFAULT_PIPELINE, *MAPPING_PIPELINE]
    assert textwrap.dedent("""\
        place                  place cores on the mesh with the least hop-weighted traffic \
(after partition)""") in lines
