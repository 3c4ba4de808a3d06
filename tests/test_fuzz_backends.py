"""Fuzzing the backends: mutated examples that pass ``snnc check`` must never be internal errors.

The seeds are the shipped examples (``examples/**/*.snn``, globbed when the test runs). Each
case applies one to three structural mutations to a seed, chosen by a generator seeded with the
case number (the same mutants on every run): swap a projection's endpoints, point an endpoint at
another population or input, change a size, a number, a neuron model, a connectivity, the rule
of a ``learn`` call or whether a layer is a population or a readout, delete or duplicate a line,
rename a population (everywhere, or at one place only). A mutant that
``snnc check`` accepts is pushed through the simulator (``snnc run``, a few steps), every
backend (``snnc compile --emit reference``, ``nir``, ``nir --allow-lossy``, ``lava``) and the
mapper (``snnc map --target loihi2``), all in-process through :func:`snnc.cli.main` with
outputs in the test's own folder.

The property, for every command: the exit status is not 3 (internal error) and stderr shows no
traceback. A mutant that check refuses is fine (the front end's own fuzzer covers it), as long
as check itself does not crash.

The known crasher of issue 13 (``examples/decolle.snn`` with ``events -> layer1`` turned into
``layer1 -> layer1``: an input that drives nothing) is an explicit case.

Simulations run without numba (``SNNC_NO_NUMBA``: the numpy kernels are the same computation),
so the run is not dominated by compiling kernels for every mutant.
"""

from __future__ import annotations

import functools
import random
import re
import shutil
from pathlib import Path

import pytest

from snnc.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: mutants per run; about half pass check (each then costs six commands)
MUTANTS = 200
STEPS = "2"

MODELS = ["LIF", "CubaLIF", "ALIF", "IF", "LI", "CubaLI"]
CONNECTIVITIES = ["dense", "one_to_one", "sparse(p = 0.3)", "fixed_fan_in(k = 2)",
                  "sparse(p = 1)", "fixed_fan_in(k = 1)"]
RULES = ["stdp", "rstdp", "eprop", "eprop_leaky", "eprop_alif", "superspike", "decolle", "ostl",
         "rflo", "delta", "rtrl", "bptt"]
SIZES = ["1", "2", "3", "5", "10", "17", "64"]

PROJECTION = re.compile(r"^(\s*)([A-Za-z_]\w*)(\s*->\s*)([A-Za-z_]\w*)")
DECLARED = re.compile(r"^\s*(?:population|input|readout)\s+([A-Za-z_]\w*)", re.M)
SIZE = re.compile(r"\[(\d+)\]")
NUMBER = re.compile(r"(?<![\w.])(\d+\.\d*|\d+)(?:[eE][+-]?\d+)?(?![\w.\[])")
MODEL = re.compile(r"\b(LIF|CubaLIF|ALIF|IF|LI|CubaLI)\b")
LEARN = re.compile(r"\blearn\s+([A-Za-z_]\w*)\s*\(")
KIND = re.compile(r"^\s*(population|readout)\b", re.M)
CONNECTIVITY = re.compile(r"(->\s*[A-Za-z_]\w*(?:\s+as\s+\w+)?\s*:\s*)"
                          r"(dense|one_to_one|sparse\([^)]*\)|fixed_fan_in\([^)]*\))")


#: seeds made smaller before mutating (same structure; the Lava emitter expands convolutions,
#: which takes seconds at the example's full size)
SHRINK = {"conv_events.snn": [("34, 34", "8, 8"), ("17, 17", "4, 4"), ("9, 9", "2, 2")]}


@functools.lru_cache(maxsize=1)
def seeds() -> tuple[tuple[str, str], ...]:
    """(path relative to examples/, text) of every example, shrunk as :data:`SHRINK` says."""
    files = sorted(EXAMPLES.rglob("*.snn"))
    assert files, "no examples found"
    out = []
    for f in files:
        relative, text = f.relative_to(EXAMPLES).as_posix(), f.read_text(encoding="utf-8")
        for old, new in SHRINK.get(relative, []):
            assert old in text, f"{relative} no longer holds {old!r}: update SHRINK"
            text = text.replace(old, new)
        out.append((relative, text))
    return tuple(out)


