"""Safe readers for every file snnc reads: programs, imports, arrays, JSON documents.

Guarantees of every reader here:

- Only regular files are read. A directory, a device (``/dev/zero``, ``/dev/urandom``), a FIFO or
  a socket is refused (E607) before a byte is read; a FIFO is opened with ``O_NONBLOCK`` and
  checked with ``fstat`` so it never blocks.
- A file larger than the limit of its kind is refused (E608, with the size and the limit)
  before it is read. Array headers (``.npy``, and every ``.npz`` member) are parsed first: the
  claimed size is checked against the memory limit (E608), the dtype must be numeric or bool
  and the file must really hold that many bytes (E609) before anything is allocated.
- ``.npz`` files: the uncompressed sizes declared in the zip directory are checked before any
  member is inflated (a zip bomb is E608); a member named ``__snnc__`` (reserved) is
  never returned.
- Non-finite values (NaN, inf) are E615 when the caller asks for finite numbers.

Failures are :class:`FileProblem` exceptions carrying the diagnostic code, a message and a
hint; :func:`report` turns one into a diagnostic at a program span or naming an option.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from typing import TYPE_CHECKING, BinaryIO

from snnc.diagnostics import Diagnostics, Span

if TYPE_CHECKING:  # numpy is imported by the array readers: reading a program needs none
    import numpy as np

MiB = 1 << 20
SOURCE_LIMIT = 16 * MiB
"""Largest ``.snn`` program or import read."""
JSON_LIMIT = 8 * MiB
"""Largest JSON document (target file, mapping.json) read."""
ARRAY_CAP = 16 << 30
"""Arrays are never larger than this, whatever the machine's memory."""
CHUNK = 16 * MiB
"""Arrays are read in pieces of this size."""
STAMP = "__snnc__"
"""A reserved .npz member name that readers ignore (snnc stamps its own .npz files with the zip
archive comment instead: :data:`snnc.output.NPZ_STAMP`)."""


class FileProblem(ValueError):
    """A file that cannot be used: ``code`` (E601/E607/E608/E609/E615), message and hint."""

    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def report(diag: Diagnostics, problem: FileProblem, span: Span | None = None,
           option: str | None = None) -> None:
    """An error for ``problem`` at ``span`` (a ``file(...)`` call) or naming ``option``."""
    message = f"{option}: {problem.message}" if option and span is None else problem.message
    diag.error(problem.code, span, message, hint=problem.hint)


def human(size: float) -> str:
    """A byte count for messages: '12 B', '3.5 MiB', '8.0 TiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"  # pragma: no cover


def available_memory() -> int:
    """Bytes of memory available to a new allocation (:func:`snnc.machine.available_bytes`:
    ``SNNC_MEMORY_LIMIT``, else MemAvailable capped by a cgroup limit), 8 GiB when unknown."""
    from snnc.machine import available_bytes

    return available_bytes() or (8 << 30)


def array_limit() -> int:
    """Largest array (bytes) a reader accepts: half the available memory, at most ARRAY_CAP;
    ``SNNC_MAX_ARRAY_BYTES`` lowers or raises it."""
    override = os.environ.get("SNNC_MAX_ARRAY_BYTES")
    if override and override.isdigit():
        return int(override)
    return max(1 << 20, min(ARRAY_CAP, available_memory() // 2))


KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
         (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    for test, name in KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _not_regular(path: str, mode: int) -> FileProblem:
    return FileProblem("E607", f"'{path}' is {_kind(mode)}, not a regular file",
                       hint="give the path of a file")


def _os_problem(path: str, error: OSError) -> FileProblem:
    if isinstance(error, FileNotFoundError):
        return FileProblem("E601", f"file '{path}' does not exist")
    if isinstance(error, NotADirectoryError):
        return FileProblem("E601", f"'{path}' does not exist (a part of the path is a file)")
    if isinstance(error, PermissionError):
        return FileProblem("E601", f"cannot read '{path}': permission denied")
    return FileProblem("E601", f"cannot read '{path}': {error.strerror or error}")


def open_regular(path: str, limit: int | None = None) -> BinaryIO:
    """``path`` opened for binary reading, after checking that it is a regular file (E607) of
    at most ``limit`` bytes (E608); E601 when it is missing or unreadable. Never blocks."""
    try:
        before = os.stat(path)
    except OSError as error:
        raise _os_problem(path, error) from None
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(path, before.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _os_problem(path, error) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        if limit is not None and info.st_size > limit:
            raise FileProblem("E608", f"'{path}' is {human(info.st_size)} ({info.st_size} "
                              f"bytes); the limit is {human(limit)}")
        try:
            import fcntl
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        except (ImportError, OSError):
            pass
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str, limit: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``; E601/E607/E608)."""
    with open_regular(path, limit) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as error:
            raise _os_problem(path, error) from None
    if len(data) > limit:  # the file grew after the check
        raise FileProblem("E608", f"'{path}' is larger than the limit of {human(limit)}")
    return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: str, limit: int = JSON_LIMIT, what: str = "JSON file"):
    """The JSON document in ``path``: E601/E607/E608 for the file, E609 when it is not UTF-8
    JSON or holds NaN/Infinity (which JSON does not allow)."""
    data = read_bytes(path, limit)
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise FileProblem("E609", f"{what} '{path}' is not UTF-8 text") from None
    except (ValueError, RecursionError) as error:
        raise FileProblem("E609", f"{what} '{path}' is not valid JSON: {error}") from None


