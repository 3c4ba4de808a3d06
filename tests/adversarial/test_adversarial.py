"""The adversarial tier: hostile files, paths and numbers must give a diagnostic, never harm.

Every case is data, in ``tests/adversarial/cases/<family>.json`` (one file per family of issue
13; see ``tests/adversarial/README.md`` for the format). A case names the command line, the
files to create in a scratch folder (text, bytes, generated arrays, NIR graphs, folders, FIFOs,
devices, symlinks), optional setup commands, the exit status and the diagnostic code(s) it
expects, and the paths it may write. The runner builds a scratch folder holding sentinel files
(in the current folder, the home folder -- ``HOME`` points into the scratch folder -- and a
sibling folder), runs ``snnc.cli.main(argv)`` in-process (or, for cases marked ``isolate``, in a
subprocess with a timeout and an address-space limit, so a hang or a runaway allocation fails
the case instead of the machine) and asserts, for every case:

* the exit status is never 3 (internal error) and equals the expected one;
* the expected diagnostic code appears on stderr, and no traceback or "internal error" does;
* no ``.snnc-`` temporary is left anywhere in the scratch folder;
* every file, folder, symlink, FIFO and device that existed before the run (sentinels, the
  case's inputs, the results of setup commands) still exists with the same content, unless it
  lies below one of the case's declared outputs; nothing new appears outside those outputs;
* the machine's ``/dev/null`` is still a character device.

Cases that should succeed (``"exit": 0``) may also name arrays an output .npz must hold; a case
may list several acceptable outcomes (``accept``) where two behaviours are both correct, and may
first start a command in a child and SIGKILL it midway (``kill_first``), so that its own run has
to clean up the temporaries. Two tests check the harness itself with a stand-in for snnc.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from snnc.cli import main

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
REPO = HERE.parents[1]
EXAMPLES = REPO / "examples"

#: exit statuses
INTERNAL = 3
#: the address-space limit and timeout of isolated cases
ISOLATE_MEMORY = 2 * 1024 ** 3
ISOLATE_TIMEOUT = 120

SENTINELS = {
    "home/notes.txt": "my notes\n",
    "home/project/thesis.tex": "\\chapter{Years of work}\n",
    "home/project/data/results.csv": "1,2,3\n",
    "outside/keep.txt": "a sibling folder\n",
    "work/notes.txt": "notes in the current folder\n",
    "work/data/values.csv": "4,5,6\n",
    "work/sub/inner.txt": "inside sub\n",
    "work/mapping/mine.txt": "a folder of the user's that happens to be called mapping\n",
}

#: the marker snnc writes into every output folder (not a temporary)
OUTPUT_MARKER = ".snnc-output"

DANGEROUS_WORDS = ("Traceback (most recent call last)", "internal error")


# ---- loading the cases ----------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def families() -> dict[str, dict]:
    """Every family file, by family name (the file's stem)."""
    found = {path.stem: json.loads(path.read_text(encoding="utf-8"))
             for path in sorted(CASES_DIR.glob("*.json"))}
    assert found, f"no case files in {CASES_DIR}"
    return found


def all_cases() -> list[tuple[str, dict, dict]]:
    """(family, case, family document) for every case, names unique across families."""
    out, seen = [], set()
    for family, document in families().items():
        for case in document["cases"]:
            name = case["name"]
            assert name not in seen, f"duplicate case name {name}"
            seen.add(name)
            out.append((family, case, document))
    return out


CASES = all_cases()


# ---- building the scratch folder ------------------------------------------------------------

def array_of(spec: dict) -> np.ndarray:
    """An array described declaratively: dtype, shape, fill (number, 'nan', 'inf', '-inf',
    'range', 'random', 'spikes' or a nested list of values), and 'set' (index -> value)."""
    dtype = spec.get("dtype", "float64")
    shape = tuple(spec.get("shape", [3]))
    fill = spec.get("fill", 0)
    if dtype == "object":
        array = np.empty(shape, dtype=object)
        array[...] = fill if not isinstance(fill, str) else fill
        return array
    if dtype == "structured":
        return np.zeros(shape, dtype=[("a", "f8"), ("b", "i4")])
    if isinstance(fill, list):
        return np.array(fill, dtype=dtype).reshape(shape)
    if fill == "range":
        array = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    elif fill == "random":
        array = np.random.default_rng(0).random(shape).astype(dtype)
    elif fill == "spikes":
        array = (np.random.default_rng(0).random(shape) < 0.3).astype(dtype)
    elif isinstance(fill, str) and fill in ("nan", "inf", "-inf"):
        array = np.full(shape, float(fill), dtype=dtype)
    else:
        array = np.full(shape, fill, dtype=dtype)
    for index, value in spec.get("set", {}).items():
        array[tuple(int(i) for i in index.split(","))] = float(value)
    return array


def npy_bytes(spec: dict) -> bytes:
    """An .npy file; ``header_shape`` makes the header claim another shape than the data has."""
    buffer = io.BytesIO()
    array = array_of(spec)
    np.save(buffer, array, allow_pickle=True)
    data = buffer.getvalue()
    if "header_shape" in spec:
        claimed = tuple(int(float(n)) for n in spec["header_shape"])
        header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
                  "shape": claimed}
        out = io.BytesIO()
        np.lib.format.write_array_header_1_0(out, header)
        data = out.getvalue() + array.tobytes()
    return data


