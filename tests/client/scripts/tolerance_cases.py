"""What the tolerance test logs with both SDKs: keys and values the official SDK takes, cleans or drops.

Only the standard library, so the official SDK's venv (which has no NumPy) can import it too;
`OneItem` stands in for a NumPy array or a torch tensor (what matters is `.item()`).
"""

from __future__ import annotations

import argparse


class OneItem:
    def __init__(self, *values: object) -> None:
        self.values = values

    def item(self) -> object:
        if len(self.values) != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.values[0]


def rows() -> list[tuple[dict, object]]:
    """(data, step) pairs, in the order both SDKs log them."""
    data = [
        {"准确率": 1.0, "acc(%)": 2.0, "a:b": 3.0, "k" * 600: 4.0},
        {"s": "3.5", "sn": "nan", "si": "-inf", "sb": "abc", "n": None, "l": [1, 2]},
        {"a1": OneItem(7.0), "a3": OneItem(0, 0, 0), "c": 1 + 2j, "bo": True, "inf": float("inf")},
        {" /x/ ": 1.0, "": 1.0, "./": 2.0, "a\nb": 1.0, "__swanlab__.cpu": 1.0, 3: 1.0},
        {"a/b": 1, "a": {"b": 2}, "nested": {"deep": {"er": 5}}},
        {"big": 10**400, "ok": 1},
    ]
    out: list[tuple[dict, object]] = [(d, i) for i, d in enumerate(data)]
    out += [({"bad_step": 1.0}, step) for step in (-1, 1.5, "3")]
    out += [({"bool_step": 1.0}, True), ({"auto": 1.0}, None), ({"auto": 2.0}, None)]
    return out


def config_script(config: object) -> None:
    """Set the config the way SwanLab's tutorials do, before and after init()."""
    config.lr = 0.1  # type: ignore[attr-defined]  # either SDK's config
    config["optimizer"] = "adam"  # type: ignore[index]  # as above


def config_after(config: object) -> None:
    config.update(argparse.Namespace(batch=32, nan=float("nan")))  # type: ignore[attr-defined]  # as above
    config.set("inf", float("inf"))  # type: ignore[attr-defined]  # as above
    config.update({"nested": {"a": (1, 2)}}, extra=3)  # type: ignore[attr-defined]  # as above
