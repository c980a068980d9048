"""The public surface is pinned, and `import swanlab_client` stays light."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from types import ModuleType

import swanlab_client

PUBLIC = [
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


def test_all_is_pinned_and_sorted():
    assert swanlab_client.__all__ == PUBLIC
    assert sorted(swanlab_client.__all__) == swanlab_client.__all__


def test_every_public_name_exists_and_nothing_else_public_leaks():
    # `run` is computed on access (the active run or None), as the official SDK's `swanlab.run`;
    # `media` is the media types' package, whose names are re-exported; `integration` the
    # frameworks' package (imported as the official SDK's is: `swanlab_client.integration.X`).
    public = {n for n in dir(swanlab_client) if not n.startswith("_")} | {"run"}
    assert public == {*PUBLIC, "media", "integration"} and swanlab_client.run is None


def test_public_classes_and_functions_show_the_public_module():
    for name in PUBLIC:
        obj = getattr(swanlab_client, name)
        if isinstance(obj, type) or callable(obj) and not isinstance(obj, Mapping | ModuleType):
            assert obj.__module__ == "swanlab_client", name


def test_import_loads_no_heavy_dependency():
    code = (
        "import sys, swanlab_client\n"
        "heavy = ['grpc', 'google.protobuf', 'pydantic', 'plyvel', 'psutil', 'numpy', 'torch', 'httpx',\n"
        "         'PIL', 'pyecharts', 'soundfile', 'rdkit', 'matplotlib', 'asyncio', 'ssl']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_disabled_mode_never_loads_grpc():
    code = (
        "import sys, swanlab_client as s\n"
        "s.init(project='p', mode='disabled')\n"
        "s.log({'a': 1.0})\n"
        "s.finish()\n"
        "print('grpc' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
