"""`swanlabctl`: inspect and drive the daemon and its run folders."""

from __future__ import annotations

import sys

COMMAND_MODULES = (
    "swanlabd.cli.cmd_runs",  # status, ls
    "swanlabd.cli.cmd_backup",  # dump, verify
    "swanlabd.cli.cmd_sync",  # sync, login
    "swanlabd.cli.cmd_exec",  # exec
)


def main(argv: list[str] | None = None) -> int:
    from swanlabd.cli import commandline

    return commandline.run("swanlabctl", "Inspect and drive swanlabd and its run folders.", COMMAND_MODULES, argv)


if __name__ == "__main__":
    sys.exit(main())
