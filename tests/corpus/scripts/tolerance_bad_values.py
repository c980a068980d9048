"""What a messy training loop throws at log(): None, strings, lists, junk dicts, bad steps, misuse; training goes on."""

import swanlab

try:
    swanlab.log({"too_early": 1})
except RuntimeError as exc:
    print("log before init:", type(exc).__name__)

swanlab.init(project="tolerance_bad_values", experiment_name="messy")
for step in range(10):
    swanlab.log(
        {
            "loss": 1.0 / (step + 1),
            "maybe": None if step % 2 else 0.5,
            "status": "ok",
            "hist": [1, 2, 3],
            "grads": {"norm": 0.1 * step, "name": "layer1"},
            "complex": 1 + 2j,
        }
    )
swanlab.log({"after_bad_step": 1.0}, step=-1)
swanlab.log({"after_bad_step": 2.0}, step="11")
swanlab.log({"after_bad_step": 3.0}, step=12.0)
swanlab.log({"after_bad_step": 4.0}, step=13)
swanlab.log("not a dict")
swanlab.log({"": 5.0, "   ": 6.0, "ok_again": 7.0}, step=14)
swanlab.log({"back_in_time": 1.0}, step=2)
swanlab.log({"late_eval": 0.5}, step=20)
swanlab.log({"late_eval": 0.4}, step=16)
print("training went on")
swanlab.finish()
try:
    swanlab.log({"too_late": 1})
except RuntimeError as exc:
    print("log after finish:", type(exc).__name__)
