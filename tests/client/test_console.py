"""What the script prints becomes the run's console log, in order with its rows."""

from __future__ import annotations

import io
import sys

from memtransport import MemoryConnector, MemoryDaemon, drain, make_run

from swanlab_client import _run
from swanlabd_pb import records_pb2 as pb


def console_lines(mem: MemoryDaemon) -> list[tuple[int, str, int]]:
    return [
        (ln.line_no, ln.text, ln.stream)
        for r in mem.records[("r1", 1)]
        if r.HasField("console")
        for ln in r.console.lines
    ]


def test_printed_lines_are_recorded_in_order_and_still_printed(monkeypatch):
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    monkeypatch.setattr(_run, "_current", run)
    out, err = io.StringIO(), io.StringIO()
    stdout, stderr = _run.ConsoleTee(out, pb.STDOUT), _run.ConsoleTee(err, pb.STDERR)
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    print("epoch 1", file=stdout)
    run.log({"loss": 1.0})
    stdout.write("half a ")
    stderr.write("a warning\n")
    stdout.write("line\nprogress 10%\rprogress 50%\rprogress 100%\n")
    stdout.write("no newline at the end")
    run._flush_console()
    drain(run)
    assert out.getvalue() == "epoch 1\nhalf a line\nprogress 10%\rprogress 50%\rprogress 100%\nno newline at the end"
    assert console_lines(mem) == [
        (1, "epoch 1", pb.STDOUT),
        (2, "a warning", pb.STDERR),
        (3, "half a line", pb.STDOUT),
        (4, "progress 100%", pb.STDOUT),
        (5, "no newline at the end", pb.STDOUT),
    ]
    kinds = [r.WhichOneof("kind") for r in mem.records[("r1", 1)]]
    assert kinds.index("console") < kinds.index("scalars")  # "epoch 1" was printed before the row


def test_the_tee_passes_everything_else_to_the_real_stream(monkeypatch):
    monkeypatch.setattr(_run, "_current", None)
    buf = io.StringIO()
    tee = _run.ConsoleTee(buf, pb.STDOUT)
    tee.write("x\n")
    tee.flush()
    assert buf.getvalue() == "x\n" and tee.getvalue() == "x\n"
