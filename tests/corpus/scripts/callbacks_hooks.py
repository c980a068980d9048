"""A user Callback that counts what the SDK hands it and reports once the run is over."""

import swanlab


class Counter(swanlab.Callback):
    def __init__(self):
        self.initialized = 0
        self.finished = []

    @property
    def name(self):
        return "counter"

    def on_run_initialized(self, *args, **kwargs):
        self.initialized += 1

    def on_run_finished(self, *args, **kwargs):
        self.finished.append(kwargs.get("state", args[0] if args else None))


counter = Counter()
swanlab.init(project="callbacks_hooks", experiment_name="hooks", callbacks=[counter])
for step in range(8):
    swanlab.log({"loss": 0.5**step})
swanlab.finish()
assert counter.initialized == 1, counter.initialized
assert len(counter.finished) == 1, counter.finished
