"""swanlab_client: log ML experiments through swanlabd, with the official SwanLab SDK's API.

    import swanlab_client as swanlab
    swanlab.init(project="mnist", experiment_name="baseline", config={"lr": 1e-3}, mode="offline")
    for step in range(1000):
        swanlab.log({"train/loss": loss, "train/acc": acc}, step=step)
    swanlab.finish()

log() only validates and queues (about a microsecond); a background thread streams rows to the
per-host daemon, which writes them durably to the run's backup and uploads them (mode="cloud")
or keeps them for `swanlabctl sync` (mode="offline"). See docs/client.md.

Importing this package loads no gRPC, protobuf, NumPy or torch: init() loads what it needs.
"""

from collections.abc import Mapping as _Mapping

from _swanlab_alias import AliasError, install_alias
from swanlab_client import plot
from swanlab_client._callbacks import Callback, merge_callbacks, register_callbacks
from swanlab_client._deprecated import confusion_matrix, pr_curve, roc_curve
from swanlab_client._errors import (
    AuthenticationError,
    DaemonError,
    DaemonInternalError,
    DaemonRejectedError,
    DaemonTimeoutError,
    DaemonUnavailableError,
    InvalidKeyError,
    InvalidNameError,
    InvalidValueError,
    LoginError,
    LoginRequiredError,
    NotInitializedError,
    RPCStatusCode,
    RunFinishedError,
    SwanlabClientError,
    SyncError,
    SyncIncomplete,
    UsageError,
)
from swanlab_client._run import (
    Config,
    Run,
    async_log,
    config,
    define_metric,
    finish,
    get_run,
    has_run,
    init,
    log,
    save,
)
from swanlab_client._settings import Settings, merge_settings
from swanlab_client._sync import login, sync
from swanlab_client.integration.mlflow import sync_mlflow
from swanlab_client.integration.tensorboard import sync_tensorboard_torch, sync_tensorboardX
from swanlab_client.integration.wandb import sync_wandb
from swanlab_client.media import (
    Audio,
    ECharts,
    Html,
    Image,
    MissingExtraError,
    Molecule,
    Object3D,
    Text,
    Video,
    echarts,
)
from swanlab_client.media._api import (
    log_audio,
    log_echarts,
    log_html,
    log_image,
    log_molecule,
    log_object3d,
    log_text,
    log_video,
)

__version__ = "0.1.0"

__all__ = [
    "AliasError",
    "Audio",
    "AuthenticationError",
    "Callback",
    "Config",
    "DaemonError",
    "DaemonInternalError",
    "DaemonRejectedError",
    "DaemonTimeoutError",
    "DaemonUnavailableError",
    "ECharts",
    "Html",
    "Image",
    "InvalidKeyError",
    "InvalidNameError",
    "InvalidValueError",
    "LoginError",
    "LoginRequiredError",
    "MissingExtraError",
    "Molecule",
    "NotInitializedError",
    "Object3D",
    "RPCStatusCode",
    "Run",
    "RunFinishedError",
    "Settings",
    "SwanlabClientError",
    "SyncError",
    "SyncIncomplete",
    "Text",
    "UsageError",
    "Video",
    "async_log",
    "config",
    "confusion_matrix",
    "define_metric",
    "echarts",
    "finish",
    "get_run",
    "has_run",
    "init",
    "install_alias",
    "log",
    "log_audio",
    "log_echarts",
    "log_html",
    "log_image",
    "log_molecule",
    "log_object3d",
    "log_text",
    "log_video",
    "login",
    "merge_callbacks",
    "merge_settings",
    "plot",
    "pr_curve",
    "register_callbacks",
    "roc_curve",
    "run",
    "save",
    "sync",
    "sync_mlflow",
    "sync_tensorboardX",
    "sync_tensorboard_torch",
    "sync_wandb",
]

# Tracebacks and reprs show the public path (swanlab_client.Run), not the private module.
for _name in __all__:
    if _name == "run":
        continue  # computed on each access (__getattr__ below)
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj) and hasattr(_obj, "__module__") and not isinstance(_obj, _Mapping):
        try:
            _obj.__module__ = __name__
        except (AttributeError, TypeError):
            pass
del _name, _obj


def __getattr__(name: str) -> Run | None:
    """`swanlab_client.run`: the active run, or None (as the official SDK's `swanlab.run`)."""
    if name == "run":
        return get_run() if has_run() else None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
