"""A sweep driver: several runs in one process, each finished with its own state."""

import swanlab

for name, state in [("trial-ok", "success"), ("trial-aborted", "aborted"), ("trial-crashed", "crashed")]:
    run = swanlab.init(project="finish_states", experiment_name=name, config={"trial": name}, reinit=True)
    for step in range(6):
        run.log({"objective": step * 0.1})
    if state == "crashed":
        run.finish(state="crashed", error="CUDA out of memory")
    else:
        run.finish(state=state)
    print(name, "alive after finish:", run.alive)

swanlab.init(project="finish_states", experiment_name="trial-bad-state", reinit=True)
swanlab.log({"objective": 1.0})
swanlab.finish(state="exploded")
swanlab.finish()
