"""The official SDK's Run and module API over a real swanlabd: resume by id, config, save, define_metric.

Each script runs as its own process with `daemon.env` (tests/helpers/daemon.py), as a training
script would; what it stored is read back from the run's backup (tests/helpers/backupview.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.rawclient import start_run
from helpers.waiting import wait_for
from swanlab_testcloud import CloudServer
from swanlabd.format.backup import BACKUP_FILENAME, read_records

API_KEY = "runapi-test-key-0123456789"


def script(d: DaemonProcess, code: str, cwd: Path | None = None) -> str:
    """Run `code` as a training script against `d`; return its stdout (it must exit 0)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=d.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def records(run_dir: Path, kind: str) -> list:
    return [getattr(r, kind) for r, _ in read_records(run_dir / BACKUP_FILENAME) if r.WhichOneof("kind") == kind]


def test_resume_must_in_a_second_process_continues_the_run_and_its_steps(daemon: DaemonProcess, tmp_path: Path):
    # The third-party pattern: keep get_run().id in a checkpoint, resume from it in a new process.
    checkpoint = tmp_path / "ckpt.json"
    script(
        daemon,
        f"""
        import json, swanlab_client as swanlab
        swanlab.init(project="resume", mode="offline")
        for i in range(5):
            swanlab.log({{"loss": 1.0 / (i + 1)}})
        json.dump({{"run_id": swanlab.get_run().id}}, open({str(checkpoint)!r}, "w"))
        swanlab.finish()
        """,
    )
    run_id = json.loads(checkpoint.read_text())["run_id"]
    out = script(
        daemon,
        f"""
        import json, swanlab_client as swanlab
        run_id = json.load(open({str(checkpoint)!r}))["run_id"]
        run = swanlab.init(project="resume", mode="offline", id=run_id, resume="must")
        assert run.id == run_id
        for i in range(5, 8):
            swanlab.log({{"loss": 1.0 / (i + 1)}})
        print("dir", run.dir)
        swanlab.finish()
        """,
    )
    (run_dir,) = daemon.runs()  # one run, not two
    assert f"dir {run_dir}" in out and run_dir.name.endswith(run_id)
    view = read_view(run_dir)
    steps = [step for writer in sorted(view.rows) for step, _ in view.rows[writer]]
    assert steps == list(range(8))
    assert view.finish is not None and view.finish.state == 2  # FINISHED, by the resumed process


def test_an_id_that_is_another_runs_is_refused_at_init_when_it_may_not_be_resumed(daemon: DaemonProcess):
    """Never written into: the old run keeps its rows and state, and init() says what to do."""
    script(
        daemon,
        """
        import swanlab_client as swanlab
        swanlab.init(project="ids", mode="offline", id="takenrunid01")
        swanlab.log({"a": 1.0})
        swanlab.finish()
        """,
    )
    out = script(
        daemon,
        """
        import swanlab_client as swanlab
        try:
            swanlab.init(project="ids", mode="offline", id="takenrunid01", resume="never")
        except swanlab.UsageError as exc:
            print("refused:", exc)
        print("has_run", swanlab.has_run())
        """,
    )
    assert "refused: run takenrunid01 exists already" in out and "resume='allow'" in out, out
    assert "has_run False" in out
    assert list((daemon.socket.parent / "journals").iterdir()) == []  # the refused process's is gone too
    (run_dir,) = daemon.runs()
    view = read_view(run_dir)
    assert view.rows == {1: [(0, {"a": 1.0})]} and view.finishes == 1


def test_config_set_before_init_is_kept_and_a_burst_of_changes_is_one_record(daemon: DaemonProcess):
    script(
        daemon,
        """
        import swanlab_client as swanlab
        swanlab.config.lr = 0.1                      # before init(): kept, as the official SDK keeps it
        swanlab.config["optimizer"] = "adam"
        run = swanlab.init(project="cfg", mode="offline", config={"epochs": 3})
        swanlab.log({"a": 1})
        run.config.update({f"hf_{i}": i for i in range(155)})   # a Trainer's config: one burst
        swanlab.log({"a": 2})
        swanlab.finish()
        """,
    )
    (run_dir,) = daemon.runs()
    configs = [json.loads(c.json) for c in records(run_dir, "config")]
    # The config StartRun carried, then one record for the burst (was: one record per key).
    assert len(configs) == 2
    assert configs[-1] == {"lr": 0.1, "optimizer": "adam", "epochs": 3, **{f"hf_{i}": i for i in range(155)}}


