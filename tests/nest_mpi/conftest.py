"""The MPI tier: NEST 3.10 built with MPI from its sdist (``.ci/nest_mpi.sh`` builds it once per
machine into ``~/.cache/snnc/nest-3.10.0-mpi``; README, "NEST with MPI").

Its interpreter is ``$SNNC_NEST_MPI_PYTHON``, else the cached venv's. Without one (or without
``mpirun``) every test here is skipped with the reason, unless ``SNNC_REQUIRE_NEST_MPI=1`` (set by
CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT = (pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
           / "snnc" / "nest-3.10.0-mpi" / "bin" / "python")


def mpi_python() -> str | None:
    candidate = os.environ.get("SNNC_NEST_MPI_PYTHON") or str(DEFAULT)
    return candidate if os.path.exists(candidate) and shutil.which("mpirun") else None


def mpi_environment() -> dict[str, str]:
    """The environment for mpirun (Open MPI refuses root without the two variables)."""
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if HERE in pathlib.Path(str(item.path)).resolve().parents]
    if not ours or mpi_python() is not None:
        return
    reason = ("no NEST built with MPI (run .ci/nest_mpi.sh, or set SNNC_NEST_MPI_PYTHON; README, "
              "'NEST with MPI') or no mpirun")
    if os.environ.get("SNNC_REQUIRE_NEST_MPI") == "1":
        raise pytest.UsageError("SNNC_REQUIRE_NEST_MPI=1 but " + reason)
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def mpi() -> tuple[str, dict[str, str]]:
    """(the NEST-with-MPI venv's Python, the environment for mpirun)."""
    python = mpi_python()
    return python, dict(mpi_environment(), SNNC_NEST_MPI_PYTHON=python)
