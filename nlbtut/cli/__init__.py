"""The ``nlbtut`` command line: a thin layer over the package's functions.

Each sub-module registers a few sub-commands and calls the same public
functions the book uses; nothing here computes anything itself. Heavy imports
(TensorFlow, Ray) happen inside the command functions, so ``nlbtut --help``
and ``nlbtut datasets`` answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from nlbtut.errors import NLBTutError

# sub-modules of nlbtut.cli, each with ``register(subparsers)``
COMMAND_MODULES = ("data", "synth", "evaluate", "lfads", "autolfads")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from nlbtut import __version__

    parser = argparse.ArgumentParser(
        prog="nlbtut",
        description="Evaluate LFADS on the Neural Latents Benchmark '21.",
    )
    parser.add_argument("--version", action="version", version=f"nlbtut {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"nlbtut.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name == f"nlbtut.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nlbtut`` script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except NLBTutError as exc:
        print(f"nlbtut {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nlbtut {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
