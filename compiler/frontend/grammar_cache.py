"""What every process would otherwise rebuild, built once per user and kept in cache files:
the parser tables of ``grammar/snn.lark`` and the parsed standard library.

Building the LALR tables takes tens of milliseconds every process, parsing the standard library
as long; loading either takes a few. The lexers' regular expressions are stored compiled as well
(:class:`StoredPatterns`): ``re`` would parse and compile one union pattern per lexer state in
every process.

- the folder is ``$XDG_CACHE_HOME/snnc/parser``, else ``~/.cache/snnc/parser``, created with
  mode 0700; a folder that is a symlink, is owned by another user or is writable by group or
  others is never used (the tables are pickled, so only a file of our own is read);
- the file name holds a digest of everything the content depends on (for the tables: the
  grammar text, the Lark options, Lark's version and Python's; for the standard library: its
  text, the grammar and the front end's source), so an edit or an upgrade never reads stale
  content;
- the file is written atomically (a private temporary file renamed into place) and a file that
  cannot be read (corrupt, truncated, from another Lark) is rebuilt, never an error;
- when the folder cannot be created or written, everything is built in memory, silently.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import stat
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # lark is imported where a parser is built or loaded
    from lark import Lark


#: the parser tables' files start with this (``<prefix><digest>.pickle``)
PREFIX = "snn-lalr-"
#: the parsed standard library's files start with this
STDLIB_CACHE = "stdlib-ast-"
#: the layout of the parser tables' files (part of their digest)
TABLES_FORMAT = "lark-save+sre-programs-1"


def cache_folder() -> str:
    """The folder this user's environment names for the parser cache (not created)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec ignores relative paths
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "snnc", "parser")


def ours(info: os.stat_result, kind: int) -> bool:
    """A file of ``kind`` (S_IFDIR, S_IFREG) owned by us and not writable by anybody else."""
    return stat.S_IFMT(info.st_mode) == kind and info.st_uid == os.geteuid() \
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def usable_folder(folder: str) -> bool:
    """Create ``folder`` (0700) if missing; True when it is ours to read and write."""
    try:
        if not os.path.lexists(folder):
            os.makedirs(os.path.dirname(folder), exist_ok=True)
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:  # another process created it: check theirs below
                pass
        return ours(os.lstat(folder), stat.S_IFDIR) and os.access(folder, os.W_OK)
    except OSError:
        return False


def digest(grammar: str, options: dict) -> str:
    """What the tables depend on: the grammar, the options, Lark's and Python's versions."""
    described = sorted((name, value if name != "postlex" else type(value).__qualname__)
                       for name, value in options.items())
    from lark import __version__ as lark_version
    key = "\0".join([grammar, repr(described), lark_version, "%d.%d" % sys.version_info[:2],
                     TABLES_FORMAT])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def read_private(path: str) -> bytes | None:
    """The content of ``path``; None when it is missing, a link, or not ours alone."""
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(handle, "rb") as file:
            if not ours(os.fstat(file.fileno()), stat.S_IFREG):
                return None
            return file.read()
    except OSError:
        return None


