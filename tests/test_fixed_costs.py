"""Fixed per-process costs (issue 18): the parser tables come from a cache file of the user's
own (snnc.frontend.grammar_cache), and importing the command line loads neither networkx
nor jinja2.

Speed itself is measured by benchmarks (tests/bench/parse_speed.py, the README's figures),
not asserted here: these tests check the behaviour of the cache."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from lark import Lark

from snnc.frontend import grammar_cache, loader
from snnc.frontend.parser import LARK_OPTIONS, NewlinePostLexer, grammar_text

TEXT = "network tiny {\n  dt = 1 ms\n}\ninput a[3]: poisson(rate = 5 Hz)\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache home; counts the parsers built (not loaded) by the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    built = []

    class Counting(Lark):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(grammar_cache, "Lark", Counting)
    return tmp_path / "home-cache" / "snnc" / "parser", built


def parser():
    return grammar_cache.cached_lark(grammar_text(), postlex=NewlinePostLexer(), **LARK_OPTIONS)


def tables(folder) -> list:
    return sorted(p for p in folder.iterdir() if p.name.startswith(grammar_cache.PREFIX))


def test_the_tables_are_stored_once_then_loaded(cache):
    folder, built = cache
    first = parser()
    assert built == [1]
    (stored,) = tables(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not stored.stat().st_mode & 0o077
    assert sorted(os.listdir(folder)) == [stored.name]  # no staging file left
    second = parser()
    assert built == [1]  # loaded, not built
    assert isinstance(second.options.postlex, NewlinePostLexer)
    assert second.parse(TEXT) == first.parse(TEXT)


def test_a_corrupt_cache_file_is_rebuilt_not_an_error(cache):
    folder, built = cache
    parser()
    (stored,) = tables(folder)
    for garbage in (b"", b"not a pickle", stored.read_bytes()[:1000]):
        stored.write_bytes(garbage)
        assert parser().parse(TEXT).data == "start"
        assert stored.stat().st_size > 1000  # rewritten whole
    count = len(built)
    parser()
    assert len(built) == count  # the rewritten file is used


def test_a_cache_that_cannot_be_written_is_skipped_silently(tmp_path, monkeypatch, cache):
    folder, built = cache
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # the folder cannot be created
    assert parser().parse(TEXT).data == "start"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored: ~/.cache would be used
    assert grammar_cache.cache_folder().startswith(os.path.expanduser("~"))


def test_a_folder_or_file_others_could_write_is_never_read(tmp_path, monkeypatch, cache):
    folder, built = cache
    parser()
    (stored,) = tables(folder)
    folder.chmod(0o777)  # writable by others: neither read nor written
    parser()
    assert len(built) == 2
    folder.chmod(0o700)
    planted = tmp_path / "planted.pickle"
    planted.write_bytes(stored.read_bytes())
    stored.unlink()
    stored.symlink_to(planted)  # a link is not followed, and is replaced by our own file
    parser()
    assert len(built) == 3 and not stored.is_symlink()


def test_the_file_name_follows_grammar_options_and_versions():
    grammar = grammar_text()
    key = grammar_cache.digest(grammar, dict(LARK_OPTIONS, postlex=NewlinePostLexer()))
    assert key == grammar_cache.digest(grammar, dict(LARK_OPTIONS, postlex=NewlinePostLexer()))
    assert key != grammar_cache.digest(grammar + "\n// changed\n", dict(LARK_OPTIONS))
    assert key != grammar_cache.digest(grammar, dict(LARK_OPTIONS, propagate_positions=False))


def test_the_standard_library_is_parsed_once_then_loaded_equal(cache, monkeypatch):
    folder, _ = cache
    parsed, original = [], loader.parse_stdlib

    def parse():
        parsed.append(1)
        return original()

    monkeypatch.setattr(loader, "parse_stdlib", parse)
    loader.stdlib_modules.cache_clear()
    try:
        first = loader.stdlib_modules()
        (stored,) = folder.glob(grammar_cache.STDLIB_CACHE + "*")
        loader.stdlib_modules.cache_clear()
        assert loader.stdlib_modules() == first == original()
        assert len(parsed) == 1  # the second call loaded the file
        stored.write_bytes(b"garbage")
        loader.stdlib_modules.cache_clear()
        assert loader.stdlib_modules() == first and len(parsed) == 2
    finally:
        loader.stdlib_modules.cache_clear()
    texts = [text for pair in loader.stdlib_sources() for text in pair]
    key = grammar_cache.source_digest(texts, loader.PARSING_MODULES)
    assert key != grammar_cache.source_digest([*texts, "rule extra {}"], loader.PARSING_MODULES)
    assert grammar_cache.source_digest(texts, ["snnc.no_such_module"]) is None  # not cached


PROBE = """
import sys
import snnc.cli
from snnc.frontend.parser import get_parser
get_parser()
print(sorted({"networkx", "jinja2"} & set(sys.modules)))
"""


def test_a_second_process_loads_the_tables_and_the_cli_imports_nothing_heavy(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    parser()  # this process stores the tables
    (stored,) = tables(tmp_path / "cache" / "snnc" / "parser")
    before = stored.stat()
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                           check=True)
    assert probe.stdout.strip() == "[]"
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # read only
