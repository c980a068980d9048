"""Media through a real run: the script logs every media type (alone, in lists, mixed with scalars)
through a real swanlabd, or through the fallback file with no daemon; the backup's KeyDefs and
MediaRefs and the files under media/ are checked, decoded. Bad values in log() are dropped with
one warning per key, as the official SDK drops them, and never raise into the loop."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from runner import ls

from helpers.backupview import BackupView, read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlabd_pb import records_pb2 as pb

ALL_TYPES = """
import json, sys
import numpy as np
import swanlab_client as s
from PIL import Image as PILImage

run = s.init(project="p", experiment_name="media", mode="offline")
rgb = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
gif = sys.argv[1]
PILImage.fromarray(rgb).save(gif, format="GIF")
for step in range(3):
    s.log({"loss": 1.0 / (step + 1), "img": s.Image(rgb + step, caption=f"img {step}")}, step=step)
s.log({"grid": [s.Image(rgb), s.Image(rgb[:, :, 0], caption="grey"), s.Image(rgb.transpose(2, 0, 1))]}, step=3)
s.log({"txt": s.Text("hello"), "acc": 0.5, "train": {"html": s.Html("<b>x</b>")}}, step=4)
s.log({"snd": s.Audio(np.zeros(800, dtype=np.int16), sample_rate=8000, caption="silence")}, step=5)
s.log({"gif": s.Video(gif)}, step=6)
s.log({"bar": s.echarts.Bar().add_xaxis(["a"]).add_yaxis("n", [1])}, step=7)  # a chart, wrapped
s.log({"pc": s.Object3D(np.zeros((4, 3)))}, step=8)
s.log({"mol": s.Molecule.from_smiles("CCO")}, step=9)
s.log_text(key="many", data=["a", "b"], caption=["ca", "cb"], step=10)
s.log_image(key="li", data=[rgb, rgb], caption="same", size=16, step=10)
run.log_html(key="lh", data="<i>y</i>", step=10)
print(json.dumps({"run_dir": str(run.run_dir)}), flush=True)
s.finish()
"""


def run_script(env: dict[str, str], code: str, *args: str) -> tuple[str, str]:
    result = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])["run_dir"], result.stderr


def media_of(view: BackupView) -> dict[str, list[tuple[int, pb.MediaRef]]]:
    out: dict[str, list[tuple[int, pb.MediaRef]]] = {}
    for key, step, ref in view.media[1]:
        out.setdefault(key, []).append((step, ref))
    return out


def pixels(run_dir: str, ref: pb.MediaRef) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO((Path(run_dir) / ref.path).read_bytes())))


def check_all_types(run_dir: str) -> None:
    view = read_view(run_dir)
    media = media_of(view)
    rgb = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    # Every ref names a durable file holding exactly what its sha256 and size say.
    for key, refs in media.items():
        for step, ref in refs:
            data = (Path(run_dir) / ref.path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref.sha256 and len(data) == ref.size, key
            assert Path(ref.path).name.startswith(f"{step:03d}-{ref.sha256[:8]}."), ref.path
    assert [(s, r.caption) for s, r in media["img"]] == [(0, "img 0"), (1, "img 1"), (2, "img 2")]
    assert all(np.array_equal(pixels(run_dir, r), rgb + s) for s, r in media["img"])
    assert [r.path.split("/")[1] for _, r in media["img"]] == ["image"] * 3
    grid = [r for _, r in media["grid"]]
    assert [r.caption for r in grid] == ["", "grey", ""] and {s for s, _ in media["grid"]} == {3}
    assert np.array_equal(pixels(run_dir, grid[1]), rgb[:, :, 0]) and np.array_equal(pixels(run_dir, grid[2]), rgb)
    assert grid[0].path == grid[2].path  # the same content at the same step is one file
    assert (Path(run_dir) / media["txt"][0][1].path).read_bytes() == b"hello"
    assert (Path(run_dir) / media["train/html"][0][1].path).read_bytes() == b"<b>x</b>"
    assert media["snd"][0][1].path.startswith("media/audio/") and media["snd"][0][1].caption == "silence"
    assert media["gif"][0][1].path.endswith(".gif") and media["gif"][0][1].path.startswith("media/image/")
    assert json.loads((Path(run_dir) / media["bar"][0][1].path).read_bytes())["series"][0]["data"] == [1]
    assert media["pc"][0][1].path.endswith(".swanlab.pts.json") and media["mol"][0][1].path.endswith(".pdb")
    assert [(s, r.caption) for s, r in media["many"]] == [(10, "ca"), (10, "cb")]
    assert [pixels(run_dir, r).shape for _, r in media["li"]] == [(12, 16, 3)] * 2
    assert (Path(run_dir) / media["lh"][0][1].path).read_bytes() == b"<i>y</i>"
    assert view.rows[1] == [(0, {"loss": 1.0}), (1, {"loss": 0.5}), (2, {"loss": 1 / 3}), (4, {"acc": 0.5})]
    types = {k: pb.KeyType.Name(t) for k, t in view.key_types.items()}
    assert types == {
        "loss": "FLOAT",
        "acc": "FLOAT",
        "img": "IMAGE",
        "grid": "IMAGE",
        "txt": "TEXT",
        "train/html": "HTML",
        "snd": "AUDIO",
        "gif": "IMAGE",  # a Video is an IMAGE column, as in the official SDK
        "bar": "ECHARTS",
        "pc": "OBJECT3D",
        "mol": "MOLECULE",
        "many": "TEXT",
        "li": "IMAGE",
        "lh": "HTML",
    }
    assert view.finish is not None and view.finish.state == pb.FINISHED
    assert not list(Path(run_dir).glob("media/*/.*.tmp"))


def test_every_media_type_lands_in_the_run_folder_through_the_daemon(daemon: DaemonProcess, tmp_path: Path):
    run_dir, _ = run_script(daemon.env, ALL_TYPES, str(tmp_path / "a.gif"))
    check_all_types(run_dir)


def test_every_media_type_lands_through_the_fallback_file_and_a_daemon_adopts_it(
    daemon_paths: DaemonProcess, tmp_path: Path
):
    env = {**daemon_paths.env, "SWANLAB_CLIENT_AUTOSTART": "0"}
    run_dir, stderr = run_script(env, ALL_TYPES, str(tmp_path / "a.gif"))
    assert "writing run" in stderr, stderr  # no daemon: the client wrote the folder itself
    check_all_types(run_dir)
    daemon_paths.start()
    (run,) = wait_for(lambda: [r for r in ls(daemon_paths) if r["state"] == "FINISHED"], 30, "adopted")
    assert run["run_dir"] == run_dir


def test_a_copied_run_folder_is_self_contained(daemon: DaemonProcess, tmp_path: Path):
    run_dir, _ = run_script(daemon.env, ALL_TYPES, str(tmp_path / "a.gif"))
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    check_all_types(str(copy))


LOGGED_AT_EXIT = """
import atexit, json
import numpy as np
import swanlab_client as s

