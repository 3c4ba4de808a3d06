"""User text never becomes code: file names, folder names, mapping fields and NIR node names
carrying quotes, triple quotes, backslashes, line breaks and Jinja syntax, through every
backend of ``snnc.backends.REGISTRY`` (a backend added later inherits these tests).

Each emitted Python module is parsed (the payload may only stand in string literals and
comments) and imported in a fresh interpreter whose working folder is watched for the
payload's ``PWNED`` file; a module that defines ``Simulation`` is also run. Markdown and DOT
files keep the structure of the same program compiled under a harmless name.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import tokenize

import numpy as np
import pytest

from snnc.backends import REGISTRY, MissingExtra, get_backend, templates
from snnc.backends.nir.importer import identifier
from snnc.cli import main
from snnc.frontend.build_ast import unescape
from snnc.literals import UnrepresentableText, dot, markdown, py, py_comment, snn_string

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: the string literal of the .snn grammar
STRING = re.search(r"^STRING: /(.*)/$", (ROOT / "grammar" / "snn.lark").read_text(),
                   re.M).group(1)

PROGRAM = """\
network hostile {
  dt = 1 ms
  seed = 1
  duration = 20 ms
}

input drive[4]: poisson(rate = 200 Hz)

population hidden: LIF[3] {
  tau_mem = 10 ms
  threshold = 1
  reset = zero
}

drive -> hidden: dense {
  weight = 0.6
}

record hidden.s, hidden.v
"""

#: the same for Xylo, whose neurons decay by bit shifts, reset by subtraction and feed
#: separate output neurons
XYLO_PROGRAM = """\
network hostile {
  dt = 1 ms
  seed = 1
  integration = euler
  duration = 20 ms
}

input drive[4]: poisson(rate = 200 Hz)

population hidden: CubaLIF[3] {
  tau_mem = 8 ms
  tau_syn = 2 ms
  threshold = 1
  reset = subtract
}

readout out: CubaLIF[2] {
  tau_mem = 8 ms
  tau_syn = 2 ms
  threshold = 1
  reset = subtract
}

drive -> hidden: dense {
  weight = 0.6
}

hidden -> out: dense {
  weight = 0.5
}

record hidden.s, hidden.v
"""

#: every payload holds PWNED (the token that may only appear inside literals and comments)
#: and, if run, creates a file named PWNED in the working folder
PAYLOADS = {
    "triple double quotes": 'x"""; import os; os.system("touch PWNED"); """',
    "triple single quotes": "x'''; import os; os.system('touch PWNED'); '''",
    "backslashes": 'x\\"; import os; os.system(\\"touch PWNED\\") #\\',
    "newline": 'x\nimport os; os.system("touch PWNED")\n#',
    "carriage return": 'x\rimport os; os.system("touch PWNED")\r#',
    "unicode line breaks": 'x\u2028import os\u2029os.system("touch PWNED")\x0c\x85#\x0b',
    "jinja expression": "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "jinja statement": "{% for x in [1] %}{{ x }}PWNED{% endfor %}{# {{ #}",
    "markdown and html": "x` | <img src=x onerror=alert(1)> | [PWNED](javascript:alert(1)) *PWNED*",
    "invalid utf-8": os.fsdecode(b"x\xff\xfe PWNED \xc3"),
    "bidi and nul-like": "x\u202eimport os\u202c PWNED \u200b\ufeff",
}

BENIGN = "benign"
MAPPING_FIELDS = ("target", "network", "rates", "partition", "placement")


def available(name: str) -> bool:
    try:
        get_backend(name)
    except MissingExtra:
        return False
    return True


BACKENDS = [pytest.param(name, marks=pytest.mark.skipif(
    not available(name), reason=f"the extra of backend '{name}' is not installed"))
    for name in REGISTRY]


# -- what each kind of emitted file must look like ---------------------------------------------
def code_holds_payload_only_in_literals(source: str, twin: str) -> None:
    """PWNED only inside string literals and comments, in no call or import (a live
    ``os.system("touch PWNED")`` has it in a string too), and the module's syntax tree has the
    shape of the harmless twin's: only constants differ."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if "PWNED" in token.string:
            assert token.type in (tokenize.STRING, tokenize.COMMENT), token
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Call)):
            assert "PWNED" not in (ast.get_source_segment(source, node) or ""), node
        assert "PWNED" not in getattr(node, "id", "") + getattr(node, "attr", "")
    shape = [type(node).__name__ for node in ast.walk(tree)]
    assert shape == [type(node).__name__ for node in ast.walk(ast.parse(twin))]


