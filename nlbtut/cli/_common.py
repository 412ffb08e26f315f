"""Command-line options shared by several ``nlbtut`` sub-commands.

``--data-dir/--dataset/--phase/--bin-width`` (which NLB data to load), ``--set KEY=VALUE``
(config overrides) and ``--quiet`` are spelled, documented and parsed the same way by
``nlbtut baseline``, ``run``, ``train``, ``infer`` and ``autolfads``; they are defined once here.

Example
-------
>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_data_args(p)
>>> add_overrides_arg(p)
>>> args = p.parse_args(["--data-dir", "d", "--dataset", "mc_maze_small", "--set", "max_epochs=5"])
>>> args.phase, args.bin_width, parse_overrides(args.overrides)
('val', 5, {'max_epochs': 5})
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_data_args", "add_overrides_arg", "add_quiet_arg", "parse_overrides"]


def add_data_args(p: argparse.ArgumentParser) -> None:
    """Add ``--data-dir``, ``--dataset``, ``--phase`` (val/test) and ``--bin-width`` (5/20 ms)."""
    p.add_argument(
        "--data-dir",
        required=True,
        help="folder with the dataset's NWB files (the sub-<Subject> folder or a download root)",
    )
    p.add_argument("--dataset", required=True, help="NLB dataset name, e.g. mc_maze_small")
    p.add_argument(
        "--phase", choices=["val", "test"], default="val", help="benchmark phase (default: val)"
    )
    p.add_argument("--bin-width", type=int, choices=[5, 20], default=5, help="ms (default: 5)")


def add_overrides_arg(p: argparse.ArgumentParser, *, example: str = "max_epochs=50") -> None:
    """Add the repeatable ``--set KEY=VALUE`` (stored as ``args.overrides``, a list of strings)."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override an LFADS config value, e.g. --set {example} (repeatable)",
    )


def add_quiet_arg(p: argparse.ArgumentParser, *, help_text: str = "no progress bars") -> None:
    """Add ``--quiet``."""
    p.add_argument("--quiet", action="store_true", help=help_text)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["max_epochs=5", "lr_init=1e-3"]`` -> ``{"max_epochs": 5, "lr_init": 0.001}`` (YAML values).

    Raises
    ------
    ConfigError
        An item without ``=`` or a value that is not valid YAML.
    """
    import yaml

    from nlbtut.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
    return out
