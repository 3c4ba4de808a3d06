"""The peer tier needs torch, snnTorch and Norse (README, "Equivalence with other toolchains").

Without them every test in this folder is skipped, with the reason, instead of failing; nothing
else is skipped here. The imports are tried only when a test of this folder is collected, so other
test runs do not pay for importing torch.
"""

import importlib
import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PEERS = ("torch", "nir", "nirtorch", "snntorch", "norse")


def missing_peers() -> list[str]:
    missing = []
    for name in PEERS:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a broken install counts as missing
            missing.append(f"{name} ({type(error).__name__}: {error})")
    return missing


def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if HERE in pathlib.Path(str(item.path)).resolve().parents]
    if not ours:
        return
    missing = missing_peers()
    if not missing:
        return
    reason = ("peer toolchains not importable: " + ", ".join(missing) + "; install them as the "
              "README's 'Equivalence with other toolchains' says")
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))