# ---------------------------------------------------------------------------------- arrays

def _header(stream, where: str):
    """(shape, fortran, dtype, header length) of the .npy data in ``stream``; E609 if broken."""
    from numpy.lib import format as fmt
    start = stream.tell() if hasattr(stream, "tell") else 0
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream)
        elif hasattr(fmt, "_read_array_header"):
            shape, fortran, dtype = fmt._read_array_header(stream, version)
        else:  # pragma: no cover
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, KeyError,
            zipfile.BadZipFile) as error:
        text = str(error)
        if "EOF" in text or "magic" in text.lower() or not text:
            text = "not an .npy array (no valid header)"
        raise FileProblem("E609", f"{where}: {text}",
                          hint="save arrays with numpy.save or numpy.savez") from None
    length = (stream.tell() - start) if hasattr(stream, "tell") else 0
    return tuple(int(n) for n in shape), fortran, dtype, length


def _check_dtype(dtype: np.dtype, where: str, text: bool = False) -> None:
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or \
            dtype.kind not in ("biufU" if text else "biuf"):
        kind = {"O": "object", "U": "string", "S": "bytes", "V": "structured", "c": "complex",
                "M": "datetime", "m": "timedelta"}.get(dtype.kind, str(dtype))
        if dtype.fields is not None:
            kind = "structured"
        raise FileProblem("E609", f"{where} holds {kind} values (dtype {dtype.str!r}); "
                          "numbers or booleans are needed",
                          hint="save a numeric array, e.g. numpy.save(path, "
                               "array.astype(numpy.float64))")


def _check_size(shape: tuple[int, ...], dtype: np.dtype, where: str, limit: int) -> int:
    count = 1
    for n in shape:
        count *= n
    nbytes = count * dtype.itemsize
    if nbytes > limit:
        raise FileProblem("E608", f"{where} claims shape {list(shape)} of {dtype.name}: "
                          f"{human(nbytes)}; the limit is {human(limit)} (half the available "
                          "memory)")
    return nbytes


def _check_finite(array: np.ndarray, where: str) -> None:
    if array.dtype.kind == "f":
        import numpy as np
        bad = ~np.isfinite(array)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise FileProblem("E615", f"{where} holds {int(bad.sum())} non-finite value(s) "
                              f"(NaN or inf), the first at index {list(index)}: "
                              f"{array[index] if index else array.item()}",
                              hint="replace them with finite numbers")


