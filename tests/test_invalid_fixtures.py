"""Invalid programs under tests/fixtures/invalid/: each has one mistake and a known diagnostic.

Every fixture starts with two comment lines::

    # expect: E203 at 8:20
    # mistake: the neuron model 'CubaLIF' is misspelt 'CubaLFI'

The position is that of the primary diagnostic (1-based, counting the header lines). When
the diagnostic belongs to another file, for example an import cycle closed in an imported
file, the header names it relative to the fixture: ``# expect: E602 at 3:8 in _imports/x.snn``.
Files under a folder whose name starts with '_' (such as ``_imports/``) are helpers that the
fixtures import; they are not test cases themselves.

Fixtures for the semantic passes and the locality/learning checks (shapes, ranges, rule
variables, target capabilities) live in tests/fixtures/semantics/invalid/ and follow the same
rules; their test ids start with ``semantics/``.
"""

import os
import pathlib
import re

import pytest

import snnc
from snnc.cli import main

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "invalid"
SEMANTIC_FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "semantics" / "invalid"
HEADER = re.compile(r"#\s*expect:\s*(?P<code>[EW]\d{3})\s+at\s+(?P<line>\d+):(?P<column>\d+)"
                    r"(?:\s+in\s+(?P<file>\S+))?\s*$")


def fixture_files(root: pathlib.Path = FIXTURES) -> list[pathlib.Path]:
    return sorted(p for p in root.rglob("*.snn")
                  if not any(part.startswith("_") for part in p.relative_to(root).parts[:-1]))


def fixture_id(path: pathlib.Path) -> str:
    return f"semantics/{path.name}" if path.is_relative_to(SEMANTIC_FIXTURES) else path.name


FILES = fixture_files() + fixture_files(SEMANTIC_FIXTURES)


def read_lines(path: pathlib.Path) -> list[str]:
    # Some fixtures are deliberately not UTF-8; the header lines are always ASCII.
    return path.read_bytes().decode("utf-8", errors="replace").split("\n")


def expectation(path: pathlib.Path) -> tuple[str, int, int, pathlib.Path]:
    lines = read_lines(path)
    match = HEADER.match(lines[0])
    assert match, f"{path.name}: first line must be '# expect: E### at LINE:COL'"
    assert len(lines) > 1 and lines[1].startswith("#") and len(lines[1].strip("# ")) > 10, \
        f"{path.name}: second line must describe the mistake in words"
    where = path if match["file"] is None else path.parent / match["file"]
    return match["code"], int(match["line"]), int(match["column"]), where


def same_file(a: str, b: pathlib.Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def test_there_are_enough_fixtures():
    assert len(FILES) >= 40
    assert all(p.suffix == ".snn" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=[fixture_id(p) for p in FILES])
def test_fixture_reports_the_expected_error(path):
    code, line, column, where = expectation(path)
    diag = snnc.Diagnostics()
    result = snnc.check_file(str(path), diag)
    assert result is None, f"{path.name}: expected errors, the program was accepted"

    errors = [d for d in diag.sorted() if d.severity is snnc.Severity.ERROR]
    assert errors, f"{path.name}: check_file returned None without an error"
    first = errors[0]
    rendered = "\n".join(snnc.render(d, diag.sources) for d in diag.sorted())
    assert first.span is not None, rendered
    assert (first.code, first.span.line, first.span.column) == (code, line, column), rendered
    assert same_file(first.span.file, where), rendered

    for d in diag.sorted():
        text = snnc.render(d, diag.sources)
        assert f"[{d.code}]" in text and d.message in text
        if d.span is None:
            continue
        source = diag.sources.get(d.span.file)
        lines = source.split("\n") if source is not None else read_lines(pathlib.Path(d.span.file))
        count = len(lines) - (lines[-1] == "")  # a final newline does not start a line
        assert 1 <= d.span.line <= count + 1, text
        assert d.span.column >= 1 and d.span.end_line >= d.span.line, text
        if d.span.line <= count:
            assert d.span.column <= len(lines[d.span.line - 1]) + 1, text


CLI_SAMPLES = [
    "e104_missing_colon_after_population_name.snn",
    "e121_misspelt_population.snn",
    "e203_unknown_model_cubalfi.snn",
    "e205_tau_mem_in_millivolts.snn",
    "e208_eprop_without_readout.snn",
    "e601_import_missing_file.snn",
]


@pytest.mark.parametrize("name", CLI_SAMPLES)
def test_cli_check_reports_fixture(name, capsys):
    path = FIXTURES / name
    code, line, column, _ = expectation(path)
    status = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"{path}:{line}:{column}: error[{code}]" in err
    assert any(re.fullmatch(r"\s*\|\s*\^+", row) for row in err.splitlines()), err
    assert "Traceback" not in err and "internal error" not in err
    assert out == ""
