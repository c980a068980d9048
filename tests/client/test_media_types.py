"""Each media type in the training thread and in the encoder, without a daemon: every input
layout, the encoded content decoded back and checked, and bad input refused at construction as
the official SDK refuses it (swanlab 0.10.3)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import wave
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image as PILImage

import swanlab_client as swanlab
from swanlab_client.media import echarts as media_echarts

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen

RGB = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)


def decode(content: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(content)))


# -- Image ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (RGB, RGB),
        (RGB[:, :, 0], RGB[:, :, 0]),
        (np.dstack([RGB, RGB[:, :, :1]]), np.dstack([RGB, RGB[:, :, :1]])),
        (RGB.transpose(2, 0, 1), RGB),  # CHW
        (RGB[None, :, :, 0], RGB[:, :, 0]),  # 1HW
        (RGB.astype(np.float64) + 0.7, RGB),  # floats are cut to uint8, not rescaled (as the SDK)
        (np.full((4, 4), 300.0), np.full((4, 4), 255, np.uint8)),  # clipped to 0..255
    ],
    ids=["hwc", "hw", "hwc4", "chw", "1hw", "float", "clipped"],
)
def test_an_array_image_decodes_to_the_same_pixels(array: np.ndarray, expected: np.ndarray) -> None:
    image = swanlab.Image(array)
    assert image.ext == "png"
    assert np.array_equal(decode(image.encode()), expected)


def test_image_keeps_a_copy_so_later_changes_to_the_array_are_not_logged() -> None:
    array = RGB.copy()
    image = swanlab.Image(array)
    array[:] = 0
    assert np.array_equal(decode(image.encode()), RGB)


def test_image_mode_size_file_type_and_caption() -> None:
    grey = swanlab.Image(RGB, mode="L", caption="grey")
    assert decode(grey.encode()).shape == (24, 32) and grey.caption == "grey"
    assert decode(swanlab.Image(RGB, size=16).encode()).shape == (12, 16, 3)
    assert decode(swanlab.Image(RGB, size=(8, 6)).encode()).shape == (6, 8, 3)
    assert decode(swanlab.Image(RGB, size=[16, None]).encode()).shape == (12, 16, 3)
    jpg = swanlab.Image(RGB, file_type="jpg")
    assert jpg.ext == "jpg" and PILImage.open(io.BytesIO(jpg.encode())).format == "JPEG"
    assert PILImage.open(io.BytesIO(swanlab.Image(RGB, file_type="bmp").encode())).format == "BMP"


def test_image_from_pil_a_file_a_figure_and_pyplot(tmp_path: Path) -> None:
    pil = PILImage.fromarray(RGB)
    from_pil = swanlab.Image(pil)
    pil.paste((0, 0, 0), (0, 0, 32, 24))  # the image logged is the one at log() time
    assert np.array_equal(decode(from_pil.encode()), RGB)
    path = tmp_path / "a.png"
    PILImage.fromarray(RGB).save(path)
    assert np.array_equal(decode(swanlab.Image(str(path)).encode()), RGB)
    assert np.array_equal(decode(swanlab.Image(path).encode()), RGB)
    figure = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    assert decode(swanlab.Image(figure).encode()).shape == (50, 100, 4)
    assert decode(swanlab.Image(plt).encode()).shape == (50, 100, 4)  # the current figure
    plt.close("all")


class FakeTensor:
    """Enough of a torch.Tensor for Image (the class is looked up in sys.modules['torch'])."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def detach(self) -> FakeTensor:
        return self

    def cpu(self) -> FakeTensor:
        return self

    def numpy(self) -> np.ndarray:
        return self.array


def test_image_from_a_tensor_is_torchvisions_normalized_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = type(sys)("torch")
    torch.Tensor = FakeTensor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    chw = np.stack([np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)] * 3)
    single = decode(swanlab.Image(FakeTensor(chw)).encode())
    assert single.shape == (3, 4, 3) and single.min() == 0 and single.max() == 255  # min-max normalized
    batch = decode(swanlab.Image(FakeTensor(np.stack([chw] * 10))).encode())
    # make_grid: 8 per row, 2 px padding around each image.
    assert batch.shape == (2 * (3 + 2) + 2, 8 * (4 + 2) + 2, 3)
    assert np.array_equal(batch[2:5, 2:6], single) and batch[0:2].max() == 0


def test_a_module_another_thread_is_still_importing_is_not_in_the_way(monkeypatch: pytest.MonkeyPatch) -> None:
    # The encoder pool imports Pillow while the training thread builds the next Image: then
    # sys.modules holds PIL.Image before its classes exist (bench_media.py met this).
    monkeypatch.setitem(sys.modules, "PIL.Image", type(sys)("PIL.Image"))
    image = swanlab.Image(RGB)
    monkeypatch.undo()
    assert np.array_equal(decode(image.encode()), RGB)