def _read_npy_stream(stream, where: str, limit: int, available: int | None,
                     text: bool = False) -> np.ndarray:
    import numpy as np
    shape, fortran, dtype, length = _header(stream, where)
    _check_dtype(dtype, where, text)
    nbytes = _check_size(shape, dtype, where, limit)
    if available is not None and available - length < nbytes:
        raise FileProblem("E609", f"{where} is truncated: its header claims shape {list(shape)} "
                          f"({nbytes} bytes of data), the file holds {max(0, available - length)}",
                          hint="write the file again")
    count = nbytes // dtype.itemsize if dtype.itemsize else 0
    array = np.empty(count, dtype=dtype)
    buffer = memoryview(array.view(np.uint8)) if nbytes else memoryview(b"")
    filled = 0
    while filled < nbytes:  # in chunks: never a second copy of a large array in memory
        try:
            data = stream.read(min(CHUNK, nbytes - filled))
        except (OSError, zipfile.BadZipFile, EOFError) as error:
            raise FileProblem("E609", f"{where} cannot be read: {error}",
                              hint="write the file again") from None
        if not data:
            raise FileProblem("E609", f"{where} is truncated: {filled} of {nbytes} bytes of "
                              "data", hint="write the file again")
        buffer[filled:filled + len(data)] = data
        filled += len(data)
    if fortran:
        return np.ascontiguousarray(array.reshape(shape[::-1]).transpose())
    return array.reshape(shape)


def _where(path: str, key: str | None = None) -> str:
    return f"'{path}'" if key is None else f"array '{key}' of '{path}'"


def _is_zip(path: str) -> bool:
    with open_regular(path) as handle:
        return handle.read(4) == b"PK\x03\x04"


def _nonempty_size(handle, path: str) -> int:
    """The size of the open file ``handle``; E609 when it is empty."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        raise FileProblem("E609", f"'{path}' is empty (0 bytes)",
                          hint="save arrays with numpy.save or numpy.savez")
    return size


def read_npy(path: str, *, limit: int | None = None, finite: bool = False) -> np.ndarray:
    """The array in the ``.npy`` file ``path``, validated as described in the module."""
    limit = array_limit() if limit is None else limit
    with open_regular(path) as handle:
        size = _nonempty_size(handle, path)
        array = _read_npy_stream(handle, _where(path), limit, size)
    if finite:
        _check_finite(array, _where(path))
    return array


#: a compressed .npz member above BOMB_SIZE bytes that inflates more than BOMB_RATIO times is
#: refused (E608) before it is inflated: real spike and weight arrays compress far less
#: (deflate's ceiling is about 1032:1, reached by long runs of one byte)
BOMB_SIZE = 64 * MiB
BOMB_RATIO = 200


def _check_ratio(info: zipfile.ZipInfo, where: str) -> None:
    """E608 when the zip member ``info`` declares an inflated size that is both large and far
    out of proportion to its compressed size (a zip bomb)."""
    if info.file_size > BOMB_SIZE and info.file_size > BOMB_RATIO * max(info.compress_size, 1):
        raise FileProblem("E608", f"{where} would inflate from {human(info.compress_size)} to "
                          f"{human(info.file_size)} ({info.file_size / max(info.compress_size, 1):,.0f}"
                          f" to 1), which snnc refuses as a zip bomb",
                          hint="if the data are real, save them uncompressed with numpy.savez")


def read_npz(path: str, *, limit: int | None = None, keys=None, finite: bool = False,
             text: bool = False) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file ``path`` by name (without ``.npy``; the reserved
    ``__snnc__`` left out), or only ``keys``. Every member's declared size is checked before any is
    inflated; E609 when it is not a zip of .npy arrays or a wanted key is missing. With
    ``text``, unicode string arrays are accepted too (snnc's own checkpoints hold some)."""
    limit = array_limit() if limit is None else limit
    with open_regular(path) as handle:
        _nonempty_size(handle, path)
        if handle.read(4) != b"PK\x03\x04":
            handle.seek(0)
            is_npy = handle.read(6) == b"\x93NUMPY"
            raise FileProblem("E609", f"'{path}' is " + (
                "an .npy array, not an .npz archive" if is_npy else "not an .npz archive"),
                hint="save the arrays with numpy.savez(path, name=array, ...)")
        handle.seek(0)
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise FileProblem("E609", f"'{path}' is not a readable .npz archive ({error})",
                              hint="write the file again") from None
        with archive:
            members = {}
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if name == STAMP or info.is_dir():
                    continue
                members.setdefault(name, info)
            if keys is not None:
                missing = [k for k in keys if k not in members]
                if missing:
                    raise FileProblem("E609", f"'{path}' has no array '{missing[0]}'; it holds "
                                      + (", ".join(repr(k) for k in sorted(members)) or "none"))
                members = {k: members[k] for k in keys}
            for name, info in members.items():
                _check_ratio(info, _where(path, name))
            declared = sum(info.file_size for info in members.values())
            if declared > limit:
                raise FileProblem("E608", f"'{path}' would inflate to {human(declared)}; the "
                                  f"limit is {human(limit)} (half the available memory)")
            out = {}
            for name, info in members.items():
                where = _where(path, name)
                try:
                    with archive.open(info) as stream:
                        out[name] = _read_npy_stream(stream, where, limit, info.file_size,
                                                     text)
                except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError,
                        RuntimeError) as error:
                    raise FileProblem("E609", f"{where} cannot be read: {error}",
                                      hint="write the file again") from None
                except ValueError as error:
                    if isinstance(error, FileProblem):
                        raise
                    raise FileProblem("E609", f"{where} cannot be read: {error}") from None
    if finite:
        for name, array in out.items():
            _check_finite(array, _where(path, name))
    return out


