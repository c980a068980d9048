"""The media branch of log(): which values are media, and the checks made in the training thread."""

from __future__ import annotations

from collections.abc import Callable

from swanlab_client.media._base import Media
from swanlab_client.media._store import MEDIA_MAX_ITEMS
from swanlab_client.media.chart import ECharts, is_chart

Warn = Callable[..., None]


def take_media(flat: dict[str, object], warn: Warn) -> dict[str, list[Media]]:
    """Move the media values (a media object, a pyecharts chart, or a list of them) out of `flat`.

    A list that starts with media but mixes types, and a list over MEDIA_MAX_ITEMS, are what the
    official SDK drops or cuts at this point (with an error line): the key is dropped, or cut,
    with one warning per key; log() never raises for them.
    """
    out: dict[str, list[Media]] = {}
    for key, value in list(flat.items()):
        if isinstance(value, Media) or is_chart(value):
            items = [value]
        elif isinstance(value, list) and value and (isinstance(value[0], Media) or is_chart(value[0])):
            items = value
        else:
            continue
        del flat[key]
        media: list[Media] = [ECharts(v) if is_chart(v) else v for v in items]  # type: ignore[misc]
        cls = type(media[0])
        if not all(type(m) is cls for m in media):
            kinds = sorted({type(m).__name__ for m in media})
            warn(f"media-mixed-{key}", "log(): key %r mixes %s in one list; dropped (warned once per key)", key, kinds)
            continue
        if len(media) > MEDIA_MAX_ITEMS:
            warn(
                f"media-many-{key}",
                "log(): key %r has %d items at one step; only the first %d are kept (warned once per key)",
                key,
                len(media),
                MEDIA_MAX_ITEMS,
            )
            media = media[:MEDIA_MAX_ITEMS]
        out[key] = media
    return out
