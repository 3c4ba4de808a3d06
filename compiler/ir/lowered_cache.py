"""Lowered networks kept per user between processes: running, compiling or training an
unchanged program again skips reading, parsing and lowering it (and importing the parser).

What loading and lowering make of a root file depends on the text of the root and of every
file it imports, on snnc's own sources (the grammar, the front end, the standard library) and
on the path it was given (imports and the paths in diagnostics are relative to it). So:

- an entry is found by a digest of the root's path as given, the working folder, Python's
  version and :func:`snnc.source_stamp.source_stamp` (an edit or an upgrade of snnc is a new
  digest); it lives in the front end's cache folder beside the parser tables
  (:func:`snnc.frontend.grammar_cache.cache_folder`: ``~/.cache/snnc/parser``, 0700, a file of
  ours alone or it is never read: the network is pickled);
- it holds the SHA-256 of the bytes of every file the program was read from (root and
  imports) and is used only when each of those files still has exactly those bytes: any edit
  (of the root or of an import) reads and lowers the program again and replaces the entry;
- it holds the diagnostics that loading and lowering reported (warnings: a program with
  errors is never stored) and the source texts they are rendered with, given back to the
  caller's sink as a fresh load would give them (the standard library's texts are read from
  the package, as lowering registers them);
- a program whose lowering read data files (``file(...)``: the network keeps their arrays)
  is not stored: those files are not part of the digest;
- a file that cannot be read back (corrupt, truncated, written by other code) is a miss, never
  an error; a folder that cannot be used means no cache, silently;
- at most :data:`MAX_ENTRIES` entries are kept: storing one more removes the least recently
  used quarter (a hit marks its entry used).

``SNNC_NO_LOWERED_CACHE=1`` turns the cache off (every load parses and lowers).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import stat
import sys

from snnc.diagnostics import Diagnostics, Severity
from snnc.files import SOURCE_LIMIT, FileProblem, read_bytes
from snnc.frontend.grammar_cache import cache_folder, read_private, usable_folder, write_private
from snnc.ir.network import Network
from snnc.ir.values import FromFile
from snnc.source_stamp import source_stamp
from snnc.stdlib import STDLIB_PREFIX, stdlib_sources

#: the entries' file names: ``<PREFIX><digest>.pickle``
PREFIX = "lowered-"
#: the layout of an entry (part of its digest)
FORMAT = "lowered-network-1"
#: at most this many entries are kept (the least recently used go first): an entry is a few
#: kilobytes, one per root file and working folder
MAX_ENTRIES = 1000


class Uncacheable(Exception):
    """The network holds something the digest does not cover (the arrays of data files)."""


class NetworkPickler(pickle.Pickler):
    """Pickles a network, refusing one that holds values read from data files."""

    def persistent_id(self, obj):
        if isinstance(obj, FromFile):
            raise Uncacheable(obj.path)
        return None


def enabled() -> bool:
    return not os.environ.get("SNNC_NO_LOWERED_CACHE")


def entry_path(path: str) -> str | None:
    """The cache file of the root file ``path`` (None when the folder cannot be used)."""
    folder = cache_folder()
    try:
        here = os.getcwd()
    except OSError:  # the working folder was removed: relative paths mean nothing to keep
        return None
    if not usable_folder(folder):
        return None
    key = "\0".join([FORMAT, path, here, sys.version, source_stamp()])
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(folder, f"{PREFIX}{digest}.pickle")


def file_digest(path: str) -> str | None:
    """SHA-256 of the bytes of ``path`` as the loader reads them; None when it cannot be read."""
    try:
        return hashlib.sha256(read_bytes(path, SOURCE_LIMIT)).hexdigest()
    except (FileProblem, OSError):
        return None


def cached_network(entry: str, path: str, diag: Diagnostics) -> Network | None:
    """The network stored in ``entry`` for ``path`` when every file it was read from is
    unchanged, its diagnostics and sources given to ``diag``; None otherwise."""
    data = read_private(entry)
    if data is None:
        return None
    try:
        stored = pickle.loads(data)
        if stored["format"] != FORMAT or stored["root"] != path:
            return None
        if any(file_digest(name) != digest for name, digest in stored["files"]):
            return None
        net = stored["network"]
        if not isinstance(net, Network):
            return None
    except Exception:  # noqa: BLE001 - corrupt, truncated or foreign: load the program
        return None
    diag.sources.update(stdlib_sources())  # as lowering registers them
    diag.sources.update(stored["sources"])
    diag.items.extend(stored["diagnostics"])
    try:
        os.utime(entry)  # recently used: kept when the folder is pruned
    except OSError:
        pass
    return net


def prune(folder: str, keep: int) -> None:
    """Remove the least recently used entries beyond ``keep`` (entries only: files of ours
    named ``lowered-*.pickle``; anything else in the folder is left alone)."""
    entries = []
    try:
        with os.scandir(folder) as found:
            for item in found:
                if item.name.startswith(PREFIX) and item.name.endswith(".pickle"):
                    info = item.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                        entries.append((info.st_mtime_ns, item.path))
    except OSError:
        return
    for _, path in sorted(entries)[:max(0, len(entries) - keep)]:
        try:
            os.unlink(path)
        except OSError:
            pass


def store(entry: str, path: str, program, net: Network, diag: Diagnostics, first: int) -> None:
    """Keep ``net``, lowered from ``program`` (the diagnostics from index ``first`` on were
    reported while loading and lowering it), in ``entry``; nothing when it cannot be stored."""
    files, sources = [], {}
    for module in program.modules:  # the bytes hashed are the bytes whose text was parsed
        try:
            data = read_bytes(module.path, SOURCE_LIMIT)
        except (FileProblem, OSError):
            return
        text = diag.sources.get(module.path)
        if text is None or data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace") != text:
            return
        files.append((module.path, hashlib.sha256(data).hexdigest()))
        sources[module.path] = text
    reported = diag.items[first:]
    named = {d.span.file for d in reported if d.span is not None}
    sources.update((name, text) for name, text in diag.sources.items()
                   if name in named and not name.startswith(STDLIB_PREFIX))
    buffer = io.BytesIO()
    try:
        NetworkPickler(buffer, pickle.HIGHEST_PROTOCOL).dump(
            {"format": FORMAT, "root": path, "files": files, "sources": sources,
             "diagnostics": reported, "network": net})
    except Exception:  # noqa: BLE001 - data files, or an object that does not pickle
        return
    write_private(os.path.dirname(entry), entry, buffer.getvalue())
    if len(os.listdir(os.path.dirname(entry))) > MAX_ENTRIES:
        prune(os.path.dirname(entry), MAX_ENTRIES * 3 // 4)


def load_lowered(path: str, diag: Diagnostics) -> Network | None:
    """``lower(load_file(path))`` (None after errors, reported into ``diag``), from the cache
    when the program and snnc are unchanged since it was stored."""
    entry = entry_path(path) if enabled() else None
    if entry is not None:
        net = cached_network(entry, path, diag)
        if net is not None:
            return net
    from snnc.frontend.loader import load_file
    from snnc.ir.lower import lower

    first = len(diag.items)
    program = load_file(path, diag)
    net = lower(program, diag) if program is not None else None
    if net is not None and entry is not None and \
            not any(d.severity is Severity.ERROR for d in diag.items[first:]):
        store(entry, path, program, net, diag, first)
    return net
