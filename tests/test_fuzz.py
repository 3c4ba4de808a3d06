"""Fuzzing the front end: mutated examples must give a Summary or errors, never a crash.

The seeds are every shipped example (``examples/**/*.snn``, globbed when the test runs) and
every standard-library file. Each case applies one to four mutations to a seed: token edits
(delete, duplicate, swap, replace with keywords or punctuation), character and span edits,
truncation, random and awkward unicode (NUL, combining marks, bidi controls, emoji, CR, tabs,
form feeds, line separators, lone surrogates), huge and tiny numbers, nesting 50-3000 levels
deep, arithmetic towers (exponents and units that grow every level), random expressions in
place of values, very long lines, imports of awkward files, and lines spliced in from other
seeds. The text goes through ``snnc.check_text``; in a second test it is encoded (UTF-8, BOM,
UTF-16, Latin-1), byte-mutated, written to a file and read back with ``snnc.check_file``.
Every check runs in a fresh thread, so recursion-depth failures do not depend on how deep
pytest and hypothesis happen to be in the stack (see :func:`in_fresh_stack`).

The property, for every case:

* checking raises nothing; it returns a Summary (and reports no errors) or None (and reports
  at least one error);
* every diagnostic with a span points into its file: 1 <= line <= lines + 1, column >= 1, and
  the primary diagnostic's column is at most the length of its line + 1 (lines are separated
  by '\\n' only, as in the grammar; columns count code points, or bytes in a file that is not
  UTF-8);
* rendering each diagnostic (and turning it into JSON) raises nothing.

The runs are derandomized (same cases on every run, no example database), so a failure in CI
reproduces locally.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import snnc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
STDLIB = Path(snnc.__file__).resolve().parent / "stdlib"

#: the file every case is checked as, inside the fuzz work directory
ROOT_NAME = "fuzz_root.snn"

TEXT_CASES = 1500
BYTES_CASES = 700

FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    report_multiple_bugs=False,
    # no explain phase: it re-runs variations of a failing case, slow with inputs this large
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example, HealthCheck.filter_too_much],
)


# ---- seeds ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def seeds() -> tuple[str, ...]:
    """The texts of all examples and stdlib files (read once, when the first case is drawn)."""
    files = sorted(EXAMPLES.rglob("*.snn")) + sorted(STDLIB.glob("*.snn"))
    texts = tuple(f.read_text(encoding="utf-8") for f in files)
    assert texts, "no .snn seeds found"
    return texts


@functools.lru_cache(maxsize=1)
def seed_lines() -> tuple[str, ...]:
    return tuple(sorted({line for text in seeds() for line in text.split("\n") if line.strip()}))


# ---- a tokenizer close to the grammar's terminals ------------------------------------------

TOKEN = re.compile(r'''
    (?P<string>"(?:[^"\\\n]|\\[^\n])*")
  | (?P<comment>\#[^\n]*)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<arrow>->)
  | (?P<newline>\r?\n)
  | (?P<space>[ \t\f\r]+)
  | (?P<other>.)
''', re.X | re.S)


def tokenize(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup, m.group()) for m in TOKEN.finditer(text)]


def significant(tokens: list[tuple[str, str]], kinds: tuple[str, ...] | None = None) -> list[int]:
    """Indices of tokens that are not blanks or comments (optionally only of the given kinds)."""
    return [i for i, (kind, _) in enumerate(tokens)
            if kind not in ("space", "newline", "comment") and (kinds is None or kind in kinds)]


VALUE_STARTERS = {"=", "rate", "learn", "loss", "receptor", ":"}


def value_spans(tokens: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """Token ranges [start, end) of the values after '=', ':', 'rate', 'learn', 'loss', ...

    A value ends at a newline, ',', ')', ']' or '}' outside the brackets it opened itself.
    """
    spans = []
    for i, (_, value) in enumerate(tokens):
        if value not in VALUE_STARTERS:
            continue
        start = i + 1
        while start < len(tokens) and tokens[start][0] == "space":
            start += 1
        if start < len(tokens) and tokens[start][1] == "=":
            continue
        depth, end = 0, start
        while end < len(tokens):
            kind, value = tokens[end]
            if value in ("(", "["):
                depth += 1
            elif value in (")", "]", ",", "}", "{") or kind in ("newline", "comment"):
                if depth == 0 or value in ("}", "{"):
                    break
                if value in (")", "]"):
                    depth -= 1
            end += 1
        while end > start and tokens[end - 1][0] == "space":
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def join(tokens: list[tuple[str, str]]) -> str:
    return "".join(value for _, value in tokens)


# ---- vocabularies of awkward material ------------------------------------------------------

KEYWORDS = ["import", "network", "neuron", "input", "population", "readout", "rule", "loss",
            "record", "target", "rate", "learn", "receptor", "trace", "signal", "let", "dw",
            "on", "as"]
WORDS = KEYWORDS + [
    "pre", "post", "w", "net", "pre.s", "post.v", "LIF", "ALIF", "LI", "CubaLIF", "dense",
    "sparse", "one_to_one", "fixed_fan_in", "conv2d", "poisson", "stdp", "eprop", "lowpass",
    "surrogate", "decay", "ms", "Hz", "mV", "s", "kHz", "us", "V", "exact", "euler", "dt",
    "seed", "integration", "duration", "weight", "delay", "bounds", "optimizer", "adam", "sgd",
    "file", "uniform", "normal", "mse", "cross_entropy", "max_over_time", "last", "reference",
    "loihi2", "base", "learning", "sqrt", "exp", "log", "random_feedback", "reward",
    "local_readout", "tau_mem", "threshold", "reset", "subtract", "zero", "lr", "readout",
    "__init__", "_", "None", "True", "nan", "inf",
]
PUNCTUATION = ["->", "{", "}", "(", ")", "[", "]", ",", ":", "=", ".", "^", "+", "-", "*", "/",
               "#", '"', "\\", "..", "=>", "<-", "-->", "::", "{}", "()", "[]", "on pre:",
               "dw =", "@", "$", "%", "!", "?", ";", "'", "`", "~", "|", "&", "<", ">", "==",
               "**", "-.", "1.", ".5", '""', '"\\"', "{\n", "\n}", "(\n", "\n)", ",,", "= ="]
SPECIAL_CHARS = [
    "\x00", "\u0301", "e\u0301", "\u0300\u0301\u0302\u0303", "\u200b", "\u200c", "\u200d",
    "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\U0001F600",
    "\U0001F469\u200d\U0001F469\u200d\U0001F467", "\U0001F1E9\U0001F1EA", "\r", "\r\n", "\n",
    "\n\r", "\t", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\ufeff",
    "\ufffe", "\uffff", "\u00a0", "\u3000", "\x1b[31m", "\x7f", "\x08", "\u00e9", "\u00df",
    "\u0130", "\u0660\u0661", "\u00b2", "\uff50\uff4f\uff50", "\u03bc", "\ud800", "\udfff",
    "\U0010ffff", "\ue000", "\u0085", "\r\r\r", "\t\t\t\t",
]
LONG_NUMBERS = [
    "1e999", "-1e999", "1e-999", "99999999999999999999999", "-99999999999999999999999",
    "1e308", "1.7976931348623157e308", "1.8e308", "4.9e-324", "2.5e-324", "0", "0.0", "-0",
    "00000000000000000001", "1e+9999999999", "9" * 400, "1" + "0" * 5000, "0." + "0" * 3000 + "1",
    ".5", "5.", "1e", "1e+", "1E-", "2^1024", "2 ^ -1074", "1e300 * 1e300", "1e308 + 1e308",
    "0 / 0", "1 / 0", "(-1) ^ 0.5", "0 ^ -1", "(-8) ^ (1/3)", "exp(1000)", "log(0)", "sqrt(-1)",
    "exp(1e999)", "1e308 ms", "1e999 Hz", "1e-999 s", "10^12", "1e12", "1e13", "1000001",
    "2^63", "2^64", "9223372036854775808", "1.5", "-1", "+-+-1", "1 ms ^ 3", "1 ms ^ 1e300",
    "(1 ms ^ 1e300) ^ 1e300", "(" * 16 + "1 s" + " ^ 1e300)" * 16, "1 ms ^ 0.5", "1 ms / 0 ms", "1 Hz * 1 ms", "[1e999]",
    "uniform(1e999, 0)", "normal(0, -1)", "\u0663",
]
NESTING = [
    ("(", ")"), ("[", "]"), ("{", "}"), ("-", ""), ("+", ""), ("- ", ""), ("f(", ")"),
    ("sqrt(", ")"), ("exp(", ")"), ("lowpass(", ", 1 ms)"), ("uniform(0, ", ")"),
    ("normal(mean = ", ")"), ("1 + ", ""), ("2 * ", ""), ("2 ^ ", ""), ("(1 + ", ")"),
    ("(1 * ", ")"), ("[1, ", "]"), ("g(a = ", ")"), ("-(", ")"), ("(-", ")"), ("((", "))"),
    ("(", " ^ 1e300)"), ("(", " ^ 2)"), ("(", " * 1 ms)"), ("(", " / 1e-300)"),
]
DEPTHS = st.one_of(st.sampled_from([50, 64, 100, 128, 199, 200, 201, 250, 300, 330, 350, 400,
                                     450, 480, 490, 500, 600, 800, 1000, 1500, 2000, 3000]),
                   st.integers(50, 250), st.integers(50, 3000))
IMPORT_TARGETS = ["other.snn", "cycle.snn", "missing.snn", "latin1.snn", "nul.snn",
                  "broken.snn", "adir.snn", "", ".", "..", "common/models.snn",
                  "common/../other.snn", ROOT_NAME, "./" + ROOT_NAME, "empty.snn", "bom.snn",
                  "deep.snn", "a\\\"b.snn", "\\n", "\u00e9.snn"]
EXTRA_LINES = [
    "neuron F = F", "neuron G = H\nneuron H = G", "neuron LIF = LIF", "a -> a as a",
    "x -> y", "loss mse(x)", "loss mse(last(last(out.v)))", "loss cross_entropy(1)",
    "record a->b.w", "record x.y, x->y.z", "target loihi2", "target t { base = loihi2 }",
    "target t { learning { x = 1 } }", "target nowhere", "network n { }", "network n {\n}",
    "network n { dt = 0 ms }", "network n { seed = -1 }", "network n { integration = 3 }",
    "input i[0]", "input i[1e999]", "input i[1, 2, 3]: file(\"x.npy\")",
    "population p: LIF[1e12]", "population p: LIF[10 ms]", "population q: Nope[1]",
    "rule r { dw = 1 }", "rule r(a, a) { dw = a }", "rule r { on step: dw = w\n on x: dw = 1 }",
    "rule r { signal L = reward\n dw = L.x }", "rule r { bounds = [1]\n dw = 1 }",
    "rule r { optimizer = adam(lr = 1e999)\n dw = 1 }", "p -> p: sparse(p = 2) { learn r }",
    "p -> p: fixed_fan_in(k = 1e999)", "p -> p: conv2d(kernel = 99999999999) { delay = 0.5 }",
    "p -> p { receptor a(tau = 1 ms)\n receptor b(tau = 1 ms) }", "import \"other.snn\"",
]
BYTE_SNIPPETS = [b"\x00", b"\xff", b"\xfe", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xc3\x28",
                 b"\xc0\xaf", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf0\x9f\x98",
                 b"\x80", b"\xbf", b"\r", b"\r\n", b"\n", b"\x1a", b"\x85"]
ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252",
             "utf-32"]


# ---- mutations: each takes hypothesis' draw and a text and returns a new text --------------

def _index(draw, n: int) -> int:
    return draw(st.integers(0, max(n - 1, 0)))


def _position(draw, text: str) -> int:
    return draw(st.integers(0, len(text)))


def _boundary(draw, text: str) -> int:
    """A position between two tokens (or anywhere, for an empty text)."""
    tokens = tokenize(text)
    cut = _index(draw, len(tokens) + 1)
    return len(join(tokens[:cut]))


def delete_token(draw, text):
    tokens = tokenize(text)
    candidates = significant(tokens)
    if not candidates:
        return text
    del tokens[draw(st.sampled_from(candidates))]
    return join(tokens)


def delete_span(draw, text):
    start = _position(draw, text)
    length = draw(st.integers(1, 200) | st.integers(1, max(len(text), 1)))
    return text[:start] + text[start + length:]


def duplicate_token(draw, text):
    tokens = tokenize(text)
    candidates = significant(tokens)
    if not candidates:
        return text
    i = draw(st.sampled_from(candidates))
    target = _index(draw, len(tokens) + 1) if draw(st.booleans()) else i
    tokens.insert(target, tokens[i])
    return join(tokens)


def duplicate_line(draw, text):
    lines = text.split("\n")
    i = _index(draw, len(lines))
    copies = draw(st.integers(1, 3) | st.just(200))
    lines[i:i + 1] = [lines[i]] * (copies + 1)
    return "\n".join(lines)


def swap_tokens(draw, text):
    tokens = tokenize(text)
    candidates = significant(tokens)
    if len(candidates) < 2:
        return text
    i = draw(st.sampled_from(candidates))
    j = draw(st.sampled_from(candidates))
    tokens[i], tokens[j] = tokens[j], tokens[i]
    return join(tokens)


def truncate(draw, text):
    return text[:_position(draw, text)]


def inject_random_chars(draw, text):
    chars = draw(st.text(st.characters(exclude_categories=()), min_size=1, max_size=12))
    at = _position(draw, text)
    return text[:at] + chars + text[at:]


def inject_special_chars(draw, text):
    chars = "".join(draw(st.lists(st.sampled_from(SPECIAL_CHARS), min_size=1, max_size=4)))
    at = _boundary(draw, text) if draw(st.booleans()) else _position(draw, text)
    return text[:at] + chars + text[at:]


def _word(draw, text):
    names = [value for kind, value in tokenize(text) if kind == "name"]
    pool = [st.sampled_from(WORDS), st.sampled_from(PUNCTUATION)]
    if names:
        pool.append(st.sampled_from(sorted(set(names))))
    return draw(st.one_of(pool))


def inject_word(draw, text):
    word = _word(draw, text)
    sep = draw(st.sampled_from([" ", "", "\n", " "]))
    at = _boundary(draw, text)
    return text[:at] + sep + word + sep + text[at:]


def replace_token(draw, text):
    tokens = tokenize(text)
    candidates = significant(tokens)
    if not candidates:
        return text
    i = draw(st.sampled_from(candidates))
    tokens[i] = ("other", _word(draw, text))
    return join(tokens)


LONG_NUMBER = st.one_of(
    st.sampled_from(LONG_NUMBERS),
    st.integers(min_value=-(10 ** 60), max_value=10 ** 60).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(1, 20000).map(lambda n: "9" * n),
)


def long_number(draw, text):
    tokens = tokenize(text)
    numbers = significant(tokens, ("number",))
    number = draw(LONG_NUMBER)
    if numbers and draw(st.booleans()):
        tokens[draw(st.sampled_from(numbers))] = ("number", number)
        return join(tokens)
    at = _boundary(draw, text)
    return text[:at] + " " + number + " " + text[at:]


def deep_nesting(draw, text):
    """Nest 50-3000 levels deep: around a whole value or a number (so that the text still
    parses and the checker sees the nesting), or anywhere."""
    depth = draw(DEPTHS)
    wrappers = draw(st.lists(st.sampled_from(NESTING), min_size=1, max_size=3))
    opened = "".join(wrappers[k % len(wrappers)][0] for k in range(depth))
    closed = "".join(wrappers[k % len(wrappers)][1] for k in reversed(range(depth)))
    style = draw(st.sampled_from(["balanced", "balanced", "balanced", "open_only", "close_only"]))
    tokens = tokenize(text)
    values = value_spans(tokens)
    numbers = significant(tokens, ("number",))
    where = draw(st.sampled_from(["value", "value", "number", "anywhere"]))
    if where == "value" and values:
        start, end = draw(st.sampled_from(values))
    elif where != "anywhere" and numbers:
        start = draw(st.sampled_from(numbers))
        end = start + 1
    else:
        start = end = _index(draw, len(tokens) + 1)
    inner = join(tokens[start:end]) or "1"
    before, after = join(tokens[:start]), join(tokens[end:])
    if style == "open_only":
        return before + opened + inner + after
    if style == "close_only":
        return before + inner + closed + after
    return before + opened + inner + closed + after


def long_line(draw, text):
    n = draw(st.sampled_from([1000, 10_000, 50_000, 100_000]) | st.integers(1000, 100_000))
    kind = draw(st.integers(0, 9))
    line = [
        "# " + "x" * n,
        "network n { dt = " + "1 + " * (n // 4) + "1 ms }",
        "population " + "a" * n + ": LIF[1]",
        "population p: LIF[1] { tau_mem = " + "1 ms + " * (n // 7) + "1 ms }",
        'input i[1]: file("' + "x" * n + '")',
        "a" * n,
        "record " + ", ".join(["a.s"] * (n // 5)),
        "x " * (n // 2),
        "rule r(" + ", ".join(f"p{k} = {k}" for k in range(n // 10)) + ") { dw = p0 }",
        "loss mse(" + "last(" * min(n // 5, 3000) + "out.v" + ")" * min(n // 5, 3000) + ")",
    ][kind]
    at = _boundary(draw, text)
    sep = draw(st.sampled_from(["\n", "", " "]))
    return text[:at] + sep + line + sep + text[at:]


TOWER_STEPS = [(op, operand) for op in ("^", "*", "/", "+", "-")
               for operand in ("1e300", "1e308", "2", "0.5", "-1", "0", "1 ms", "1e-300", "x")]


def arithmetic_tower(draw, text):
    """Wrap a value in 2-60 levels of '(value op operand)': exponents, units and magnitudes
    that grow with every level (e.g. the dimension of '((1 s ^ 1e300) ^ 1e300)...')."""
    tokens = tokenize(text)
    values = value_spans(tokens)
    if not values:
        return text
    start, end = draw(st.sampled_from(values))
    steps = draw(st.lists(st.sampled_from(TOWER_STEPS), min_size=1, max_size=2))
    levels = draw(st.integers(2, 60))
    value = join(tokens[start:end])
    opened = "(" * levels
    closed = "".join(f" {steps[k % len(steps)][0]} {steps[k % len(steps)][1]})"
                     for k in range(levels))
    return join(tokens[:start]) + opened + value + closed + join(tokens[end:])


UNIT_WORDS = ["ms", "s", "us", "Hz", "kHz", "V", "mV", "msec", "hz", "m", "ms2"]
FUNCTIONS = ["uniform", "normal", "file", "poisson", "sqrt", "exp", "log", "lowpass",
             "surrogate", "decay", "sparse", "fixed_fan_in", "conv2d", "dense", "adam", "sgd",
             "random_feedback", "symmetric_feedback", "reward", "local_readout", "stdp", "eprop",
             "mse", "cross_entropy", "last", "max_over_time", "piecewise_linear", "f", "LIF"]
KEYWORD_ARGUMENTS = ["rate", "p", "k", "kernel", "stride", "lr", "tau", "tau_plus", "mean",
                     "std", "low", "high", "path", "key", "from", "size", "loss", "gamma", "x"]
REFS = ["pre.s", "post.v", "post.s", "pre", "w", "net.jacobian", "net", "a", "x.y.z", "exact",
        "euler", "zero", "subtract", "dense", "out", "out.v", "lr", "tau_plus", "readout", "mse"]
STRINGS = ['"x.npy"', '""', '"a\\"b"', '"\u00e9"', '"\\"', '"' + "s" * 300 + '"']
SMALL_NUMBERS = st.sampled_from(["0", "1", "2", "0.5", "1e-3", "10", "3", "20", "100", ".1"])
EXPRESSIONS = st.recursive(
    st.one_of(
        SMALL_NUMBERS,
        LONG_NUMBER,
        st.tuples(SMALL_NUMBERS | LONG_NUMBER, st.sampled_from(UNIT_WORDS)).map(" ".join),
        st.sampled_from(REFS),
        st.sampled_from(STRINGS),
    ),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^"]), inner).map(" ".join),
        inner.map(lambda x: f"-{x}"),
        inner.map(lambda x: f"({x})"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(st.one_of(
            inner, st.tuples(st.sampled_from(KEYWORD_ARGUMENTS), inner).map(" = ".join)),
            max_size=4)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
    ),
    max_leaves=10,
)


def replace_value(draw, text):
    """Put a random expression (or a name from the text) where the text has a value."""
    tokens = tokenize(text)
    values = value_spans(tokens)
    names = sorted({value for kind, value in tokens if kind == "name"})
    choices = [EXPRESSIONS, EXPRESSIONS] + ([st.sampled_from(names)] if names else [])
    replacement = draw(st.one_of(choices))
    if not values:
        at = _boundary(draw, text)
        return text[:at] + replacement + text[at:]
    start, end = draw(st.sampled_from(values))
    return join(tokens[:start]) + replacement + join(tokens[end:])


def insert_import(draw, text):
    target = draw(st.sampled_from(IMPORT_TARGETS))
    lines = text.split("\n")
    i = _index(draw, len(lines) + 1)
    lines.insert(i, f'import "{target}"')
    return "\n".join(lines)


def splice_line(draw, text):
    """A line from any seed, or a statement with a likely semantic problem, put anywhere."""
    line = draw(st.sampled_from(seed_lines()) | st.sampled_from(EXTRA_LINES))
    lines = text.split("\n")
    lines.insert(_index(draw, len(lines) + 1), line)
    return "\n".join(lines)


#: the mutations, some listed more than once to draw them more often
MUTATIONS = [delete_token, delete_span, duplicate_token, duplicate_line, swap_tokens, truncate,
             inject_random_chars, inject_special_chars, inject_word, replace_token, long_number,
             deep_nesting, deep_nesting, long_line, insert_import, splice_line, splice_line,
             replace_value, replace_value, replace_value, arithmetic_tower]


@st.composite
def mutated_texts(draw):
    text = draw(st.sampled_from(seeds()))
    for _ in range(draw(st.integers(1, 4))):
        text = draw(st.sampled_from(MUTATIONS))(draw, text)
    return text


@st.composite
def mutated_bytes(draw):
    text = draw(mutated_texts())
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "insert", "flip", "truncate", "delete"]))
        if action == "insert":
            chunk = draw(st.sampled_from(BYTE_SNIPPETS) | st.binary(min_size=1, max_size=8))
            data = data[:at] + chunk + data[at:]
        elif action == "flip" and at < len(data):
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif action == "truncate":
            data = data[:at]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 16)):]
    return data


# ---- the work directory: the examples' imports, and awkward files to import ------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("fuzz")
    for source in EXAMPLES.rglob("*.snn"):
        target = work / source.relative_to(EXAMPLES)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (work / "other.snn").write_text("rule other_rule(lr = 1) {\n  dw = lr * pre.s\n}\n",
                                    encoding="utf-8")
    (work / "cycle.snn").write_text(f'import "{ROOT_NAME}"\n', encoding="utf-8")
    (work / "deep.snn").write_text('import "cycle.snn"\nimport "other.snn"\n', encoding="utf-8")
    (work / "latin1.snn").write_bytes(b"# caf\xe9\nnetwork n {\n  dt = 1 ms\n}\n")
    (work / "nul.snn").write_bytes(b"network n {\n  dt = 1\x00 ms\n}\n")
    (work / "broken.snn").write_text("population p LIF[1]\n", encoding="utf-8")
    (work / "empty.snn").write_text("", encoding="utf-8")
    (work / "bom.snn").write_bytes(b"\xef\xbb\xbfnetwork n {\n  dt = 1 ms\n}\n")
    (work / "adir.snn").mkdir()
    return work


# ---- the property --------------------------------------------------------------------------

def _lines(text: str) -> list[str]:
    """Lines as the grammar sees them: separated by '\\n' (a final newline ends the last line)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _source_of(file: str, diag: snnc.Diagnostics) -> str:
    if file in diag.sources:
        return diag.sources[file]
    assert os.path.isfile(file), f"a diagnostic points into unknown file {file!r}"
    data = Path(file).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # one character per byte: columns count bytes