def test_image_nesting_copies_and_takes_a_new_caption() -> None:
    first = swanlab.Image(RGB, caption="a")
    second = swanlab.Image(first, caption="b")
    assert second.caption == "b" and first.caption == "a" and second.encode() == first.encode()


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: swanlab.Image(np.zeros((2, 3, 5))), TypeError),
        (lambda: swanlab.Image(np.zeros(5)), TypeError),
        (lambda: swanlab.Image(np.array([["a"]])), TypeError),
        (lambda: swanlab.Image(RGB, file_type="gif"), ValueError),
        (lambda: swanlab.Image(RGB, size=0), ValueError),
        (lambda: swanlab.Image(RGB, size=(1, 2, 3)), ValueError),
        (lambda: swanlab.Image("/nonexistent/a.png"), ValueError),
        (lambda: swanlab.Image("anim.gif"), TypeError),
        (lambda: swanlab.Image(42), TypeError),
        (lambda: swanlab.Image(RGB, caption=3), TypeError),
    ],
    ids=["3d-bad", "1d", "strings", "gif-type", "size-0", "size-3", "missing-file", "gif-path", "int", "caption"],
)
def test_bad_image_input_raises_at_construction(make, error: type[Exception]) -> None:
    with pytest.raises(error):
        make()


def test_a_gif_file_is_refused_as_an_image_and_taken_as_a_video(tmp_path: Path) -> None:
    gif = tmp_path / "a.bin.gif"
    PILImage.fromarray(RGB).save(gif, format="GIF")
    renamed = tmp_path / "a.png"
    renamed.write_bytes(gif.read_bytes())
    with pytest.raises(TypeError, match="GIF"):
        swanlab.Image(str(renamed))  # by content, not only by name
    video = swanlab.Video(str(gif), caption="v")
    assert video.encode() == gif.read_bytes() and video.ext == "gif"
    assert (video.KEY_TYPE, video.MEDIUM) == ("IMAGE", "image")  # the official SDK's column type
    assert swanlab.Video(gif.read_bytes()).encode() == gif.read_bytes()
    assert swanlab.Video(io.BytesIO(gif.read_bytes())).encode() == gif.read_bytes()
    with pytest.raises(TypeError):
        swanlab.Video(b"not a gif")
    with pytest.raises(TypeError):
        swanlab.Video(str(tmp_path / "a.mp4"))
    with pytest.raises(ValueError):
        swanlab.Video(str(tmp_path / "missing.gif"))


# -- Audio ------------------------------------------------------------------------------------


def read_wav(content: bytes) -> tuple[int, int, np.ndarray]:
    with wave.open(io.BytesIO(content)) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return w.getframerate(), w.getnchannels(), frames.reshape(-1, w.getnchannels())


def test_audio_mono_stereo_int_and_float_become_16_bit_wav(tmp_path: Path) -> None:
    pcm = (np.arange(800, dtype=np.int16) * 40).astype(np.int16)
    rate, channels, frames = read_wav(swanlab.Audio(pcm, sample_rate=8000).encode())
    assert (rate, channels) == (8000, 1) and np.array_equal(frames[:, 0], pcm)
    stereo = np.stack([pcm, -pcm])
    rate, channels, frames = read_wav(swanlab.Audio(stereo, sample_rate=16000, caption="s").encode())
    assert (rate, channels) == (16000, 2) and np.array_equal(frames.T, stereo)
    floats = np.array([0.0, 0.5, -0.5], dtype=np.float32)
    assert read_wav(swanlab.Audio(floats).encode())[2][:, 0].tolist() == [0, 16384, -16384]
    path = tmp_path / "a.wav"
    path.write_bytes(swanlab.Audio(stereo, sample_rate=22050).encode())
    rate, channels, frames = read_wav(swanlab.Audio(str(path)).encode())
    assert (rate, channels) == (22050, 2) and np.array_equal(frames.T, stereo)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: swanlab.Audio(np.zeros(10, dtype=np.uint8)), TypeError),
        (lambda: swanlab.Audio(np.zeros((3, 10), dtype=np.float32)), TypeError),
        (lambda: swanlab.Audio(np.zeros(10, dtype=np.float32), sample_rate=0), ValueError),
        (lambda: swanlab.Audio("/nonexistent.wav"), ValueError),
        (lambda: swanlab.Audio([0.0, 1.0]), TypeError),
    ],
    ids=["dtype", "channels", "rate", "missing-file", "list"],
)
def test_bad_audio_input_raises_at_construction(make, error: type[Exception]) -> None:
    with pytest.raises(error):
        make()


