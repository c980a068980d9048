"""`swanlabctl sync` and `swanlabctl login`: push queued runs to the SwanLab cloud, store a key.

    swanlabctl sync                  flush every queued run (cloud runs with a backlog, offline runs)
    swanlabctl sync PATH|RUN_ID...   adopt run folders (copied from another host) / name runs
    swanlabctl login [--host H]      check the key against the server, write ~/.swanlab/.netrc

`sync` starts a daemon if none answers, hands the runs to its uploader (the one upload path:
docs/upload.md) with the caller's credentials (SWANLAB_API_KEY / SWANLAB_API_HOST /
~/.swanlab/.netrc, or --api-key-file / --api-key / --host), and shows one progress line per
run: records, bytes, rate. It exits 0 once every run is on the server, 1 naming each run that
is not and why (a missing or wrong key, a refused project, data the server rejected,
--timeout). Killing it loses nothing: the daemon keeps uploading, and the next `sync` resumes
from its cursors. A key on the command line is visible in `ps`: `--api-key -` reads it from
stdin instead, `--api-key-file PATH` from a file.

This module parses arguments and shows results; the work is in swanlabd/local/, shared with
the client's `login()` and `sync()`: `cloudlogin.verify_key` checks a key, `control.sync_runs`
drives the daemon's Sync RPC. The progress display is rich's (`rich.progress`), imported only
here: a maintained library that renders several live bars with transfer rates and falls back
to plain lines off a TTY. No output ever contains the API key.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from swanlabd.local import cloudlogin, control, credentials
from swanlabd.local.control import RunProgress

EXIT_OK = 0
EXIT_NOT_UPLOADED = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    sync = subparsers.add_parser("sync", help="upload queued runs (or copied run folders) to the SwanLab cloud")
    sync.add_argument(
        "targets",
        nargs="*",
        metavar="PATH|RUN_ID",
        help="run folders to adopt, other tools' runs to convert (docs/sync.md), or run ids; none: every queued run",
    )
    sync.add_argument("--project", default="", help="upload into this project instead of the run's")
    sync.add_argument(
        "--workspace", default="", help="upload into this workspace instead of the run's (default: your user)"
    )
    add_api_key_arguments(sync, "for runs recorded offline (default: SWANLAB_API_KEY, ~/.swanlab/.netrc)")
    sync.add_argument(
        "--host", default=None, help="SwanLab API host for runs recorded offline (default: SWANLAB_API_HOST)"
    )
    sync.add_argument("--no-wait", action="store_true", help="queue the runs and return at once")
    sync.add_argument("--json", action="store_true", help="print the outcome as one JSON object (no progress bars)")
    sync.add_argument(
        "--timeout", type=float, default=None, help="give up waiting after this many seconds (uploads go on)"
    )
    sync.add_argument(
        "--socket", type=Path, default=None, help="daemon socket (default: $SWANLABD_SOCKET or the per-user path)"
    )
    sync.set_defaults(func=sync_command)

    login = subparsers.add_parser("login", help="check an API key against the server and save it to ~/.swanlab/.netrc")
    add_api_key_arguments(login, "to check and save (default: prompt, or read one line from stdin)")
    login.add_argument("--host", default=None, help="SwanLab API host (default: SWANLAB_API_HOST or the public cloud)")
    login.add_argument("--web-host", default=None, help="SwanLab web host (default: derived from the API host)")
    login.add_argument("--local", action="store_true", help="write ./.swanlab/.netrc (project level) instead")
    login.set_defaults(func=login_command)


# -- the API key ---------------------------------------------------------------------------


def add_api_key_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--api-key KEY|-` and `--api-key-file PATH`, one or the other."""
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "--api-key",
        metavar="KEY",
        default=None,
        help=f"the API key {what}; `-` reads it from stdin. A key written here is visible to other users "
        "of this host (ps, /proc): prefer `-`, --api-key-file or SWANLAB_API_KEY",
    )
    given.add_argument("--api-key-file", metavar="PATH", type=Path, default=None, help="read the API key from PATH")


class KeyInputError(Exception):
    """The key could not be read from where the command line said (a usage error)."""


def api_key_from_args(args: argparse.Namespace) -> str | None:
    """The key given with --api-key (`-`: stdin) or --api-key-file; None if neither was given."""
    if args.api_key_file is not None:
        try:
            key = args.api_key_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyInputError(f"cannot read --api-key-file {args.api_key_file}: {exc}") from None
        if not key:
            raise KeyInputError(f"--api-key-file {args.api_key_file} is empty")
        return key
    if args.api_key == "-":
        key = read_key_from_stdin()
        if not key:
            raise KeyInputError("--api-key -: no API key on stdin")
        return key
    return args.api_key


