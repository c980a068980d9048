"""A second local user for cross-user tests, and running code as that user.

CI runs as root, so `other_user()` creates the user `swanlabd-other` (no home, no login shell)
if it does not exist yet; as any other user the tests that need it are skipped.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from collections.abc import Callable, Sequence

OTHER_USER = "swanlabd-other"
USERADD_NAME_IN_USE = 9  # useradd(8) exit status


def other_user(name: str = OTHER_USER) -> pwd.struct_passwd:
    """The passwd entry of `name`, created as a system user first if needed (root only)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    made = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # 9: the name is taken, by the other pytest worker that made the user meanwhile.
    if made.returncode not in (0, USERADD_NAME_IN_USE):
        raise RuntimeError(f"useradd {name} failed ({made.returncode}): {made.stderr.strip()}")
    return pwd.getpwnam(name)


def become(user: pwd.struct_passwd) -> Callable[[], None]:
    """A `preexec_fn` that drops a child to `user` for good (its groups, gid, then uid)."""

    def drop() -> None:
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop


def run_as(
    user: pwd.struct_passwd, argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `argv` as `user` (cwd /, HOME=/nonexistent unless `env` says otherwise); output captured."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    return subprocess.run(
        list(argv),
        env={**base, **(env or {})},
        cwd="/",
        preexec_fn=become(user),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def python_as(
    user: pwd.struct_passwd, code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -c code args...` as `user`. Only the standard library: our virtualenv may be
    out of that user's reach (here it lives under /root), so this takes the first interpreter
    the user can run."""
    return run_as(user, [python_for(user), "-c", code, *args], env=env, timeout=timeout)


def python_for(user: pwd.struct_passwd) -> str:
    """A Python interpreter `user` can execute: the system's, else ours; raise if neither."""
    for candidate in ("/usr/bin/python3", os.path.realpath(sys.executable)):
        try:
            if run_as(user, [candidate, "-c", "pass"], timeout=30).returncode == 0:
                return candidate
        except PermissionError:
            continue
    raise RuntimeError(f"no Python interpreter that user {user.pw_name} may run")
