"""The Lava tier: programs emitted by ``snnc compile --emit lava``, run by lava-nc 0.10.0.

Lava needs Python 3.10, so it lives in its own virtual environment (``.ci/run`` creates and
caches it; README, "Lava"). Its interpreter is ``$SNNC_LAVA_PYTHON``, else the cached
``~/.cache/snnc/lava-0.10.0/bin/python``. Without one every test here is skipped with the
reason, unless ``SNNC_REQUIRE_LAVA=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT = pathlib.Path.home() / ".cache" / "snnc" / "lava-0.10.0" / "bin" / "python"


def lava_python() -> str | None:
    candidate = os.environ.get("SNNC_LAVA_PYTHON") or str(DEFAULT)
    if not os.path.exists(candidate):
        return None
    probe = subprocess.run([candidate, "-c", "import lava.proc.lif.process"],
                           capture_output=True, text=True)
    return candidate if probe.returncode == 0 else None


def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if HERE in pathlib.Path(str(item.path)).resolve().parents]
    if not ours or lava_python() is not None:
        return
    reason = ("no Python 3.10 environment with lava-nc 0.10.0 (set SNNC_LAVA_PYTHON or run "
              ".ci/run once; README, 'Lava')")
    if os.environ.get("SNNC_REQUIRE_LAVA") == "1":
        raise pytest.UsageError("SNNC_REQUIRE_LAVA=1 but " + reason)
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True)


class Programs:
    """Compiles .snn files, runs them in Lava and in the reference simulator."""

    def __init__(self, folder: pathlib.Path, python: str):
        self.folder = folder
        self.python = python

    def source(self, text: str, name: str) -> pathlib.Path:
        path = self.folder / f"{name}.snn"
        path.write_text(text)
        return path

    def compile(self, path: pathlib.Path, name: str) -> pathlib.Path:
        out = self.folder / name
        result = snnc("compile", str(path), "--emit", "lava", "-o", str(out))
        assert result.returncode == 0, result.stdout + result.stderr
        return out

    def lava(self, program: pathlib.Path, steps: int, *extra: str) -> dict[str, np.ndarray]:
        output = self.folder / f"{program.name}-{len(list(self.folder.iterdir()))}.npz"
        result = subprocess.run([self.python, "run.py", "--steps", str(steps), "-o", str(output),
                                 *extra], cwd=program, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return recordings.load(output)  # spikes saved as events, also as bool arrays

    def reference(self, source: pathlib.Path, steps: int, record: str,
                  *extra: str) -> dict[str, np.ndarray]:
        output = self.folder / f"reference-{len(list(self.folder.iterdir()))}.npz"
        result = snnc("run", str(source), "--delivery", "next_step", "--steps", str(steps),
                      "--record", record, "-o", str(output), *extra)
        assert result.returncode == 0, result.stdout + result.stderr
        return recordings.load(output)  # spikes saved as events, also as bool arrays


@pytest.fixture
def programs(tmp_path) -> Programs:
    python = lava_python()
    assert python is not None
    return Programs(tmp_path, python)


@pytest.fixture(scope="session")
def lava_interpreter() -> str:
    """The Lava environment's Python, for module-scoped fixtures (`programs` is per test)."""
    python = lava_python()
    assert python is not None
    return python
