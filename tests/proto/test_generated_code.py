"""The checked-in generated protobuf code must match what proto/generate.py writes now."""

import subprocess
import sys
from pathlib import Path

GENERATE = Path(__file__).resolve().parents[2] / "proto" / "generate.py"


def test_checked_in_generated_code_is_fresh() -> None:
    result = subprocess.run([sys.executable, str(GENERATE), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_fails_when_a_generated_file_is_edited(tmp_path, monkeypatch) -> None:
    sys.path.insert(0, str(GENERATE.parent))
    try:
        import generate
    finally:
        sys.path.pop(0)
    copy = tmp_path / "proto"
    (copy / "swanlabd_pb").mkdir(parents=True)
    for f in (GENERATE.parent / "swanlabd_pb").iterdir():
        if f.is_file():
            (copy / "swanlabd_pb" / f.name).write_bytes(f.read_bytes())
    (copy / "swanlabd_pb" / "records_pb2.py").write_text("# hand edit\n")
    monkeypatch.setattr(generate, "PROTO_ROOT", copy)
    assert generate.stale_files() == ["records_pb2.py"]


def test_generated_package_does_not_clash_with_the_official_sdk() -> None:
    from swanlabd_pb import records_pb2

    assert records_pb2.DESCRIPTOR.package == "swanlabd.v1"
