"""Data sets generated locally (no downloads), in the spike layout that ``snnc train`` reads."""
