"""samna, SynSense's closed driver, answered by empty modules, for the tests and benchmarks
that import Rockpool's Xylo packages: they import samna at module level but neither the
simulator nor the mapper calls it (docs/synsense.md, section 4). samna on the package registry
is a stub that downloads the real package at import time, so it is never installed here."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from unittest import mock


class SamnaStub(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers ``import samna...`` with MagicMock modules."""

    def find_spec(self, name, path, target=None):
        if name == "samna" or name.startswith("samna."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = mock.MagicMock()
        module.__name__, module.__path__, module.__spec__ = spec.name, [], spec
        return module

    def exec_module(self, module):
        pass


@contextlib.contextmanager
def samna_stubbed():
    """The stub for the duration of the imports; afterwards neither the finder nor the mock
    modules remain, so nothing imported later sees a samna."""
    finder = SamnaStub()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == "samna" or n.startswith("samna.")]:
            del sys.modules[name]