def write_private(folder: str, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (mode 0600); silently nothing when that fails."""
    try:
        handle, staging = tempfile.mkstemp(prefix=".staging-", dir=folder)
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    except OSError:
        try:
            os.unlink(staging)
        except OSError:
            pass


def cached(prefix: str, key: str, build, save, load):
    """``build()``, or what ``load(bytes)`` gives back from the cache file ``<prefix><key>``
    written by ``save(value) -> bytes`` (any failure to load: built and stored again)."""
    folder = cache_folder()
    if not usable_folder(folder):
        return build()
    path = os.path.join(folder, f"{prefix}{key}.pickle")
    data = read_private(path)
    if data is not None:
        try:
            return load(data)
        except Exception:  # noqa: BLE001 - corrupt, truncated or foreign: rebuild
            pass
    value = build()
    write_private(folder, path, save(value))
    return value


def sre_program(pattern: str, flags: int) -> tuple:
    """The arguments of ``_sre.compile`` that ``re.compile(pattern, flags)`` computes (the
    steps of ``re._compiler.compile``: parse, generate the matcher's code, name the groups)."""
    try:
        from re import _compiler, _parser
    except ImportError:  # Python 3.10
        import sre_compile as _compiler  # noqa: F401 - deprecated names, the same functions
        import sre_parse as _parser
    parsed = _parser.parse(pattern, flags)
    code = [int(op) for op in _compiler._code(parsed, flags)]
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    return (pattern, int(flags | parsed.state.flags), code, parsed.state.groups - 1, groupindex,
            tuple(indexgroup))


def sre_version() -> tuple:
    """What a stored program depends on: the exact interpreter and its regex engine."""
    import _sre
    return (sys.implementation.name, sys.hexversion, getattr(_sre, "MAGIC", None),
            getattr(_sre, "CODESIZE", None))


class StoredPatterns:
    """The ``re`` module as Lark's lexers see it, with compiled programs stored in the cache.

    Lark's contextual lexer compiles one union of its terminals' expressions per parser state
    the first time the state lexes, ``re`` parsing and compiling each in Python: tens of
    milliseconds per process. :meth:`compile` instead hands ``_sre.compile`` the program
    stored for ``(pattern, flags)`` (computed once by :func:`sre_program`, then pickled with
    the tables): the same pattern object ``re.compile`` returns. A pattern not stored, or
    stored by another interpreter, is compiled by ``re``; with ``record``, every pattern
    compiled is stored (and checked against ``re``'s own: on any difference nothing is)."""

    def __init__(self, programs: dict | None = None, record: bool = False) -> None:
        self.programs: dict = programs or {}
        self.record = record
        self.compiled: dict = {}

    def compile(self, pattern, flags=0):
        key = (pattern, flags)
        found = self.compiled.get(key)
        if found is not None:
            return found
        program = self.programs.get(key)
        if program is None and self.record and isinstance(pattern, str):
            program = self._recorded(pattern, flags)
        if program is not None:
            import _sre
            found = _sre.compile(*program)
        else:
            found = re.compile(pattern, flags)
        self.compiled[key] = found
        return found

    def _recorded(self, pattern: str, flags: int) -> tuple | None:
        expected = re.compile(pattern, flags)
        try:
            import _sre
            program = sre_program(pattern, flags)
            made = _sre.compile(*program)
        except Exception:  # noqa: BLE001 - another interpreter's internals: use re alone
            self.record = False
            return None
        if (made.pattern, made.flags, made.groups, made.groupindex) != \
                (expected.pattern, expected.flags, expected.groups, expected.groupindex):
            self.record = False
            return None
        self.programs[(pattern, flags)] = program
        return program

    def match(self, pattern, string, flags=0):
        return self.compile(pattern, flags).match(string)

    def __getattr__(self, name: str):
        return getattr(re, name)


def basic_lexers(parser: Lark) -> list:
    """The lexers of ``parser`` that compile expressions (one per contextual state, the
    root lexer), each once."""
    lexer = parser.parser.lexer
    lexer = getattr(lexer, "lexer", lexer)  # behind the post-lexer's connector
    found = [*getattr(lexer, "lexers", {}).values(), getattr(lexer, "root_lexer", lexer)]
    return list({id(each): each for each in found if hasattr(each, "re")}.values())


def use_patterns(parser: Lark, patterns: StoredPatterns) -> None:
    """Make the lexers of ``parser`` compile through ``patterns``."""
    for lexer in basic_lexers(parser):
        lexer.re = patterns
    parser.lexer_conf.re_module = patterns


def build_lark(grammar: str, options: dict) -> tuple[Lark, StoredPatterns]:
    """The parser, compiling its expressions through (empty) :class:`StoredPatterns`."""
    from lark import Lark
    parser = Lark(grammar, **options)
    patterns = StoredPatterns()
    use_patterns(parser, patterns)
    return parser, patterns


def lark_bytes(built: tuple[Lark, StoredPatterns]) -> bytes:
    """The cache file's content: Lark's own save, and the programs of every lexer state's
    expressions (compiled here, once: Lark builds a state's scanner on first use)."""
    parser, patterns = built
    patterns.record = True
    for lexer in basic_lexers(parser):
        getattr(lexer, "scanner", None)
    patterns.record = False
    buffer = io.BytesIO()
    parser.save(buffer)
    return pickle.dumps({"lark": buffer.getvalue(), "sre": sre_version(),
                         "programs": patterns.programs}, pickle.HIGHEST_PROTOCOL)


def load_lark(data: bytes) -> tuple[Lark, StoredPatterns]:
    from lark import Lark
    stored = pickle.loads(data)
    parser = Lark.load(io.BytesIO(stored["lark"]))
    programs = stored["programs"] if stored["sre"] == sre_version() else {}
    patterns = StoredPatterns(programs)
    use_patterns(parser, patterns)
    return parser, patterns


def cached_lark(grammar: str, **options) -> Lark:
    """``Lark(grammar, **options)`` (LALR), its tables and its lexers' compiled expressions
    loaded from the cache when they are there, else built and stored. ``postlex`` is stored
    with the tables: read it back from ``parser.options.postlex``."""
    parser, _ = cached(PREFIX, digest(grammar, options), lambda: build_lark(grammar, options),
                       lark_bytes, load_lark)
    return parser


def source_digest(texts: list[str], modules: list[str]) -> str | None:
    """A digest of ``texts`` and of the source files of ``modules`` (None when a source cannot
    be read, e.g. an installation without ``.py`` files: then nothing is cached)."""
    parts = [*texts, "%d.%d" % sys.version_info[:2]]
    for name in modules:
        try:
            with open(sys.modules[name].__file__, "rb") as file:
                parts.append(file.read().decode("utf-8", "replace"))
        except (OSError, KeyError, TypeError, AttributeError):
            return None
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:24]


def cached_pickle(prefix: str, key: str | None, build):
    """``build()`` (a picklable value), kept in the cache under ``key`` (None: not cached)."""
    if key is None:
        return build()
    return cached(prefix, key, build, lambda value: pickle.dumps(value, pickle.HIGHEST_PROTOCOL),
                  pickle.loads)
