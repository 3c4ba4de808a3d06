"""Running the generated simulation in-process (what ``snnc run`` and ``snnc train`` do).

The network is emitted exactly as ``snnc compile --emit reference`` would write it and
imported from a folder of the user's own cache (numba keeps its compiled kernels next to the
module, so a second run starts fast):

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
- the module is compiled from the freshly emitted source held in memory, never from bytes
  read back from the disk, and no ``.pyc`` is written.

Two processes may race on the same entry: both end up running the same verified content.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import sys
import tempfile
import time
from types import ModuleType

from snnc.backends.reference import ReferenceBackend
from snnc.ir.network import Network

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


def matches(folder: str, files: dict[str, bytes]) -> bool:
    """True when every emitted file in ``folder`` is a regular file of ours holding exactly
    these bytes, and everything in the folder (numba's cache) is ours and no link."""
    if unsafe_reason(folder) is not None or foreign_content(folder) or has_links(folder):
        return False
    for name, expected in files.items():
        try:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return False
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() \
                    or info.st_size != len(expected):
                return False
            with os.fdopen(fd, "rb", closefd=False) as handle:
                if handle.read(len(expected) + 1) != expected:
                    return False
        finally:
            os.close(fd)
    return True


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
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() \
                and now - info.st_mtime > STALE_AFTER and not foreign_content(path):
            shutil.rmtree(path, ignore_errors=True)


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


def load_simulation(net: Network, delivery: str = "same_step") -> ModuleType:
    """The generated simulation module of ``net``: compiled from the source emitted now, with
    ``__file__`` in a folder holding exactly the emitted files (its ``network.npz`` and
    numba's kernel cache live there). Its runtime library (``snnc_runtime.py``) is compiled
    from the emitted source too, registered first under the name the module looks it up by
    (the module's name + '_runtime')."""
    files = content_of(ReferenceBackend(delivery=delivery).emit(net))
    module_name = "snnc_simulation_" + digest_of(files)[:16]
    if module_name in sys.modules:
        return sys.modules[module_name]
    folder = simulation_folder(files)
    runtime_name = module_name + "_runtime"  # the name the module looks its runtime up by
    try:
        execute(runtime_name, os.path.join(folder, "snnc_runtime.py"), files["snnc_runtime.py"])
        return execute(module_name, os.path.join(folder, "simulation.py"), files["simulation.py"])
    except BaseException:
        sys.modules.pop(runtime_name, None)
        raise


def execute(name: str, path: str, source: bytes) -> ModuleType:
    """The module ``name`` run from ``source`` (bytes held in memory, never read back from
    ``path``, which only becomes its ``__file__``), registered in ``sys.modules`` (numba's
    kernel cache finds the source through it); unregistered again when it fails."""
    module = ModuleType(name)
    module.__file__ = path
    code = compile(source, path, "exec", dont_inherit=True)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - the source snnc has just emitted
    except BaseException:
        del sys.modules[name]
        raise
    return module
