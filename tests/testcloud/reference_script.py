"""The conformance referee's training script: runs with the official SDK or with swanlab_client.

    python reference_script.py --client swanlab         # import swanlab (the official SDK)
    python reference_script.py --client swanlab_client  # import swanlab_client as swanlab
    python reference_script.py --media none             # log no media (default: --media text)

(or SWANLABD_REFERENCE_CLIENT=...). The cloud comes from the environment (SWANLAB_API_HOST,
SWANLAB_WEB_HOST, SWANLAB_API_KEY). `expected()` is what the cloud must hold afterwards; the
test imports this module for it, so the script and the expectations cannot drift apart.
`--media text` calls `swanlab.Text` whatever the client: a client without it fails the
script (AttributeError) instead of quietly logging less.
Runs on Python >= 3.8 with nothing but the client installed (the official SDK's venv).
"""

import argparse
import importlib
import math
import os
import sys

CONFIG = {"lr": 0.001, "batch_size": 32, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}, "tag": "ref"}
# Non-finite values go up as "nan" (docs/cloud-api.md), whatever their sign.
SPECIAL = {3: float("nan"), 4: float("inf"), 5: float("-inf")}
CONSOLE_LINES = 5
MEDIA = ("text", "none")
TEXT_EVERY = 20


def loss(step):
    return 1.0 / (step + 1)


def rows(steps):
    """The dicts the script logs, by step."""
    for step in range(steps):
        row = {"train/loss": loss(step), "train/acc": step / steps, "train/step_int": step}
        if step % 10 == 0:
            row["eval/score"] = 0.5 + step / (2 * steps)
        if step in SPECIAL:
            row["edge/non_finite"] = SPECIAL[step]
        yield step, row


def expected(steps):
    """{key: {step: value}} as the cloud stores it (non-finite -> "nan")."""
    result = {}
    for step, row in rows(steps):
        for key, value in row.items():
            value = float(value)
            result.setdefault(key, {})[step] = value if math.isfinite(value) else "nan"
    return result


def texts(steps):
    """{step: (content, caption)} of the text media that `--media text` logs."""
    return {step: (f"text at step {step}", f"caption {step}") for step in range(0, steps, TEXT_EVERY)}


def console_lines():
    """(stream, line) the script prints, in order: stdout lines and one stderr line between them."""
    lines = [("stdout", f"reference line {i}") for i in range(CONSOLE_LINES)]
    lines.insert(2, ("stderr", "reference warning line"))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", default=os.environ.get("SWANLABD_REFERENCE_CLIENT", "swanlab"))
    parser.add_argument("--project", default="conformance")
    parser.add_argument("--name", default="reference")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--media", choices=MEDIA, default="text")
    args = parser.parse_args()
    swanlab = importlib.import_module(args.client)
    swanlab.init(
        project=args.project,
        experiment_name=args.name,
        description="conformance reference run",
        config=CONFIG,
        mode="cloud",
    )
    for stream, line in console_lines():
        print(line, file=sys.stderr if stream == "stderr" else sys.stdout, flush=True)
    media = texts(args.steps) if args.media == "text" else {}
    for step, row in rows(args.steps):
        if step in media:
            content, caption = media[step]
            row = dict(row, **{"sample/text": swanlab.Text(content, caption=caption)})
        swanlab.log(row, step=step)
    swanlab.finish()


if __name__ == "__main__":
    main()