# -- Text, Html -------------------------------------------------------------------------------


def test_text_and_html(tmp_path: Path) -> None:
    assert swanlab.Text("héllo", caption="c").encode() == "héllo".encode()
    with pytest.raises(TypeError):
        swanlab.Text(3)  # type: ignore[arg-type]
    page = tmp_path / "p.html"
    page.write_text("<p>file</p>")
    assert swanlab.Html("<b>raw</b>").encode() == b"<b>raw</b>"
    assert swanlab.Html(str(page)).encode() == b"<p>file</p>"
    assert swanlab.Html(page).encode() == b"<p>file</p>"
    with open(page) as f:
        assert swanlab.Html(f).encode() == b"<p>file</p>"
    assert swanlab.Html("missing.html").encode() == b"missing.html"  # not a file: raw HTML, as the SDK
    with pytest.raises(FileNotFoundError):
        swanlab.Html(tmp_path / "missing.html")
    with pytest.raises(TypeError):
        swanlab.Html(3)


# -- ECharts ----------------------------------------------------------------------------------


def test_echarts_of_a_chart_and_a_table() -> None:
    bar = swanlab.echarts.Bar().add_xaxis(["a", "b"]).add_yaxis("n", [1, 2])
    chart = swanlab.ECharts(bar, caption="bar")
    options = json.loads(chart.encode())
    assert options["series"][0]["data"] == [1, 2] and chart.ext == "json"
    table = swanlab.echarts.Table().add(["x", "y"], [[1, 2], [3, float("nan")]])
    assert json.loads(swanlab.ECharts(table).encode()) == {
        "_swanLab": "table",
        "colDefs": [{"field": "x"}, {"field": "y"}],
        "rowData": [{"x": 1, "y": 2}, {"x": 3, "y": None}],
    }
    with pytest.raises(TypeError):
        swanlab.ECharts({"series": []})
    assert "Bar" in dir(media_echarts) and media_echarts.options.TitleOpts


def series(chart: object) -> tuple[list, list[list]]:
    options = json.loads(swanlab.ECharts(chart).encode())
    return options["xAxis"][0]["data"], [[p[1] for p in s["data"]] for s in options["series"]]


def test_roc_curve_is_sklearns() -> None:
    # sklearn.metrics.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]): fpr 0 0 .5 .5 1, tpr 0 .5 .5 1 1
    fpr, (tpr, diagonal) = series(swanlab.echarts.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], title=True))
    assert fpr == [0.0, 0.0, 0.5, 0.5, 1.0] and tpr == [0.0, 0.5, 0.5, 1.0, 1.0] and diagonal == fpr
    options = json.loads(swanlab.ECharts(swanlab.echarts.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], True)).encode())
    assert options["title"][0]["text"] == "ROC Curve (AUC = 0.75)"


def test_pr_curve_is_sklearns() -> None:
    # sklearn.metrics.precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]):
    # precision [0.5, 0.667, 0.5, 1, 1], recall [1, 1, 0.5, 0.5, 0]
    recall, (precision,) = series(swanlab.echarts.pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
    assert recall == [1.0, 1.0, 0.5, 0.5, 0.0]
    assert precision == pytest.approx([0.5, 2 / 3, 0.5, 1.0, 1.0])


def test_confusion_matrix_is_row_normalized() -> None:
    chart = swanlab.echarts.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], ["a", "b", "c"], title="cm")
    options = json.loads(swanlab.ECharts(chart).encode())
    cells = {(x, y): v for x, y, v in options["series"][0]["data"]}
    assert cells[("a", "a")] == 0.5 and cells[("a", "b")] == 0.5 and cells[("b", "b")] == 1.0
    assert cells[("c", "c")] == pytest.approx(2 / 3) and cells[("c", "a")] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        swanlab.echarts.confusion_matrix([0, 1], [0, 1], ["only one"])
    with pytest.raises(ValueError):
        swanlab.echarts.roc_curve([0, 1, 2], [0.1, 0.2, 0.3])


# -- Object3D ---------------------------------------------------------------------------------


