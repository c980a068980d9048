"""define_metric(): the rules that shape a key's chart (x axis, section, hidden), as the official SDK has them.

A rule names a key exactly or a prefix with one trailing '*' ("train/*"). When log() first sees
a key (`_run.Run._intern`), `column()` resolves it (an exact rule wins, then the longest
matching prefix) and the result travels with the key's KeyDef to the daemon, which creates the
cloud column with it (`sectionName`, `xAxis`, `hidden`). A key already logged keeps its column.

Custom X axes (`complete()`): with step_sync, a row that logs a Y key whose rule has a custom
x_axis, but not the X key itself, gets the X key's latest value added (0.0 before X was ever
logged), so the chart has a point for it. A Y point whose X value is the one its previous point
had (within 1e-8) is dropped: a chart over X holds one point per X value, the first (the X added
for it goes only if some Y point used it). Runs with a custom X axis log every row through
log()'s slow path.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

from swanlab_client import _validate

_logger = logging.getLogger("swanlab_client")
SYSTEM_AXES = ("_step", "_relative_time")
X_EPSILON = 1e-8  # X values closer than this are one X value (the official SDK's)


@dataclass(frozen=True)
class Rule:
    x_axis: str | None = None
    section_name: str | None = None
    hidden: bool | None = None
    step_sync: bool | None = None

    @property
    def custom_x(self) -> str | None:
        return self.x_axis if self.x_axis is not None and self.x_axis not in SYSTEM_AXES else None

    @property
    def syncs(self) -> bool:
        return self.custom_x is not None and self.step_sync is not False


Column = tuple[str, str, bool]  # section name, x axis, hidden ("" where not set)


class MetricRules:
    def __init__(self) -> None:
        self.exact: dict[str, Rule] = {}
        self.prefixes: dict[str, Rule] = {}
        self.custom = False  # some rule has a custom x axis
        self._y_axes: dict[str, tuple[str, bool]] = {}  # Y key logged -> (its custom X key, step_sync)
        self._x_values: dict[str, float] = {}  # custom X key -> latest finite value logged
        self._y_last_x: dict[str, float] = {}  # Y key -> the X value of its last point
        self._xs: set[str] = set()  # the custom X keys
        self._checked: set[str] = set()  # keys complete() has resolved

    def define(
        self,
        key: object,
        *,
        x_axis: str | None,
        section_name: str | None,
        hidden: bool | None,
        step_sync: bool | None,
        overwrite: bool,
        step_metric: str | None,
    ) -> None:
        try:
            name = _validate.clean_key(key)
        except _validate.Dropped as exc:
            _logger.error("swanlab_client: define_metric() ignored: invalid key: %s", exc)
            return
        stars = name.count("*")
        if stars and not (stars == 1 and name.endswith("*")):
            _logger.error(
                "swanlab_client: define_metric(%r) ignored: only a single trailing '*' is supported (e.g. 'train/*')",
                key,
            )
            return
        if step_metric is not None:
            if x_axis is not None and x_axis != step_metric:
                _logger.warning(
                    "swanlab_client: define_metric(%r): x_axis=%r and step_metric=%r conflict; using x_axis",
                    name,
                    x_axis,
                    step_metric,
                )
            x_axis = x_axis if x_axis is not None else step_metric
        if x_axis is not None and x_axis not in SYSTEM_AXES:
            try:
                x_axis = _validate.clean_key(x_axis)
            except _validate.Dropped as exc:
                _logger.error("swanlab_client: define_metric(%r) ignored: invalid x_axis: %s", name, exc)
                return
        if section_name is not None and (
            not isinstance(section_name, str) or not section_name.strip() or _validate.has_control(section_name)
        ):
            _logger.warning(
                "swanlab_client: define_metric(%r): invalid section_name %r ignored; using the default section",
                name,
                section_name,
            )
            section_name = None
        table = self.prefixes if stars else self.exact
        bare = name[:-1] if stars else name
        new = Rule(x_axis, section_name, hidden, step_sync)
        old = table.get(bare)
        if old is not None and not overwrite:
            given = {f: getattr(new, f) for f in ("x_axis", "section_name", "hidden", "step_sync")}
            new = replace(old, **{f: v for f, v in given.items() if v is not None})
        table[bare] = new
        if new.custom_x is not None:
            self.custom = True
            self._xs.add(new.custom_x)

    def _rule(self, key: str) -> Rule | None:
        rule = self.exact.get(key)
        if rule is not None:
            return rule
        matches = [p for p in self.prefixes if key.startswith(p)]
        return self.prefixes[max(matches, key=len)] if matches else None

    def column(self, key: str) -> Column | None:
        """The chart shape of a key logged for the first time (None: the defaults)."""
        rule = self._rule(key)
        if rule is None:
            return None
        if rule.custom_x is not None:
            self._y_axes[key] = (rule.custom_x, rule.syncs)
        return (rule.section_name or "", rule.x_axis or "", bool(rule.hidden))

    def complete(self, keys: list[str], values: list[object]) -> None:
        """A row's custom X axes: Y points whose X repeats dropped, X values added (see the module docstring)."""
        if not self.custom:
            return
        logged: dict[str, float] = {}
        for key, value in zip(keys, values, strict=True):
            if key in self._xs and math.isfinite(float(value)):  # type: ignore[arg-type]  # number() gave a real number
                logged[key] = self._x_values[key] = float(value)  # type: ignore[arg-type]  # as above
        present = set(keys)
        candidates: dict[str, float] = {}  # X key -> the value a synced Y would be drawn at
        used: list[str] = []  # the X keys to add: some Y point kept was drawn at its candidate
        drop = []
        for i, key in enumerate(keys):
            if key not in self._checked:
                self._checked.add(key)
                self.column(key)  # learns the key's X if a rule gives it one
            axis = self._y_axes.get(key)
            if axis is None:
                continue
            x, syncs = axis
            x_value = logged.get(x)
            candidate = x_value is None and syncs and x not in present
            if candidate:
                x_value = candidates.setdefault(x, self._x_values.get(x, 0.0))
            if x_value is None:
                continue
            last = self._y_last_x.get(key)
            if last is not None and abs(last - x_value) < X_EPSILON:
                drop.append(i)
                continue
            self._y_last_x[key] = x_value
            if candidate and x not in used:
                used.append(x)
        for i in reversed(drop):
            del keys[i], values[i]
        for x in used:
            keys.append(x)
            values.append(candidates[x])
