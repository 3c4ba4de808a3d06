"""Mapping onto cores: how a network fits a chip (docs/targets.md).

One job per module:

- :mod:`~snnc.mapping.graph`: the network as mapping sees it (neurons, rates, synapse sets);
- :mod:`~snnc.mapping.capacity`: the cost model, what a core holding some neurons needs;
- :mod:`~snnc.mapping.assignment`: which core holds each neuron, and its slices;
- :mod:`~snnc.mapping.traffic`: remote packets and the core-to-core traffic matrix;
- :mod:`~snnc.mapping.partition` and :mod:`~snnc.mapping.grow`: splitting into cores;
- :mod:`~snnc.mapping.speck`: Speck's layers onto its cores, as sinabs assigns them;
- :mod:`~snnc.mapping.place`: cores onto the mesh, XY routing, link loads;
- :mod:`~snnc.mapping.report` and :mod:`~snnc.mapping.picture`: the summary, mapping.json, PNG.
"""