def npz_bytes(spec: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in spec["arrays"].items():
            archive.writestr(f"{key}.npy", npy_bytes(value))
    return buffer.getvalue()


@functools.lru_cache(maxsize=4)
def zip_bomb(key: str, gigabytes: float) -> bytes:
    """An .npz whose member ``key`` inflates to ``gigabytes`` of zeros (a float64 .npy)."""
    count = int(gigabytes * 1024 ** 3) // 8
    buffer = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (count,)})
    chunk = bytes(64 * 1024 ** 2)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            left = count * 8
            while left > 0:
                member.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
    return buffer.getvalue()


def nir_bytes(spec: dict, where: Path) -> bytes:
    """A small NIR graph (Input -> Linear -> [Delay] -> LIF -> Output) with hostile pieces."""
    nir = pytest.importorskip("nir")

    def value(v):
        return np.array(v["array"]) if isinstance(v, dict) and "array" in v else v

    lif = dict(tau=np.array([0.01]), r=np.array([1.0]), v_leak=np.array([0.0]),
               v_threshold=np.array([1.0]))
    lif.update({k: np.array(v, dtype=float) for k, v in spec.get("lif", {}).items()})
    nodes = {"input": nir.Input(input_type={"input": np.array([1])}),
             "w": nir.Linear(weight=np.ones((1, 1)))}
    edges = [("input", "w")]
    last = "w"
    if "delay" in spec:
        nodes["d"] = nir.Delay(delay=np.array([float(spec["delay"])]))
        edges.append(("w", "d"))
        last = "d"
    nodes["lif"] = nir.LIF(**lif)
    nodes["output"] = nir.Output(output_type={"output": np.array([1])})
    edges += [(last, "lif"), ("lif", "output")]
    metadata = {k: value(v) for k, v in spec.get("metadata", {}).items()}
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)
    temporary = where.with_name(where.name + ".build")
    nir.write(str(temporary), graph)
    data = temporary.read_bytes()
    temporary.unlink()
    return data


def device_path(kind: str, where: Path) -> Path:
    """A character device like /dev/null or /dev/zero inside the scratch folder when the process
    may create one (root), else the system's own (which an unprivileged process cannot replace,
    so a faulty snnc harms nothing)."""
    numbers = {"null": (1, 3), "zero": (1, 5), "urandom": (1, 9)}[kind]
    try:
        os.mknod(where, stat.S_IFCHR | 0o666, os.makedev(*numbers))
        return where
    except (PermissionError, OSError):
        where.symlink_to(f"/dev/{kind}")
        return where


