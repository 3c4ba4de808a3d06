"""The NEST tier: programs emitted by ``snnc compile --emit nest``, run by NEST 3.10.

NEST installs as a wheel (``pip install nest-simulator==3.10.0``, the ``nest`` extra) into the
interpreter running the tests. Without it every test here is skipped with the reason, unless
``SNNC_REQUIRE_NEST=1`` (set by CI), which turns the skip into a failure. The programs run in
subprocesses with one NEST thread unless a test says otherwise (threads spin on a busy
machine).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def have_nest() -> bool:
    """NEST itself, not this folder.

    pytest puts ``tests/`` on sys.path, where this folder is a namespace package called
    ``nest``: without NEST installed, ``find_spec("nest")`` returns that namespace (no origin
    file). NEST is a regular package, so it is found only as a real ``__init__.py`` elsewhere.
    """
    spec = importlib.util.find_spec("nest")
    if spec is None or spec.origin in (None, "namespace"):
        return False
    origin = pathlib.Path(spec.origin).resolve()
    return origin.is_file() and HERE not in origin.parents


def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if HERE in pathlib.Path(str(item.path)).resolve().parents]
    if not ours or have_nest():
        return
    reason = "NEST 3.10 is not installed (pip install nest-simulator==3.10.0; README, 'NEST')"
    if os.environ.get("SNNC_REQUIRE_NEST") == "1":
        raise pytest.UsageError("SNNC_REQUIRE_NEST=1 but " + reason)
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True)


def load(path: pathlib.Path) -> dict[str, np.ndarray]:
    """The arrays of a recording; spikes saved as events also as bool arrays [steps, batch,
    *shape] under their names."""
    return recordings.load(path)


class Programs:
    """Compiles .snn files for NEST, runs them in NEST and in the reference simulator."""

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.count = 0

    def name(self, stem: str) -> pathlib.Path:
        self.count += 1
        return self.folder / f"{stem}-{self.count}"

    def source(self, text: str, name: str) -> pathlib.Path:
        path = self.folder / f"{name}.snn"
        path.write_text(text)
        return path

    def compile(self, path: pathlib.Path, *options: str) -> pathlib.Path:
        out = self.name(path.stem)
        result = snnc("compile", str(path), "--emit", "nest", "-o", str(out), *options)
        assert result.returncode == 0, result.stdout + result.stderr
        return out

    def nest(self, program: pathlib.Path, steps: int, *extra: str) -> dict[str, np.ndarray]:
        output = self.name("nest").with_suffix(".npz")
        result = subprocess.run([sys.executable, "run.py", "--steps", str(steps), "-o",
                                 str(output), *extra], cwd=program, capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return load(output)

    def reference(self, source: pathlib.Path, steps: int, *extra: str) -> dict[str, np.ndarray]:
        output = self.name("reference").with_suffix(".npz")
        result = snnc("run", str(source), "--steps", str(steps), "-o", str(output), *extra)
        assert result.returncode == 0, result.stdout + result.stderr
        return load(output)


@pytest.fixture
def programs(tmp_path) -> Programs:
    return Programs(tmp_path)
