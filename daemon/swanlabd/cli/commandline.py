"""The argparse plumbing shared by the `swanlabd` and `swanlabctl` commands.

Each subcommand lives in its own `cmd_*.py` module, which exposes `register(subparsers)`: it
adds its parser and sets `func(args) -> int` (the exit code). Command modules keep heavy imports
(grpc, plyvel) inside their functions, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable


def run(prog: str, description: str, modules: Iterable[str], argv: list[str] | None) -> int:
    """Parse argv with the subcommands that `modules` register, run the chosen one."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in modules:
        importlib.import_module(module_name).register(subparsers)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
