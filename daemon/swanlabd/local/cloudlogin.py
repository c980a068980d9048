"""Logging in to the SwanLab cloud: the protocol version we speak, and checking an API key.

`swanlabctl login` (cli/cmd_sync.py) and the client's `login()` check a key with `verify_key`;
the uploader's REST client (upload/cloudapi.py) sends the same protocol version. Light to
import: httpx loads only when a key is checked. No message ever contains the key.
"""

from __future__ import annotations

from swanlabd.local import credentials

# The SDK version whose protocol we speak; sent as X-SwanLab-SDK-Version like the SDK does.
SDK_PROTOCOL_VERSION = "0.10.3"
LOGIN_TIMEOUT_S = 10.0


def verify_key(creds: credentials.Credentials, timeout: float = LOGIN_TIMEOUT_S) -> str:
    """POST /api/login/api_key; returns the username. Raises credentials.LoginFailed."""
    import httpx

    assert creds.api_key is not None  # callers say "no key" their own way before asking
    try:
        response = httpx.post(
            f"{creds.api_host}/api/login/api_key",
            headers={"authorization": creds.api_key, "X-SwanLab-SDK-Version": SDK_PROTOCOL_VERSION},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise credentials.LoginFailed(f"cannot reach {creds.api_host}: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise credentials.LoginFailed(f"{creds.api_host} refused the API key (HTTP {response.status_code})")
    if response.status_code >= 400:
        raise credentials.LoginFailed(f"{creds.api_host} answered HTTP {response.status_code} to the login")
    try:
        return str(response.json()["userInfo"]["username"])
    except (ValueError, KeyError, TypeError):
        raise credentials.LoginFailed(f"{creds.api_host} gave an unexpected login answer") from None