# ---- mutations: each takes the text and a generator, returns new text (or the same) ---------

def _lines_matching(lines, pattern):
    return [i for i, line in enumerate(lines) if pattern.search(line)]


def swap_endpoints(text, rng):
    lines = text.split("\n")
    found = _lines_matching(lines, PROJECTION)
    if not found:
        return text
    i = rng.choice(found)
    lines[i] = PROJECTION.sub(lambda m: f"{m[1]}{m[4]}{m[3]}{m[2]}", lines[i], count=1)
    return "\n".join(lines)


def redirect_endpoint(text, rng):
    names = DECLARED.findall(text)
    lines = text.split("\n")
    found = _lines_matching(lines, PROJECTION)
    if not found or not names:
        return text
    i, name, which = rng.choice(found), rng.choice(names), rng.choice((2, 4))

    def edit(m):
        parts = [m[1], m[2], m[3], m[4]]
        parts[which - 1] = name
        return "".join(parts)
    lines[i] = PROJECTION.sub(edit, lines[i], count=1)
    return "\n".join(lines)


def _replace_one(text, rng, pattern, choices, group=0):
    matches = list(pattern.finditer(text))
    if not matches:
        return text
    m = rng.choice(matches)
    start, end = m.span(group)
    return text[:start] + rng.choice(choices) + text[end:]


def change_size(text, rng):
    return _replace_one(text, rng, SIZE, [f"[{s}]" for s in SIZES])


def change_number(text, rng):
    matches = list(NUMBER.finditer(text))
    if not matches:
        return text
    m = rng.choice(matches)
    value = float(m.group(0))
    new = rng.choice([0, 1, 2, value * 2, value / 2, value * 10, value + 1, 1e-3, 0.5, 100])
    return text[:m.start()] + f"{new:g}" + text[m.end():]


def change_model(text, rng):
    return _replace_one(text, rng, MODEL, MODELS)


def change_connectivity(text, rng):
    return _replace_one(text, rng, CONNECTIVITY, CONNECTIVITIES, group=2)


def delete_line(text, rng):
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]
    if candidates:
        del lines[rng.choice(candidates)]
    return "\n".join(lines)


def duplicate_line(text, rng):
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]
    if candidates:
        i = rng.choice(candidates)
        lines.insert(i, lines[i])
    return "\n".join(lines)


def rename(text, rng):
    names = DECLARED.findall(text)
    if not names:
        return text
    old = rng.choice(names)
    new = rng.choice(["renamed", "x", old + "_2", "net", "pre", "post", "w"])
    pattern = re.compile(rf"(?<![\w.]){re.escape(old)}(?!\w)")
    if rng.random() < 0.7:  # consistently
        return pattern.sub(new, text)
    return _replace_one(text, rng, pattern, [new])


def change_rule(text, rng):
    """Another rule in a ``learn`` call, its arguments kept (often refused by check, which is fine)."""
    return _replace_one(text, rng, LEARN, RULES, group=1)


def change_kind(text, rng):
    """A population becomes a readout or the other way round."""
    return _replace_one(text, rng, KIND, ["population", "readout"], group=1)


MUTATIONS = [swap_endpoints, swap_endpoints, redirect_endpoint, redirect_endpoint, change_size,
             change_number, change_model, change_connectivity, delete_line, duplicate_line, rename,
             change_rule, change_kind]


def mutant(index: int) -> tuple[str, str, list[str]]:
    """The ``index``-th mutant: (seed path, text, names of the mutations applied)."""
    rng = random.Random(f"snnc-backend-fuzz-{index}")
    path, text = rng.choice(seeds())
    applied = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        mutation = rng.choice(MUTATIONS)
        text = mutation(text, rng)
        applied.append(mutation.__name__)
    return path, text, applied


