"""Every file and folder snnc writes goes through this module.

Guarantees (each refusal is an :class:`OutputError` with a diagnostic code, never a traceback):

- Nothing snnc did not write is replaced or deleted (E630 unless ``force``). A folder is replaced
  only when it holds the marker file ``.snnc-output`` (snnc writes it into every output folder)
  or is empty. A file is replaced only when it is a regular file carrying snnc's stamp: for .npz
  the zip archive comment ``snnc``, for .png a ``Software = snnc`` text chunk, for the .snn of
  ``import-nir`` the first line :data:`SNN_STAMP`. Other kinds (.json) are never replaced
  without ``force``.
- Never replaced, even with ``force`` (E631): ``/``, the home folder, the current folder, an input
  of the command, or a folder that contains one of them. Paths are compared after resolving
  symlinks, ``.`` and ``..``.
- Never written (E632): a device, FIFO or socket, a symlink to anything but a regular file (a
  symlink to a regular file: the target is replaced, the link kept), a folder where a file is
  expected or a file where a folder is expected.
- Missing parent folders are created and returned to the caller, who says so; a location that
  cannot be created or written (read-only, below a regular file, permission denied) is E633.
- Files are created with mode 0666 & ~umask, folders 0777 & ~umask.
- Content reaches its place by a single rename (a folder by an atomic exchange where the system
  offers one): a failure leaves the previous output intact. Temporaries are named
  ``.snnc-tmp-<pid>-<random>``, removed on failure, and those of processes that no longer run
  are removed by the next write into the same folder; nothing else is ever removed.

Check a path with :func:`check_file` / :func:`check_folder` / :func:`check_into` before doing any
work (fail fast, nothing written), then write with :func:`write_file` / :func:`write_folder` /
:class:`OutputFolder`, which check again.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import stat

from snnc.output_checks import (
    _TEMPORARY,
    FILE_KINDS,
    FIXED_DATE,
    MARKER,
    MARKER_TEXT,
    NPZ_STAMP,
    PNG_METADATA,
    SNN_STAMP,
    TEMP_PREFIX,
    OutputError,
    Target,
    _check,
    check_file,
    check_folder,
    check_into,
    describe,
    npz_bytes,
    owned_folder,
    parents_to_create,
    png_bytes,
    protect,
    protected,
    stamped,
    temporary_name,
)

__all__ = ["FILE_KINDS", "FIXED_DATE", "MARKER", "MARKER_TEXT", "NPZ_STAMP", "PNG_METADATA",
           "SNN_STAMP", "TEMP_PREFIX", "OutputError", "OutputFolder", "Target", "alive",
           "check_file", "check_folder", "check_into", "clean_stale", "describe",
           "ensure_folder", "exchange", "fill", "install", "make_parents", "new_folder",
           "npz_bytes", "owned_folder", "parents_to_create", "png_bytes", "protect",
           "protected", "replace", "stamped", "temporary_name", "write_file", "write_folder"]


# ---- writing ------------------------------------------------------------------------------------

def write_file(target: Target, content: bytes) -> list[str]:
    """Replace ``target`` atomically with ``content`` (checked again first); the parent folders
    it created."""
    target = _check(target.path, target.kind, target.option, target.inputs, target.force, False)
    created = make_parents(target)
    folder = os.path.dirname(target.real)
    clean_stale(folder)
    try:
        replace(folder, target.real, content)
    except OSError as error:
        raise OutputError("E633", f"{target.name}: cannot write: {error.strerror or error}"
                          ) from None
    return created


def write_folder(target: Target, files: dict[str, str | bytes], extra_inputs=()) -> list[str]:
    """Replace the folder ``target`` with one holding ``files`` and the marker, atomically (a
    failure leaves the previous folder intact); the parent folders it created."""
    target = _check(target.path, "folder", target.option, (*target.inputs, *extra_inputs),
                    target.force, False)
    created = make_parents(target)
    parent = os.path.dirname(target.real)
    clean_stale(parent)
    staging = None
    try:
        staging = new_folder(parent)
        fill(staging, files)
        install(staging, target.real)
    except OSError as error:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise OutputError("E633", f"{target.name}: cannot write: {error.strerror or error}"
                          ) from None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return created


class OutputFolder:
    """A folder that receives its files one at a time (``snnc train``). Fresh: the files go to a
    staging folder that :meth:`commit` puts in place of the old folder (until then the old one
    is intact); ``resume``: the files replace their predecessors inside the folder."""

    def __init__(self, target: Target):
        self.target = _check(target.path, "folder", target.option, target.inputs, target.force,
                             target.resume)
        self.created = make_parents(self.target)
        self.committed = self.target.resume
        if self.target.resume:
            os.makedirs(self.target.real, mode=0o777, exist_ok=True)
            self.path = self.target.real
            if not os.path.isfile(os.path.join(self.path, MARKER)):
                self.write(MARKER, MARKER_TEXT)
        else:
            parent = os.path.dirname(self.target.real)
            clean_stale(parent)
            self.path = new_folder(parent)
            atexit.register(self.discard)  # an interrupted first epoch leaves no temporary
            self.write(MARKER, MARKER_TEXT)

    def write(self, name: str, content: bytes) -> None:
        try:
            replace(self.path, os.path.join(self.path, name), content)
        except OSError as error:
            raise OutputError("E633", f"{self.target.name}: cannot write {name}: "
                              f"{error.strerror or error}") from None

    def commit(self) -> None:
        if self.committed:
            return
        try:
            install(self.path, self.target.real)
        except OSError as error:
            self.discard()
            raise OutputError("E633", f"{self.target.name}: cannot write: "
                              f"{error.strerror or error}") from None
        self.path, self.committed = self.target.real, True
        atexit.unregister(self.discard)

    def discard(self) -> None:
        """Remove the staging folder of an uncommitted run (the old folder stays)."""
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)


def make_parents(target: Target) -> list[str]:
    created = []
    for folder in target.missing:
        try:
            os.mkdir(folder, 0o777)
            created.append(folder)
        except FileExistsError:
            continue
        except OSError as error:
            raise OutputError("E633", f"{target.name}: cannot create the folder '{folder}': "
                              f"{error.strerror}") from None
    return created


def ensure_folder(target: Target) -> list[str]:
    """Create the folder of a :func:`check_into` target when missing (with the marker); the
    folders created."""
    target = _check(target.path, "into", target.option, (), False, False)
    created = make_parents(target)
    if not os.path.isdir(target.real):
        parent = os.path.dirname(target.real)
        staging = new_folder(parent)
        try:
            fill(staging, {})
            os.rename(staging, target.real)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputError("E633", f"{target.name}: cannot create the folder: "
                              f"{error.strerror}") from None
        created.append(target.real)
    return created


def new_folder(parent: str) -> str:
    path = os.path.join(parent, temporary_name())
    os.mkdir(path, 0o777)
    return path


def replace(folder: str, destination: str, content: bytes | str) -> None:
    """Write ``content`` to a temporary in ``folder`` and rename it onto ``destination``."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    temporary = os.path.join(folder, temporary_name())
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o666)
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def fill(folder: str, files: dict[str, str | bytes]) -> None:
    """Write the marker and ``files`` (relative names, '/' for subfolders) into ``folder``."""
    replace(folder, os.path.join(folder, MARKER), MARKER_TEXT)
    for name, content in sorted(files.items()):
        parts = name.split("/")
        if name.startswith("/") or any(p in ("", ".", "..") for p in parts) or name == MARKER:
            raise ValueError(f"not a file name inside an output folder: {name!r}")
        path = os.path.join(folder, *parts)
        sub = os.path.dirname(path)
        if not os.path.isdir(sub):
            os.makedirs(sub, mode=0o777)
        replace(sub, path, content)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: str, b: str) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def install(staging: str, real: str) -> None:
    """Put the folder ``staging`` at ``real``, removing the folder that was there."""
    if os.path.isdir(real) and not os.path.islink(real):
        if exchange(staging, real):
            shutil.rmtree(staging, ignore_errors=True)  # now the old folder
            return
        retired = os.path.join(os.path.dirname(real), temporary_name())
        os.rename(real, retired)
        try:
            os.rename(staging, real)
        except BaseException:
            os.rename(retired, real)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(staging, real)


def clean_stale(folder: str) -> list[str]:
    """Remove the temporaries (``.snnc-tmp-<pid>-<hex>``) in ``folder`` of processes that no
    longer run; nothing else. The names removed."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None or alive(int(match.group(1))):
            continue
        path = os.path.join(folder, name)
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(name)
        except OSError:
            continue
    return removed


def alive(pid: int) -> bool:
    """Whether a process ``pid`` runs (a pid that cannot be asked about counts as running)."""
    if pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True
