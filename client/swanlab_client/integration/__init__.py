"""Framework integrations: `swanlab_client.integration.<framework>` (`swanlab.integration.<framework>`
under `swanlabctl exec`), each written against the framework's public callback or logger API and
logging the keys, steps and config the official SDK 0.10.3's integration of the same name logs.

Each module imports its framework when it is imported, as the official ones do, so importing
this package alone costs nothing. The sync_* bridges (tensorboard.py, wandb.py, mlflow.py), which
swanlab_client exports at its top level as the official SDK does, import their tracker only when
called. docs/integrations.md lists them all, with what differs and why.
"""