def read_array(path: str, key: str | None = None, *, limit: int | None = None,
               finite: bool = False) -> np.ndarray:
    """One array: the ``.npy`` file ``path``, or member ``key`` (default the first) of an
    ``.npz`` file; validated as described in the module."""
    if _is_zip(path):
        if key is None:
            names = list(read_npz_names(path))
            if not names:
                raise FileProblem("E609", f"'{path}' holds no arrays")
            key = names[0]
        return read_npz(path, limit=limit, keys=[key], finite=finite)[key]
    if key is not None:
        raise FileProblem("E609", f"'{path}' is not an .npz archive, so it has no array '{key}'",
                          hint="drop 'key' for an .npy file")
    return read_npy(path, limit=limit, finite=finite)


def read_npz_names(path: str) -> list[str]:
    """The array names of the ``.npz`` file ``path`` in archive order (stamp left out)."""
    with open_regular(path) as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                names = [i.filename[:-4] if i.filename.endswith(".npy") else i.filename
                         for i in archive.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise FileProblem("E609", f"'{path}' is not a readable .npz archive ({error})") \
                from None
    return list(dict.fromkeys(n for n in names if n != STAMP))


def recording_problems(data: dict[str, np.ndarray], path: str) -> list[str]:
    """What makes ``data`` not a recording of ``snnc run`` (empty when it is one): ``dt`` a
    positive scalar, ``<pop>.<var>`` arrays [steps, batch, *shape] with steps and batch > 0,
    ``<projection>.w`` arrays of at most two dimensions."""
    problems = []
    if "dt" in data and (data["dt"].size != 1 or not float(data["dt"].reshape(-1)[0]) > 0):
        problems.append(f"'{path}': 'dt' must be one positive number of seconds")
    for key, array in sorted(data.items()):
        if key.endswith(".w"):
            if array.ndim > 2:
                problems.append(f"'{path}': weights '{key}' have {array.ndim} dimensions; "
                                "[post, pre] or one value per synapse is expected")
        elif key.endswith((".s", ".v", ".i", ".a")):
            if array.ndim < 2 or 0 in array.shape[:2]:
                problems.append(f"'{path}': '{key}' has shape {list(array.shape)}; a recording "
                                "is [steps, batch, *shape] with steps and batch > 0")
    return problems