# ---- running -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def example_tree(tmp_path_factory):
    """A copy of examples/ (mutants are written beside their seed, so imports resolve)."""
    tree = tmp_path_factory.mktemp("fuzz-examples") / "examples"
    shutil.copytree(EXAMPLES, tree, ignore=shutil.ignore_patterns("results", "*.png", "*.py"))
    return tree


@pytest.fixture(autouse=True)
def quiet_environment(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fuzz-cache"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path_factory.getbasetemp() / "mpl"))
    monkeypatch.delenv("SNNC_DEBUG", raising=False)


def backend_commands(program: str, out: Path) -> list[list[str]]:
    return [
        ["run", program, "--steps", STEPS, "-o", str(out / "run.npz")],
        ["compile", program, "--emit", "reference", "-o", str(out / "reference")],
        ["compile", program, "--emit", "nir", "-o", str(out / "nir")],
        ["compile", program, "--emit", "nir", "--allow-lossy", "-o", str(out / "nir-lossy")],
        ["compile", program, "--emit", "lava", "-o", str(out / "lava")],
        ["map", program, "--target", "loihi2", "--no-kahip", "-o", str(out / "map")],
    ]


def call(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    status = main(argv)
    return status, capsys.readouterr().err


def push_through_backends(program: Path, out: Path, capsys, label: str) -> bool:
    """Check ``program``; when it passes, run every backend. Fails the test on an internal error.
    Returns whether check passed."""
    status, err = call(["check", str(program), "-q"], capsys)
    assert status != 3 and "Traceback" not in err, f"{label}: snnc check crashed\n{err[-2000:]}"
    if status != 0:
        return False
    crashes = []
    for argv in backend_commands(str(program), out):
        status, err = call(argv, capsys)
        if status == 3 or "Traceback (most recent call last)" in err or "internal error" in err:
            crashes.append(f"snnc {' '.join(argv)} -> exit {status}\n{err[-1500:]}")
    assert not crashes, f"{label}: checks, then crashes a backend:\n" + "\n".join(crashes) + \
        f"\n--- program ---\n{program.read_text(encoding='utf-8')}"
    return True


def test_decolle_with_an_input_that_drives_nothing(example_tree, tmp_path, capsys):
    """Issue 13: ``events -> layer1`` turned into ``layer1 -> layer1`` checked, then
    ``compile --emit nir --allow-lossy`` was exit 3."""
    text = (example_tree / "decolle.snn").read_text(encoding="utf-8")
    assert "\nevents -> layer1" in text
    program = example_tree / "decolle_self_loop.snn"
    program.write_text(text.replace("\nevents -> layer1", "\nlayer1 -> layer1", 1), encoding="utf-8")
    assert push_through_backends(program, tmp_path, capsys, "decolle self loop"), \
        "the mutant is expected to pass check"


@pytest.mark.parametrize("index", range(MUTANTS))
def test_mutant_never_crashes_a_backend(index, example_tree, tmp_path, capsys):
    seed, text, applied = mutant(index)
    program = example_tree / Path(seed).parent / f"mutant_{index}.snn"
    program.write_text(text, encoding="utf-8")
    try:
        push_through_backends(program, tmp_path, capsys, f"mutant {index} of {seed} ({', '.join(applied)})")
    finally:
        program.unlink()


def test_enough_mutants_pass_check(example_tree, tmp_path, capsys):
    """The generator is useful only if a good share of its mutants reach the backends."""
    passed = 0
    for index in range(MUTANTS):
        seed, text, _ = mutant(index)
        program = example_tree / Path(seed).parent / f"count_{index}.snn"
        program.write_text(text, encoding="utf-8")
        status, _ = call(["check", str(program), "-q"], capsys)
        program.unlink()
        passed += status == 0
    assert passed >= MUTANTS // 4, f"only {passed} of {MUTANTS} mutants pass check"
