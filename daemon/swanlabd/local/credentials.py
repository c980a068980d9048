"""Where a run uploads to, and with which key: resolved exactly as the official SwanLab SDK does.

Sources, highest priority first (swanlab 0.10.3, `swanlab/sdk/internal/settings` and `pkg/nrc`):

1. explicit arguments (`swanlabctl sync --api-key`), then what `login()` set in this process
   (`set_login`; the SDK's `swanlab.login()` also overrides the environment this way);
2. the environment: `SWANLAB_API_KEY`, `SWANLAB_API_HOST`, `SWANLAB_WEB_HOST` (a pair of matching
   quotes around a value is stripped, as the SDK does for shell-injected values);
3. a netrc file: `./.swanlab/.netrc` (project level) first, then `<root>/.netrc` where root is
   `$SWANLAB_ROOT`, else `$SWANLAB_SAVE_DIR`, else `~/.swanlab`. It holds one entry:
   machine = api host, login = web host, password = key. Its key is used only when no api host
   was given or the given one equals the netrc's (a different host means a different account).

Hosts are normalised like the SDK's `nrc.fmt`: no scheme -> https, path and query stripped, port
kept, plain http allowed. A web host that is not given follows the api host for a self-hosted
server and is https://swanlab.cn for the public cloud.

This module is on the client's import path: stdlib only. It never prints or logs a key; the
`Credentials` repr masks it.
"""

from __future__ import annotations

import netrc
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_API_HOST",
    "DEFAULT_WEB_HOST",
    "Credentials",
    "CredentialsError",
    "LoginFailed",
    "forget_login",
    "netrc_path",
    "normalize_host",
    "read_netrc",
    "resolve",
    "resolve_hosts",
    "save_login",
    "set_login",
]

DEFAULT_API_HOST = "https://api.swanlab.cn"
DEFAULT_WEB_HOST = "https://swanlab.cn"
_ROOT_FOLDER = ".swanlab"
_NETRC_NAME = ".netrc"


class CredentialsError(ValueError):
    """A host or key that cannot be used (empty host, whitespace in a netrc field, unreadable netrc)."""


class LoginFailed(CredentialsError):
    """The server refused the key, or could not be asked (`swanlabctl login`, `login()`)."""


@dataclass(frozen=True)
class Credentials:
    """An api host, its web host and the api key (None when none was found)."""

    api_host: str
    web_host: str
    api_key: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "'***'"
        return f"Credentials(api_host={self.api_host!r}, web_host={self.web_host!r}, api_key={key})"


def normalize_host(host: str) -> str:
    """`api.example.com/x` -> `https://api.example.com`; `http://h:8000/api` -> `http://h:8000`."""
    host = host.strip()
    if not host:
        raise CredentialsError("host is empty")
    has_scheme = "://" in host
    parsed = urlsplit(host if has_scheme else f"//{host}")
    if not parsed.hostname:
        return host
    scheme = parsed.scheme if has_scheme and parsed.scheme else "https"
    hostname = parsed.hostname
    if ":" in hostname:  # an IPv6 literal lost its brackets in urlsplit
        hostname = f"[{hostname}]"
    result = f"{scheme}://{hostname}"
    if parsed.port is not None:
        result += f":{parsed.port}"
    return result


def resolve_hosts(api_host: str | None = None, web_host: str | None = None) -> tuple[str, str]:
    """Normalise both hosts and derive the missing one, as the SDK's `resolve_hosts` does."""
    api = normalize_host(api_host) if api_host else DEFAULT_API_HOST
    web = normalize_host(web_host) if web_host else None
    http_default_api = DEFAULT_API_HOST.replace("https://", "http://", 1)
    http_default_web = DEFAULT_WEB_HOST.replace("https://", "http://", 1)
    api_is_default = api in (DEFAULT_API_HOST, http_default_api)
    if api_is_default:
        api = DEFAULT_API_HOST
    if web in (DEFAULT_API_HOST, http_default_api, DEFAULT_WEB_HOST, http_default_web):
        web = DEFAULT_WEB_HOST
    elif web is None:
        web = DEFAULT_WEB_HOST if api_is_default else api
    return api, web


def _getenv(environ: Mapping[str, str], key: str) -> str | None:
    value = environ.get(key)
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value or None


