"""Running the generated simulation in-process (what ``snnc run`` and ``snnc train`` do).

The network is emitted exactly as ``snnc compile --emit reference`` would write it and
imported from a folder of the user's own cache (the compiled C steps are kept next to the
module, numba's kernels next to the runtime library that every network of the process shares
(:func:`shared_runtime`), so a second run starts fast):

- the cache root is ``$SNNC_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/snnc/simulations``,
  else ``~/.cache/snnc/simulations``; it is created with mode 0700;
- a root or an entry folder that is a symlink, is owned by another user or is writable by
  group or others is never used: a warning goes to stderr and the simulation runs from a
  fresh private temporary folder, removed at exit;
- an entry ``sim-<digest>`` is used only when every file in it is byte-equal to what snnc
  emits now and everything in it is ours and no link; any other entry of ours is replaced
  atomically (a staged sibling renamed into place), numba's cache files inside it included;
  an entry holding files of another user is left alone and not used;
- entries are kept at mode 0700, so that numba's cache files (written with the umask's
  modes) are out of everybody else's reach;
- the module is compiled from the freshly emitted source held in memory, or from an entry's
  bytes whose digest matches the one recorded when snnc emitted them; no ``.pyc`` is written;
- code generation itself is skipped for a network seen before: an index file
  ``net-<key>`` (0600, ours, no link) maps the digest of the network's content
  (:func:`network_key`: the IR pickled canonically, the delivery, snnc's source files,
  Python's and numpy's versions) to the digest and names of the files emitted for it, and
  those files are hashed again in their entry (the Python sources as they are read into
  memory to be compiled, ``network.npz`` a chunk at a time, never held) and used when their
  digest still matches.

Two processes may race on the same entry: both end up running the same verified content.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import marshal
import os
import pickle
import shutil
import stat
import sys
import tempfile
import time
from types import CodeType, ModuleType

from snnc.backends.reference import ReferenceBackend
from snnc.frontend.grammar_cache import read_private, write_private
from snnc.ir.network import Network
from snnc.source_stamp import source_stamp

#: the layout of the marshalled code objects kept by :func:`code_of` (part of their digest)
MARSHAL_FORMAT = b"marshal-code-1"
#: staging and trash folders older than this (seconds) are left-overs of killed runs
STALE_AFTER = 3600.0


def cache_root() -> str:
    """The cache root this user's environment names (not created, not checked)."""
    explicit = os.environ.get("SNNC_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec ignores relative paths
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "snnc", "simulations")


