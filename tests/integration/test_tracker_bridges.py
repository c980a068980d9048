"""What swanlab_client's sync_* bridges do on purpose unlike the official SDK 0.10.3's
(docs/integrations.md, "Other trackers"); what they share with it is compared on the test clouds
by test_frameworks.py. A script under `swanlabctl exec` in the integration venv, offline, into a
real daemon whose backup is read back.
"""

from __future__ import annotations

from pathlib import Path

from integ_venvs import run_offline_under_exec

from helpers.daemon import DaemonProcess


def test_a_second_sync_call_replaces_the_first_ones_patches(daemon: DaemonProcess, tmp_path: Path) -> None:
    """The official bridges wrap their own patches again, so each value is logged once per call."""
    view = run_offline_under_exec(
        daemon,
        tmp_path,
        """
import swanlab
from tensorboardX import SummaryWriter

swanlab.sync_tensorboardX(types=["scalars"])
swanlab.sync_tensorboardX(types=["scalar"])
writer = SummaryWriter(logdir="runs/x")
writer.add_scalar("loss", 0.5, 3)
writer.add_scalars("pair", {"a": 1.0}, 3)
writer.close()
""",
    )
    assert view.rows == {1: [(3, {"loss": 0.5})]}
    assert view.config == {"tensorboard_logdir": "runs/x"}


def test_a_grayscale_image_of_dataformats_hw_is_logged(daemon: DaemonProcess, tmp_path: Path) -> None:
    """The official bridge makes an HW image (H, W, 1), which its Image refuses: add_image raises TypeError."""
    view = run_offline_under_exec(
        daemon,
        tmp_path,
        """
import numpy as np
import swanlab
from torch.utils.tensorboard import SummaryWriter

swanlab.sync_tensorboard_torch()
with SummaryWriter(log_dir="runs/torch") as writer:
    writer.add_image("gray", np.full((6, 5), 90, np.uint8), 2, dataformats="HW")
""",
    )
    [(key, step, ref)] = view.media[1]
    assert (key, step) == ("gray", 2) and ref.path.endswith(".png") and ref.size > 0
