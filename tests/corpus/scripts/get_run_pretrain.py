"""A pretraining loop that looks up the active run wherever it needs it (swanlab.run, get_run(), has_run())."""

import json
import subprocess
import sys
from pathlib import Path

import swanlab

STATE = Path("trainer_state.json")


def save_checkpoint(step):
    run_id = swanlab.get_run().id if swanlab.has_run() else None
    STATE.write_text(json.dumps({"global_step": step, "swanlab_run_id": run_id}))


def train(start, stop):
    for step in range(start, stop):
        swanlab.run.log({"pretrain/loss": 4.0 - 0.1 * step, "pretrain/tokens": (step + 1) * 4096}, step=step)
        if step % 5 == 4:
            save_checkpoint(step)


if "--continue" in sys.argv:
    state = json.loads(STATE.read_text())
    swanlab.init(project="get_run_pretrain", id=state["swanlab_run_id"], resume="allow")
    train(state["global_step"] + 1, 16)
    swanlab.get_run().finish()
else:
    assert swanlab.run is None and not swanlab.has_run()
    swanlab.init(project="get_run_pretrain", experiment_name="gpt-tiny", config={"n_layer": 2, "n_embd": 64})
    train(0, 8)
    swanlab.finish()
    assert not swanlab.has_run()
    sys.exit(subprocess.call([sys.executable, __file__, "--continue"]))
