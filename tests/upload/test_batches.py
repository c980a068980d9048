"""The console, media, files and profile batch builders, and the columns of a batch, on records in memory.

(The scalar builder has its own file, test_scalar_batch.py.) Records stand at made-up offsets:
record n spans [10 n, 10 n + 10), so a cursor says which record a batch stopped at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from swanlabd.upload import batches, cloudapi
from swanlabd.upload.batches import Batch, KeyTable, MediaItem
from swanlabd.upload.uploadstate import LaneCursor
from swanlabd_pb import records_pb2 as pb


def positioned(
    records: list[pb.Record], keys: KeyTable | None = None, first: int = 0
) -> Iterator[tuple[pb.Record, int, int]]:
    """Records from number `first` as a lane reads them, KeyDefs taught to `keys` on the way."""
    for n, rec in enumerate(records[first:], start=first):
        if keys is not None:
            keys.learn(rec)
        yield rec, 10 * n, 10 * n + 10


def console(seq: int, *texts: str, stream: int = pb.STDOUT) -> pb.Record:
    lines = [pb.ConsoleLine(text=t, stream=stream) for t in texts]
    return pb.Record(seq=seq, time_ms=1000 * seq, console=pb.ConsoleLines(lines=lines))


def test_console_lines_are_numbered_through_the_run_and_a_cut_resumes_inside_the_record() -> None:
    recs = [console(1, "a", "b"), pb.Record(seq=2), console(3, "c", "d", "e", stream=pb.STDERR)]
    first = batches.console_batch(positioned(recs), LaneCursor(), last=0, limit=3)
    assert [json.loads(i)["message"] for i in first.items] == ["a", "b", "c"]
    assert first.full and first.cursor == LaneCursor(20, 2, 2) and first.steps == {"": 3} and first.seqs == (1, 3)
    second = batches.console_batch(positioned(recs, first=2), first.cursor, last=3, limit=3)
    assert [(json.loads(i)["epoch"], json.loads(i)["level"]) for i in second.items] == [(4, "INFO"), (5, "INFO")]
    assert not second.full and second.cursor == LaneCursor(30, 3, 5)
    assert json.loads(second.items[0])["create_time"] == cloudapi.iso_utc(3000)


def test_console_lines_the_server_has_are_skipped() -> None:
    batch = batches.console_batch(positioned([console(1, "a", "b", "c")]), LaneCursor(), last=2, limit=100)
    assert [json.loads(i)["message"] for i in batch.items] == ["c"] and batch.cursor == LaneCursor(10, 1, 3)


def test_a_failed_finish_is_the_logs_error_line_and_a_resume_goes_on_after_it() -> None:
    recs = [
        console(1, "epoch 1"),
        pb.Record(seq=2, time_ms=2000, finish=pb.Finish(state=pb.CRASHED, error="preempted", finish_time_ms=2500)),
        console(3, "resumed"),
        pb.Record(seq=4, finish=pb.Finish(state=pb.ABORTED)),
        pb.Record(seq=5, finish=pb.Finish(state=pb.FINISHED)),
    ]
    batch = batches.console_batch(positioned(recs), LaneCursor(), last=0, limit=100)
    items = [json.loads(i) for i in batch.items]
    assert [(i["epoch"], i["level"], i["message"]) for i in items] == [
        (1, "INFO", "epoch 1"),
        (2, "ERROR", "preempted"),
        (3, "INFO", "resumed"),
        (4, "ERROR", batches.UNKNOWN_ERROR),  # the official SDK's words for a failure with no text
    ]
    assert items[1]["create_time"] == cloudapi.iso_utc(2500) and batch.cursor == LaneCursor(50, 5, 4)
    # A re-read after the server has the first two lines sends the rest, numbered the same.
    again = batches.console_batch(positioned(recs), LaneCursor(), last=2, limit=100)
    assert [json.loads(i)["epoch"] for i in again.items] == [3, 4]


def media(seq: int, *items: tuple[int, int, str]) -> pb.Record:
    refs = [pb.MediaRef(key_id=kid, step=step, path=path, caption=path[-1]) for kid, step, path in items]
    return pb.Record(seq=seq, time_ms=5, writer=1, media=pb.MediaRefs(items=refs))


def media_defs() -> pb.Record:
    names = [pb.KeyDef(id=1, name="img", type=pb.IMAGE), pb.KeyDef(id=2, name="txt", type=pb.TEXT, section="s")]
    return pb.Record(seq=1, writer=1, keys=pb.KeyDefs(keys=names))


def test_media_of_one_step_go_together_and_older_steps_are_skipped() -> None:
    recs = [media_defs(), media(2, (1, 0, "m/a"), (1, 1, "m/b"), (1, 1, "m/c"), (2, 0, "m/d")), media(3, (2, 1, "m/e"))]
    keys = KeyTable()
    batch, found = batches.media_batch(positioned(recs, keys), keys, LaneCursor(), {"img": 0}, limit=2)
    # img step 0 is on the server; both items of step 1 go even though the limit is 2; txt must wait.
    assert [m.path for m in found] == ["m/b", "m/c"] and batch.items == ["m/b", "m/c"]
    assert batch.full and batch.cursor == LaneCursor(10, 1) and batch.keys == {"img": (pb.IMAGE, "")}
    rest, found = batches.media_batch(positioned(recs, keys, first=1), keys, batch.cursor, {"img": 1}, limit=2)
    assert [m.path for m in found] == ["m/d", "m/e"] and rest.full and rest.cursor == LaneCursor(30, 3)
    assert rest.keys == {"txt": (pb.TEXT, "s")}


def test_media_metrics_are_one_item_per_key_and_step_with_captions_as_the_sdk_sends_them() -> None:
    found = [MediaItem("img", 1, "m/b", "b", 5), MediaItem("img", 1, "m/c", "", 5), MediaItem("txt", 0, "m/d", "d", 7)]
    assert [json.loads(i) for i in batches.media_metrics(found)] == [
        {
            "key": "img",
            "index": 1,
            "data": ["m/b", "m/c"],
            "more": [{"caption": "b"}],  # the official SDK lists captioned files only
            "create_time": cloudapi.iso_utc(5),
        },
        {"key": "txt", "index": 0, "data": ["m/d"], "more": [{"caption": "d"}], "create_time": cloudapi.iso_utc(7)},
    ]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("media/image/000-0a1b2c3d.png", "image/png"),
        ("media/image/000-0a1b2c3d.jpg", "image/jpeg"),
        ("media/image/000-0a1b2c3d.gif", "image/gif"),
        ("media/text/000-0a1b2c3d.txt", "text/plain"),
        ("media/echarts/000-0a1b2c3d.json", "application/json"),
        ("media/object3d/000-0a1b2c3d.swanlab.pts.json", "application/json"),
        ("media/html/000-0a1b2c3d.html", "text/html"),
        ("media/audio/000-0a1b2c3d.wav", "audio/x-wav"),
    ],
)
def test_media_objects_go_up_with_the_content_type_the_sdk_sends(path: str, content_type: str) -> None:
    assert batches.media_type(path) == content_type


def test_files_come_one_record_at_a_time() -> None:
    recs = [pb.Record(seq=1), pb.Record(seq=2, file=pb.SavedFile(path="files/a")), pb.Record(seq=3)]
    batch, saved = batches.files_batch(positioned(recs), LaneCursor())
    assert saved is not None and saved.path == "files/a"
    assert batch.full and batch.cursor == LaneCursor(20, 2) and batch.seqs == (2, 2) and len(batch.items) == 1
    batch, saved = batches.files_batch(positioned(recs, first=2), batch.cursor)
    assert saved is None and not batch.full and batch.cursor == LaneCursor(30, 3) and batch.items == []


def test_profile_parts_wrap_a_plain_config_as_the_sdk_does() -> None:
    recs = [
        pb.Record(seq=1, config=pb.Config(json=json.dumps({"lr": 0.1}))),
        pb.Record(seq=2, metadata=pb.Metadata(json="not json")),
        pb.Record(seq=3, requirements=pb.Requirements(pip="numpy==2", conda="name: x")),
    ]
    got = []
    cursor = LaneCursor()
    while True:
        batch, parts = batches.profile_batch(positioned(recs, first=cursor.offset // 10), cursor)
        got += parts
        cursor = batch.cursor
        if not batch.full:
            break
    assert got == [
        ("config", {"lr": {"value": 0.1, "desc": "", "sort": 0}}),
        ("metadata", {}),
        ("requirements", "numpy==2"),
        ("conda", "name: x"),
    ]


def test_columns_are_the_new_keys_with_their_types_and_sections() -> None:
    batch = Batch(
        cursor=LaneCursor(),
        keys={"loss": (pb.FLOAT, ""), "val/acc": (0, ""), "img": (pb.IMAGE, "pics"), "__swanlab__.cpu": (pb.FLOAT, "")},
    )
    new, series = batches.columns(batch, ["loss"])
    assert new == ["val/acc", "img", "__swanlab__.cpu"]
    assert series == [
        {"key": "val/acc", "type": "FLOAT", "sectionName": "val"},
        {"key": "img", "type": "IMAGE", "sectionName": "pics"},
        {"key": "__swanlab__.cpu", "type": "SYSTEM"},
    ]


def test_a_key_shaped_by_define_metric_has_only_the_section_it_was_given() -> None:
    batch = Batch(cursor=LaneCursor(), keys={"debug/scale": (pb.FLOAT, ""), "eval/acc": (pb.FLOAT, "Evaluation")})
    shapes = {"debug/scale": ("", True), "eval/acc": ("epoch", False)}
    _, series = batches.columns(batch, [], shapes)
    assert series == [
        {"key": "debug/scale", "type": "FLOAT", "hidden": True},
        {"key": "eval/acc", "type": "FLOAT", "sectionName": "Evaluation", "xAxis": "epoch"},
    ]


def test_the_key_table_learns_each_key_once_and_reloads_from_the_upload_state() -> None:
    keys = KeyTable()
    assert [k.name for k in keys.learn(media_defs())] == ["img", "txt"] and keys.learn(media_defs()) == []
    stored = {"1:1": ["img", pb.IMAGE, ""], "1:2": ["txt", pb.TEXT, "s"]}
    again = KeyTable.from_stored(stored)
    assert again.defs(1) == keys.defs(1) and again.parts(1) == keys.parts(1) and again.defs(2) == {}
