"""Limits that the daemon and every process talking to it must agree on.

One definition, imported by both sides: the client sizes its requests against the same number
the daemon's gRPC server enforces (a copy on each side once drifted apart).
"""

import json

# The largest gRPC message the daemon accepts or sends (~1.3 million packed scalars). A larger
# request gets RESOURCE_EXHAUSTED from grpc. It bounds what one batch costs the daemon's memory
# (its RSS budget is 80 MB); clients send far smaller requests.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# The deepest nesting of the JSON a run's config or metadata may have. Python's json module
# recurses once per level and gives up near 1,000 (RecursionError, at a depth that depends on the
# caller's own stack), and every reader of that text parses it again (StartRun, the run folder's
# config.yaml, the uploader): a bound far below that keeps them all working. Configs nest a few
# levels.
MAX_JSON_DEPTH = 100


def check_json(text: str) -> None:
    """Raise ValueError unless `text` is JSON nested at most MAX_JSON_DEPTH levels deep.

    The message completes a sentence that names the field: f"config {exc}".
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"is JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise ValueError(f"is not valid JSON ({exc})") from None
    # Level by level, not recursively: the text parsed, but it may still be hundreds of levels deep.
    level = [value]
    for _ in range(MAX_JSON_DEPTH + 1):
        level = [item for item in level if isinstance(item, dict | list)]
        if not level:
            return
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)]
    raise ValueError(f"is JSON nested deeper than {MAX_JSON_DEPTH} levels")