MD_ESCAPABLE = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def markdown_skeleton(line: str) -> str:
    """The Markdown syntax of a line, lexed as CommonMark does: backslash escapes and code
    spans dropped, then every letter, digit, space and non-ASCII character (plain text)."""
    out, k = [], 0
    while k < len(line):
        if line[k] == "\\" and k + 1 < len(line) and line[k + 1] in MD_ESCAPABLE:
            k += 2
            continue
        if line[k] == "`":
            run = len(re.match(r"`+", line[k:]).group())
            close = re.compile(r"(?<!`)" + "`" * run + r"(?!`)").search(line, k + run)
            if close:
                k = close.end()
                continue
            out.append("`" * run)
            k += run
            continue
        out.append(line[k])
        k += 1
    return re.sub(r"[\w\s]|[^\x00-\x7f]", "", "".join(out))


def dot_skeleton(line: str) -> str:
    """A DOT line without its quoted strings (lexed as Graphviz does: a backslash pairs with
    the next character)."""
    out, k, inside = [], 0, False
    while k < len(line):
        char = line[k]
        if inside and char == "\\":
            k += 2
            continue
        if char == '"':
            inside = not inside
        elif not inside:
            out.append(char)
        k += 1
    assert not inside, line
    return "".join(out)


def import_and_run(folder: pathlib.Path, module: str, cwd: pathlib.Path) -> None:
    """Import ``module`` from ``folder`` in a fresh interpreter (cwd ``cwd``) and, if it defines
    ``Simulation``, run five steps. A third-party module that is not installed here (lava) may
    stop the import, but only after the module's own text before that import has run."""
    script = textwrap.dedent(f"""
        import importlib, sys
        sys.path.insert(0, {str(folder)!r})
        try:
            module = importlib.import_module({module!r})
        except ModuleNotFoundError as error:
            print("MISSING", error.name)
            raise SystemExit(0)
        if hasattr(module, "Simulation"):
            out = module.Simulation(batch=1).run(steps=5, record=list(module.VARIABLES)[:2])
            print("RAN", sorted(out))
    """)
    env = dict(os.environ, SNNC_NO_NUMBA="1", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    if result.stdout.startswith("MISSING"):
        missing = result.stdout.split()[1].split(".")[0]  # a third-party package (lava)
        assert missing not in sys.stdlib_module_names and \
            not (folder / (missing + ".py")).exists(), result.stdout
    if module == "simulation":
        assert result.stdout.startswith("RAN"), result.stdout


def compare_outputs(hostile: pathlib.Path, benign: pathlib.Path, cwd: pathlib.Path) -> None:
    """Every file of ``hostile`` against the same file of ``benign`` (same program)."""
    names = sorted(p.relative_to(hostile) for p in hostile.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(benign) for p in benign.rglob("*") if p.is_file())
    for name in names:
        path, twin = hostile / name, benign / name
        suffix = path.suffix
        if suffix in (".py", ".md", ".dot", ".json", ".snn", ".txt"):
            text, reference = path.read_text(encoding="utf-8"), twin.read_text(encoding="utf-8")
            # str.splitlines breaks at every line boundary Python, editors and browsers know
            assert len(text.splitlines()) == len(reference.splitlines()), name
            assert len(text.split("\n")) == len(reference.split("\n")), name
        if suffix == ".py":
            compile(text, str(path), "exec")
            code_holds_payload_only_in_literals(text, reference)
        elif suffix == ".md":
            for line, twin_line in zip(text.split("\n"), reference.split("\n"), strict=True):
                assert markdown_skeleton(line) == markdown_skeleton(twin_line), line
        elif suffix == ".dot":
            for line, twin_line in zip(text.split("\n"), reference.split("\n"), strict=True):
                assert dot_skeleton(line) == dot_skeleton(twin_line), line
        elif suffix == ".json":
            json.loads(text)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                assert archive.files
        elif suffix == ".nir":
            nir = pytest.importorskip("nir")
            nir.read(str(path))
    for name in names:
        if name.suffix == ".py":
            import_and_run(hostile / name.parent, name.stem, cwd)


def no_payload_ran(*folders: pathlib.Path) -> None:
    for folder in folders:
        assert not (folder / "PWNED").exists()
        assert not [p for p in folder.rglob("PWNED")], folder


def write_program(folder: pathlib.Path, stem: str, backend: str = "") -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (stem + ".snn")
    path.write_text(XYLO_PROGRAM if backend == "xylo" else PROGRAM, encoding="utf-8")
    return path


def compile_to(backend: str, source: pathlib.Path, out: pathlib.Path, capsys,
               *extra: str) -> None:
    options = ["--allow-lossy"] if backend == "nir" else []
    status = main(["compile", str(source), "--emit", backend, "-o", str(out), *options,
                   *extra])
    captured = capsys.readouterr()
    assert status == 0, captured.err


# -- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_hostile_file_and_folder_names_stay_text(backend, payload, tmp_path, capsys,
                                                 monkeypatch):
    """The program's file is named by the payload and lies in a folder named by it; the output
    folder is named by it too. The emitted files are those of a harmless name, with the name
    only inside literals, comments and escaped Markdown; importing them runs nothing else."""
    monkeypatch.chdir(tmp_path)
    hostile_name = PAYLOADS[payload]
    benign = write_program(tmp_path / "plain", BENIGN, backend)
    compile_to(backend, benign, tmp_path / "plain-out", capsys)
    source = write_program(tmp_path / ("dir " + hostile_name), hostile_name, backend)
    out = tmp_path / ("out " + hostile_name)
    compile_to(backend, source, out, capsys)
    compare_outputs(out, tmp_path / "plain-out", cwd=tmp_path)
    no_payload_ran(tmp_path, ROOT)


