"""``snnc plot``: draw the recordings of ``snnc run`` as PNG files (extra 'plot')."""

from __future__ import annotations

import os
import sys

from snnc import output
from snnc.cli.common import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, FORCE_HELP, announce


def add_parser(commands) -> None:
    plot = commands.add_parser(
        "plot", help="draw a raster, voltage traces and weight histograms (extra 'plot')",
        description="Draw the recordings of 'snnc run' as PNG files.")
    plot.add_argument("recording", metavar="OUT.npz")
    plot.add_argument("-o", "--output", metavar="DIR", default=".",
                      help="folder for the PNG files (default: here)")
    plot.add_argument("--force", action="store_true", help=FORCE_HELP)
    plot.set_defaults(handler=run)


def run(args) -> int:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("snnc plot needs matplotlib: pip install 'snnc[plot]'", file=sys.stderr)
        return EXIT_USAGE
    folder = output.check_into(args.output)  # receives the pictures; never replaced
    from snnc.files import FileProblem, read_npz, recording_problems
    try:
        data = read_npz(args.recording, finite=True)
    except FileProblem as problem:
        print(f"error[{problem.code}]: {problem.message}", file=sys.stderr)
        return EXIT_ERRORS
    from snnc.recordings import problems as event_problems
    problems = recording_problems(data, args.recording) + event_problems(data, args.recording)
    for problem in problems:
        print(f"error[E604]: {problem}", file=sys.stderr)
    if problems:
        return EXIT_ERRORS
    from snnc.plots import pictures, wanted
    names = wanted(data)
    targets = {name: output.check_file(os.path.join(args.output, name), "png",
                                       inputs=[args.recording], force=args.force)
               for name in names}
    written = []
    if names:
        announce("plot", output.ensure_folder(folder))
    for name, content in pictures(data, plt).items():
        announce("plot", output.write_file(targets[name], content))
        written.append(os.path.join(args.output, name))
    for path in written:
        print(path)
    if not written:
        print(f"snnc plot: '{args.recording}' holds no spikes, voltages or weights",
              file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_OK
