"""`swanlabd config` and `swanlabd install-service`: the daemon as a configured system service.

`swanlabd config [--config PATH] [--KEY VALUE ...] [--json]` prints the effective configuration,
each key with the source that set it (flag, environment, file, default), as TOML that can be
saved as a config file. Secrets are masked. Exit 2 (with the one-line error) when invalid.

`swanlabd install-service [--user|--system] [--print]` writes the packaged unit file
(swanlabd/service/systemd/) with `ExecStart=` pointing at this installation, and says how to enable it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

USER_UNIT = "swanlabd.service"
SYSTEM_UNIT = "swanlabd@.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


def register(subparsers: argparse._SubParsersAction) -> None:
    from swanlabd.service import config

    p = subparsers.add_parser("config", help="print the effective configuration (secrets masked)")
    config.add_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    p.set_defaults(func=cmd_config)

    p = subparsers.add_parser("install-service", help="write (or print) the systemd unit and say how to enable it")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--user", dest="scope", action="store_const", const="user", help="a user service (default)")
    scope.add_argument(
        "--system",
        dest="scope",
        action="store_const",
        const="system",
        help="a system service per account (swanlabd@ACCOUNT)",
    )
    p.add_argument("--print", dest="print_only", action="store_true", help="print the unit instead of writing it")
    p.set_defaults(func=cmd_install_service, scope="user")


def cmd_config(args: argparse.Namespace) -> int:
    from swanlabd.service import config

    try:
        loaded = config.load_from_args(args)
    except config.ConfigError as exc:
        print(f"swanlabd: {exc}", file=sys.stderr)
        return 2
    items = config.effective_items(loaded)
    if args.json:
        print(json.dumps({key: _jsonable(value) for key, value, _ in items}, indent=2))
        return 0
    print("# swanlabd effective configuration; precedence: flags > environment > file > defaults")
    files = ", ".join(str(f) for f in loaded.files) or "none"
    print(f"# config files read: {files}")
    for key, value, source in items:
        if value is None:
            print(f"# {key} is unset  # {source}")
        else:
            print(f"{key} = {_toml_value(value)}  # {source}")
    return 0


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)


def unit_text(name: str) -> str:
    """The packaged unit file `name`, as shipped."""
    return (resources.files("swanlabd.service") / "systemd" / name).read_text(encoding="utf-8")


def exec_start() -> str:
    """The command that runs this installation's daemon, absolute (systemd requires it)."""
    script = Path(sys.executable).parent / "swanlabd"
    argv = [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "swanlabd"]
    # systemd splits ExecStart= on whitespace unless quoted.
    return " ".join(f'"{arg}"' if any(c.isspace() for c in arg) else arg for arg in argv) + " run"


def render_unit(name: str) -> str:
    """The unit with `ExecStart=` pointing at this installation (what install-service writes)."""
    lines = unit_text(name).splitlines(keepends=True)
    return "".join(f"ExecStart={exec_start()}\n" if line.startswith("ExecStart=") else line for line in lines)


def user_unit_dir() -> Path:
    """`$XDG_CONFIG_HOME/systemd/user`, where a user manager looks for units the user wrote."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config_home) / "systemd" / "user"


def cmd_install_service(args: argparse.Namespace) -> int:
    name = USER_UNIT if args.scope == "user" else SYSTEM_UNIT
    text = render_unit(name)
    if args.print_only:
        sys.stdout.write(text)
        return 0
    target = (user_unit_dir() if args.scope == "user" else SYSTEM_UNIT_DIR) / name
    if args.scope == "system" and os.geteuid() != 0:
        print(f"swanlabd: writing {target} needs root; run with sudo, or use --print", file=sys.stderr)
        return 1
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        previous = target.read_text(encoding="utf-8") if target.exists() else None
        if previous != text:
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
    except OSError as exc:
        print(f"swanlabd: cannot write {target}: {exc.strerror}", file=sys.stderr)
        return 1
    verb = "wrote" if previous is None else ("unchanged" if previous == text else "updated")
    print(f"{verb} {target}")
    print("enable and start it with:")
    if args.scope == "user":
        print("  systemctl --user daemon-reload")
        print("  systemctl --user enable --now swanlabd")
        print(f"  loginctl enable-linger {getpass.getuser()}    # optional: keep it running while you are logged out")
    else:
        account = os.environ.get("SUDO_USER") or "ACCOUNT"
        print("  systemctl daemon-reload")
        print(f"  systemctl enable --now swanlabd@{account}")
        print(f"and give {account}'s training jobs:")
        print(f"  SWANLABD_SOCKET=/run/swanlabd/{account}/swanlabd.sock SWANLABD_DATA_ROOT=/var/lib/swanlabd/{account}")
    return 0