def netrc_path(*, local: bool = False, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The netrc the SDK writes: `./.swanlab/.netrc` if local, else `<root>/.netrc`."""
    env = os.environ if environ is None else environ
    if local:
        return (cwd or Path.cwd()) / _ROOT_FOLDER / _NETRC_NAME
    root = _getenv(env, "SWANLAB_ROOT") or _getenv(env, "SWANLAB_SAVE_DIR")
    return (Path(root).expanduser() if root else Path.home() / _ROOT_FOLDER) / _NETRC_NAME


def read_netrc(path: Path) -> Credentials | None:
    """The one entry of a SwanLab netrc, or None if the file is missing or incomplete."""
    if not path.is_file():
        return None
    try:
        parsed = netrc.netrc(str(path))
    except (netrc.NetrcParseError, OSError) as exc:
        raise CredentialsError(f"cannot read {path}: {type(exc).__name__}") from None
    if not parsed.hosts:
        return None
    # The SDK keeps a single entry ("global single sign-on") and reads the first one.
    machine, (login, _account, password) = next(iter(parsed.hosts.items()))
    if machine.endswith("/api"):  # written so by SDK versions before 0.10
        machine = machine[: -len("/api")]
    if not (machine and login and password):
        return None
    return Credentials(normalize_host(machine), normalize_host(login), password)


def resolve(
    api_key: str | None = None,
    api_host: str | None = None,
    web_host: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Credentials:
    """Resolve host and key from arguments, then the environment, then the netrc files.

    Returns `Credentials` whose `api_key` is None when no key was found anywhere; deciding
    whether that is an error is the caller's business (offline runs need no key).
    """
    env = os.environ if environ is None else environ
    if (
        _process_login is not None
        and not api_key
        and (not api_host or normalize_host(api_host) == _process_login.api_host)
    ):
        return _process_login
    key = api_key or _getenv(env, "SWANLAB_API_KEY")
    raw_api = api_host or _getenv(env, "SWANLAB_API_HOST")
    raw_web = web_host or _getenv(env, "SWANLAB_WEB_HOST")
    api, web = resolve_hosts(raw_api, raw_web)
    if key is not None:
        return Credentials(api, web, key)
    stored = None
    for path in (netrc_path(local=True, environ=env, cwd=cwd), netrc_path(environ=env)):
        try:
            stored = read_netrc(path)
        except CredentialsError:
            stored = None  # the SDK also moves on to the next file when one is unreadable
        if stored is not None:
            break
    if stored is None:
        return Credentials(api, web, None)
    if raw_api is not None and api != stored.api_host:
        # The user switched to another server: the stored key belongs to a different account.
        return Credentials(api, web, None)
    # As in the SDK, a web host given (or derived from a self-hosted api host) beats the netrc's.
    explicit_web = raw_web is not None or (raw_api is not None and api != DEFAULT_API_HOST)
    return Credentials(stored.api_host, web if explicit_web else stored.web_host, stored.api_key)


_process_login: Credentials | None = None


def set_login(creds: Credentials) -> None:
    """Use these credentials for every later `resolve()` in this process (what `login()` does)."""
    global _process_login
    _process_login = creds


def forget_login() -> None:
    global _process_login
    _process_login = None


def save_login(
    api_key: str,
    api_host: str | None = None,
    web_host: str | None = None,
    *,
    path: Path | None = None,
) -> Path:
    """Write the netrc as `swanlab login` does (one entry, replacing any other; mode 0600).

    The file is written to a temporary file created 0600 and renamed over the old one, so the
    key is never readable by others, not even for a moment.
    """
    api, web = resolve_hosts(api_host, web_host)
    for name, value in (("host", api), ("web host", web), ("api key", api_key)):
        if not value or any(c in value for c in " \t\r\n"):
            raise CredentialsError(f"invalid {name}: empty or contains whitespace")
    target = path or netrc_path()
    if target.is_dir():
        raise CredentialsError(f"{target} is a directory, a file is expected")
    target.parent.mkdir(parents=True, exist_ok=True)
    text = f"machine {api}\n\tlogin {web}\n\tpassword {api_key}\n"
    fd, tmp = tempfile.mkstemp(prefix=".netrc.", dir=target.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(target, 0o600)
    return target
