"""Generate the Python code for proto/swanlabd_pb/*.proto: the one way to produce it.

    python proto/generate.py            # rewrite the checked-in *_pb2.py, *_pb2.pyi, *_pb2_grpc.py
    python proto/generate.py --check    # exit 1 and name the files if the checked-in code is stale

It runs grpcio-tools (pinned in pyproject.toml's `test` extra, so every machine writes the same
bytes) with protoc's own `--pyi_out` for type stubs. tests/proto/test_generated_code.py runs
`--check` in CI, so a hand edit or a forgotten regeneration fails there, not on the wire.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PACKAGE = "swanlabd_pb"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Write generated modules for every .proto under proto/swanlabd_pb into out_root/swanlabd_pb."""
    from grpc_tools import protoc  # only needed by developers, not at run time

    sources = sorted((PROTO_ROOT / PACKAGE).glob("*.proto"))
    (out_root / PACKAGE).mkdir(parents=True, exist_ok=True)
    for source in sources:
        outputs = [f"--python_out={out_root}", f"--pyi_out={out_root}"]
        if "\nservice " in source.read_text():  # no empty *_pb2_grpc.py for message-only files
            outputs.append(f"--grpc_python_out={out_root}")
        if protoc.main(["protoc", f"-I{PROTO_ROOT}", *outputs, str(source.relative_to(PROTO_ROOT))]) != 0:
            raise SystemExit(f"protoc failed on {source.name}; see the messages above")
    return sorted(p for p in (out_root / PACKAGE).iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def stale_files() -> list[str]:
    """Names of generated files that differ from (or are missing in) the checked-in package."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        checked_in = {p.name for p in (PROTO_ROOT / PACKAGE).iterdir() if p.name.endswith(GENERATED_SUFFIXES)}
        stale = [
            f.name
            for f in fresh
            if not (PROTO_ROOT / PACKAGE / f.name).exists()
            or not filecmp.cmp(f, PROTO_ROOT / PACKAGE / f.name, shallow=False)
        ]
        stale += sorted(checked_in - {f.name for f in fresh})
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the checked-in code is stale")
    if parser.parse_args().check:
        stale = stale_files()
        if stale:
            print(f"Protos changed: {', '.join(stale)} are stale; run `python proto/generate.py`")
            return 1
        print("generated code is up to date")
        return 0
    for path in generate(PROTO_ROOT):
        print(f"wrote {path.relative_to(PROTO_ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
