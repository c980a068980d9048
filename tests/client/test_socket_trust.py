"""A socket the user does not own is never trusted: the client sends it nothing, not even the API key.

Another local user can create the socket's directory first (for example `/tmp/swanlabd-<uid>/`
when `XDG_RUNTIME_DIR` is unset) and serve a fake daemon there. The client checks the directory
and the socket before it connects; on a refusal it warns once and writes the run itself (the
fallback), so the run's data still lands. `swanlabctl sync` refuses such a socket too.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import pytest

from helpers.backupview import read_view
from helpers.waiting import wait_for

API_KEY = "stolen-if-you-see-this-0123456789"
NOBODY = pwd.getpwnam("nobody")

SCRIPT = """
import swanlab_client as s
run = s.init(project="p", experiment_name="squatted", mode="cloud")
for step in range(5):
    s.log({"loss": float(step)}, step=step)
s.finish()
print("RUN_DIR", run.run_dir, flush=True)
"""


class FakeDaemon:
    """A gRPC server on a Unix socket that answers every call and keeps every request (the squatter's).

    Its StartRun answers like a daemon would, so a client that trusts it goes on to stream its rows.
    """

    def __init__(self, path: Path) -> None:
        import grpc

        from swanlabd_pb import service_pb2 as svc

        self.path = path
        self.requests: list[bytes] = []
        self._lock = threading.Lock()

        def keep(request: bytes, context: object) -> bytes:
            with self._lock:
                self.requests.append(request)
            return svc.StartRunReply(run_id="x", run_dir="/nowhere", writer=1).SerializeToString()

        class Handler(grpc.GenericRpcHandler):
            def service(self, details: object) -> grpc.RpcMethodHandler:
                return grpc.unary_unary_rpc_method_handler(keep)

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[Handler()])
        self._server.add_insecure_port(f"unix:{path}")
        self._server.start()
        os.chmod(path, 0o777)

    def contacted(self) -> bool:
        with self._lock:
            return bool(self.requests)

    def stolen_key(self) -> bool:
        with self._lock:
            return any(API_KEY.encode() in request for request in self.requests)

    def close(self) -> None:
        self._server.stop(None)


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sq-", dir="/tmp"))  # short: socket paths are limited
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def squat(
    directory: Path, *, uid: int, gid: int, mode: int, socket_uid: int | None = None, parent_mode: int | None = None
) -> FakeDaemon:
    directory.mkdir()
    fake = FakeDaemon(directory / "swanlabd.sock")
    os.chown(fake.path, socket_uid if socket_uid is not None else uid, gid)
    os.chown(directory, uid, gid)
    os.chmod(directory, mode)
    if parent_mode is not None:
        os.chmod(directory.parent, parent_mode)
    return fake


CASES = {
    # The attack: another user created the directory first and serves a fake daemon in it.
    "directory of another user": dict(uid=NOBODY.pw_uid, gid=NOBODY.pw_gid, mode=0o755),
    # Ours, but anyone may put a socket in it.
    "our directory, open to all": dict(uid=os.getuid(), gid=os.getgid(), mode=0o777),
    # Our private directory holding another user's socket (it was open once).
    "socket of another user": dict(uid=os.getuid(), gid=os.getgid(), mode=0o700, socket_uid=NOBODY.pw_uid),
    # All ours, but anyone may rename the directory away and put theirs in its place.
    "parent open to all": dict(uid=os.getuid(), gid=os.getgid(), mode=0o700, parent_mode=0o777),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_client_sends_nothing_to_a_socket_it_does_not_trust_and_writes_the_run_itself(root: Path, case: str):
    fake = squat(root / "squatted", **CASES[case])
    data_root = root / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWANLAB_", "SWANLABD_", "XDG_"))}
    env |= {
        "SWANLABD_SOCKET": str(fake.path),
        "SWANLABD_DATA_ROOT": str(data_root),
        "SWANLAB_API_KEY": API_KEY,
        "SWANLAB_API_HOST": "http://127.0.0.1:9",
        "HOME": str(root),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: proc.poll() is not None or fake.contacted(), 60, "the client ended or connected")
        assert not fake.contacted(), f"the client sent {len(fake.requests)} request(s) to {fake.path} ({case})" + (
            ", the API key among them" if fake.stolen_key() else ""
        )
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        fake.close()
    assert proc.returncode == 0, err
    assert not fake.contacted()
    warnings = [line for line in err.splitlines() if "not connecting" in line]
    assert len(warnings) == 1, err  # warned once, on one line,
    named = fake.path.parent.parent if "parent" in case else fake.path.parent
    assert str(named) in warnings[0] and "SWANLABD_SOCKET" in warnings[0], warnings[0]  # naming it and what to do
    # The data still landed: in the fallback folder under the data root.
    run_dir = Path(next(line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("RUN_DIR ")))
    assert run_dir.parent == data_root / "runs"
    assert read_view(run_dir).rows[1] == [(step, {"loss": float(step)}) for step in range(5)]
    assert API_KEY not in run_dir.joinpath("backup.swanlab").read_bytes().decode("latin-1")


def test_swanlabctl_sync_refuses_a_socket_of_another_user(root: Path):
    fake = squat(root / "squatted", uid=NOBODY.pw_uid, gid=NOBODY.pw_gid, mode=0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWANLAB_", "SWANLABD_"))}
    env |= {"SWANLABD_SOCKET": str(fake.path), "SWANLAB_API_KEY": API_KEY, "HOME": str(root)}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "swanlabd.cli.swanlabctl", "sync", "--timeout", "5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        fake.close()
    assert not fake.contacted(), f"swanlabctl sync sent {len(fake.requests)} request(s) to {fake.path}" + (
        ", the API key among them" if fake.stolen_key() else ""
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{fake.path.parent} belongs to uid {NOBODY.pw_uid}" in result.stderr, result.stderr