def test_object3d_point_clouds_and_files(tmp_path: Path) -> None:
    xyz = np.arange(6, dtype=float).reshape(2, 3)
    cloud = json.loads(swanlab.Object3D(xyz).encode())
    assert cloud == {"version": "0.1", "points": [[0, 1, 2, 0, 255, 0], [3, 4, 5, 0, 255, 0]], "boxes": []}
    xyzc = np.array([[0, 0, 0, 0], [1, 1, 1, 17]], dtype=float)
    colours = [p[3:] for p in json.loads(swanlab.Object3D(xyzc).encode())["points"]]
    assert colours == [[0x52, 0x8D, 0x59], [0x58, 0x7A, 0xD2]]  # class 17 wraps to the palette's second
    xyzrgb = np.array([[0, 0, 0, 1, 2, 3]])
    assert json.loads(swanlab.Object3D(xyzrgb).encode())["points"] == [[0, 0, 0, 1, 2, 3]]
    box = {"color": (1, 2, 3), "corners": [(0, 0, 0)] * 8, "label": "car", "score": 0.9}
    boxed = json.loads(swanlab.Object3D.from_point_data(xyz.tolist(), boxes=[box]).encode())
    assert boxed["boxes"] == [{"color": [1, 2, 3], "corners": [[0, 0, 0]] * 8, "label": "car", "score": 0.9}]
    pts = tmp_path / "c.swanlab.pts.json"
    pts.write_text('{"version": "0.1", "points": [], "boxes": []}')
    glb = tmp_path / "m.glb"
    glb.write_bytes(b"glTF\x02\x00\x00\x00")
    assert swanlab.Object3D(str(pts)).ext == "swanlab.pts.json" and swanlab.Object3D(pts).encode() == pts.read_bytes()
    assert swanlab.Object3D(glb).ext == "glb" and swanlab.Object3D(str(glb)).encode() == glb.read_bytes()
    for bad, error in [
        (np.zeros((3, 5)), ValueError),
        ({"boxes": []}, ValueError),
        ({"points": "x"}, TypeError),
        (tmp_path / "missing.glb", FileNotFoundError),
        (str(tmp_path), ValueError),
        (3, TypeError),
    ]:
        with pytest.raises(error):
            swanlab.Object3D(bad)


# -- Molecule ---------------------------------------------------------------------------------


def atoms(pdb: bytes) -> list[str]:
    return [line[76:78].strip() for line in pdb.decode().splitlines() if line.startswith(("ATOM", "HETATM"))]


def test_molecule_from_smiles_mol_and_files(tmp_path: Path) -> None:
    from rdkit import Chem

    assert atoms(swanlab.Molecule.from_smiles("CCO", caption="ethanol").encode()) == ["C", "C", "O"]
    mol = Chem.MolFromSmiles("c1ccccc1")
    assert atoms(swanlab.Molecule.from_mol(mol).encode()) == ["C"] * 6
    assert mol.GetNumConformers() == 0  # the script's molecule is not changed
    pdb = tmp_path / "m.pdb"
    pdb.write_bytes(swanlab.Molecule("CCO").encode())
    assert swanlab.Molecule.from_pdb(pdb).encode() == pdb.read_bytes()
    sdf = tmp_path / "m.sdf"
    with Chem.SDWriter(str(sdf)) as writer:
        writer.write(Chem.MolFromSmiles("CN"))
    assert atoms(swanlab.Molecule.from_sdf(str(sdf)).encode()) == ["C", "N"]
    mol_file = tmp_path / "m.mol"
    mol_file.write_text(Chem.MolToMolBlock(Chem.MolFromSmiles("CCl")))
    assert atoms(swanlab.Molecule.from_mol_file(mol_file).encode()) == ["C", "CL"]
    with pytest.raises(ValueError):
        swanlab.Molecule("not a smiles (")
    with pytest.raises(TypeError):
        swanlab.Molecule(3)


# -- extras -----------------------------------------------------------------------------------

BLOCK = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` now raises ImportError: the package is not installed
import numpy as np
import swanlab_client as swanlab
try:
    {make}
except swanlab.MissingExtraError as exc:
    print(exc)
"""


@pytest.mark.parametrize(
    ("blocked", "make"),
    [
        (["PIL", "PIL.Image"], "swanlab.Image(np.zeros((2, 2))).encode()"),
        (["soundfile"], "swanlab.Audio(np.zeros(4, dtype=np.float32)).encode()"),
        (["pyecharts", "pyecharts.charts"], "swanlab.echarts.Bar()"),
        (["rdkit", "rdkit.Chem"], "swanlab.Molecule('CCO')"),
    ],
    ids=["pillow", "soundfile", "pyecharts", "rdkit"],
)
def test_a_missing_extra_is_one_line_naming_what_to_install(blocked: list[str], make: str) -> None:
    code = BLOCK.format(blocked=blocked, make=make)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == 1 and "pip install 'swanlabd[media]'" in out and repr(blocked[0]) in out
