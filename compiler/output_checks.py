"""The checks of :mod:`snnc.output`: what an output path is and whether snnc may write it.

:func:`check_file`, :func:`check_folder` and :func:`check_into` return a :class:`Target` or
raise :class:`OutputError` (E630 not snnc's, E631 protected, E632 not writable as that kind,
E633 cannot be created or written); they write nothing but a probe folder that they remove at
once. A file counts as snnc's when it carries the stamp of its kind (:func:`stamped`), a folder
when it holds the :data:`MARKER` file or is empty (:func:`owned_folder`). Everything here is
re-exported by :mod:`snnc.output`, the module callers use; the guarantees are listed there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import os
import pwd
import re
import secrets
import stat
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are made: checking needs none
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
    import numpy as np
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


def temporary_name() -> str:
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"


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
