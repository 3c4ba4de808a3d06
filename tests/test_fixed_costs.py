"""Fixed per-process costs (issue 18): the parser tables come from a cache file of the user's
own (snnc.frontend.grammar_cache), importing the command line loads neither networkx
nor jinja2, ``snnc check`` loads neither numpy nor the other commands' modules, ``snnc run``
of a cached network without rules loads no code generator, and the objects of a parse are not
left to the young garbage collection.

Speed itself is measured by benchmarks (tests/bench/parse_speed.py, the README's figures),
not asserted here: these tests check the behaviour of the cache."""

from __future__ import annotations

import copy
import dataclasses
import gc
import os
import pickle
import random
import re
import stat
import subprocess
import sys

import lark
import pytest
from lark import Lark

import snnc
from snnc.frontend import grammar_cache, loader
from snnc.frontend import parser as parser_module
from snnc.frontend.parser import LARK_OPTIONS, NewlinePostLexer, grammar_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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

    monkeypatch.setattr(lark, "Lark", Counting)  # grammar_cache imports it when it builds
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
assert snnc.cli.main(["check", "--quiet", "examples/cuba.snn"]) == 0
print(sorted({"networkx", "jinja2", "importlib.metadata"} & set(sys.modules)
             - ({"importlib.metadata"} if "importlib.metadata" in BEFORE else set())))
"""


def test_a_second_process_loads_the_tables_and_the_cli_imports_nothing_heavy(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    parser()  # this process stores the tables
    (stored,) = tables(tmp_path / "cache" / "snnc" / "parser")
    before = stored.stat()
    probe = subprocess.run([sys.executable, "-c", "import sys; BEFORE = set(sys.modules)\n"
                            + PROBE], capture_output=True, text=True, check=True, cwd=ROOT)
    assert probe.stdout.strip() == "[]"
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # read only


def test_stored_programs_give_the_patterns_re_gives(cache):
    """Every expression of the lexers, rebuilt from its stored program, is the pattern
    ``re.compile`` makes (the oracle): same groups, same matches on the grammar's own
    tokens; a program stored by another interpreter is not used."""
    folder, _ = cache
    parser()  # builds and stores the tables with the programs
    loaded = parser()
    patterns = grammar_cache.basic_lexers(loaded)[0].re
    assert isinstance(patterns, grammar_cache.StoredPatterns) and patterns.programs
    samples = [TEXT, "population p: LIF[4] {\n  tau_mem = 20 ms  # comment\n}\n",
               'import "lib.snn"\n', "x -> y: sparse(p = 0.1) { weight = -1.5e-3 }", "é?"]
    for pattern, flags in patterns.programs:
        rebuilt, oracle = patterns.compile(pattern, flags), re.compile(pattern, flags)
        assert rebuilt is not oracle
        assert (rebuilt.pattern, rebuilt.flags, rebuilt.groupindex) == \
            (oracle.pattern, oracle.flags, oracle.groupindex)
        for text in samples:
            for start in range(len(text)):
                got, want = rebuilt.match(text, start), oracle.match(text, start)
                assert (got and (got.span(), got.lastgroup)) == (want and (want.span(), want.lastgroup))
    assert loaded.parse(TEXT) == parser().parse(TEXT)
    stored = pickle.loads(tables(folder)[0].read_bytes())
    stored["sre"] = ("another", 0, 0, 0)
    _, other = grammar_cache.load_lark(pickle.dumps(stored))
    assert other.programs == {}  # compiled by re instead


def test_the_networkx_graph_is_built_on_demand_and_kept_in_step():
    """Checking builds no graph; asking for it gives the same nodes and projections, in
    declaration order; networks compare as before (equal only when sharing one graph)."""
    net = snnc.compile_file(os.path.join(ROOT, "examples", "cuba.snn"), snnc.Diagnostics())
    assert net._graph_slot.graph is None and net.verify()
    assert [p.name for p in net.incoming("exc")] == ["exc->exc", "inh->exc"]
    graph = net.graph
    assert list(graph.nodes) == [n.name for n in net.nodes()]
    assert [(pre, post, key) for pre, post, key in graph.edges(keys=True)] == \
        [(p.pre, p.post, p.name) for p in net.projections()]
    assert all(graph.nodes[n.name]["payload"] is n for n in net.nodes()) and net.verify()
    changed = dataclasses.replace(net.projections()[0], delay_steps=7)
    net.replace_projection(changed)
    assert graph.edges["exc", "exc", "exc->exc"]["payload"] is changed and net.verify()
    assert net.projection("exc->exc") is changed and net.incoming("exc")[0] is changed
    twin = snnc.compile_file(os.path.join(ROOT, "examples", "cuba.snn"), snnc.Diagnostics())
    assert twin != net and net == net and copy.copy(net) == net
    assert copy.deepcopy(net) != net and copy.deepcopy(net).verify()


def nesting_oracle(text: str) -> tuple[int, int, int]:
    """The nesting scan character by character (the algorithm before the compiled search)."""
    depth = best = 0
    where = (1, 1)
    line, column = 1, 0
    in_string = in_comment = escaped = False
    for ch in text:
        column += 1
        if ch == "\n":
            line, column = line + 1, 0
            in_comment = in_string = False
        elif in_comment:
            pass
        elif in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "([":
            depth += 1
            if depth > best:
                best = depth
                if best <= parser_module.MAX_NESTING + 1:
                    where = (line, column)
        elif ch in ")]":
            depth = max(depth - 1, 0)
    return best, where[0], where[1]


def test_the_nesting_scan_agrees_with_a_character_by_character_scan():
    rng = random.Random(18)
    alphabet = ["(", ")", "[", "]", '"', "\\", "\n", "#", "a", " ", "{", "é"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
             for _ in range(3000)]
    texts += ["(" * rng.randint(190, 230) + "".join(rng.choice(alphabet) for _ in range(30))
              + "[" * rng.randint(0, 50) for _ in range(30)]
    texts += ['"\\\n""(((', 'x = "a\\"(" # (((\n[(', TEXT]
    for text in texts:
        assert parser_module.deepest_nesting(text) == nesting_oracle(text), repr(text)


CHECK_PROBE = """
import sys
import snnc.cli
assert snnc.cli.main(["check", "examples/cuba.snn"]) == 0
assert snnc.cli.main(["check", "--format", "json", "examples/cuba.snn"]) == 0
print(sorted(name for name in sys.modules if name.split(".")[0] == "numpy"
             or name.startswith(("snnc.backends", "snnc.mapping", "snnc.datasets",
                                 "snnc.training"))
             or name.startswith("snnc.cli.") and name not in ("snnc.cli.check",
                                                                "snnc.cli.common",
                                                                "snnc.cli.parser")))