run = s.init(project="p", experiment_name="late", mode="offline")
s.log({"img": s.Image(np.zeros((4, 4, 3), np.uint8)), "loss": 1.0}, step=1)
# Registered after init(): runs before swanlab_client's own atexit finish(), once the main
# thread has ended and concurrent.futures takes no new work.
atexit.register(lambda: s.log({"img": s.Image(np.ones((4, 4, 3), np.uint8)), "loss": 0.5}, step=2))
print(json.dumps({"run_dir": str(run.run_dir)}), flush=True)
"""


def test_media_logged_as_the_script_ends_are_kept_by_the_finish_at_exit(daemon: DaemonProcess):
    """MMEngine's backend logs the last validation image and leaves the run to atexit: no finish()."""
    run_dir, stderr = run_script(daemon.env, LOGGED_AT_EXIT)
    view = read_view(run_dir)
    assert [(key, step) for key, step, _ in view.media[1]] == [("img", 1), ("img", 2)], stderr
    assert view.rows[1] == [(1, {"loss": 1.0}), (2, {"loss": 0.5})]
    assert view.finish is not None and view.finish.state == pb.FINISHED


BAD_VALUES = """
import json
import numpy as np
import swanlab_client as s

run = s.init(project="p", mode="offline")
rgb = np.zeros((4, 4, 3), np.uint8)
rgba = np.zeros((4, 4, 4), np.uint8)
for step in range(3):
    s.log({
        "mixed": [s.Image(rgb), s.Text("t")],           # one type per list: dropped, warned once
        "loss": 0.1,
        "scalar_then_image": 1.0 if step == 0 else s.Image(rgb),   # a FLOAT key: the image is dropped
        "jpeg": [s.Image(rgba, file_type="jpg"), s.Image(rgb, file_type="jpg")],  # RGBA cannot be JPEG
    }, step=step)
s.log({"txt": s.Text("a")}, step=3)
s.log({"txt": 2.0, "ok": 1.0}, step=4)                  # a TEXT key: the number is dropped
s.log({"txt": s.Image(rgb)}, step=5)                    # nor an image
print(json.dumps({"run_dir": str(run.run_dir)}), flush=True)
s.finish()
"""