def read_key_from_stdin() -> str:
    """A prompt with hidden input on a terminal, else one line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass("SwanLab API key (input hidden): ").strip()
    return sys.stdin.readline().strip()


# -- login ---------------------------------------------------------------------------------


def login_command(args: argparse.Namespace) -> int:
    try:
        key = api_key_from_args(args) or read_key_from_stdin()
    except KeyInputError as exc:
        print(f"swanlabctl login: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not key:
        print("swanlabctl login: no API key given", file=sys.stderr)
        return EXIT_USAGE
    try:
        creds = credentials.resolve(api_key=key, api_host=args.host, web_host=args.web_host)
        username = cloudlogin.verify_key(creds)
        path = credentials.save_login(
            key, creds.api_host, creds.web_host, path=credentials.netrc_path(local=args.local)
        )
    except credentials.CredentialsError as exc:
        print(f"swanlabctl login: {exc}", file=sys.stderr)
        return EXIT_NOT_UPLOADED
    print(f"Logged in to {creds.api_host} as {username}; credentials saved to {path}")
    return EXIT_OK


# -- sync ----------------------------------------------------------------------------------


def sync_command(args: argparse.Namespace) -> int:
    # Here, not at the top: it loads protobuf, which only sync needs of swanlabctl's commands.
    from swanlabd.foreign import sources
    from swanlabd.format.backup import BACKUP_FILENAME

    paths, run_ids = [], []
    for target in args.targets:
        candidate = Path(target)
        if candidate.is_dir() or candidate.is_file():  # a file: a TensorBoard event file
            if not (candidate / BACKUP_FILENAME).is_file() and not sources.find(candidate):
                print(
                    f"swanlabctl sync: {target} is neither a run folder (no {BACKUP_FILENAME}) nor a run of a "
                    "tool sync reads (SwanLab or W&B offline runs, TensorBoard event files) or a folder of them",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            paths.append(str(candidate.resolve()))
        else:
            run_ids.append(target)
    view: _View | None = None

    def show(p: RunProgress) -> None:
        nonlocal view
        view = view or _View()
        view.update(p)

    try:
        api_key = api_key_from_args(args)
    except KeyInputError as exc:
        print(f"swanlabctl sync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        creds = credentials.resolve(api_key=api_key, api_host=args.host)
        try:
            results = control.sync_runs(
                paths=paths,
                run_ids=run_ids,
                creds=creds,
                project=args.project,
                workspace=args.workspace,
                wait=not args.no_wait,
                timeout=args.timeout,
                socket=args.socket,
                on_progress=None if args.no_wait or args.json else show,
            )
        finally:
            if view is not None:
                view.close()
    except control.ControlError as exc:
        print(f"swanlabctl sync: {exc}", file=sys.stderr)
        return EXIT_NOT_UPLOADED
    except KeyboardInterrupt:
        print("\nswanlabctl sync: stopped waiting; the daemon keeps uploading (run `swanlabctl sync` again to follow)")
        return EXIT_NOT_UPLOADED
    if args.json:
        return report_json(results, waited=not args.no_wait)
    return report(results, waited=not args.no_wait)


def report_json(results: Iterable[RunProgress], *, waited: bool) -> int:
    """The outcome as JSON: each run's last progress, and what was converted for other tools' runs."""
    runs = [dataclasses.asdict(r) for r in results]
    left = [r for r in runs if waited and (not r["done"] or r["error"])]
    print(json.dumps({"runs": runs, "all_uploaded": waited and not left}, indent=2))
    return EXIT_OK if not left else EXIT_NOT_UPLOADED


def report(results: Iterable[RunProgress], *, waited: bool) -> int:
    results = list(results)
    if not results:
        print("Nothing to sync: every run is uploaded.")
        return EXIT_OK
    if not waited:
        print(f"Queued {len(results)} run(s) for upload; follow with `swanlabctl sync` or `swanlabctl ls`.")
        return EXIT_OK
    left = [r for r in results if not r.done or r.error]
    for r in results:
        if r.conversion is not None:
            c = r.conversion
            print(f"{r.run_id}: converted {c.records} {c.source_kind} records ({c.points} points) from {c.source_path}")
            for line in c.losses:
                print(f"{r.run_id}: damaged, skipped: {line}", file=sys.stderr)
            for kind, n in sorted(c.unknown.items()):
                print(f"{r.run_id}: {n} {kind} record(s) not converted (unknown kind)", file=sys.stderr)
    for r in results:
        if r.done and not r.error:
            print(f"{r.run_id}: uploaded ({r.records_total} records, {_bytes(r.bytes_total)})")
    for r in left:
        what = "uploaded with rejections" if r.done else f"not uploaded ({_bytes(r.bytes_total - r.bytes_done)} left)"
        print(f"{r.run_id}: {what}: {r.error or 'timed out waiting'}", file=sys.stderr)
    return EXIT_OK if not left else EXIT_NOT_UPLOADED


class _View:
    """One rich progress bar per run: records, bytes, rate; plain lines off a terminal."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[records]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def update(self, p: RunProgress) -> None:
        records, note, total = f"{p.records_done}/{p.records_total} records", p.error[:80], max(p.bytes_total, 1)
        if p.run_id not in self.tasks:
            self.tasks[p.run_id] = self.progress.add_task(p.run_id, total=total, records=records, note=note)
        self.progress.update(self.tasks[p.run_id], completed=p.bytes_done, total=total, records=records, note=note)

    def close(self) -> None:
        self.progress.stop()


def _bytes(n: int) -> str:
    size = float(max(0, n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