def mapping_for(source: pathlib.Path, folder: pathlib.Path, capsys) -> dict:
    status = main(["map", str(source), "--target", "loihi", "-o", str(folder)])
    assert status == 0, capsys.readouterr().err
    capsys.readouterr()
    return json.loads((folder / "mapping.json").read_text())


@pytest.mark.parametrize("backend", [name for name in REGISTRY if available(name) and
                                     hasattr(get_backend(name), "mapping")])
@pytest.mark.parametrize("payload", ["newline", "triple double quotes", "jinja expression",
                                     "markdown and html", "carriage return"])
def test_hostile_mapping_fields_stay_text(backend, payload, tmp_path, capsys, monkeypatch):
    """mapping.json fields (`target`, `network`, ...) holding `loihi2\\nimport os; ...`, for
    every backend that takes ``--mapping``."""
    monkeypatch.chdir(tmp_path)
    source = write_program(tmp_path / "src", "net")
    mapping = mapping_for(source, tmp_path / "map", capsys)
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(mapping))
    compile_to(backend, source, tmp_path / "plain-out", capsys, "--mapping", str(plain))
    hostile = dict(mapping, **{key: "loihi2" + PAYLOADS[payload] for key in MAPPING_FIELDS})
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps(hostile))
    compile_to(backend, source, tmp_path / "evil-out", capsys, "--mapping", str(evil))
    compare_outputs(tmp_path / "evil-out", tmp_path / "plain-out", cwd=tmp_path)
    no_payload_ran(tmp_path, ROOT)
    if backend == "nir":  # the mapping travels as JSON text in the graph's metadata
        nir = pytest.importorskip("nir")
        graph = nir.read(str(tmp_path / "evil-out" / "network.nir"))
        assert json.loads(graph.metadata["mapping"])["target"] == hostile["target"]


NODE_NAMES = ['a"\n import x', "}", "x}\npopulation evil: LIF[1]\n#", "{{ 7*7 }}", "import",
              "network", "lif#1", "1st", "\u2028\u00e9", "'''\"\"\"", "a b\\c", "x" * 300]


def hostile_graph(nir, names: list[str]):
    """Input -> Linear -> LIF -> Output, then LIF -> Linear -> LI -> Output, named by
    ``names`` (cycled)."""
    shape = np.array([2])
    lif = dict(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2),
               v_threshold=np.ones(2))
    roles = ["input", "w1", "lif", "out1", "w2", "li", "out2", "delay"]
    name = {role: names[k % len(names)] + ("" if k < len(names) else f"_{k}")
            for k, role in enumerate(roles)}
    nodes = {name["input"]: nir.Input(input_type={"input": shape}),
             name["w1"]: nir.Linear(weight=np.eye(2)),
             name["lif"]: nir.LIF(**lif),
             name["out1"]: nir.Output(output_type={"output": shape}),
             name["w2"]: nir.Linear(weight=np.eye(2)),
             name["delay"]: nir.Delay(delay=np.full(2, 0.002)),
             name["li"]: nir.LI(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2)),
             name["out2"]: nir.Output(output_type={"output": shape})}
    edges = [(name["input"], name["w1"]), (name["w1"], name["lif"]),
             (name["lif"], name["out1"]), (name["lif"], name["w2"]),
             (name["w2"], name["delay"]), (name["delay"], name["li"]),
             (name["li"], name["out2"])]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3}, type_check=False)


@pytest.mark.parametrize("names", [NODE_NAMES[:8], NODE_NAMES[4:], NODE_NAMES[::-1]],
                         ids=["first", "second", "reversed"])
