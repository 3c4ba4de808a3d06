"""What every process would otherwise rebuild, built once per user and kept in cache files:
the parser tables of ``grammar/snn.lark`` and the parsed standard library.

Building the LALR tables takes tens of milliseconds every process, parsing the standard library
as long; loading either takes a few.

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
import stat
import sys
import tempfile

from lark import Lark
from lark import __version__ as LARK_VERSION

#: the parser tables' files start with this (``<prefix><digest>.pickle``)
PREFIX = "snn-lalr-"
#: the parsed standard library's files start with this
STDLIB_CACHE = "stdlib-ast-"


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
    key = "\0".join([grammar, repr(described), LARK_VERSION, "%d.%d" % sys.version_info[:2]])
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


def lark_bytes(parser: Lark) -> bytes:
    buffer = io.BytesIO()
    parser.save(buffer)
    return buffer.getvalue()


def cached_lark(grammar: str, **options) -> Lark:
    """``Lark(grammar, **options)`` (LALR), its tables loaded from the cache when they are
    there, else built and stored. ``postlex`` is stored with the tables: read it back from
    ``parser.options.postlex``."""
    return cached(PREFIX, digest(grammar, options), lambda: Lark(grammar, **options),
                  lark_bytes, lambda data: Lark.load(io.BytesIO(data)))


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
