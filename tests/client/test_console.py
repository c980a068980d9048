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


def printed(monkeypatch, *writes: str) -> list[str]:
    """The console log's lines after these writes to a run's stdout."""
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    monkeypatch.setattr(_run, "_current", run)
    tee = _run.ConsoleTee(io.StringIO(), pb.STDOUT)
    for text in writes:
        tee.write(text)
    run._flush_console()
    drain(run)
    return [text for _, text, _ in console_lines(mem)]


def test_a_line_ended_by_crlf_keeps_its_text(monkeypatch):
    # print(..., end="\r\n") writes the text, then "\r\n": a terminal shows the text.
    assert printed(monkeypatch, "loss 0.5", "\r\n", "done\r\n") == ["loss 0.5", "done"]
    assert printed(monkeypatch, "tick\r", "\n") == ["tick"]


def test_a_progress_bar_keeps_its_last_frame_however_it_is_written(monkeypatch):
    frames = ["\r 10%", "\r 50%", "\r100%", "\r\n"]
    assert printed(monkeypatch, *frames) == ["100%"]
    assert printed(monkeypatch, "".join(frames)) == ["100%"]


def test_a_long_line_is_cut_the_same_way_whether_written_at_once_or_in_pieces(monkeypatch):
    line = "".join(f"{i:05d}," for i in range(3000))  # 18,000 characters
    whole = printed(monkeypatch, line + "\n")
    pieces = printed(monkeypatch, *(line[i : i + 1000] for i in range(0, len(line), 1000)), "\n")
    assert whole == pieces == [line[: _run.MAX_CONSOLE_LINE]]
