"""`swanlabd`: run the daemon and manage it as a service."""

from __future__ import annotations

import sys

COMMAND_MODULES = (
    "swanlabd.cli.cmd_run",  # run
    "swanlabd.cli.cmd_service",  # config, install-service
)


def main(argv: list[str] | None = None) -> int:
    from swanlabd.cli import commandline

    return commandline.run("swanlabd", "The per-host SwanLab logging daemon.", COMMAND_MODULES, argv)


if __name__ == "__main__":
    sys.exit(main())
