"""When the daemon keeps refusing: backoff instead of a hot loop, requests bounded in bytes,
too-large requests cut and resent, and the fallback file's group commit."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from memtransport import MemoryConnector, MemoryDaemon, MemoryTransport, drain, make_run
from runner import ls

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from swanlab_client import _settings
from swanlab_client._errors import DaemonError, DaemonInternalError, DaemonRejectedError, RPCStatusCode
from swanlab_client._sender import CONFIG, CONSOLE, Sender
from swanlab_client._transport import FileTransport
from swanlabd.format.backup import BACKUP_FILENAME, read_records
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

BIG_BATCHES = _settings.Settings(flush_interval_s=0.001, batch_max_values=16_384, autostart=False, hooks=False)


class RefusingConnector(MemoryConnector):
    """Connections start fine, then every send fails with `error` while `refusing` is set."""

    def __init__(self, memory: MemoryDaemon, error: DaemonError) -> None:
        super().__init__(memory)
        self.error = error
        self.refusing = True
        self.refusals = 0

    def daemon(self) -> MemoryTransport:
        connector = self
        transport = super().daemon()
        send = transport.send

        def refusing_send(records: Sequence[pb.Record]) -> int:
            if connector.refusing:
                connector.refusals += 1
                raise connector.error
            return send(records)

        transport.send = refusing_send  # type: ignore[method-assign]  # this one connection refuses
        return transport


def run_thread_for(sender: Sender, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    time.sleep(seconds)
    return thread


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            DaemonInternalError("swanlabd: INTERNAL: fsync failed: No space left on device", RPCStatusCode.INTERNAL),
            "cannot be stored",
        ),
        (
            DaemonRejectedError("swanlabd: INVALID_ARGUMENT: key id 7 not defined", RPCStatusCode.INVALID_ARGUMENT),
            "key id 7 not defined",
        ),
    ],
)
def test_a_refused_batch_is_retried_with_backoff_warned_once_and_kept(error, says, caplog):
    mem = MemoryDaemon()
    connector = RefusingConnector(mem, error)
    run = make_run(connector)
    for step in range(100):
        run.log({"loss": float(step)})
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        thread = run_thread_for(run.sender, 2.0)
        # Without backoff this was hundreds of StartRun + send per second.
        assert 3 <= connector.refusals <= 25, connector.refusals
        assert connector.connects <= 26
        connector.refusing = False
        for step in range(100, 200):
            run.log({"loss": float(step)})
        run.sender.request_finish(pb.Finish(state=pb.FINISHED))
        thread.join(15)
    assert not thread.is_alive()
    assert [s for s, _ in mem.rows("r1")] == list(range(200))
    assert run.sender.failures == 0
    warnings = [r.getMessage() for r in caplog.records if says in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]


def test_backoff_grows_and_is_capped(monkeypatch):
    from swanlab_client import _sender

    sleeps: list[float] = []
    monkeypatch.setattr(_sender.time, "sleep", sleeps.append)
    run = make_run(MemoryConnector(MemoryDaemon()))
    error = DaemonInternalError("broken file", RPCStatusCode.INTERNAL)
    random.seed(5)
    expected = random.Random(5).random()
    for _ in range(20):
        run.sender._lost(error)
    assert random.random() == expected  # the jitter leaves the script's random sequence alone
    assert sleeps[0] <= _sender.BACKOFF_FIRST_S
    assert sleeps[3] > sleeps[0]
    assert all(s <= _sender.BACKOFF_MAX_S for s in sleeps)
    assert max(sleeps) >= _sender.BACKOFF_MAX_S / 2


class SizeLimitedTransport(MemoryTransport):
    """Refuses any request larger than `limit` bytes, as grpc does past its message limit."""

    limit = 0
    sizes: list[int] = []

    def send(self, records: Sequence[pb.Record]) -> int:
        size = svc.StreamRequest(records=records).ByteSize()
        SizeLimitedTransport.sizes.append(size)
        assert len(SizeLimitedTransport.sizes) < 10_000, "the sender loops on a refused request"
        if size > self.limit:
            raise DaemonRejectedError(
                f"message larger than max ({size} vs. {self.limit})", RPCStatusCode.RESOURCE_EXHAUSTED
            )
        return super().send(records)


class SizeLimitedConnector(MemoryConnector):
    def daemon(self) -> MemoryTransport:
        self.connects += 1
        return SizeLimitedTransport(self.memory)


def console_lines(mem: MemoryDaemon) -> list[str]:
    return [ln.text for r in mem.records[("r1", 1)] if r.HasField("console") for ln in r.console.lines]


def test_requests_stay_under_the_byte_bound_for_huge_console_output():
    SizeLimitedTransport.limit, SizeLimitedTransport.sizes = _settings.DAEMON_MAX_MESSAGE_BYTES, []
    mem = MemoryDaemon()
    run = make_run(SizeLimitedConnector(mem), BIG_BATCHES)
    texts = [f"{i:06d}" + "x" * 7994 for i in range(3000)]
    for text in texts:
        run._queue.append((CONSOLE, text, pb.STDOUT, time.time()))
    run.log({"loss": 1.0})
    drain(run)
    assert console_lines(mem) == texts
    assert max(SizeLimitedTransport.sizes) <= _settings.REQUEST_MAX_BYTES + 64 * 1024
    assert mem.rows("r1") == [(0, {"loss": 1.0})]


def test_a_request_refused_as_too_large_is_cut_and_resent_never_looped(monkeypatch):
    # A daemon with a smaller limit than the client assumes: records get cut until they fit.
    SizeLimitedTransport.limit, SizeLimitedTransport.sizes = 20_000, []
    monkeypatch.setattr("swanlab_client._sender.time.sleep", lambda s: None)
    mem = MemoryDaemon()
    run = make_run(SizeLimitedConnector(mem), BIG_BATCHES)
    texts = [f"line {i} " + "y" * 900 for i in range(300)]
    for text in texts:
        run._queue.append((CONSOLE, text, pb.STDOUT, time.time()))
    for i in range(300):
        run.log({f"k{j}": float(i) for j in range(50)})
    drain(run)
    assert console_lines(mem) == texts
    rows = mem.rows("r1")
    assert [s for s, _ in rows] == list(range(300))
    assert rows[299][1] == {f"k{j}": 299.0 for j in range(50)}
    assert [r.client_seq for r in mem.records[("r1", 1)]] == list(range(1, len(mem.records[("r1", 1)]) + 1))
    refused = sum(1 for s in SizeLimitedTransport.sizes if s > SizeLimitedTransport.limit)
    assert refused < 100, refused  # about one per piece that fits: cut, never looped


def test_a_single_record_larger_than_the_daemon_accepts_is_dropped_with_a_warning(monkeypatch, caplog):
    SizeLimitedTransport.limit, SizeLimitedTransport.sizes = _settings.DAEMON_MAX_MESSAGE_BYTES, []
    monkeypatch.setattr("swanlab_client._sender.time.sleep", lambda s: None)
    mem = MemoryDaemon()
    run = make_run(SizeLimitedConnector(mem), BIG_BATCHES)
    run.log({"a": 1.0})
    run._queue.append((CONFIG, '{"blob": "' + "z" * (17 * 1024 * 1024) + '"}', None, time.time()))
    run.log({"a": 2.0})
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        drain(run)
    assert mem.rows("r1") == [(0, {"a": 1.0}), (1, {"a": 2.0})]
    assert any("larger than swanlabd accepts" in r.getMessage() for r in caplog.records)


def test_the_client_limit_is_the_daemons():
    from swanlabd.ingest import server

    assert _settings.DAEMON_MAX_MESSAGE_BYTES == server.MAX_MESSAGE_BYTES
    assert _settings.REQUEST_MAX_BYTES <= server.MAX_MESSAGE_BYTES // 2


def test_the_fallback_file_is_fsynced_within_a_second_while_writing(monkeypatch):
    root = tempfile.mkdtemp(prefix="sd-", dir="/tmp")
    transport = FileTransport(Path(root))
    request = svc.StartRunRequest(start=pb.RunStart(run_id="fsync1", project="p"), writer=1)
    transport.start(request)
    fd = transport._writer._fd
    synced: list[float] = []
    real_fsync = os.fsync

    def spy(n: int) -> None:
        if n == fd:
            synced.append(time.monotonic())
        real_fsync(n)

    monkeypatch.setattr(os, "fsync", spy)
    try:
        for cs in range(1, 4):
            written = time.monotonic()
            transport.send([pb.Record(writer=1, client_seq=cs, config=pb.Config(json="{}"))])
            deadline = time.monotonic() + 5
            while not synced or synced[-1] < written:
                assert time.monotonic() < deadline, "the fallback file was not fsynced"
                time.sleep(0.05)
            assert synced[-1] - written < 2.5  # generous: the promise is 1 s
        count = len(synced)
        time.sleep(1.5)
        assert len(synced) == count  # nothing new written: no fsync
    finally:
        transport.close()
        shutil.rmtree(root)


SCRIPT = """
import swanlab_client as swanlab
swanlab.init(project="big", experiment_name="console", mode="offline",
             settings=swanlab.Settings(finish_timeout_s=20))
