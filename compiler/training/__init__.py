"""Training a network with the learning rules of its .snn source (``snnc train``).

``data`` reads the data sets, ``setup`` decides how a network learns (online rules in the
generated simulation, or an exact-gradient oracle), ``engines`` run one mini-batch,
``trainer`` runs the epochs, ``archive`` writes checkpoints and logs, ``curves`` draws them.
"""