def make_file(root: Path, relative: str, spec, programs: dict) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(spec, str):
        spec = {"text": spec}
    if spec.get("dir"):
        path.mkdir(exist_ok=True)
        return
    if spec.get("fifo"):
        os.mkfifo(path)
        return
    if "device" in spec:
        device_path(spec["device"], path)
        return
    if "symlink" in spec:
        path.symlink_to(spec["symlink"].format(scratch=root))
        return
    if "program" in spec:
        text = programs[spec["program"]]
        for old, new in spec.get("subst", {}).items():
            text = text.replace(old, str(new))
        data = text.encode("utf-8")
    elif "example" in spec:
        text = (EXAMPLES / spec["example"]).read_text(encoding="utf-8")
        for old, new in spec.get("replace", {}).items():
            assert old in text, f"{old!r} not in {spec['example']}"
            text = text.replace(old, new)
        data = text.encode("utf-8")
    elif "text" in spec:
        data = spec["text"].encode("utf-8")
    elif "hex" in spec:
        data = bytes.fromhex(spec["hex"])
    elif "npy" in spec:
        data = npy_bytes(spec["npy"])
    elif "npz" in spec:
        data = npz_bytes(spec["npz"])
    elif "zip_bomb" in spec:
        data = zip_bomb(spec["zip_bomb"]["key"], spec["zip_bomb"]["gigabytes"])
    elif "nir" in spec:
        data = nir_bytes(spec["nir"], path)
    elif "json" in spec:
        data = json.dumps(spec["json"]).encode("utf-8")
    elif "json_text" in spec:
        data = spec["json_text"].encode("utf-8")
    else:
        raise AssertionError(f"unknown file spec {spec}")
    if "repeat" in spec:  # the (appended) text repeated: large files without large case files
        tail = spec["append"].encode("utf-8") if "append" in spec else data
        data = (data if "append" in spec else b"") + tail * int(spec["repeat"])
    if "truncate" in spec:
        data = data[:int(spec["truncate"])]
    path.write_bytes(data)


def edit_file(root: Path, relative: str, edit: dict) -> None:
    """Edits applied after the setup commands: truncate, replace an .npz's array, or rewrite a
    JSON document's key (``json_set``: dotted key -> value, a value may be a raw JSON text)."""
    path = root / relative
    if "truncate" in edit:
        path.write_bytes(path.read_bytes()[:int(edit["truncate"])])
    if "npz_set" in edit:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        for key, spec in edit["npz_set"].items():
            arrays[key] = array_of(spec)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        path.write_bytes(buffer.getvalue())
    if "json_set" in edit:
        document = json.loads(path.read_text(encoding="utf-8"))
        for dotted, value in edit["json_set"].items():
            where = document
            keys = dotted.split(".")
            for key in keys[:-1]:
                where = where[key]
            where[keys[-1]] = value
        path.write_text(json.dumps(document), encoding="utf-8")
    if "json_text" in edit:
        path.write_text(edit["json_text"], encoding="utf-8")


# ---- snapshots ------------------------------------------------------------------------------

