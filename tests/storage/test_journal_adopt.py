"""The journal a folder's RunStart names, when the run store adopts the folder (docs/journal.md):
the path is untrusted (a folder copied from elsewhere may name any file), so it goes through
StartRun's check, and only a file with a journal's header is ever deleted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from helpers.journalfile import Ring
from swanlabd.format import backup, scalarcodec
from swanlabd.format.runstate import RunState
from swanlabd.local import runfolder
from swanlabd.storage.runstore import RunStore
from swanlabd.storage.state import State
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

BOOT_AT = 16 + 4 + 8 + 4  # the boot id's offset in a journal's header


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def folder(tmp_path: Path, run_id: str, journal: str, writer: int = 1) -> Path:
    """A run folder a client wrote on the fallback and left without a Finish, naming `journal`."""
    request = svc.StartRunRequest(start=pb.RunStart(project="p"), pid=dead_pid(), journal=journal)
    start = runfolder.new_run_start(request, run_id, writer)
    run_dir = tmp_path / "home" / "runs" / runfolder.run_folder_name(run_id, start.start_time_ms)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    runfolder.create(run_dir, start, request).close()
    return run_dir


def adopt(tmp_path: Path, state: State, run_dir: Path) -> RunState:
    async def go() -> RunState:
        store = RunStore(tmp_path / "home", state)
        info = await store.adopt(run_dir)
        await store.close_all()
        return info.state

    return asyncio.run(go())


def rows(run_dir: Path, writer: int) -> list[int]:
    return [
        step
        for r, _ in backup.read_records(run_dir / backup.BACKUP_FILENAME)
        if r.writer == writer and r.WhichOneof("kind") == "scalars"
        for step in scalarcodec.decode(r.scalars).steps
    ]


def journal_with_rows(path: Path, count: int, pid: int = 4242) -> Ring:
    ring = Ring(1 << 14, pid=pid)
    ring.key(1, "loss")
    for i in range(count):
        ring.row((i, 1_700_000_000.0 + i, (1,), (i / 2,)))
    ring.save(path)
    return ring


def test_the_journal_a_folder_names_is_read_as_its_primary_writers(tmp_path: Path, state: State) -> None:
    path = tmp_path / "j.journal"
    journal_with_rows(path, 5)
    run_dir = folder(tmp_path, "adopted2", str(path), writer=3)  # a resumed run's writer, as the fallback names it
    assert adopt(tmp_path, state, run_dir) == RunState.CRASHED
    assert rows(run_dir, 3) == [0, 1, 2, 3, 4] and rows(run_dir, 1) == []
    assert not path.exists()
    info = state.get_run("adopted2")
    assert info is not None and info.primary_writer == 3 and info.next_writer == 4 and info.journals == {}


def test_a_file_that_is_not_a_journal_is_neither_read_nor_deleted(tmp_path: Path, state: State) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("someone's notes\n")
    run_dir = folder(tmp_path, "notajournal", str(path))
    assert adopt(tmp_path, state, run_dir) == RunState.CRASHED
    assert path.read_text() == "someone's notes\n"
    assert rows(run_dir, 1) == []


def test_a_symlink_or_a_relative_path_is_not_used(tmp_path: Path, state: State) -> None:
    target = tmp_path / "target.journal"
    journal_with_rows(target, 3)
    link = tmp_path / "link.journal"
    link.symlink_to(target)
    for run_id, named in (("symlinked", str(link)), ("relative", os.path.relpath(target))):
        run_dir = folder(tmp_path, run_id, named)
        assert adopt(tmp_path, state, run_dir) == RunState.CRASHED
        assert rows(run_dir, 1) == []
        info = state.get_run(run_id)
        assert info is not None and info.journals == {}
    assert target.exists() and link.is_symlink()


def test_a_journal_of_another_boot_is_skipped_and_deleted(tmp_path: Path, state: State) -> None:
    path = tmp_path / "old.journal"
    journal_with_rows(path, 3)
    data = bytearray(path.read_bytes())
    data[BOOT_AT] ^= 0xFF
    path.write_bytes(bytes(data))
    run_dir = folder(tmp_path, "otherboot", str(path))
    assert adopt(tmp_path, state, run_dir) == RunState.CRASHED
    assert rows(run_dir, 1) == []
    assert not path.exists()