def test_save_links_the_file_into_the_run_and_records_it(daemon: DaemonProcess, tmp_path: Path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "model.pt").write_bytes(b"weights" * 100)
    (tmp_path / "notes.txt").write_text("hello")
    out = script(
        daemon,
        """
        import swanlab_client as swanlab
        run = swanlab.init(project="files", mode="offline")
        print("saved", swanlab.save("ckpt/*.pt"), run.save("notes.txt", policy="now"), run.save("nothing*"))
        swanlab.finish()
        """,
        cwd=tmp_path,
    )
    assert "saved ['ckpt/model.pt'] ['notes.txt'] []" in out
    (run_dir,) = daemon.runs()
    assert (run_dir / "files" / "ckpt" / "model.pt").read_bytes() == b"weights" * 100
    saved = {f.path: f.size for f in records(run_dir, "file")}
    assert saved == {"files/ckpt/model.pt": 700, "files/notes.txt": 5}


def test_define_metric_shapes_the_keydef_the_uploader_makes_the_column_from(daemon: DaemonProcess):
    script(
        daemon,
        """
        import swanlab_client as swanlab
        swanlab.init(project="charts", mode="offline")
        swanlab.define_metric("val/*", section_name="Validation")
        swanlab.define_metric("train/loss", x_axis="train/epoch", hidden=True)
        swanlab.define_metric("*bad*", section_name="x")       # refused with an error line, as officially
        swanlab.log({"train/epoch": 1})
        swanlab.log({"train/loss": 0.5, "val/acc": 0.9})         # step_sync adds train/epoch = 1
        swanlab.finish()
        """,
    )
    (run_dir,) = daemon.runs()
    defs = {k.name: (k.section, k.x_axis, k.hidden) for r in records(run_dir, "keys") for k in r.keys}
    assert defs["val/acc"] == ("Validation", "", False)
    assert defs["train/loss"] == ("", "train/epoch", True)
    assert defs["train/epoch"] == ("", "", False)
    assert read_view(run_dir).rows[1] == [
        (0, {"train/epoch": 1.0}),
        (1, {"train/loss": 0.5, "val/acc": 0.9, "train/epoch": 1.0}),
    ]


def test_run_object_context_manager_callbacks_and_settings(daemon: DaemonProcess):
    out = script(
        daemon,
        """
        import swanlab_client as swanlab

        class Spy(swanlab.Callback):
            name = "spy"
            def on_run_initialized(self, run_dir, path, settings, *a, **k):
                print("init", run_dir.is_dir(), path)
            def on_run_finished(self, state, error=None, *a, **k):
                print("finished", state, (error or "").splitlines()[-1:])

        swanlab.merge_settings({"project": {"name": "ctx"}, "probe": {"monitor": False}})
        terminal = swanlab.Settings.Terminal(proxy_type="none")
        settings = swanlab.Settings(terminal=terminal, probe={"requirements": False})
        try:
            with swanlab.init(mode="offline", callbacks=[Spy()], settings=settings) as run:
                assert swanlab.run is run and swanlab.has_run() and run.alive
                print("run", run.mode, run.name == run.experiment_name, run.project)
                raise ValueError("boom")
        except ValueError:
            pass
        print("after", swanlab.run, swanlab.has_run(), run.alive)
        """,
    )
    assert "run offline True ctx" in out
    assert "init True /ctx/" in out
    assert "finished crashed ['ValueError: boom']" in out
    assert "after None False False" in out
    assert out.count("probe.monitor has no effect here") == 1
    (run_dir,) = daemon.runs()
    view = read_view(run_dir)
    assert view.finish is not None and view.finish.state == 3  # CRASHED
    assert not view.lines  # Settings.Terminal(proxy_type="none"): no console capture
    assert [r.pip for r in records(run_dir, "requirements")] == [""]  # Settings.Probe(requirements=False)
    assert "probe.requirements" not in out


