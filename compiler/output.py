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
import dataclasses
import errno
import io
import os
import pwd
import re
import secrets
import shutil
import stat
import zipfile

import numpy as np

MARKER = ".snnc-output"
MARKER_TEXT = (b"This folder was written by snnc, which replaces it as a whole when it writes "
               b"here again.\nDelete this file to keep snnc from replacing the folder (it then "
               b"asks for --force).\n")
TEMP_PREFIX = ".snnc-tmp-"
NPZ_STAMP = b"snnc"
PNG_METADATA = {"Software": "snnc"}
SNN_STAMP = "# Written by snnc import-nir; snnc replaces this file when it writes it again.\n"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_KINDS = ("npz", "png", "snn", "json")

_TEMPORARY = re.compile(r"\.snnc-tmp-([0-9]+)-[0-9a-f]+\Z")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class OutputError(Exception):
    """An output that snnc refuses or cannot write: ``code`` (E630-E633), message, hint."""

    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint

    def report(self, diag) -> None:
        diag.error(self.code, None, self.message, hint=self.hint)


@dataclasses.dataclass(frozen=True)
class Target:
    """A checked output path: where the content goes (``real``, symlinks resolved) and which
    parent folders are missing (outermost first)."""

    path: str
    kind: str  # a FILE_KINDS entry, 'folder' (replaced whole) or 'into' (receives files)
    option: str
    inputs: tuple[str, ...]
    force: bool
    resume: bool
    real: str
    missing: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.option} '{self.path}'"


# ---- stamps -------------------------------------------------------------------------------------

def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The .npz file of ``arrays``: sorted members, fixed dates (equal arrays, equal bytes),
    deflated, and snnc's stamp as the zip archive comment (which numpy ignores)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
        archive.comment = NPZ_STAMP
    return buffer.getvalue()


def png_bytes(fig, dpi: int) -> bytes:
    """The PNG of a matplotlib figure with snnc's stamp (and no version: reproducible bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata=PNG_METADATA)
    return buffer.getvalue()


def stamped(path: str, kind: str) -> bool:
    """Whether the regular file ``path`` carries snnc's stamp for ``kind``."""
    try:
        with open(path, "rb") as handle:
            if kind == "npz":
                tail = 22 + len(NPZ_STAMP)  # end of central directory record + comment
                size = handle.seek(0, os.SEEK_END)
                if size < tail:
                    return False
                handle.seek(size - tail)
                end = handle.read(tail)
                return (end[:4] == b"PK\x05\x06" and
                        int.from_bytes(end[20:22], "little") == len(NPZ_STAMP) and
                        end[22:] == NPZ_STAMP)
            if kind == "snn":
                return handle.read(len(SNN_STAMP)) == SNN_STAMP.encode()
            if kind == "png":
                return _png_stamped(handle)
    except OSError:
        return False
    return False


def _png_stamped(handle) -> bool:
    if handle.read(8) != _PNG_SIGNATURE:
        return False
    wanted = b"".join(key.encode() + b"\0" + value.encode()
                      for key, value in PNG_METADATA.items())
    for _ in range(64):  # text chunks come before the image data
        head = handle.read(8)
        if len(head) < 8:
            return False
        length, kind = int.from_bytes(head[:4], "big"), head[4:]
        if kind in (b"IDAT", b"IEND"):
            return False
        if kind == b"tEXt" and length == len(wanted):
            if handle.read(length) == wanted:
                return True
            handle.seek(4, os.SEEK_CUR)
        else:
            handle.seek(length + 4, os.SEEK_CUR)
    return False


# ---- checks -------------------------------------------------------------------------------------

def check_file(path: str, kind: str, *, option: str = "-o", inputs=(), force: bool = False
               ) -> Target:
    """A single-file output of ``kind`` (npz, png, snn, json); OutputError when refused."""
    assert kind in FILE_KINDS, kind
    return _check(path, kind, option, inputs, force, False)


def check_folder(path: str, *, option: str = "-o", inputs=(), force: bool = False,
                 resume: bool = False) -> Target:
    """A folder output, replaced as a whole (or continued in place with ``resume``)."""
    return _check(path, "folder", option, inputs, force, resume)


def check_into(path: str, *, option: str = "-o") -> Target:
    """A folder that receives files (``snnc plot``): it is created when missing (with the
    marker), never replaced; check each file in it with :func:`check_file`."""
    return _check(path, "into", option, (), False, False)