def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry below ``root`` (symlinks not followed): kind and content digest."""
    entries: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ("dir",)
            elif stat.S_ISREG(info.st_mode):
                entries[relative] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            elif stat.S_ISFIFO(info.st_mode):
                entries[relative] = ("fifo",)
            elif stat.S_ISCHR(info.st_mode):
                entries[relative] = ("chr", info.st_rdev)
            else:
                entries[relative] = ("other", stat.S_IFMT(info.st_mode))
    return entries


def below(relative: str, outputs: list[str]) -> bool:
    return any(relative == out or relative.startswith(out.rstrip("/") + "/") for out in outputs)


# ---- running --------------------------------------------------------------------------------

def substitute(word: str, root: Path, cwd: Path) -> str:
    return word.format(scratch=root, home=root / "home", cwd=cwd)


RUNNER = "import sys; from snnc.cli import main; sys.exit(main(sys.argv[1:]))"


def limit_memory():  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (ISOLATE_MEMORY, ISOLATE_MEMORY))


def run_isolated(argv: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int, str]:
    """Run snnc in a child with a timeout and an address-space limit: (status, stderr)."""
    try:
        done = subprocess.run([sys.executable, "-c", RUNNER, *argv], cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=timeout, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired as expired:
        err = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) \
            else (expired.stderr or "")
        pytest.fail(f"snnc {' '.join(argv)} did not finish within {timeout} s (a hang)\n{err}")
    return done.returncode, done.stderr


def kill_midway(spec: dict, root: Path, cwd: Path) -> None:
    """Start snnc in a child and SIGKILL it after ``spec['after']`` seconds (a killed run whose
    temporaries the case's own run must clean up)."""
    argv = [substitute(w, root, cwd) for w in spec["argv"]]
    child = subprocess.Popen([sys.executable, "-c", RUNNER, *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limit_memory)
    try:
        child.wait(timeout=float(spec["after"]))
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()


def run_in_process(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    status = main(argv)
    return status, capsys.readouterr().err


def check_emitted_python(root: Path, outputs: list[str]) -> None:
    """No emitted .py (or notebook-like text) calls open('PWNED'...) or os.system as a statement
    of its own: user text must reach generated code as literals only."""
    for out in outputs:
        for path in sorted((root / out).rglob("*.py")) if (root / out).is_dir() else []:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else (
                        func.attr if isinstance(func, ast.Attribute) else "")
                    args = [a.value for a in node.args if isinstance(a, ast.Constant)]
                    assert not (name in ("open", "system") and any("PWNED" in str(a) for a in args)), \
                        f"user text became code in {path}: {ast.unparse(node)}"


def expected_outcomes(case: dict) -> list[dict]:
    """The outcomes a case accepts: its ``accept`` list, else its ``exit`` and ``code``."""
    def norm(o):
        codes = o.get("code") or []
        return {"exit": o["exit"], "code": [codes] if isinstance(codes, str) else list(codes)}
    return [norm(o) for o in case.get("accept", [case])]


def describe(outcomes: list[dict]) -> str:
    return " or ".join(f"exit {o['exit']}" + (f" with {'/'.join(o['code'])}" if o["code"] else "")
                       for o in outcomes)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One cache folder for every case, outside the scratch folders (compiled kernels are reused)."""
    return tmp_path_factory.mktemp("adversarial-cache")


def emitted_python_problems(root: Path, outputs: list[str]) -> list[str]:
    try:
        check_emitted_python(root, outputs)
    except (AssertionError, SyntaxError) as error:
        return [str(error)]
    return []


def default_runner(case: dict, capsys):
    """In-process through main(), or in a limited child for cases marked ``isolate``."""
    def run(argv: list[str], cwd: Path) -> tuple[int, str]:
        if case.get("isolate"):
            return run_isolated(argv, cwd, dict(os.environ), case.get("timeout", ISOLATE_TIMEOUT))
        return run_in_process(argv, capsys)
    return run


def run_case(case: dict, document: dict, tmp_path: Path, monkeypatch, capsys, cache: Path,
             runner=None) -> tuple[str, list[str], str]:
    """Build the scratch folder, run the case and judge it: (command, problems, stderr).
    ``runner(argv, cwd) -> (status, stderr)`` replaces snnc (the harness's own test uses it)."""
    root = tmp_path / "scratch"
    root.mkdir(parents=True)
    programs = document.get("programs", {})
    for relative, text in SENTINELS.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    for relative, spec in case.get("files", {}).items():
        make_file(root, relative, spec, programs)
    cwd = root / case.get("cwd", "work")
    cwd.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.delenv("SNNC_DEBUG", raising=False)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    # the simulation cache and numba's caches live outside the scratch folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    for setup in case.get("setup", []):
        words = [substitute(w, root, cwd) for w in setup]
        status, err = run_in_process(words, capsys)
        assert status == 0, f"setup snnc {' '.join(words)} failed ({status}):\n{err}"
    for relative, edit in case.get("edit", {}).items():
        edit_file(root, relative, edit)
    outputs = list(case.get("outputs", []))
    before = snapshot(root)
    null_before = os.stat("/dev/null").st_mode

    if "kill_first" in case:
        kill_midway(case["kill_first"], root, cwd)
    argv = [substitute(w, root, cwd) for w in case["argv"]]
    status, err = (runner or default_runner(case, capsys))(argv, cwd)

    command = "snnc " + " ".join(argv)
    problems = []
    outcomes = expected_outcomes(case)
    if status == INTERNAL:
        problems.append(f"exit 3 (internal error), expected {describe(outcomes)}")
    elif not any(status == o["exit"] and (not o["code"] or any(c in err for c in o["code"]))
                 for o in outcomes):
        found = sorted(set(re.findall(r"\b[EW]\d{3}\b", err)))
        problems.append(f"exit {status} with {found or 'no codes'}, expected {describe(outcomes)}")
    for word in DANGEROUS_WORDS:
        if word in err:
            problems.append(f"'{word}' on stderr")
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode) or os.stat("/dev/null").st_mode != null_before:
        problems.append("/dev/null is no longer a character device")
    after = snapshot(root)
    leftovers = sorted(p for p in after if ".snnc-" in p.rsplit("/", 1)[-1]
                       and p.rsplit("/", 1)[-1] != OUTPUT_MARKER)
    if leftovers:
        problems.append(f"temporaries left: {leftovers}")
    changed = sorted(p for p in before if not below(p, outputs) and after.get(p) != before[p])
    if changed:
        problems.append("changed or deleted outside the outputs: " + ", ".join(
            f"{p} ({'deleted' if p not in after else 'changed'})" for p in changed))
    created = sorted(p for p in after if p not in before and not below(p, outputs))
    if created:
        problems.append(f"created outside the outputs: {created}")
    if status == 0:
        for relative, keys in case.get("npz_keys", {}).items():
            if not (root / relative).is_file():
                problems.append(f"{relative} was not written")
                continue
            with np.load(root / relative) as archive:
                missing = [k for k in keys if k not in archive.files]
                if missing:
                    problems.append(f"{relative} lacks {missing} (has {sorted(archive.files)})")
    if case.get("check_emitted_python"):
        problems += emitted_python_problems(root, outputs)
    return command, problems, err


@pytest.mark.parametrize("family,case,document", CASES, ids=[c["name"] for _, c, _ in CASES])
def test_adversarial_case(family, case, document, tmp_path, monkeypatch, capsys, shared_cache):
    command, problems, err = run_case(case, document, tmp_path, monkeypatch, capsys, shared_cache)
    assert not problems, f"{case['name']} ({family}): {command}\n  " + "\n  ".join(problems) + \
        f"\n--- stderr ---\n{err[-3000:]}"


HARNESS_CASE = {"name": "harness", "argv": ["compile", "p.snn", "-o", "build"], "exit": 1, "code": ["E630"],
                "files": {"work/p.snn": {"text": "network t {\n}\n"}}, "outputs": ["work/build"]}


def test_the_harness_notices_every_kind_of_harm(tmp_path, monkeypatch, capsys, shared_cache):
    """A stand-in for snnc that does everything the tier forbids is caught on every count."""
    def harmful(argv, cwd):
        (cwd / "notes.txt").unlink()
        (cwd.parent / "home" / "project" / "thesis.tex").write_text("gone")
        (cwd / ".snnc-tmp-1-ab").write_text("half")
        (cwd / "stray.txt").write_text("x")
        (cwd / "build").mkdir()
        (cwd / "build" / "ok.py").write_text("open('PWNED', 'w')\n")
        return 3, "Traceback (most recent call last):\nsnnc: internal error"

    case = dict(HARNESS_CASE, check_emitted_python=True)
    _, problems, _ = run_case(case, {}, tmp_path, monkeypatch, capsys, shared_cache, runner=harmful)
    text = "\n".join(problems)
    for expected in ("exit 3", "Traceback", "internal error", "temporaries left",
                     "work/notes.txt (deleted)", "home/project/thesis.tex (changed)", "work/stray.txt",
                     "user text became code"):
        assert expected in text, (expected, problems)


def test_the_harness_accepts_a_clean_refusal(tmp_path, monkeypatch, capsys, shared_cache):
    def clean(argv, cwd):
        (cwd / "build").mkdir()
        (cwd / "build" / ".snnc-output").write_text("marker")
        return 1, "error[E630]: -o 'build' is a folder snnc did not write"

    _, problems, _ = run_case(HARNESS_CASE, {}, tmp_path, monkeypatch, capsys, shared_cache, runner=clean)
    assert problems == []
    _, problems, _ = run_case(dict(HARNESS_CASE, code=["E631"]), {}, tmp_path / "again", monkeypatch,
                              capsys, shared_cache, runner=clean)
    assert problems and "expected exit 1 with E631" in problems[0]


def test_the_tier_is_large_and_covers_every_family():
    """The acceptance of issue 13: at least 200 cases; every family has cases."""
    counts = {family: len(document["cases"]) for family, document in families().items()}
    assert sum(counts.values()) >= 200, counts
    assert all(n > 0 for n in counts.values()), counts
    for _, case, _ in CASES:
        for outcome in expected_outcomes(case):
            assert outcome["exit"] in (0, 1, 2), case["name"]
            assert outcome["exit"] == 0 or outcome["code"], f"{case['name']} names no code"
