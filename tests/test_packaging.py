"""Packaging guards: the package list matches the folders, imports go through 'snnc', and the
data files (grammar, standard library) ship with the package."""

import ast
import pathlib
import re
import subprocess
import sys

import snnc

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAPPING = {"snnc": "compiler", "snnc.backends": "backends", "snnc.grammar": "grammar"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_package_dir_mapping_is_the_documented_one():
    assert pyproject()["tool"]["setuptools"]["package-dir"] == MAPPING


def test_packages_equal_the_folders_on_disk():
    on_disk = set()
    for package, folder in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in relative.parts:
                continue
            on_disk.add(".".join([package, *relative.parts]))
    assert set(pyproject()["tool"]["setuptools"]["packages"]) == on_disk


def test_no_shadowing_folders_inside_compiler():
    assert not (ROOT / "compiler" / "backends").exists()
    assert not (ROOT / "compiler" / "grammar").exists()


def test_sources_import_snnc_never_the_source_folders():
    banned = re.compile(r"^(compiler|backends|grammar)(\.|$)")
    offenders = []
    for folder in ("compiler", "backends", "grammar", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if banned.match(n)]
    assert offenders == []


def test_grammar_and_stdlib_ship_with_the_package():
    from importlib import resources
    assert resources.files("snnc.grammar").joinpath("snn.lark").is_file()
    stdlib = [f.name for f in resources.files("snnc.stdlib").iterdir() if f.name.endswith(".snn")]
    assert "eprop.snn" in stdlib and "oracles.snn" in stdlib
    assert resources.files("snnc").joinpath("py.typed").is_file()


def test_python_dash_m_snnc_reports_the_version():
    out = subprocess.run([sys.executable, "-m", "snnc", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"snnc {snnc.__version__}"
    assert pyproject()["project"]["version"] == snnc.__version__


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = "pip install -e '.[test]' && python -m pytest"
    assert command in readme
    assert command in (ROOT / ".ci" / "run").read_text()


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "compiler", "backends",
                             "grammar", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