"""


def test_snnc_check_imports_no_numpy_and_no_other_command():
    """``snnc check`` of a network without files (examples/cuba.snn, memory estimate
    included) loads neither numpy nor the backends, the mapper, the data sets, the trainer
    or the modules of the other commands: those are imported where arrays are made."""
    probe = subprocess.run([sys.executable, "-c", CHECK_PROBE], capture_output=True,
                           text=True, check=True, cwd=ROOT)
    assert probe.stdout.splitlines()[-1] == "[]"
    assert re.search(r"\n  memory +~[\d.]+ [KMG]iB to simulate", probe.stdout)


RUN_PROBE = """import runpy, sys
sys.argv = ["snnc"] + sys.argv[1:]
try:
    runpy.run_module("snnc", run_name="__main__")
except SystemExit as done:
    code = done.code
print(sorted({"snnc.backends.reference.codegen", "snnc.backends.reference.rules",
              "snnc.backends.reference.rule_code", "jinja2", "lark"} & set(sys.modules)),
      file=sys.stderr)
sys.exit(code)
"""


def test_snnc_run_of_a_cached_network_without_rules_loads_no_code_generator(tmp_path):
    """The second ``snnc run`` of a network without learning rules (examples/cuba.snn) finds
    its lowered network and its simulation in the caches: it imports neither the parser, the
    code generator and its templates, nor the learning rules' code (the reference backend
    checks rules only where a projection has some); the first run, which generates the
    simulation, imports them."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"),
               SNNC_CACHE_DIR=str(tmp_path / "sims"))
    loaded = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", RUN_PROBE, "run",
                               os.path.join(ROOT, "examples", "cuba.snn"), "--steps", "20"],
                              capture_output=True, text=True, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        loaded.append(done.stderr.strip().splitlines()[-1])
    assert "snnc.backends.reference.codegen" in loaded[0] and "lark" in loaded[0]
    assert loaded[1] == "[]"


def test_every_command_registers_the_name_and_help_the_parser_lists():
    """The commands' modules are imported on first use; each registers the command and help
    line that ``snnc --help`` shows (snnc.cli.parser checks it and raises otherwise)."""
    from snnc.cli.parser import COMMANDS, build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    listed = {action.dest: action.help for action in commands._choices_actions}
    assert listed == {name: help for name, _, help in COMMANDS}
    for name, _, _ in COMMANDS:
        text = commands.choices[name].format_help()  # imports the module, adds its arguments
        assert text.startswith(f"usage: {parser.prog} {name}")
        assert commands.choices[name].get_default("handler") is not None


def test_the_check_s_memory_estimate_counts_the_simulator_s_index_width():
    """snnc.memory.index_bytes, computed without numpy, is the itemsize of the dtype the
    simulator gives CSR indices (snnc.ir.discrete.index_dtype, the oracle)."""
    from snnc.ir.discrete import index_dtype
    from snnc.memory import index_bytes

    for limit in (0, 1, 2 ** 15, 2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 62):
        assert index_bytes(limit) == index_dtype(limit).itemsize, limit


@pytest.mark.parametrize("integration", ["exact", "euler"])
def test_the_decay_of_a_number_is_the_decay_of_an_array_to_the_bit(integration):
    """snnc.ir.discrete.decay computes a number without numpy (what snnc check's range check
    uses) and an array with it (what the simulator's per-neuron decays use): the same bits,
    and for exact integration the C library's exp (math.exp, the oracle)."""
    import math

    import numpy as np

    from snnc.ir.discrete import decay
    from snnc.ir.nodes import Settings

    settings = Settings(dt=1e-4, integration=integration)
    taus = [2e-4, 1e-3, 3.7e-3, 0.02, 1.0, 0.0123456789]
    as_array = decay(settings, np.array(taus))
    assert as_array.dtype == np.float64
    for tau, element in zip(taus, as_array, strict=True):
        number = decay(settings, tau)
        assert type(number) is float and number == element
        assert number == (math.exp(-1e-4 / tau) if integration == "exact" else 1 - 1e-4 / tau)


def test_objects_made_while_collection_is_paused_are_not_left_to_the_young_collection():
    """After snnc's paused collection (snnc.frontend.parser.gc_paused), the objects made
    inside are in the oldest generation (the youngest one is empty, so the next collection
    does not walk them) and collection is enabled again; a program's own frozen objects stay
    frozen."""
    assert gc.isenabled()
    with parser_module.gc_paused():
        assert not gc.isenabled()
        made = [[index] for index in range(50_000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 100
    assert gc.is_tracked(made[-1]) and any(o is made[-1] for o in gc.get_objects(generation=2))
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with parser_module.gc_paused():
            more = [[index] for index in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() == frozen and len(more) == 1000
    finally:
        gc.unfreeze()
