"""`swanlabd run`: the daemon in the foreground (what systemd, Docker and the client start).

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 if it cannot start (another daemon
holds the data root or socket; the one-line reason goes to stderr), 2 for bad configuration,
3 if a daemon task failed while serving.
"""

from __future__ import annotations

import argparse
import sys

EXIT_STARTUP = 1
EXIT_CONFIG = 2
EXIT_FAILED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    from swanlabd.service import config

    parser = subparsers.add_parser("run", help="run the daemon in the foreground")
    config.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import os
    import signal

    from swanlabd.service import config, fdlimit, logging_setup
    from swanlabd.service.daemon import Daemon
    from swanlabd.service.errors import StartupError

    try:
        cfg = config.load_from_args(args).config
    except config.ConfigError as exc:
        print(f"swanlabd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    # Everything the daemon makes is its user's alone (run folders, state DB, socket, pid file), as
    # the systemd units' UMask=0077, also when started from a shell or by a client with umask 022.
    os.umask(0o077)
    # A client auto-starts the daemon from a thread that blocks SIGTERM and the like
    # (swanlab_client._threads), and a new process keeps that mask: the signals handled below
    # must reach this one.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    try:
        logs = logging_setup.configure(cfg)
    except StartupError as exc:
        print(f"swanlabd: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    except OSError as exc:
        print(f"swanlabd: cannot use log file {cfg.log_file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_STARTUP
    # Each open run costs descriptors; the soft limit (often 1,024) is only there for select().
    fdlimit.raise_soft_limit()
    daemon = Daemon(cfg)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, daemon.shutdown)
        loop.add_signal_handler(signal.SIGHUP, logs.reopen)
        await daemon.run()

    try:
        asyncio.run(main())
    except StartupError as exc:
        print(f"swanlabd: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    except Exception as exc:
        # str(), not repr(): an OSError's repr leaves out the path it is about.
        print(f"swanlabd: stopped after a failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        logs.close()
    return 0
