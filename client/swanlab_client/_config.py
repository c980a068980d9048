"""The run's config, with the official SDK's semantics.

`swanlab_client.config` is a proxy: before init() (and after finish()) it is the process's global
config; while a run is active it is that run's config. init() starts the run's config as a copy
of the global one, then merges `init(config=...)` into it, as the official SDK does, so what a
script sets before init() is kept.

Every value is stored as its JSON form (`parse`): NumPy scalars become Python numbers, NaN and
inf the strings "NaN" and "Inf", dates ISO strings, argparse.Namespace, dataclasses and
OmegaConf/mmengine configs dicts, and anything else its str().

Records: a change marks the run's config dirty and queues one marker item; the sender reads the
latest state when it encodes that marker (`Config.take_json`). So a burst of changes
(`config.update(d)`, a loop of `config[k] = v`) costs one Config record, in order with the rows.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Protocol


class _Owner(Protocol):
    def _config_changed(self) -> None: ...


def _third_party(value: object) -> dict[str, Any] | None:
    """A config-like object the official SDK reads as a dict, or None. Its modules are never imported here."""
    omegaconf = sys.modules.get("omegaconf")
    if omegaconf is not None and isinstance(value, omegaconf.DictConfig):
        return dict(omegaconf.OmegaConf.to_container(value, resolve=True, throw_on_missing=True))
    mmengine = sys.modules.get("mmengine")
    if mmengine is not None and isinstance(value, mmengine.Config):
        return dict(mmengine.Config.to_dict(value))
    argparse = sys.modules.get("argparse")  # a Namespace means argparse is loaded: `import swanlab_client` stays light
    if argparse is not None and isinstance(value, argparse.Namespace):
        return dict(vars(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return None


def to_json_value(value: object) -> Any:
    """The JSON form the official SDK stores for a config value."""
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value) is float:
        return "NaN" if math.isnan(value) else "Inf" if math.isinf(value) else value
    for base in (int, float, str):  # subclasses (numpy.float64, IntEnum ...) as the base type
        if isinstance(value, base):
            return to_json_value(base(value))
    if sys.modules.get("numpy") is not None and hasattr(value, "item") and getattr(value, "shape", None) == ():
        return to_json_value(value.item())  # a NumPy scalar that is not an int/float subclass
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    nested = _third_party(value)
    if nested is not None:
        return to_json_value(nested)
    return str(value)


def parse(value: object) -> dict[str, Any]:
    """A whole config (init(config=...), config.update(...)) as a dict of JSON values; TypeError if it is none."""
    if value is None:
        return {}
    nested = _third_party(value)
    result = to_json_value(nested if nested is not None else value)
    if not isinstance(result, dict):
        raise TypeError(f"config must be a mapping (or Namespace, dataclass, OmegaConf), not {type(value).__name__}")
    return result


class Config(MutableMapping[str, Any]):
    """The run's config: a dict that also allows attribute access (`config.lr = 0.1`).

    Thread-safe: writes hold a lock. Keys are str (others are converted with str()); names
    starting with '_' cannot be set as attributes (they are the object's own).
    """

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self.__dict__.update(_data=dict(data or {}), _lock=threading.Lock(), _owner=None, _dirty=False)

    # -- the run's side --------------------------------------------------------------------

    def _bind(self, owner: _Owner | None) -> None:
        self.__dict__["_owner"] = owner

    def _changed(self) -> None:
        """Called with the lock held: queue one marker per burst (see the module docstring)."""
        owner = self._owner
        if owner is not None and not self._dirty:
            self.__dict__["_dirty"] = True
            owner._config_changed()

    def take_json(self) -> str:
        """The latest state as JSON; later changes queue a new marker (called by the sender)."""
        with self._lock:
            self.__dict__["_dirty"] = False
            return json.dumps(self._data, default=str)  # insertion order: the cloud shows keys in it

    def to_json(self) -> str:
        with self._lock:
            return json.dumps(self._data, default=str)

    # -- the mapping ---------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[str(key)] = to_json_value(value)
            self._changed()

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._data[key]
            self._changed()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"config attribute {name!r} is private and cannot be set (use config[{name!r}])")
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"Config({self._data!r})"

    def __str__(self) -> str:
        return str(self._data)

    def update(self, __m: Any = None, **kwargs: Any) -> None:
        """Set many keys at once (one Config record): a mapping, argparse.Namespace, dataclass or OmegaConf config."""
        with self._lock:
            self._data.update(parse(__m))
            self._data.update({str(k): to_json_value(v) for k, v in kwargs.items()})
            self._changed()

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, name: str, value: Any) -> None:
        """Same as config[name] = value."""
        self[str(name)] = value

    def pop(self, key: str, *args: Any) -> Any:
        """Remove `key` and return its value; `args[0]` if it is missing and given, else KeyError."""
        with self._lock:
            if key not in self._data:
                if args:
                    return args[0]
                raise KeyError(key)
            value = self._data.pop(key)
            self._changed()
            return value

    def clean(self) -> None:
        """Remove every key."""
        with self._lock:
            self._data.clear()
            self._changed()


_global = Config()
_active: Config | None = None


def current() -> Config:
    """The run's config while a run is active, else the global one."""
    return _active if _active is not None else _global


def activate(data: Mapping[str, Any], owner: _Owner | None) -> Config:
    """init(): the run's config is the global one plus `data`; `swanlab_client.config` now points to it."""
    global _active
    run_config = Config(_global._data)
    run_config._data.update(parse(data))
    run_config._bind(owner)
    _active = run_config
    return run_config


def deactivate(run_config: Config) -> None:
    """finish(): `swanlab_client.config` is the global config again (what was set before init())."""
    global _active
    run_config._bind(None)
    if _active is run_config:
        _active = None


class ConfigProxy(MutableMapping[str, Any]):
    """`swanlab_client.config`: forwards everything to `current()`."""

    def __getitem__(self, key: str) -> Any:
        return current()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        current()[key] = value

    def __delitem__(self, key: str) -> None:
        del current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(current())

    def __len__(self) -> int:
        return len(current())

    def __contains__(self, key: object) -> bool:
        return key in current()

    def __getattr__(self, name: str) -> Any:
        return getattr(current(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(current(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(current(), name)

    def __repr__(self) -> str:
        return repr(current())

    def __str__(self) -> str:
        return str(current())

    def update(self, __m: Any = None, **kwargs: Any) -> None:
        current().update(__m, **kwargs)

    def get(self, key: str, default: Any = None) -> Any:
        return current().get(key, default)

    def pop(self, key: str, *args: Any) -> Any:
        return current().pop(key, *args)


config = ConfigProxy()
