"""The ``snnc`` command line: the only place that prints and picks exit codes.

Exit status: 0 success (warnings allowed), 1 the input has errors (diagnostics, including
refused outputs E630-E633), 2 usage error, 3 internal error (a bug in snnc).
Every file or folder a command writes goes through :mod:`snnc.output`, checked before any work.
Diagnostics go to standard error, results to standard output; with ``--format json`` a
single JSON document goes to standard output instead.

One module per command (``check``, ``compile``, ``run``, ``plot``, ``import_nir``, ``map``,
``train``, ``passes``), each with ``add_parser(commands)`` and a thin ``run(args) -> int``
over the orchestration API :mod:`snnc.api`; :mod:`snnc.cli.common` holds what they share.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import traceback

# numpy's OpenBLAS starts a worker thread per core at import, and each spins ~0.1 s (2**28
# cycles) before it sleeps; on a machine whose other cores are busy the spinning worker takes
# the CPU from snnc's own thread (~50 ms of a small `snnc run`, a training job's time
# doubled). Spinning 20 cycles instead costs nothing measurable; a user's own setting wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

from snnc import output  # noqa: E402 (after the environment numpy reads at its import)
from snnc.cli.common import (  # noqa: E402
    EXIT_ERRORS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    print_diagnostics,
)
from snnc.cli.parser import build_parser  # noqa: E402
from snnc.diagnostics import Diagnostics  # noqa: E402

__all__ = ["EXIT_ERRORS", "EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


_freeze_registered = False


def freeze_at_exit() -> None:
    """At exit, the interpreter's last garbage collection walks every object still alive (6-12
    ms after a run); frozen objects are skipped. Nothing of snnc's depends on a finalizer at
    exit: every output is written and closed before main returns. Registered once per
    process, however often main runs."""
    global _freeze_registered
    if not _freeze_registered:
        atexit.register(gc.freeze)
        _freeze_registered = True


def main(argv: list[str] | None = None) -> int:
    freeze_at_exit()
    for stream in (sys.stdout, sys.stderr):  # names that are not UTF-8 print escaped, not crash
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:  # parsing may import a backend package (its options are flags of 'snnc compile')
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return args.handler(args)
    except output.OutputError as error:  # an output refused or unwritable: E630-E633
        diag = Diagnostics()
        error.report(diag)
        print_diagnostics(diag)
        return EXIT_ERRORS
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (snnc ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # the last resort: a bug in snnc, never the user's fault
        if os.environ.get("SNNC_DEBUG"):
            raise
        print(f"snnc: internal error ({type(error).__name__}: {error}). This is a bug in snnc; "
              "please report it with the input file. Set SNNC_DEBUG=1 for the traceback.",
              file=sys.stderr)
        traceback.print_exc(limit=0, file=sys.stderr)
        return EXIT_INTERNAL
