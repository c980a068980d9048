"""Secrets that must never be printed, and `redact()`, which takes them out of any text.

A process-wide registry: the state DB registers every API key it stores or reads, and the
daemon's log formatter (service/logging_setup.py) passes every line through `redact()`. Pure
text work with the stdlib only, so any layer may register a secret.
"""

from __future__ import annotations

import re
import threading

REDACTED = "***"

# Names under which credentials travel: config keys, HTTP headers, cookies, netrc, env vars.
_SECRET_NAMES = r"(?:api[_-]?key|apikey|authorization|password|passwd|token|secret|sid|cookie)"
_NAMED_SECRET = re.compile(
    # A credential name as a whole word (optionally prefixed: SWANLAB_API_KEY, x-api-key), an
    # optional closing quote, `=` or `:`, an optional opening quote and scheme, then the value
    # up to a quote, whitespace, comma, semicolon or brace.
    r"(?i)(?P<name>\b(?:[\w.-]*[_.-])?" + _SECRET_NAMES + r"\b[\"']?)(?P<sep>\s*[=:]\s*)(?P<quote>[\"']?)"
    r"(?:(?:bearer|basic)\s+)?(?P<value>[^\s\"',;}]+)"
)
# ~/.netrc lines: `password <key>`.
_NETRC_PASSWORD = re.compile(r"(?i)\b(password\s+)(?!\*\*\*)\S+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Never print this string (an API key the daemon received) in any log line."""
    # Very short strings would redact ordinary words; real keys are long.
    if len(value) >= 8:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret and every credential-looking value replaced by ***."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _NETRC_PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)

    def _named(match: re.Match[str]) -> str:
        if match.group("value") == REDACTED:
            return match.group(0)
        return match.group("name") + match.group("sep") + match.group("quote") + REDACTED

    return _NAMED_SECRET.sub(_named, text)
