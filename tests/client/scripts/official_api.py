"""Print the official SDK's public names as JSON (run in the referee venv by test_official_api.py).

{"name": signature or null}: names are `init`, `Run.log`, `Config.update`, `Settings.mode`,
`Settings.Probe.monitor`...; the signature is a list of [parameter, kind, default repr] (a
leading `self` dropped), null for what is not called (properties, fields, modules, instances).
"""

import inspect
import json

import swanlab
from swanlab.sdk.internal.run.components.config import Config


def signature(obj):
    if not callable(obj) or isinstance(obj, type):
        return None
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return None
    if params and params[0].name == "self":
        params = params[1:]
    return [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)] for p in params]


names = {}
for name in swanlab.__all__:
    obj = getattr(swanlab, name, None)
    names[name] = signature(obj) if not isinstance(obj, type) else None
for owner, cls in (("Run", swanlab.Run), ("Config", Config)):
    for name, member in vars(cls).items():
        if not name.startswith("_"):
            names[f"{owner}.{name}"] = signature(member) if inspect.isfunction(member) else None
settings = swanlab.Settings
for name in settings.model_fields:
    names[f"Settings.{name}"] = None
for name, member in vars(settings).items():
    if name.startswith("_") or name in settings.model_fields:
        continue
    if isinstance(member, type):
        names[f"Settings.{name}"] = None
        for field in getattr(member, "model_fields", {}):
            names[f"Settings.{name}.{field}"] = None
    else:
        names[f"Settings.{name}"] = None
print(json.dumps(names))
