"""`swanlabctl status` and `swanlabctl ls`: what the daemon is doing, for people and scripts.

`status` exits 0 if a daemon answers on the socket and 1 if none does, so scripts can test it
(`swanlabctl status >/dev/null && ...`); a daemon that is alive but silent (hung, stopped,
starting) is named with its pid, from `<socket>.lock` or `<data root>/swanlabd.pid`.
`ls` asks the daemon; with no daemon up it reads the state DB directly (then upload progress is
unknown and shown as not uploaded). A run whose state DB entry is damaged is listed with what is
wrong, state unknown; whatever the daemon or the DB answers, `ls` says it in one line, never a
traceback, and exits 1.
Both take `--json` for one JSON document on stdout (field names as in service.proto).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

EXIT_DOWN = 1
RPC_TIMEOUT_S = 3.0


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="is the daemon up: pid, version, socket, data root, active runs")
    _common(status)
    status.set_defaults(func=status_command)
    ls = subparsers.add_parser(
        "ls", help="list runs: id, path, mode, state, records, bytes not yet uploaded, last error"
    )
    _common(ls)
    ls.set_defaults(func=ls_command)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", type=Path, help="daemon socket (default: $SWANLABD_SOCKET or the per-user path)")
    parser.add_argument(
        "--data-root",
        "--home",
        dest="data_root",
        type=Path,
        help="data root, read when no daemon answers (default: $SWANLABD_DATA_ROOT; --home is its old name)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _daemon_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process lives and is a swanlabd (a SIGKILL leaves the file)."""
    import psutil

    try:
        proc = psutil.Process(int(pid_file.read_text().split()[0]))
        if proc.status() == psutil.STATUS_ZOMBIE or not any("swanlabd" in part for part in proc.cmdline()):
            return None
        return proc.pid
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def _silent_daemon(socket: Path, home: Path, hung: bool) -> tuple[int | None, str]:
    """(pid, one line) about a daemon that does not answer on `socket`, or (None, "not running")."""
    from swanlabd.service.locks import socket_lock_path

    wait = f"within {RPC_TIMEOUT_S:g} s"
    socket_pid = _daemon_pid(socket_lock_path(socket))
    home_pid = _daemon_pid(home / "swanlabd.pid")
    if socket_pid:
        held = f"the socket {socket}" + (f" and the data root {home}" if home_pid == socket_pid else "")
        why = f"does not answer {wait} (hung or stopped?)" if hung else "does not accept on it yet (starting?)"
        return socket_pid, f"swanlabd (pid {socket_pid}) holds {held} but {why}"
    if home_pid:
        why = f"does not answer on {socket} {wait} (hung or stopped?)" if hung else f"nothing answers on {socket}"
        return home_pid, f"swanlabd (pid {home_pid}) holds the data root {home} but {why}"
    if hung:
        return None, f"something accepts connections on {socket} but does not answer {wait}"
    return None, f"swanlabd is not running (nothing answers on {socket})"


class CallFailed(Exception):
    """The daemon answered with an error status: what it said, in one line."""


def _call(socket: Path, method: str, request: Any) -> tuple[Any | None, bool]:
    """One unary RPC to the daemon: (reply, False), or (None, hung) if nothing answers on the
    socket; hung means something accepted the connection but did not answer in RPC_TIMEOUT_S.
    CallFailed if the daemon answered with an error."""
    import grpc

    from swanlabd_pb import service_pb2_grpc

    with grpc.insecure_channel(f"unix:{socket}") as channel:
        stub = service_pb2_grpc.SwanlabdStub(channel)
        try:
            return getattr(stub, method)(request, timeout=RPC_TIMEOUT_S), False
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return None, exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            raise CallFailed(f"the daemon on {socket} failed {method}: {exc.code().name}: {exc.details()}") from None