def _check(path, kind, option, inputs, force, resume) -> Target:
    if not path:
        raise OutputError("E632", f"{option} is empty; a path is expected")
    inputs = tuple(str(p) for p in inputs if p)
    name = f"{option} '{path}'"
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError) as error:
        raise OutputError("E632", f"{name}: cannot resolve the path ({error})") from None
    if kind != "into":
        protect(real, name, inputs)
    if os.path.islink(path) and not os.path.lexists(real):
        raise OutputError("E632", f"{name} is a symlink to '{real}', which does not exist",
                          hint="give the target's path, or a path that is not a symlink")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        info = None  # below a regular file: the parent walk reports it
    except OSError as error:
        code = "E632" if error.errno == errno.ELOOP else "E633"
        raise OutputError(code, f"{name}: {error.strerror}") from None
    via = f" (a symlink to '{real}')" if os.path.islink(path) else ""
    if info is not None:
        if kind in ("folder", "into"):
            if not stat.S_ISDIR(info.st_mode):
                raise OutputError("E632", f"{name}{via} is {describe(info)}; a folder is expected",
                                  hint="give the path of a folder")
            if kind == "folder" and not force and not owned_folder(real):
                what = ("continue a training run in it" if resume else "replace it")
                raise OutputError("E630", f"{name}{via} is a folder that snnc did not write (it "
                                  f"has no {MARKER} marker); snnc will not {what}",
                                  hint="choose a new folder, or pass --force to "
                                       + ("use it anyway" if resume else
                                          "replace the folder and everything in it"))
        else:
            if stat.S_ISDIR(info.st_mode):
                raise OutputError("E632", f"{name}{via} is a folder; a file is expected",
                                  hint=f"give a file path, e.g. {os.path.join(path, 'out.' + kind)}")
            if not stat.S_ISREG(info.st_mode):
                raise OutputError("E632", f"{name}{via} is {describe(info)}; snnc writes only "
                                  "regular files", hint="give the path of a regular file")
            if not force and not stamped(real, kind):
                raise OutputError("E630", f"{name}{via} exists and was not written by snnc; "
                                  "snnc will not replace it",
                                  hint="choose another file name, or pass --force to replace it")
    missing = parents_to_create(real, name)
    return Target(path, kind, option, inputs, force, resume, real, tuple(missing))


def protect(real: str, name: str, inputs) -> None:
    """E631 when ``real`` is, or contains, '/', the home folder, the current folder or an input."""
    for place, what in protected(inputs):
        if real == place:
            raise OutputError("E631", f"{name} is {what}; snnc never replaces it",
                              hint="write into a new folder, e.g. -o build/out")
        if place.startswith(real.rstrip(os.sep) + os.sep):
            raise OutputError("E631", f"{name} contains {what}; snnc never replaces it",
                              hint="write into a new folder, e.g. -o build/out")


def protected(inputs) -> list[tuple[str, str]]:
    """(resolved path, description) of what no output may be or contain."""
    places = [(os.sep, "the root folder")]
    homes = {os.path.expanduser("~")}
    with contextlib.suppress(KeyError, OSError):
        homes.add(pwd.getpwuid(os.getuid()).pw_dir)
    places += [(home, "the home folder") for home in sorted(homes) if home and home != "~"]
    with contextlib.suppress(OSError):
        places.append((os.getcwd(), "the current folder"))
    places += [(path, f"the input '{path}'") for path in inputs]
    return [(os.path.realpath(path), what) for path, what in places]


def owned_folder(real: str) -> bool:
    """Whether the folder holds snnc's marker (a regular file) or is empty."""
    try:
        if stat.S_ISREG(os.lstat(os.path.join(real, MARKER)).st_mode):
            return True
    except OSError:
        pass
    try:
        return not os.listdir(real)
    except OSError:
        return False


def describe(info: os.stat_result) -> str:
    mode = info.st_mode
    for test, text in ((stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a regular file"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return text
    return "not a regular file"


def parents_to_create(real: str, name: str) -> list[str]:
    """The missing folders above ``real``, outermost first; E633 when they cannot be made."""
    missing = []
    folder = os.path.dirname(real)
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise OutputError("E633", f"{name}: cannot create a folder below '{folder}', which is "
                          "a file, not a folder", hint="choose a path in an existing folder")
    try:  # the honest test of writability (root ignores permission bits; /proc, read-only mounts)
        probe = os.path.join(folder, temporary_name())
        os.mkdir(probe, 0o700)
        os.rmdir(probe)
    except OSError as error:
        raise OutputError("E633", f"{name}: cannot write in '{folder}': {error.strerror}",
                          hint="choose a location you can write to") from None
    return missing[::-1]


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


def temporary_name() -> str:
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"


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
