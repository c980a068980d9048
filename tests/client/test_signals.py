"""Process signals reach the training script's threads, never the client's (swanlab_client._threads).

A SIGTERM the kernel hands to a client thread leaves a main thread asleep in a C call asleep, its
Python handler waiting: the e2e SIGTERM test caught that about once in 15 runs on a loaded
machine. These tests read each thread's blocked-signal mask from /proc instead, which says
whether it can happen at all, every time.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from runner import trainer, wait_line

from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_client import _threads
from swanlab_client._relay import RelayTransport
from swanlabd.local.spawn import start_daemon

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)


def blocked(pid: int, tid: int | None = None) -> set[int]:
    """The signals thread `tid` of process `pid` (its main thread by default) blocks."""
    task = f"/proc/{pid}/task/{tid or pid}/status"
    mask = next(line for line in Path(task).read_text().splitlines() if line.startswith("SigBlk:"))
    bits = int(mask.split()[1], 16)
    return {n for n in range(1, 65) if bits >> (n - 1) & 1}


def threads(pid: int) -> list[tuple[int, str]]:
    return [(int(t), Path(f"/proc/{pid}/task/{t}/comm").read_text().strip()) for t in os.listdir(f"/proc/{pid}/task")]


def test_every_client_thread_blocks_the_process_signals_and_the_main_thread_none(daemon: DaemonProcess):
    proc = trainer(daemon, "--rows", "300", "--hold")
    try:
        wait_line(proc, "DURABLE")
        others = [(tid, name) for tid, name in threads(proc.pid) if tid != proc.pid]
        # The sender, its ack reader and gRPC's own threads (started from the sender thread).
        assert len(others) >= 3, others
        for tid, name in others:
            assert blocked(proc.pid, tid) >= set(HANDLED), f"thread {name} ({tid}) takes process signals"
        assert not blocked(proc.pid) & set(HANDLED)
    finally:
        proc.kill()
        proc.wait()


def test_a_thread_started_with_signals_blocked_keeps_them_blocked_and_its_creator_gets_its_mask_back():
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    seen: list[set[int]] = []
    thread = threading.Thread(target=lambda: seen.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, set()))))
    _threads.start(thread)
    thread.join()
    assert seen[0] >= set(HANDLED) and signal.SIGSEGV not in seen[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before


def test_a_daemon_started_from_a_client_thread_takes_sigterm(daemon_paths: DaemonProcess):
    started: list[bool] = []

    def spawn() -> None:
        started.append(start_daemon(daemon_paths.socket, daemon_paths.home, timeout_s=20.0))

    _threads.start(threading.Thread(target=spawn))  # as the sender thread starts it
    wait_for(lambda: started, 30, "the daemon started")
    pid = daemon_paths.pidfile_pid()
    assert started == [True] and pid is not None
    assert not blocked(pid) & set(HANDLED)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: _ended(pid), 30, "the daemon ended by SIGTERM")


def test_a_relay_started_from_a_client_thread_takes_sigterm(tmp_path):
    with _threads.blocked():  # as the sender thread starts it
        relay = RelayTransport(tmp_path / "nobody.sock", connect_timeout_s=2, ack_timeout_s=5)
    try:
        pid = relay._proc.pid
        wait_for(lambda: not blocked(pid) & set(HANDLED), 30, "the relay unblocked the process signals")
        relay._proc.send_signal(signal.SIGTERM)
        assert relay._proc.wait(timeout=30) == -signal.SIGTERM
    finally:
        relay.close()


def _ended(pid: int) -> bool:
    """Gone, or a zombie: this test process started it (and reaps it later)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
