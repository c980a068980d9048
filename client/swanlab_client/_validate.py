"""What log() and init() accept: metric keys, values, steps, project and experiment names.

These are the slow-path checks. log() runs them once per new set of keys; rows whose keys it
has seen before and whose values are plain numbers skip them (see `_run.Run.log`).

NumPy and torch are never imported here: a value is recognised as one of theirs only if the
module is already in sys.modules (the user imported it), so a script without them pays nothing.
"""

from __future__ import annotations

import operator
import re
import sys
from collections.abc import Iterable, Mapping

from swanlab_client._errors import InvalidKeyError, InvalidNameError, InvalidValueError

MAX_KEY_LENGTH = 255
# The official SDK allows letters, digits, space, '_', '-', '/' and '.'; '/' also separates the
# levels of a nested dict.
_KEY_RE = re.compile(r"[0-9A-Za-z_\-./ ]+")
RESERVED_PREFIX = "__swanlab__"
MAX_PROJECT_LENGTH = 100
_PROJECT_RE = re.compile(r"[0-9A-Za-z_\-.+]+")
MAX_EXPERIMENT_NAME_LENGTH = 255
MAX_STEP = 2**63 - 1

# Value types log() stores without conversion; NumPy scalar types join once seen (`number`).
FAST_TYPES: set[type] = {float, int, bool}


def check_key(key: object) -> str:
    """Return `key` if it can name a metric, else raise InvalidKeyError saying why."""
    if not isinstance(key, str):
        raise InvalidKeyError(key, f"keys must be str, not {type(key).__name__}")
    if not key or not key.strip():
        raise InvalidKeyError(key, "keys must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(key[:40] + "...", f"{len(key)} characters; the limit is {MAX_KEY_LENGTH}")
    if not _KEY_RE.fullmatch(key):
        bad = sorted({c for c in key if not _KEY_RE.fullmatch(c)})
        raise InvalidKeyError(key, f"characters {''.join(bad)!r} are not allowed (letters, digits, space, _ - . /)")
    if key.startswith("/") or key.endswith("/") or "//" in key:
        raise InvalidKeyError(key, "'/' separates levels: no leading, trailing or doubled '/'")
    if key.startswith(RESERVED_PREFIX):
        raise InvalidKeyError(key, f"the prefix {RESERVED_PREFIX!r} is reserved for system metrics")
    return key


def flatten(data: Mapping[object, object], prefix: str = "", out: dict[str, object] | None = None) -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a/b": 1}; every key part is checked."""
    if out is None:
        out = {}
    for k, v in data.items():
        name = prefix + check_key(k)
        if isinstance(v, Mapping):
            if not v:
                continue  # an empty sub-dict logs nothing, like an empty dict
            flatten(v, name + "/", out)
        else:
            check_key(name)
            if name in out:
                raise InvalidKeyError(name, "given twice (once nested, once with '/')")
            out[name] = v
    return out


def number(key: str, value: object) -> float | int | bool:
    """The value to store for `key`: a number as is, a 0-d array/tensor as a Python float.

    NaN and +-inf are kept. Anything else raises InvalidValueError naming the key.
    """
    t = type(value)
    if t in FAST_TYPES:
        return value  # type: ignore[return-value]  # type(value) is float, int or bool: mypy cannot see it
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise InvalidValueError(key, value)
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.generic):
            # timedelta64 is an np.integer, but a duration: float() refuses it.
            if isinstance(value, (np.floating, np.integer, np.bool_)) and not isinstance(value, np.timedelta64):
                FAST_TYPES.add(t)  # a plain scalar type: later rows take the fast path
                return value
            raise InvalidValueError(key, value, f"NumPy {t.__name__} is not a real number")
        if isinstance(value, np.ndarray):
            if value.ndim != 0 or value.dtype.kind not in "biuf":
                raise InvalidValueError(key, value, f"only 0-d numeric arrays can be logged (got shape {value.shape})")
            return value.item()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.dim() != 0 or value.is_complex():
            raise InvalidValueError(key, value, f"only 0-d real tensors can be logged (got shape {tuple(value.shape)})")
        return float(value.item())
    if isinstance(value, (int, float)):  # subclasses (IntEnum, float subclasses)
        return float(value)
    raise InvalidValueError(key, value)


def check_step(step: object) -> int:
    """A step must be an int in [0, 2**63); NumPy integers are accepted, bools are not."""
    if isinstance(step, bool):
        raise TypeError("step must be an int, not bool")
    try:
        value = operator.index(step)  # type: ignore[arg-type]  # any object: this call is the check
    except TypeError:
        raise TypeError(f"step must be an int, not {type(step).__name__}") from None
    if not 0 <= value <= MAX_STEP:
        raise ValueError(f"step must be between 0 and 2**63-1, got {value}")
    return value


def check_project(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidNameError(f"project must be a str, not {type(name).__name__}")
    if not name:
        raise InvalidNameError("project name must not be empty")
    if len(name) > MAX_PROJECT_LENGTH:
        raise InvalidNameError(f"project name is {len(name)} characters; the limit is {MAX_PROJECT_LENGTH}")
    if not _PROJECT_RE.fullmatch(name):
        bad = "".join(sorted({c for c in name if not _PROJECT_RE.fullmatch(c)}))
        raise InvalidNameError(
            f"project name {name!r}: characters {bad!r} are not allowed (letters, digits, '-', '_', '.', '+')"
        )
    return name


def default_project(cwd: str) -> str:
    """The current directory's name made into a valid project name (the official SDK's default)."""
    base = "".join(c if _PROJECT_RE.fullmatch(c) else "_" for c in cwd.rstrip("/").rsplit("/", 1)[-1])
    return base[:MAX_PROJECT_LENGTH] or "default"


def check_experiment_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidNameError(f"experiment_name must be a str, not {type(name).__name__}")
    if not name.strip():
        raise InvalidNameError("experiment_name must not be empty")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidNameError(f"experiment_name is {len(name)} characters; the limit is {MAX_EXPERIMENT_NAME_LENGTH}")
    return check_text("experiment_name", name)


def check_text(field: str, text: object) -> str:
    """`text` if it is a str UTF-8 can encode (init() sends UTF-8), else InvalidNameError naming `field`."""
    if not isinstance(text, str):
        raise InvalidNameError(f"{field} must be a str, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidNameError(
            f"{field} has a character UTF-8 cannot encode ({text[exc.start]!r} at index {exc.start}: a lone "
            "surrogate, as os.listdir(), sys.argv or os.environ give for bytes that are not UTF-8)"
        ) from None
    return text


def check_run_id(run_id: object) -> str:
    """init(id=...): the daemon's rule for run ids (swanlabd.local.runfolder), as InvalidNameError."""
    from swanlabd.local.runfolder import check_run_id as check

    if not isinstance(run_id, str):
        raise InvalidNameError(f"id must be a str, not {type(run_id).__name__}")
    try:
        check(run_id)
    except ValueError as exc:
        raise InvalidNameError(str(exc)) from None
    return run_id


def check_tags(tags: object) -> list[str]:
    if tags is None:
        return []
    names = list(tags) if isinstance(tags, Iterable) and not isinstance(tags, str) else None
    if names is None or not all(isinstance(t, str) and t for t in names):
        raise InvalidNameError("tags must be a list of non-empty strings")
    for i, tag in enumerate(names):
        check_text(f"tags[{i}]", tag)
    return names
