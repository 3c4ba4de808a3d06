"""The documentation the code cites is in the repository, and its links resolve.

- Every markdown file name a file of the repository cites (in prose, comments, docstrings,
  strings, JSON) exists: relative to the citing file's folder or to the repository root.
  Python files are read through their tokens, so only strings and comments count (an
  attribute access on a module is code, not a citation).
- Every relative link in README.md and docs/*.md points to an existing file, and an anchor
  (``name`` + ``#section``) to a heading of that file, under GitHub's rules for heading slugs.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the markdown suffix, kept apart so that this file names no document it does not mean to cite
MD = ".md"
#: folders that are not the repository's own text (generated, caches, environments)
SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "build",
             "dist", ".venv", ".ci-venv", "runs", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".json", ".snn", ".j2", ".toml", ".txt", ".lark", ".cfg", ".ini",
                 ".yml", ".yaml", ".sh", ""}
#: names of markdown files that a program writes at run time, not files of the repository:
#: (citing file, name) -> why
WRITTEN_AT_RUN_TIME = {
    ("examples/randman/experiment.py", "results.md"): "the experiment's report, in its --out",
    ("examples/store_recall/experiment.py", "results.md"): "the experiment's report, in its --out",
}
CITATION = re.compile(r"(?<![\w./-])((?:\.{1,2}/)*[\w][\w.-]*(?:/[\w][\w.-]*)*\.md)(?![\w/-])")
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)


def repository_files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") or part.startswith(".venv")
               for part in relative.parts[:-1]):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            out.append(path)
    return sorted(out)


def cited_text(path: Path) -> str:
    """The text of a file in which citations count: strings and comments for Python."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".py":
        return text
    parts = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.STRING, tokenize.COMMENT):
                parts.append(token.string)
    except (tokenize.TokenError, SyntaxError):
        return text
    return "\n".join(parts)


def citations(path: Path) -> list[str]:
    text = URL.sub(" ", cited_text(path))
    return [m.group(1) for m in CITATION.finditer(text)]


def resolves(path: Path, name: str) -> bool:
    name = name.split("#")[0]
    return (path.parent / name).is_file() or (ROOT / name).is_file()


def test_every_cited_markdown_file_exists():
    missing = []
    for path in repository_files():
        if path == Path(__file__).resolve():  # its examples are not citations
            continue
        relative = path.relative_to(ROOT).as_posix()
        for name in citations(path):
            if (relative, name) in WRITTEN_AT_RUN_TIME or resolves(path, name):
                continue
            missing.append(f"{relative}: {name}")
    assert not missing, "cited markdown files that are not in the repository:\n" + "\n".join(
        sorted(set(missing)))


def test_the_citation_scanner_sees_citations_and_ignores_code(tmp_path):
    # the names are built here so that this file itself cites no missing document
    learning, targets, other = (f"{stem}{MD}" for stem in ("LEARNING", "TARGETS", "../other"))
    source = tmp_path / "m.py"
    source.write_text(f'"""See {learning} section 2."""\nx = module{MD}  # {targets}\n'
                      f'url = "https://example.org/README{MD}"\n')
    assert citations(source) == [learning, targets]
    profile = tmp_path / "p.json"
    profile.write_text(f'{{"sources": ["docs/targets{MD}: figure", "{other}"]}}')
    assert citations(profile) == [f"docs/targets{MD}", other]


# -- links in the documentation ---------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def prose_lines(text: str, code_spans: bool = False) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed (unless
    ``code_spans``)."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line if code_spans else re.sub(r"`[^`]*`", "", line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, without punctuation other
    than hyphens and underscores, spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    out: set[str] = set()
    counts: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        base = slug(match.group(1))
        n = counts.get(base, 0)
        counts[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_documentation_exists():
    names = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {"models.md", "learning.md", "targets.md", "interop.md"} <= names


@pytest.mark.parametrize("document", documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(document):
    broken = []
    for line in prose_lines(document.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
                continue
            file, _, anchor = target.partition("#")
            path = (document.parent / file).resolve() if file else document
            if not path.exists():
                broken.append(f"{target}: no file {file}")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{target}: no heading with anchor #{anchor} in {path.name}")
            elif anchor and path.suffix != ".md":
                broken.append(f"{target}: an anchor into a file that is not markdown")
    assert not broken, "\n".join(broken)


def test_readme_lists_every_section_in_its_contents():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sections = [line[3:] for line in prose_lines(text, code_spans=True)
                if line.startswith("## ")]
    contents = text.split("**Contents**", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"\]\(#([^)]+)\)", contents)
    assert linked == [slug(s) for s in sections]


def test_slugs_follow_github():
    assert slug("The `.snn` language") == "the-snn-language"
    assert slug("Can a rule run on a chip? The locality analysis") == \
        "can-a-rule-run-on-a-chip-the-locality-analysis"
    assert slug("Input scaling c_in") == "input-scaling-c_in"
    assert slug("Memory (E617)") == "memory-e617"
