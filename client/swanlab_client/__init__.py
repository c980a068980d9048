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

from _swanlab_alias import AliasError, install_alias
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
from swanlab_client._run import Config, Run, config, finish, init, log
from swanlab_client._settings import Settings
from swanlab_client._sync import login, sync
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
    "config",
    "echarts",
    "finish",
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
    "sync",
]

# Tracebacks and reprs show the public path (swanlab_client.Run), not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj) and hasattr(_obj, "__module__") and not isinstance(_obj, Config):
        try:
            _obj.__module__ = __name__
        except (AttributeError, TypeError):
            pass
del _name, _obj