def test_hostile_nir_node_names_become_identifiers(names, tmp_path, capsys):
    nir = pytest.importorskip("nir")
    path = tmp_path / "g.nir"
    nir.write(str(path), hostile_graph(nir, names))
    out = tmp_path / 'x"y {{z}}\\.snn'  # the archive name is written as a .snn string
    status = main(["import-nir", str(path), "-o", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert main(["check", str(out)]) == 0, capsys.readouterr()
    capsys.readouterr()
    text = out.read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(text.split("\n")) - 1  # no stray line breaks
    declared = re.findall(r"^(?:input|population|readout) (\w+)", text, re.M)
    assert len(declared) == 3 and all(re.fullmatch(r"[A-Za-z_]\w{0,80}", d) for d in declared)
    assert sorted(declared) == sorted(identifier(n, set()) for n in (names[0], names[2],
                                                                      names[5]))
    for line in text.splitlines():
        code = snn_code(line)
        assert not re.match(r"\s*population evil", code) and "{{" not in code, line
    assert (tmp_path / 'x"y {{z}}\\.npz').is_file()


def snn_code(line: str) -> str:
    """A .snn line without its string literals and comment (lexed as grammar/snn.lark does)."""
    out, k = [], 0
    while k < len(line):
        if line[k] == "#":
            break
        if line[k] == '"':
            match = re.compile(STRING).match(line, k)
            assert match, line
            k = match.end()
            continue
        out.append(line[k])
        k += 1
    return "".join(out)


# -- the escapers themselves -------------------------------------------------------------------
TEXTS = list(PAYLOADS.values()) + ["", "plain", "a'b", 'a"b', "\\", "ends with \\", "\t",
                                   "\x00\x01\x7f\x9f", "é ü 中文", "\ud800", "``x``", "| a |",
                                   " lead", "trail ", "`", "x" * 1000]


@pytest.mark.parametrize("text", TEXTS)
def test_python_literal_is_the_text_and_safe_in_a_docstring(text):
    literal = py(text)
    assert literal.isprintable() and literal[0] == literal[-1] == "'"
    assert ast.literal_eval(literal) == text
    module = f'"""Docstring from {literal}"""\nX = {literal}  # {py_comment(text)}\n'
    tree = ast.parse(module)
    assert len(tree.body) == 2 and tree.body[1].value.value == text
    assert tree.body[0].value.value.startswith("Docstring from '")
    assert len(module.splitlines()) == 2
    if text.isprintable() and "'" not in text and '"' not in text and "\\" not in text:
        assert literal == repr(text)


def test_python_literals_of_containers_and_numbers():
    value = {"a": [1, 2.5, (3,), None, True], "b": ("x",), "c": {"d": -0.0}}
    assert py(value) == repr(value)
    assert eval(py([float("inf"), -float("inf")])) == [float("inf"), -float("inf")]
    assert py(np.int64(3)) == "3" and py(np.float64(0.1)) == "0.1"
    with pytest.raises(TypeError):
        py(object())


@pytest.mark.parametrize("text", TEXTS)
def test_comment_text_has_no_line_break(text):
    comment = py_comment(text)
    assert comment.isprintable()
    source = f"# {comment}\nX = 1\n"
    assert [t.type for t in tokenize.generate_tokens(io.StringIO(source).readline)][:2] == \
        [tokenize.COMMENT, tokenize.NL]


@pytest.mark.parametrize("text", TEXTS)
def test_markdown_text_is_one_inert_cell(text):
    cell = markdown(text)
    assert "\n" not in cell and cell.isprintable()
    row = f"| {cell} | after |"
    assert markdown_skeleton(row) == "|||"  # no syntax but the row's own pipes
    if cell.startswith("`"):
        assert cell == f"`{text}`" and "`" not in text


@pytest.mark.parametrize("text", TEXTS)
def test_snn_string_reads_back_or_is_refused(text):
    try:
        literal = snn_string(text)
    except UnrepresentableText:
        assert not all(c.isprintable() or c in "\n\t" for c in text)
        return
    assert literal.isprintable() and re.fullmatch(STRING, literal)
    assert unescape(literal) == text


@pytest.mark.parametrize("text", TEXTS)
def test_dot_string_is_one_quoted_token(text):
    quoted = dot(text, "second line")
    assert quoted.isprintable() and dot_skeleton(quoted) == ""
    assert quoted.endswith('\\nsecond line"')
    assert dot(text) != dot(text + "\\") and dot("a\nb") != dot("a\\nb")


def test_backend_templates_have_the_escapers_as_filters():
    for module in ("snnc.backends.reference", "snnc.backends.lava"):
        assert {"py", "py_comment", "md"} <= set(templates(module).filters)
