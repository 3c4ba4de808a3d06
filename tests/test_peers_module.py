"""snnc.peers without the peers: a missing peer is a clear message (the peers themselves run
it in tests/peers)."""

import importlib

import numpy as np
import pytest

from snnc import peers


def test_a_missing_peer_names_the_module_and_the_install(monkeypatch):
    real = importlib.import_module

    def without_norse(name, *args):
        if name == "norse":
            raise ModuleNotFoundError("No module named 'norse'")
        return real(name, *args)

    monkeypatch.setattr(peers.importlib, "import_module", without_norse)
    with pytest.raises(peers.PeerMissing, match=r"needs .*norse \(ModuleNotFoundError.*"
                                                r"pip install torch==2\.13\.0"):
        peers.run("graph.nir", np.zeros((3, 1, 2)), peer="norse")
    assert issubclass(peers.PeerMissing, ImportError)


def test_an_unknown_peer_is_named():
    with pytest.raises(ValueError, match="unknown peer 'lava': choose from norse, snntorch"):
        peers.require("lava")


def test_the_layers_place_the_module_on_top():
    from test_layers import LAYERS, TOP
    assert "peers" in TOP and LAYERS["snnc.peers"] == 5