def unsafe_reason(path: str) -> str | None:
    """Why the folder ``path`` must not be trusted (None when it is a real folder owned by
    the effective user and not writable by group or others)."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"cannot be inspected ({error.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != os.geteuid():
        return f"is owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def foreign_content(path: str) -> bool:
    """True when something below the folder ``path`` belongs to another user."""
    for top, folders, files in os.walk(path, followlinks=False):
        for name in folders + files:
            if os.lstat(os.path.join(top, name)).st_uid != os.geteuid():
                return True
    return False


def has_links(path: str) -> bool:
    """True when a symbolic link lies below the folder ``path``."""
    for top, folders, files in os.walk(path, followlinks=False):
        if any(os.path.islink(os.path.join(top, name)) for name in folders + files):
            return True
    return False


def make_private(path: str) -> None:
    """Mode 0700 for an entry folder of ours: what lies inside (numba writes its cache files
    with the umask's modes) is then out of everybody else's reach."""
    if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
        os.chmod(path, 0o700)


def warn(message: str) -> None:
    print(f"snnc: warning: {message}", file=sys.stderr)


def ensure_root(root: str) -> str | None:
    """Create the cache root (0700) if missing; the reason it cannot be used, or None."""
    if not os.path.lexists(root):
        try:
            os.makedirs(os.path.dirname(root), exist_ok=True)
            os.mkdir(root, 0o700)
            os.chmod(root, 0o700)
        except FileExistsError:  # another process created it: check theirs below
            pass
        except OSError as error:
            return f"cannot be created ({error.strerror})"
    return unsafe_reason(root)


def private_folder() -> str:
    """A fresh folder only we can read, removed when the process exits."""
    folder = tempfile.mkdtemp(prefix="snnc-sim-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def content_of(files: dict[str, str | bytes]) -> dict[str, bytes]:
    return {name: c if isinstance(c, bytes) else c.encode() for name, c in files.items()}


def digest_of(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(files[name])
    return digest.hexdigest()


#: bytes compared at a time when an entry's file is checked against what snnc emits
CHUNK = 1 << 20


def open_ours(path: str) -> int | None:
    """A read-only descriptor of ``path`` when it is a regular file of ours and no link, else
    None (inside an entry of mode 0700 the file's own mode does not matter)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        return None
    return fd


def read_ours(path: str) -> bytes | None:
    """The bytes of ``path`` when it is a regular file of ours and no link (:func:`open_ours`),
    else None."""
    fd = open_ours(path)
    if fd is None:
        return None
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def holds(path: str, expected: bytes) -> bool:
    """True when ``path`` is a regular file of ours and no link holding exactly ``expected``:
    compared :data:`CHUNK` bytes at a time, so a large ``network.npz`` is not read into memory
    a second time beside the emitted one."""
    fd = open_ours(path)
    if fd is None:
        return False
    view = memoryview(expected)
    try:
        if os.fstat(fd).st_size != len(expected):
            return False
        with os.fdopen(fd, "rb", closefd=False) as handle:
            for start in range(0, len(expected), CHUNK):
                if handle.read(CHUNK) != view[start:start + CHUNK]:
                    return False
            return handle.read(1) == b""
    except OSError:
        return False
    finally:
        os.close(fd)


def matches(folder: str, files: dict[str, bytes]) -> bool:
    """True when every emitted file in ``folder`` is a regular file of ours holding exactly
    these bytes, and everything in the folder (numba's cache) is ours and no link."""
    if unsafe_reason(folder) is not None or foreign_content(folder) or has_links(folder):
        return False
    return all(holds(os.path.join(folder, name), expected) for name, expected in files.items())


def write_files(folder: str, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        with open(os.path.join(folder, name), "xb") as handle:
            handle.write(content)


def remove_stale(root: str) -> None:
    """Remove staging and trash folders of killed runs (ours, older than STALE_AFTER)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    now = time.time()
    for name in names:
        if not name.startswith((".staging-", ".trash-")):
            continue
        path = os.path.join(root, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if info.st_uid != os.geteuid() or now - info.st_mtime <= STALE_AFTER:
            continue
        if stat.S_ISDIR(info.st_mode) and not foreign_content(path):
            shutil.rmtree(path, ignore_errors=True)
        elif stat.S_ISREG(info.st_mode):  # an index file being written
            try:
                os.unlink(path)
            except OSError:
                pass


def install(root: str, name: str, files: dict[str, bytes]) -> str | None:
    """The folder ``root/name`` (mode 0700) holding exactly ``files``, written (or replaced)
    atomically; None when the entry exists but is not ours to use or replace."""
    folder = os.path.join(root, name)
    if os.path.lexists(folder):
        reason = unsafe_reason(folder)
        if reason is None and foreign_content(folder):
            reason = "holds files of another user"
        if reason is not None:
            warn(f"cache entry '{folder}' {reason}: not used")
            return None
        make_private(folder)
        if matches(folder, files):
            return folder
    remove_stale(root)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=root)
    try:
        write_files(staging, files)
        for _ in range(3):
            if os.path.lexists(folder):  # a mismatching entry of ours: move it aside first
                trash = tempfile.mkdtemp(prefix=".trash-", dir=root)
                try:
                    os.rename(folder, os.path.join(trash, "old"))
                except OSError:  # another process moved or replaced it
                    pass
                shutil.rmtree(trash, ignore_errors=True)
            try:
                os.rename(staging, folder)
                return folder
            except OSError:  # another process installed its copy first
                if matches(folder, files):
                    return folder
        return None
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)


def simulation_folder(files: dict[str, bytes]) -> str:
    """A trustworthy folder holding exactly ``files``: a cache entry, or a private temporary
    folder (with a warning on stderr) when the cache cannot be trusted."""
    root = cache_root()
    reason = ensure_root(root)
    folder = None
    if reason is not None:
        warn(f"simulation cache '{root}' {reason}: not used; the simulation runs from a "
             "private temporary folder (set SNNC_CACHE_DIR to a folder of your own)")
    else:
        try:
            folder = install(root, "sim-" + digest_of(files)[:16], files)
        except OSError as error:
            warn(f"simulation cache '{root}' cannot be written ({error.strerror}): not used")
    if folder is None:
        folder = private_folder()
        write_files(folder, files)
    return folder


#: the modules loaded in this process, by network key
LOADED: dict[str, ModuleType] = {}


def canonical_set(items: tuple):
    """A set, pickled with its members in a fixed order (see :class:`CanonicalPickler`)."""
    return set(items)


class CanonicalPickler(pickle._Pickler):
    """Pickles sets and frozensets with sorted members, so that the same content gives the
    same bytes in every process (set order follows string hashes, randomised per process),
    and writes a string out wherever it occurs: whether two equal strings are one object
    (the pickle memo shares by identity) depends on how the network was made (lowered now,
    or unpickled from :mod:`snnc.ir.lowered_cache`), not on what it is. The pure-Python
    pickler: the C one never consults overrides for sets."""

    dispatch = dict(pickle._Pickler.dispatch)

    def memoize(self, obj) -> None:
        if type(obj) is not str:
            super().memoize(obj)

    def save_set(self, obj) -> None:
        self.save_reduce(canonical_set, (tuple(sorted(obj, key=repr)),), obj=obj)

    dispatch[set] = save_set
    dispatch[frozenset] = save_set


def network_key(net: Network, delivery: str) -> str | None:
    """The digest of everything the emitted simulation of ``net`` depends on; None when the
    network cannot be pickled (then nothing is looked up or recorded)."""
    import numpy
    buffer = io.BytesIO()
    try:
        CanonicalPickler(buffer, protocol=4).dump(net)
    except Exception:  # noqa: BLE001 - e.g. a lambda attached by a caller
        return None
    digest = hashlib.sha256(buffer.getvalue())
    digest.update(f"\0{delivery}\0{source_stamp()}\0{sys.version}\0{numpy.__version__}"
                  .encode())
    return digest.hexdigest()


def index_path(root: str, key: str) -> str:
    return os.path.join(root, "net-" + key[:32])


def hash_file(digest, path: str) -> bool:
    """Feed the bytes of ``path``, a regular file of ours and no link, to ``digest``
    :data:`CHUNK` bytes at a time; False when it is not one."""
    fd = open_ours(path)
    if fd is None:
        return False
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def verified_sources(folder: str, names: list[str], expected: str) -> dict[str, bytes] | None:
    """The Python sources among the files ``names`` of ``folder`` (name -> bytes) when the
    digest of all of them (:func:`digest_of`: each name and its bytes, in sorted order) is
    ``expected``. A source is hashed as it is read into memory (the bytes compiled are the
    bytes verified); any other file (``network.npz``, hundreds of MB at scale) is hashed a
    chunk at a time and never held. None when a name is not a plain file name or a file is
    missing, foreign or a link, or the digest differs."""
    digest = hashlib.sha256()
    sources = {}
    for name in sorted(set(names)):
        if not name or os.sep in name:
            return None
        path = os.path.join(folder, name)
        digest.update(name.encode())
        if name.endswith(".py"):
            content = read_ours(path)
            if content is None:
                return None
            digest.update(content)
            sources[name] = content
        elif not hash_file(digest, path):
            return None
    return sources if digest.hexdigest() == expected else None


def cached_files(key: str) -> tuple[str, str, dict[str, bytes]] | None:
    """(entry folder, digest, Python sources) recorded for the network ``key``, verified
    against the recorded digest (:func:`verified_sources`); None when anything is missing,
    foreign or different."""
    root = cache_root()
    if not os.path.isdir(root) or unsafe_reason(root) is not None:
        return None
    recorded = read_private(index_path(root, key))
    try:
        stored_key, digest, *names = recorded.decode("ascii").split("\n")
    except (AttributeError, UnicodeDecodeError, ValueError):
        return None
    folder = os.path.join(root, "sim-" + digest[:16])
    if stored_key != key or not names or unsafe_reason(folder) is not None \
            or foreign_content(folder) or has_links(folder):
        return None
    make_private(folder)
    sources = verified_sources(folder, names, digest)
    return None if sources is None else (folder, digest, sources)


def record_files(key: str, folder: str, files: dict[str, bytes]) -> None:
    """Record that the network ``key`` emits ``files`` (now in the entry ``folder`` of the
    cache root): the index file is written atomically (mode 0600), silently nothing when
    that fails."""
    root = cache_root()
    if os.path.dirname(folder) != root:  # a private temporary folder: nothing to find again
        return
    text = "\n".join([key, digest_of(files), *sorted(files)])
    write_private(root, index_path(root, key), text.encode("utf-8"))


def load_simulation(net: Network, delivery: str = "same_step") -> ModuleType:
    """The generated simulation module of ``net``: compiled from the source emitted now (or
    recorded for the same network before, :func:`cached_files`), with ``__file__`` in a
    folder holding exactly the emitted files (its ``network.npz`` and its compiled C steps
    live there). Its runtime library is the process's :func:`shared_runtime` of the emitted
    ``snnc_runtime.py``, registered first under the name the module looks it up by (the
    module's name + '_runtime')."""
    key = network_key(net, delivery)
    if key is not None and key in LOADED:
        return LOADED[key]
    found = cached_files(key) if key is not None else None
    if found is not None:
        folder, digest, files = found  # the sources only: network.npz stays on disk
    else:
        files = content_of(ReferenceBackend(delivery=delivery).emit(net))
        digest = digest_of(files)
    module_name = "snnc_simulation_" + digest[:16]
    if module_name in sys.modules:
        return sys.modules[module_name]
    if found is None:
        folder = simulation_folder(files)
        if key is not None:
            record_files(key, folder, files)
    runtime_name = module_name + "_runtime"  # the name the module looks its runtime up by
    sys.modules[runtime_name] = shared_runtime(files["snnc_runtime.py"], folder)
    try:
        module = execute(module_name, os.path.join(folder, "simulation.py"),
                         files["simulation.py"])
    except BaseException:
        sys.modules.pop(runtime_name, None)
        raise
    if key is not None:
        LOADED[key] = module
    return module


def shared_runtime(source: bytes, folder: str) -> ModuleType:
    """The runtime library of the simulations this process loads from the cache:
    ``snnc_runtime.py`` in a cache entry of its own (``sim-<digest>`` holding that one file),
    run once per process under a name made of its digest and its folder. numba keys its
    kernel cache on the module's file and name, so the kernels compiled for one network serve
    every later network with the same kernel shapes (each network's own copy compiled them
    again). ``folder`` is the network's entry; where the runtime's entry cannot be had (a
    private temporary folder instead of the cache, an entry of another user), the copy in
    ``folder`` runs for that network alone."""
    files = {"snnc_runtime.py": source}
    home = None
    if os.path.dirname(folder) == cache_root():
        try:
            home = install(cache_root(), "sim-" + digest_of(files)[:16], files)
        except OSError:
            home = None
    home = home or folder
    name = "snnc_runtime_" + digest_of(files)[:16] + "_" + \
        hashlib.sha256(home.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    if name not in sys.modules:
        execute(name, os.path.join(home, "snnc_runtime.py"), source)
    return sys.modules[name]


def code_of(path: str, source: bytes) -> CodeType:
    """``source`` compiled for ``path``; in a cache entry, the code object is kept marshalled
    in the entry's ``__pycache__`` under a digest of the source, the path and the interpreter
    (compiling the runtime library takes ~15 ms, loading it back well under one), read back
    only from a file of ours that is no link, and compiled again when it cannot be loaded."""
    folder = os.path.dirname(path)
    if os.path.dirname(folder) != cache_root():
        return compile(source, path, "exec", dont_inherit=True)
    tag = hashlib.sha256(b"\0".join([source, path.encode("utf-8", "surrogateescape"),
                                     sys.version.encode(), MARSHAL_FORMAT])).hexdigest()[:16]
    stored = os.path.join(folder, "__pycache__",
                          f"{os.path.splitext(os.path.basename(path))[0]}.{tag}.code")
    data = read_ours(stored)
    if data is not None:
        try:
            code = marshal.loads(data)
            if isinstance(code, CodeType) and code.co_filename == path:
                return code
        except (ValueError, EOFError, TypeError):
            pass
    code = compile(source, path, "exec", dont_inherit=True)
    try:
        os.makedirs(os.path.dirname(stored), mode=0o700, exist_ok=True)
    except OSError:
        return code
    write_private(os.path.dirname(stored), stored, marshal.dumps(code))
    return code


def execute(name: str, path: str, source: bytes) -> ModuleType:
    """The module ``name`` run from ``source`` (bytes held in memory, never read back from
    ``path``, which only becomes its ``__file__``; its code object from :func:`code_of`),
    registered in ``sys.modules`` (numba's kernel cache finds the source through it);
    unregistered again when it fails."""
    module = ModuleType(name)
    module.__file__ = path
    code = code_of(path, source)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - the source snnc has just emitted
    except BaseException:
        del sys.modules[name]
        raise
    return module