def _to_dict(message: Any) -> dict[str, Any]:
    """Proto fields by name, with 64-bit ints as JSON numbers (MessageToDict makes them strings)."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None:
            value = [_to_dict(v) for v in value] if field.is_repeated else _to_dict(value)
        elif field.enum_type is not None:
            value = field.enum_type.values_by_number[value].name
        out[field.name] = value
    return out


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def status_command(args: argparse.Namespace) -> int:
    from swanlabd.local import paths
    from swanlabd_pb import service_pb2

    socket = args.socket or paths.default_socket_path()
    try:
        reply, hung = _call(socket, "Status", service_pb2.StatusRequest())
    except CallFailed as exc:
        print(f"swanlabctl: {exc}", file=sys.stderr)
        return EXIT_DOWN
    if reply is None:
        # Down, or alive but not answering (starting, hung, stopped, or serving another socket).
        silent, line = _silent_daemon(socket, args.data_root or paths.default_data_root(), hung)
        if args.json:
            print(json.dumps({"running": False, "socket": str(socket), **({"silent_pid": silent} if silent else {})}))
        else:
            print(line)
        return EXIT_DOWN
    if args.json:
        print(json.dumps({"running": True, **_to_dict(reply)}, indent=2))
        return 0
    uptime = human_duration(time.time() - reply.started_ms / 1000) if reply.started_ms else "?"
    print(f"swanlabd {reply.version} is running")
    print(f"  pid:        {reply.pid}")
    print(f"  uptime:     {uptime}")
    print(f"  socket:     {reply.socket}")
    print(f"  data root:  {reply.data_root}")
    print(f"  queued:     {human_bytes(reply.queued_bytes)} not yet uploaded")
    print(f"  active runs: {len(reply.active_runs)}")
    for run in reply.active_runs:
        name = "/".join(x for x in (run.project, run.experiment_name) if x) or "-"
        print(f"    {run.run_id}  {name}  {run.records} records  {human_bytes(run.backup_bytes)}  {run.run_dir}")
        if run.last_error:
            print(f"      last error: {run.last_error}")
    return 0


def ls_command(args: argparse.Namespace) -> int:
    from swanlabd.local import paths
    from swanlabd_pb import service_pb2

    socket = args.socket or paths.default_socket_path()
    try:
        reply, _ = _call(socket, "ListRuns", service_pb2.ListRunsRequest())
    except CallFailed as exc:
        print(f"swanlabctl: {exc}", file=sys.stderr)
        return EXIT_DOWN
    source = "daemon"
    if reply is None:
        import plyvel

        source = "state DB (daemon not running)"
        home = args.data_root or paths.default_data_root()
        try:
            reply = _list_from_state(home)
        except plyvel.IOError:
            print(
                f"swanlabctl: the state DB of {home} is held by a daemon that does not answer on {socket}",
                file=sys.stderr,
            )
            return EXIT_DOWN
        except plyvel.Error as exc:
            print(f"swanlabctl: cannot read the state DB of {home}: {exc}", file=sys.stderr)
            return EXIT_DOWN
    if args.json:
        print(json.dumps({"source": source.split()[0], **_to_dict(reply)}, indent=2))
        return 0
    _print_table(reply.runs)
    if source != "daemon":
        print(f"(from the {source}; upload progress unknown)", file=sys.stderr)
    return 0


def _list_from_state(home: Path) -> Any:
    """ListRunsReply built from the state DB, for when no daemon runs."""
    from swanlabd.ingest.ports import RunView
    from swanlabd.ingest.server import summary
    from swanlabd.storage.state import State
    from swanlabd_pb import service_pb2

    reply = service_pb2.ListRunsReply()
    if not (home / "state").is_dir():
        return reply
    state = State(home / "state")
    try:
        # Damaged entries as the daemon lists them: a stand-in whose last error says what is wrong.
        for info in sorted([*state.runs(), *state.damaged_runs()], key=lambda i: (i.created_ms, i.run_id)):
            # As the daemon sums it up, with nothing known to be uploaded.
            reply.runs.append(summary(RunView(info)))
    finally:
        state.close()
    return reply


def _print_table(runs: Any) -> None:
    from swanlabd.format.runstate import Mode, RunState

    header = ("RUN ID", "STATE", "MODE", "RECORDS", "NOT UPLOADED", "PATH")
    rows = [
        (
            r.run_id,
            # 0 is no state at all here (a damaged entry), not a Finish record's FINISHED.
            RunState.of(r.state) if r.state else "?",
            # A run converted from another tool's files (swanlabctl sync, docs/sync.md) says which.
            (Mode.of(r.mode).label if r.mode else "?") + (f" ({r.source_kind})" if r.source_kind else ""),
            str(r.records),
            human_bytes(r.bytes_not_uploaded),
            r.run_dir,
        )
        for r in runs
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    print("  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True)).rstrip())
    for row, r in zip(rows, runs, strict=True):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if r.last_error:  # too long for a column: its own line, under the run's row
            print(f"  error: {r.last_error}")
