"""`swanlabctl exec -- COMMAND [ARGS...]`: run COMMAND with `import swanlab` routed to swanlab_client.

exec puts the alias hook's folder (`_swanlab_alias.SITE_DIR`, whose sitecustomize.py installs
the alias) first on PYTHONPATH, then replaces itself with COMMAND (execvp). Replacing, not
wrapping, is what makes everything pass through unchanged: COMMAND keeps this process's pid,
stdin, stdout, stderr, process group and terminal, so signals reach it directly, and its exit
status, a death by signal included, is the one the caller sees. There is no middle process to
forward signals, to outlive COMMAND, or to get its exit status wrong.
Every Python process in COMMAND's tree inherits the variable: torchrun and accelerate workers,
multiprocessing's spawn and forkserver children, subprocesses (a fork keeps the alias anyway).
See docs/integrations.md, "Routing `import swanlab` to swanlabd".
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

EXIT_CANNOT_RUN = 126
EXIT_NOT_FOUND = 127
"""The shell's exit codes for a command that cannot run / is not found (POSIX, and env(1))."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "exec",
        help="run a command in which `import swanlab` is swanlab_client (every Python process it starts too)",
        description=(
            "Run COMMAND so that `import swanlab`, in it and in every Python process it starts, is "
            "swanlab_client, even where the official SDK is installed. swanlabctl replaces itself with "
            "COMMAND: its exit status, signals, stdin, stdout and stderr are COMMAND's own. How: the alias "
            "hook's folder goes first on PYTHONPATH (see --pythonpath). Exits 127 if COMMAND is not "
            "found and 126 if it cannot be run."
        ),
        usage="swanlabctl exec [-h] [--pythonpath] [--] COMMAND [ARGS...]",
    )
    parser.add_argument(
        "--pythonpath",
        action="store_true",
        help="print the folder to put first on PYTHONPATH where the command cannot be wrapped, and exit",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARGS...]", help=argparse.SUPPRESS)
    parser.set_defaults(func=exec_command)


def exec_command(args: argparse.Namespace) -> int:
    import _swanlab_alias

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.pythonpath:
        if command:
            print("swanlabctl exec: --pythonpath takes no COMMAND", file=sys.stderr)
            return 2
        print(_swanlab_alias.SITE_DIR)
        return 0
    if not command:
        print("swanlabctl exec: no COMMAND given (usage: swanlabctl exec -- COMMAND [ARGS...])", file=sys.stderr)
        return 2
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != _swanlab_alias.SITE_DIR]
    env["PYTHONPATH"] = os.pathsep.join([_swanlab_alias.SITE_DIR, *paths])
    # Whatever this process buffered would otherwise be lost when exec replaces it.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        print(f"swanlabctl exec: {shlex.quote(command[0])}: command not found", file=sys.stderr)
        return EXIT_NOT_FOUND
    except OSError as exc:
        print(f"swanlabctl exec: {shlex.quote(command[0])}: cannot run: {exc.strerror}", file=sys.stderr)
        return EXIT_CANNOT_RUN