for i in range(3000):
    print(f"{i:06d}" + "x" * 7994)
swanlab.log({"loss": 1.0})
swanlab.finish()
"""


def test_printing_24mb_right_after_init_reaches_the_daemon(daemon_paths: DaemonProcess):
    # The daemon is auto-started, so everything printed piles up in the queue meanwhile: the
    # first batch holds all 24 MB of it.
    daemon = daemon_paths
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=daemon.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "gave up" not in result.stderr, result.stderr[-2000:]
    runs = ls(daemon)
    assert len(runs) == 1 and runs[0]["state"] == "FINISHED"
    texts = [
        ln.text
        for record, _ in read_records(Path(runs[0]["run_dir"]) / BACKUP_FILENAME)
        if record.HasField("console")
        for ln in record.console.lines
    ]
    assert texts == [f"{i:06d}" + "x" * 7994 for i in range(3000)]
    assert read_view(runs[0]["run_dir"]).rows[1] == [(0, {"loss": 1.0})]


@pytest.fixture
def thread_daemon(monkeypatch):
    """A real Daemon served from a thread of this process, whose backup fsyncs fail (EIO) once
    `failing["on"]` is set: the daemon breaks the run's file and answers INTERNAL."""
    from swanlabd.service.config import DaemonConfig
    from swanlabd.service.daemon import Daemon

    root = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    failing = {"on": False}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if failing["on"] and os.readlink(f"/proc/self/fd/{fd}").endswith(BACKUP_FILENAME):
            raise OSError(errno.EIO, "Input/output error (injected)")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    config = DaemonConfig(
        socket=root / "s" / "d.sock", data_root=root / "home", upload=False, monitor_interval_s=0, fsync="always"
    )
    ready = threading.Event()
    served: dict[str, object] = {}

    def serve() -> None:
        async def main() -> None:
            daemon = Daemon(config)
            served["daemon"], served["loop"] = daemon, asyncio.get_running_loop()
            daemon.on_ready = ready.set
            await daemon.run()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(20)
    try:
        yield config, failing
    finally:
        served["loop"].call_soon_threadsafe(served["daemon"].shutdown)  # type: ignore[attr-defined]  # a loop, a Daemon
        thread.join(20)
        shutil.rmtree(root, ignore_errors=True)


