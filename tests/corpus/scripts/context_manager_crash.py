"""`with swanlab.init(...) as run:` blocks: one ends normally, one raises (the run is CRASHED, the script goes on)."""

import swanlab

with swanlab.init(project="context_manager_crash", experiment_name="ok-block", reinit=True) as run:
    for step in range(5):
        run.log({"loss": 1.0 - 0.1 * step})

try:
    with swanlab.init(project="context_manager_crash", experiment_name="crash-block", reinit=True) as run:
        for step in range(5):
            run.log({"loss": 1.0 - 0.1 * step})
            if step == 3:
                raise ValueError("loss exploded")
except ValueError as exc:
    print("caught:", exc)
print("has_run after blocks:", swanlab.has_run())