@pytest.fixture
def cloud() -> Iterator[CloudServer]:
    root = Path(tempfile.mkdtemp(prefix="sdc-", dir="/tmp"))
    server = CloudServer(root / "cloud.db", {API_KEY: "alice"}).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_define_metric_and_save_reach_the_cloud_as_the_official_sdk_sends_them(cloud: CloudServer, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hello")
    with DaemonProcess(env={"SWANLABD_UPLOAD": "true"}) as d:
        d.env.update(SWANLAB_API_HOST=cloud.url, SWANLAB_WEB_HOST=cloud.url, SWANLAB_API_KEY=API_KEY)
        out = script(
            d,
            """
            import swanlab_client as swanlab
            run = swanlab.init(project="charts", mode="cloud")
            swanlab.define_metric("val/*", section_name="Validation")
            swanlab.define_metric("train/loss", x_axis="train/epoch", hidden=True)
            swanlab.log({"train/epoch": 1, "train/loss": 0.5, "val/acc": 0.9, "plain/x": 1})
            swanlab.save("notes.txt")
            print("url", run.url, run.path, run.id)
            swanlab.finish()
            """,
            cwd=tmp_path,
        )
        run_id = out.split("url ", 1)[1].split()[2]
        wait_for(lambda: cloud.store.objects(run_id) and finished(cloud, run_id), 60, "the run on the cloud")
    assert f"url {cloud.url}/@alice/charts/runs/{run_id} /alice/charts/{run_id}" in out
    columns = cloud.store.columns(cloud.project("alice", "charts")["cuid"])
    assert columns["val/acc"]["sectionName"] == "Validation"
    assert columns["train/loss"]["xAxis"] == "train/epoch" and columns["train/loss"]["hidden"] is True
    assert "xAxis" not in columns["plain/x"] and "hidden" not in columns["plain/x"]
    assert list(cloud.store.objects(run_id).values()) == [b"hello"]


def finished(cloud: CloudServer, run_id: str) -> bool:
    experiment = cloud.store.experiment(run_id)
    return bool(experiment) and experiment["state"] != "RUNNING"


def test_log_dir_puts_the_run_folder_where_the_user_asked(daemon: DaemonProcess, tmp_path: Path):
    (tmp_path / "real").mkdir()
    (tmp_path / "via-link").symlink_to(tmp_path / "real")  # the client resolves it; the daemon refuses links
    (tmp_path / "afile").write_text("")
    out = script(
        daemon,
        f"""
        import swanlab_client as swanlab
        run = swanlab.init(project="where", mode="offline", log_dir={str(tmp_path / "via-link" / "swanlog")!r})
        swanlab.log({{"a": 1}})
        print("dir", run.dir)
        swanlab.finish()
        try:
            swanlab.init(project="where", mode="offline", logdir="afile/swanlog")  # as the daemon would refuse
        except ValueError as exc:
            print("refused", exc)
        """,
        cwd=tmp_path,
    )
    (run_dir,) = (tmp_path / "real" / "swanlog").iterdir()
    assert f"dir {run_dir}" in out and daemon.runs() == []
    assert read_view(run_dir).rows[1] == [(0, {"a": 1.0})]
    assert "refused log_dir: " in out and "is not a folder" in out


def test_the_daemon_refuses_a_log_dir_that_is_not_safe_whoever_sends_it(daemon: DaemonProcess, tmp_path: Path):
    import grpc

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    for log_dir, why in (("relative", "absolute"), (str(tmp_path / "link"), "symlink")):
        try:
            start_run(daemon.stub(), log_dir=log_dir)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT and why in exc.details()
        else:
            raise AssertionError(f"log_dir {log_dir!r} was taken")
    assert list((tmp_path / "real").iterdir()) == [] and daemon.runs() == []


def test_flush_callbacks_see_what_swanlabd_stored_and_a_duck_typed_callback_is_taken(daemon: DaemonProcess):
    out = script(
        daemon,
        """
        import swanlab_client as swanlab

        class CsvLike:  # not a swanlab_client.Callback: the official SDK's own plugins are objects like this
            name = "csv-like"
            def __init__(self):
                self.latest, self.lines = {}, []
            def on_run_initialized(self, run_dir, path, settings, *a, **k):
                print("init", settings.run.id == swanlab.get_run().id, settings.experiment.name, settings.mode)
            def on_scalar_flush(self, records, *a, **k):
                for r in records:
                    self.latest[r.key] = (r.step, r.value.number, r.timestamp.year > 2000)
            def on_log_flush(self, records, *a, **k):
                self.lines += [(r.line, r.level) for r in records]
            def on_run_finished(self, state, error=None, *a, **k):
                print("latest", sorted(self.latest.items()))
                print("lines", [line for line in self.lines if line[0] == "hello"])

        swanlab.init(project="cb", name="exp-cb", mode="offline", callbacks=[CsvLike()])
        for step in range(3):
            swanlab.log({"loss": 1.0 / (step + 1), "acc": step / 10})
        print("hello")
        swanlab.finish()
        """,
    )
    assert "init True exp-cb offline" in out
    assert "latest [('acc', (2, 0.2, True)), ('loss', (2, 0.3333333333333333, True))]" in out
    assert "lines [('hello', 'INFO')]" in out
