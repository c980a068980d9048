"""Log tolerance_cases.rows() with the official SDK (in its venv) and print what it stored, as JSON.

argv[1]: the log_dir. Prints {"rows": [[key, step, value]], "config": {...}, "id": run id}.
"""

import json
import math
import sys

import swanlab
import tolerance_cases
from swanlab.sdk.internal.run.components.consumer import BackgroundConsumer

stored = []
append = BackgroundConsumer._append_data_record


def spy(self, record):
    stored.append([record.key, record.step, record.value.number])
    return append(self, record)


BackgroundConsumer._append_data_record = spy
tolerance_cases.config_script(swanlab.config)
run = swanlab.init(mode="offline", project="tolerance", log_dir=sys.argv[1], config={"epochs": 3})
tolerance_cases.config_after(swanlab.config)
for data, step in tolerance_cases.rows():
    run.log(data, step=step)
config = dict(run.config)
run_id = run.id
swanlab.finish()
rows = [[k, s, "NaN" if math.isnan(v) else v] for k, s, v in stored]
print(json.dumps({"rows": rows, "config": config, "id": run_id}))
