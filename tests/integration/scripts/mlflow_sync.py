"""MLflow's calls copied into SwanLab by sync_mlflow(); start_run() starts the run, end_run() finishes it.

MLflow writes to a file store in the working directory (no server, no network).
"""

import os
from pathlib import Path

import mlflow
import swanlab

# MLflow 3 refuses its file store unless told to (it wants a SQL one, which mlflow-skinny lacks).
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
swanlab.sync_mlflow()
mlflow.set_tracking_uri(Path("mlruns").resolve().as_uri())
mlflow.set_experiment("integ")
with mlflow.start_run(run_name="mlflow-run"):
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"batch_size": 32, "optimizer": "sgd"})
    for step in range(5):
        mlflow.log_metric("loss", 1 / (step + 1), step=step)
        mlflow.log_metrics({"acc": step / 5, "f1": step / 10}, step=step)
    mlflow.log_metric("final", 0.9)  # no step: the next one
    with mlflow.start_run(run_name="child", nested=True):  # joins the run: mlflow_run_name
        mlflow.log_metric("child/loss", 0.5, step=10)
mlflow.end_run()  # the patched end_run finishes the run (leaving the block did not)
