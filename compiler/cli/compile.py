"""``snnc compile``: write a backend's artifacts for a .snn file.

The flags after ``--target`` are the backends' options (:mod:`snnc.backends.base`), built from
the registry when the command is used: one flag per option name, its help prefixed with the backends that have it when
not all do, ``{default}`` filled with their defaults. Nothing here names a backend."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections import Counter

from snnc import api, output
from snnc.backends import DEFAULT_BACKEND, MissingExtra, RegistryError, declared_options, registry
from snnc.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    FORCE_HELP,
    add_deploy_arguments,
    inputs_of,
    print_diagnostics,
    usage,
    write_folder,
)
from snnc.diagnostics import Diagnostics

#: one option: [(backend name, its dataclass field)] for the backends that have it
Declared = list[tuple[str, dataclasses.Field]]


def add_parser(commands) -> None:
    compile_ = commands.add_parser(
        "compile", help="write a backend's artifacts for a .snn file",
        description="Check FILE and write the artifacts of a backend into a folder. The folder "
                    "is replaced atomically: a failed compile leaves the previous output intact. "
                    "An existing folder is replaced only when snnc wrote it (its .snnc-output "
                    "marker) or it is empty; else pass --force.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  snnc compile examples/cuba.snn --emit reference -o build/cuba")
    compile_.defer(add_arguments)  # the registry is read when snnc compile is used
    compile_.set_defaults(handler=run)


def add_arguments(compile_: argparse.ArgumentParser) -> None:
    """The arguments: FILE, the backend, the output and target, the backends' options."""
    compile_.add_argument("file", metavar="FILE")
    compile_.add_argument("--emit", choices=list(registry()), default=DEFAULT_BACKEND,
                          help=f"the backend (default: {DEFAULT_BACKEND})")
    compile_.add_argument("-o", "--output", required=True, metavar="DIR",
                          help="output folder (replaced as a whole when snnc wrote it)")
    compile_.add_argument("--target", metavar="NAME", help="check against this target")
    add_deploy_arguments(compile_)
    for name, declared in declared_options().items():
        add_option(compile_, name, declared)
    compile_.add_argument("--force", action="store_true", help=FORCE_HELP)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def the_flag(name: str, declared: Declared):
    """The option's flag, the same for every backend that has it (its ``note`` aside)."""
    flags = [dataclasses.replace(field.metadata["flag"], note="") for _, field in declared]
    if any(flag != flags[0] for flag in flags):
        raise RegistryError(f"the backends {', '.join(b for b, _ in declared)} declare the "
                            f"option '{name}' differently")
    return declared[0][1].metadata["flag"]


def defaults_text(declared: Declared) -> str:
    """``same_step, and next_step for lava, whose only convention it is``: the most common
    default, then each backend whose default differs, with its note."""
    common = Counter(field.default for _, field in declared).most_common(1)[0][0]
    text = str(common)
    for backend, field in declared:
        if field.default != common:
            note = field.metadata["flag"].note
            text += f", and {field.default} for {backend}" + (f", {note}" if note else "")
    return text


def add_option(parser: argparse.ArgumentParser, name: str, declared: Declared) -> None:
    """The flag of the backends' option ``name`` (default None: each backend keeps its own)."""
    flag = the_flag(name, declared)
    help_text = flag.help.replace("{default}", defaults_text(declared))
    if len(declared) < len(registry()):
        help_text = ", ".join(backend for backend, _ in declared) + ": " + help_text
    if isinstance(declared[0][1].default, bool):
        parser.add_argument(flag_name(name), dest=name, action="store_true", default=None,
                            help=help_text)
    else:
        extra = {"nargs": flag.nargs, "const": flag.const} if flag.nargs else {}
        parser.add_argument(flag_name(name), dest=name, metavar=flag.metavar,
                            choices=flag.choices, type=flag.type, default=None, help=help_text,
                            **extra)


def refused(backend: str, values: dict) -> str | None:
    """The usage error for a given flag that only other backends take (``exclusive``)."""
    for name, declared in declared_options().items():
        owners = [owner for owner, _ in declared]
        if values[name] is None or backend in owners or not the_flag(name, declared).exclusive:
            continue
        either = owners[0] if len(owners) == 1 else \
            ", ".join(owners[:-1]) + " or " + owners[-1]
        return f"snnc compile: {flag_name(name)} goes with --emit {either}"
    return None


def run(args) -> int:
    declared = declared_options()
    values = {name: getattr(args, name) for name in declared}
    files_named = [values[name] for name, options in declared.items()
                   if the_flag(name, options).read is not None]
    target = output.check_folder(args.output, inputs=inputs_of(args.file, *files_named,
                                                               args.target, args.weights),
                                 force=args.force)
    diag = Diagnostics()
    net = api.compile_network(args.file, diag, args.target, weights=args.weights,
                              learn=not args.no_learn,
                              enforce_memory=registry()[args.emit].simulator_memory)
    files: dict[str, str | bytes] = {}
    if net is not None:
        problem = refused(args.emit, values)
        if problem is not None:
            return usage(problem)
        options = api.backend_options(args.emit, values, diag)
        if options is None:
            print_diagnostics(diag)
            return EXIT_ERRORS
        try:
            files = api.emit_artifacts(net, args.emit, diag, **options,
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
    for line in api.summary_lines(args.emit, files):
        print(line)
    return EXIT_OK
