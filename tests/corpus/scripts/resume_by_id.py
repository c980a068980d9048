"""Resume after a crash: the first process keeps run.id in its checkpoint and dies; a second one continues the run.

    python resume_by_id.py            # trains 10 steps, writes ckpt.json, exits with status 3
    python resume_by_id.py --resume   # reads ckpt.json, init(id=..., resume="must"), trains 10 more
The first invocation starts the second itself, as a job scheduler would requeue it.
"""

import json
import subprocess
import sys
from pathlib import Path

import swanlab

CKPT = Path("ckpt.json")

if "--resume" in sys.argv:
    ckpt = json.loads(CKPT.read_text())
    run = swanlab.init(project="resume_by_id", id=ckpt["run_id"], resume="must")
    for step in range(ckpt["step"] + 1, ckpt["step"] + 11):
        swanlab.log({"loss": 1.0 / (step + 1), "phase": 2}, step=step)
    print("resumed at", ckpt["step"] + 1)
    swanlab.finish()
else:
    run = swanlab.init(project="resume_by_id", experiment_name="pretrain", config={"lr": 0.01, "steps": 20})
    for step in range(10):
        swanlab.log({"loss": 1.0 / (step + 1), "phase": 1}, step=step)
    CKPT.write_text(json.dumps({"run_id": run.id, "step": 9}))
    swanlab.finish(state="crashed", error="preempted")
    sys.exit(subprocess.call([sys.executable, __file__, "--resume"]))
