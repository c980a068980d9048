"""What log() and init() accept: metric keys, values, steps, project and experiment names.

These are the slow-path checks. log() runs them once per new set of keys; rows whose keys it
has seen before and whose values are plain numbers skip them (see `_run.Run.log`). They follow
the official SDK 0.10.3: what it stores, log() stores the same way; what it leaves out with an
error line, log() leaves out with a warning (`Dropped`), and training goes on.

NumPy and torch are never imported here: a value is recognised as one of theirs only if the
module is already in sys.modules (the user imported it), so a script without them pays nothing.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable, Iterable, Mapping

from swanlab_client._errors import InvalidNameError

# The official SDK's key rule (0.10.3): any str() of the key, with leading and trailing
# whitespace, '.' and '/' stripped, cut at 512 characters; control characters are refused.
MAX_KEY_LENGTH = 512
_STRIP = " \t\n\r./"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
RESERVED_PREFIX = "__swanlab__"
MAX_PROJECT_LENGTH = 100
_PROJECT_RE = re.compile(r"[0-9A-Za-z_\-.+]+")
MAX_EXPERIMENT_NAME_LENGTH = 255  # the daemon's limit (swanlabd.local.runfolder); the official SDK allows 512
MAX_STEP = 2**63 - 1

# Value types log() stores without conversion; NumPy scalar types join once seen (`number`).
FAST_TYPES: set[type] = {float, int, bool}


class Dropped(Exception):
    """A key or value log() leaves out of the row, with the reason (log() warns once per key)."""


def clean_key(key: object) -> str:
    """The key the official SDK stores for `key` (see _STRIP); Dropped if none is left or it is refused."""
    text = key if type(key) is str else str(key)
    cleaned = text.strip(_STRIP)[:MAX_KEY_LENGTH]
    if not cleaned:
        raise Dropped(f"key {text!r} is empty once leading and trailing spaces, '.' and '/' are removed")
    if has_control(cleaned):
        raise Dropped(f"key {text!r} has control characters")
    if not cleaned.isascii():
        try:
            cleaned.encode()
        except UnicodeEncodeError:  # a lone surrogate (os.listdir(), sys.argv): no record can hold it
            raise Dropped(f"key {text!r} has a character UTF-8 cannot encode") from None
    if cleaned.startswith(RESERVED_PREFIX):
        raise Dropped(f"key {text!r}: the prefix {RESERVED_PREFIX!r} is reserved for system metrics")
    return cleaned


def has_control(text: str) -> bool:
    return _CONTROL_RE.search(text) is not None


def flatten(
    data: Mapping[object, object],
    dropped: Callable[[str, str], None],
    prefix: str = "",
    out: dict[str, object] | None = None,
) -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a/b": 1}, keys cleaned (`clean_key`); `dropped(key, reason)` for each key left out.

    A key given twice (once nested, once with '/', or equal once cleaned) keeps the later value,
    as in the official SDK.
    """
    if out is None:
        out = {}
    for k, v in data.items():
        name = prefix + (k if type(k) is str else str(k))
        if isinstance(v, Mapping):
            flatten(v, dropped, name + "/", out)
            continue
        try:
            key = clean_key(name)
        except Dropped as exc:
            dropped(name, str(exc))
            continue
        out.pop(key, None)  # the later value wins, in the later position
        out[key] = v
    return out


def number(key: str, value: object) -> float | int | bool:
    """The value to store for `key`, as the official SDK converts it; Dropped with the reason if none.

    Numbers and bools as they are (NaN and +-inf kept), strings holding a number as that number
    ("nan"/"inf" strings as NaN, as the official SDK stores them), anything with a one-element
    `.item()` (NumPy scalars and arrays, torch tensors) as its value.
    """
    t = type(value)
    if t in FAST_TYPES:
        return value  # type: ignore[return-value]  # type(value) is float, int or bool: mypy cannot see it
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        # timedelta64 is an np.integer, but a duration: float() refuses it.
        if isinstance(value, (np.floating, np.integer, np.bool_)) and not isinstance(value, np.timedelta64):
            FAST_TYPES.add(t)  # a plain scalar type: later rows take the fast path
            return value  # a NumPy real scalar: the sender takes it as a float
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            raise Dropped(f"the string {value[:40]!r} is not a number") from None
        return math.nan if math.isinf(parsed) else parsed
    if isinstance(value, (int, float)):  # subclasses (IntEnum, float subclasses)
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (bytes, bytearray)):
        try:
            inner = item()
        except Exception:  # noqa: BLE001 - any failure of a foreign .item() means "not one number"
            shape = getattr(value, "shape", None)
            raise Dropped(
                f"{type(value).__name__} of shape {tuple(shape) if shape is not None else '?'} is not one number"
            ) from None
        if type(inner) in (float, int, bool):
            return inner
        raise Dropped(f"{type(value).__name__} holding {type(inner).__name__} is not a real number")
    if value is None:
        raise Dropped("the value is None")
    raise Dropped(f"{type(value).__name__} is not a number")


def check_step(step: object) -> int:
    """A step is an int in [0, 2**63): NumPy integers too, and a bool as 0/1 (as the official SDK takes it).

    Raises Dropped with the reason otherwise: log() then leaves out the whole row, with a warning.
    """
    try:
        value = operator.index(step)  # type: ignore[arg-type]  # any object: this call is the check
    except TypeError:
        raise Dropped(f"step must be an int, not {type(step).__name__}") from None
    if not 0 <= value <= MAX_STEP:
        raise Dropped(f"step must be between 0 and 2**63-1, got {value}")
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