def test_a_broken_run_file_at_the_daemon_is_not_hammered(thread_daemon, monkeypatch):
    import swanlab_client as swanlab
    from swanlab_client import _run, _transport

    config, failing = thread_daemon
    monkeypatch.setattr(_run, "_current", None)  # an earlier test's run may still be current
    calls: list[str] = []
    for name in ("start", "finish"):
        real = getattr(_transport.GrpcTransport, name)

        def counted(self, request, _real=real, _name=name):
            calls.append(_name)
            return _real(self, request)

        monkeypatch.setattr(_transport.GrpcTransport, name, counted)
    settings = swanlab.Settings(
        socket=config.socket,
        data_root=config.data_root,
        autostart=False,
        fallback=False,
        hooks=False,
        console=False,
        finish_timeout_s=3,
    )
    warnings: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]  # collect only
    logger = logging.getLogger("swanlab_client")
    logger.addHandler(handler)
    try:
        swanlab.init(project="p", mode="offline", settings=settings)
        swanlab.log({"a": 1.0})
        time.sleep(0.5)
        failing["on"] = True
        swanlab.log({"a": 2.0})
        swanlab.finish()  # FinishRun -> INTERNAL on every try: gives up after finish_timeout_s
    finally:
        logger.removeHandler(handler)
    # Before the backoff: about 1,700 FinishRun + StartRun pairs in those 3 s.
    assert calls.count("finish") <= 20, calls.count("finish")
    stored = [m for m in warnings if "cannot be stored" in m]
    assert len(stored) == 1 and "fsync failed" in stored[0], warnings
