"""``snnc compile``: write a backend's artifacts for a .snn file."""

from __future__ import annotations

import argparse
import json
import os

from snnc import api, output
from snnc.backends import REGISTRY as BACKENDS
from snnc.backends import MissingExtra
from snnc.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    FORCE_HELP,
    inputs_of,
    print_diagnostics,
    usage,
    write_folder,
)
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import DELIVERIES


def add_parser(commands) -> None:
    compile_ = commands.add_parser(
        "compile", help="write a backend's artifacts for a .snn file",
        description="Check FILE and write the artifacts of a backend into a folder. The folder "
                    "is replaced atomically: a failed compile leaves the previous output intact. "
                    "An existing folder is replaced only when snnc wrote it (its .snnc-output "
                    "marker) or it is empty; else pass --force.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  snnc compile examples/cuba.snn --emit reference -o build/cuba")
    compile_.add_argument("file", metavar="FILE")
    compile_.add_argument("--emit", choices=sorted(BACKENDS), default="reference",
                          help="the backend (default: reference)")
    compile_.add_argument("-o", "--output", required=True, metavar="DIR",
                          help="output folder (replaced as a whole when snnc wrote it)")
    compile_.add_argument("--target", metavar="NAME", help="check against this target")
    compile_.add_argument("--delivery", choices=DELIVERIES, default=None,
                          help="when a spike reaches its target (see README; default: "
                               "same_step, and next_step for lava, whose only convention it is)")
    compile_.add_argument("--mapping", metavar="JSON",
                          help="lava, nir: record the core assignment of this mapping.json "
                               "(from snnc map)")
    compile_.add_argument("--allow-lossy", action="store_true",
                          help="nir: export constructs NIR cannot express without them "
                               "(warnings instead of errors)")
    compile_.add_argument("--force", action="store_true", help=FORCE_HELP)
    compile_.set_defaults(handler=run)


def run(args) -> int:
    target = output.check_folder(args.output, inputs=inputs_of(args.file, args.mapping,
                                                               args.target), force=args.force)
    diag = Diagnostics()
    net = api.compile_network(args.file, diag, args.target)
    files: dict[str, str | bytes] = {}
    if net is not None:
        mapping = None
        if args.mapping is not None:
            if args.emit not in api.MAPPED:
                return usage("snnc compile: --mapping goes with --emit lava or nir")
            mapping = api.read_mapping(args.mapping, diag)
            if mapping is None:
                print_diagnostics(diag)
                return EXIT_ERRORS
        try:
            files = api.emit_artifacts(net, args.emit, diag, delivery=args.delivery,
                                       allow_lossy=args.allow_lossy, mapping=mapping,
                                       mapping_file=args.mapping,
                                       source_file=os.path.basename(args.file)) or {}
        except MissingExtra as error:
            return usage(f"snnc compile: {error}")
        if not diag.has_errors:
            try:
                write_folder(files, target, "compile", net.files)
            except output.OutputError as error:
                error.report(diag)
    print_diagnostics(diag)
    if diag.has_errors:
        return EXIT_ERRORS
    print(f"{args.file}: wrote {args.emit} artifacts to {args.output}")
    if "quantization.json" in files:
        from snnc.backends.lava.report import quantization_summary
        print(quantization_summary(json.loads(files["quantization.json"])))
    return EXIT_OK