def assert_well_formed(summary, diag: snnc.Diagnostics) -> None:
    errors = [d for d in diag.items if d.severity is snnc.Severity.ERROR]
    if summary is None:
        assert errors, "checking failed without reporting an error"
    else:
        assert isinstance(summary, snnc.Summary)
        assert not errors, "checking returned a summary although it reported errors"
        json.dumps(summary.to_json())
    primary = errors[0] if errors else (diag.items[0] if diag.items else None)
    for d in diag.items:
        rendered = snnc.render(d, diag.sources)
        assert isinstance(rendered, str) and rendered
        json.dumps(d.to_json())
        if d.span is None:
            continue
        lines = _lines(_source_of(d.span.file, diag))
        where = f"{d.code} {d.message!r} at {d.span}"
        assert 1 <= d.span.line <= len(lines) + 1, f"{where}: line outside the file " \
            f"({len(lines)} lines)"
        assert d.span.column >= 1, f"{where}: column < 1"
        if d is primary:
            length = len(lines[d.span.line - 1]) if d.span.line <= len(lines) else 0
            assert d.span.column <= length + 1, f"{where}: column beyond the end of its line " \
                f"(length {length})"


def in_fresh_stack(function, *args):
    """``function(*args)`` in a new thread: the same shallow stack for every call.

    Whether deep nesting overflows the interpreter's recursion limit depends on how deep the
    stack already is. Under pytest and hypothesis that differs between generating, shrinking
    and replaying a case, which makes such failures flaky; a thread starts with an empty stack,
    much like the command line does.
    """
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@settings(FUZZ_SETTINGS, max_examples=TEXT_CASES)
@given(text=mutated_texts())
def test_mutated_text(workdir, text):
    diag = snnc.Diagnostics()
    summary = in_fresh_stack(snnc.check_text, text, diag, str(workdir / ROOT_NAME))
    assert_well_formed(summary, diag)


@settings(FUZZ_SETTINGS, max_examples=BYTES_CASES)
@given(data=mutated_bytes())
def test_mutated_bytes(workdir, data):
    path = workdir / ROOT_NAME
    path.write_bytes(data)
    diag = snnc.Diagnostics()
    summary = in_fresh_stack(snnc.check_file, str(path), diag)
    assert_well_formed(summary, diag)


def test_seeds_are_found():
    """The fuzzing is only as good as its seeds: all examples and stdlib files are used."""
    assert len(seeds()) >= len(list(STDLIB.glob("*.snn"))) + 1