def test_bad_values_are_dropped_with_one_warning_per_key_and_never_raise(daemon: DaemonProcess):
    run_dir, stderr = run_script(daemon.env, BAD_VALUES)
    assert stderr.count("key 'mixed' mixes") == 1, stderr
    assert stderr.count("'scalar_then_image' holds FLOAT values") == 1, stderr
    assert stderr.count("key 'jpeg' at step") == 1, stderr  # the encoder's failure, once per key
    assert stderr.count("'txt' holds TEXT values") == 1, stderr
    view = read_view(run_dir)
    media = media_of(view)
    assert set(media) == {"jpeg", "txt"}
    assert [s for s, _ in media["jpeg"]] == [0, 1, 2]  # the RGB one of each step is kept
    assert [s for s, _ in media["txt"]] == [3]
    assert [r for _, r in view.rows[1]] == [
        {"loss": 0.1, "scalar_then_image": 1.0},
        {"loss": 0.1},
        {"loss": 0.1},
        {"ok": 1.0},
    ]


MISUSE = """
import numpy as np
import swanlab_client as s

s.init(project="p", mode="disabled")
for make in (lambda: s.Image(np.zeros(3)), lambda: s.Audio("/nonexistent.wav"), lambda: s.log({"x": []})):
    try:
        make()
    except (TypeError, ValueError) as exc:
        print(type(exc).__name__)
s.log({"img": s.Image(np.zeros((2, 2)))})  # disabled: checked, then nothing is stored
print("ok")
"""


def test_misuse_raises_at_the_call_as_the_official_sdk_does():
    result = subprocess.run([sys.executable, "-c", MISUSE], capture_output=True, text=True, timeout=60)
    # An empty list is not media: log() leaves it out with a warning, as the official SDK does
    # (it drops it with an error line), and never raises into the training loop.
    assert result.stdout.split() == ["TypeError", "ValueError", "ok"], result.stderr
    assert "'x'" in result.stderr, result.stderr


FORKED = """
import json, os
import numpy as np
import swanlab_client as s

run = s.init(project="p", mode="offline")
s.log({"img": s.Image(np.zeros((2, 2)))}, step=0)
pid = os.fork()
if pid == 0:
    s.log({"img": s.Image(np.full((2, 2), 9.0), caption="child")}, step=1)  # a new writer, via the relay
    s.finish()
    os._exit(0)
os.waitpid(pid, 0)
print(json.dumps({"run_dir": str(run.run_dir)}), flush=True)
s.finish()
"""


def test_a_forked_child_logs_media_as_its_own_writer(daemon: DaemonProcess):
    run_dir, _ = run_script(daemon.env, FORKED)
    view = read_view(run_dir)
    assert [(key, step, ref.caption) for key, step, ref in view.media[1]] == [("img", 0, "")]
    ((key, step, ref),) = [m for w, media in view.media.items() if w != 1 for m in media]
    assert (key, step, ref.caption) == ("img", 1, "child")
    assert np.array_equal(pixels(run_dir, ref), np.full((2, 2), 9, np.uint8))
