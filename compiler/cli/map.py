"""``snnc map``: partition and place a .snn file onto a chip's cores."""

from __future__ import annotations

import argparse
import json
import sys

from snnc import api, output
from snnc.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    FORCE_HELP,
    add_deploy_arguments,
    inputs_of,
    print_diagnostics,
    write_folder,
)
from snnc.diagnostics import Diagnostics


def add_parser(commands) -> None:
    mapper = commands.add_parser(
        "map", help="partition and place a .snn file onto a chip's cores",
        description="Check FILE against a chip, split its populations into core-sized slices, "
                    "place the cores on the chip's mesh and report how it fits. Writes "
                    "mapping.json (every slice: population, neuron range, core, chip, "
                    "coordinates) and mapping.png (the mesh by utilisation, heaviest links) "
                    "into a folder, replaced atomically.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  snnc run examples/cuba.snn --steps 1000 --rates rates.npz\n"
               "  snnc map examples/cuba.snn --target loihi2 --rates rates.npz -o cuba.map")
    mapper.add_argument("file", metavar="FILE")
    mapper.add_argument("--target", metavar="NAME",
                        help="the chip: a built-in, a custom target of the program or a JSON "
                             "target file (default: the program's 'target')")
    mapper.add_argument("--rates", metavar="RATES.npz",
                        help="firing rates from 'snnc run --rates' (default: declared rates, "
                             "else 10 Hz)")
    mapper.add_argument("-o", "--output", default="mapping", metavar="DIR",
                        help="folder for mapping.json and mapping.png (default: mapping)")
    add_deploy_arguments(mapper)
    mapper.add_argument("--no-kahip", action="store_true",
                        help="do not use KaHIP even when installed (extra 'map')")
    mapper.add_argument("--format", choices=("text", "json"), default="text")
    mapper.add_argument("--force", action="store_true", help=FORCE_HELP)
    mapper.set_defaults(handler=run)


def run(args) -> int:
    from snnc.mapping import report

    target = output.check_folder(args.output, inputs=inputs_of(args.file, args.rates,
                                                               args.target, args.weights),
                                 force=args.force)
    diag = Diagnostics()
    net = api.map_network(args.file, diag, args.target, args.rates, use_kahip=not args.no_kahip,
                          weights=args.weights, learn=not args.no_learn)
    print_diagnostics(diag)
    if net is None:
        return EXIT_ERRORS
    doc = report.document(net, net.analyses["partition"], net.analyses["place"])
    files = {"mapping.json": report.to_json(doc)}
    try:
        from snnc.mapping.picture import draw
        files["mapping.png"] = draw(net.analyses["partition"], net.analyses["place"],
                                    f"{args.file} on {doc['target']}")
    except ImportError:
        print("snnc map: no mapping.png without matplotlib: pip install 'snnc[plot]'",
              file=sys.stderr)
    write_folder(files, target, "map", net.files)
    if args.format == "json":
        print(json.dumps({key: value for key, value in doc.items() if key != "slices"}, indent=2))
    else:
        print(report.summary(args.file, doc))
        print(f"  wrote {', '.join(sorted(files))} to {args.output}")
    return EXIT_OK
