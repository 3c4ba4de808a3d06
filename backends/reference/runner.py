"""Running the generated simulation in-process (what ``snnc run`` does).

The network is emitted exactly as ``snnc compile --emit reference`` would write it, into a
private folder, and imported from there: the CLI runs the same code a user gets.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from types import ModuleType

from snnc.backends.reference import ReferenceBackend
from snnc.ir.network import Network


def cache_folder() -> str:
    """Where emitted simulations live while they run (numba caches its kernels next to them)."""
    root = os.environ.get("SNNC_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "snnc-cache")
    os.makedirs(root, exist_ok=True)
    return root


def load_simulation(net: Network, delivery: str = "same_step") -> ModuleType:
    """The generated simulation module of ``net`` (written to a folder named by its hash)."""
    files = ReferenceBackend(delivery=delivery).emit(net)
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name]
        digest.update(name.encode())
        digest.update(content if isinstance(content, bytes) else content.encode())
    folder = os.path.join(cache_folder(), "sim-" + digest.hexdigest()[:16])
    if not os.path.isdir(folder):
        staging = tempfile.mkdtemp(dir=cache_folder())
        for name, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(os.path.join(staging, name), mode) as handle:
                handle.write(content)
        try:
            os.rename(staging, folder)
        except OSError:  # another process won the race; use its copy
            pass
    module_name = "snnc_simulation_" + os.path.basename(folder).replace("-", "_")
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name,
                                                  os.path.join(folder, "simulation.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
