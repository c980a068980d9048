"""A second local user on the same host: it cannot reach our daemon, read what we write, or
make us write where it can.

The other user is real (`swanlabd-other`, created by tests/helpers/users.py; CI runs as root)
and every probe runs as that user's own process, so the kernel's checks decide, not a mode we
read. Our temp root is opened to others (0755, or 1777 like /tmp where the other user must be
able to create things first): only the protection swanlabd itself sets up stands between.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, socket_accepts
from helpers.users import other_user, python_as
from helpers.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating and becoming another user needs root")

SCRIPT = """
import swanlab_client as s
run = s.init(project="p", experiment_name="private", mode="offline", config={"secret_lr": 0.123})
s.log({"loss": 1.0})
print("a line only we may read")
s.finish()
print("RUN_DIR", run.run_dir, flush=True)
"""

# As the other user: try to open each path given (list a directory, read a file, connect to a
# socket); print {path: 0 if it worked, else the errno}.
PROBE = """
import json, os, socket, stat, sys
out = {}
for path in sys.argv[1:]:
    try:
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            os.listdir(path)
        elif stat.S_ISSOCK(st.st_mode):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            try:
                s.connect(path)
            finally:
                s.close()
        else:
            open(path, "rb").read(1)
        out[path] = 0
    except OSError as exc:
        out[path] = exc.errno
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def other() -> pwd.struct_passwd:
    return other_user()


def probe(user: pwd.struct_passwd, *paths: Path) -> dict[str, int]:
    """What `user` got trying each path: 0 (it worked) or the errno."""
    result = python_as(user, PROBE, *map(str, paths))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def opened(results: dict[str, int]) -> list[str]:
    """The paths the other user could open (anything but EACCES counts as reached)."""
    return [path for path, code in results.items() if code != errno.EACCES]


@pytest.fixture
def shared_root() -> Iterator[DaemonProcess]:
    """A daemon's paths under a temp root that others may traverse (0755); not started."""
    d = DaemonProcess()
    os.chmod(d.root, 0o755)
    try:
        yield d
    finally:
        d.close()


def test_another_user_cannot_connect_to_our_daemon(shared_root: DaemonProcess, other: pwd.struct_passwd) -> None:
    shared_root.start()
    assert probe(other, shared_root.socket) == {str(shared_root.socket): errno.EACCES}
    assert socket_accepts(shared_root.socket)  # and we still can


def test_another_user_reads_nothing_an_auto_started_daemon_and_its_run_wrote(
    shared_root: DaemonProcess, other: pwd.struct_passwd
) -> None:
    # umask 0, the worst a user can have: only the modes swanlabd sets explicitly protect.
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=shared_root.env, umask=0, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    run_dir = Path(next(line.split(" ", 1)[1] for line in result.stdout.splitlines() if line.startswith("RUN_DIR ")))
    home = shared_root.home
    wait_for(lambda: (home / "swanlabd.pid").exists() and (home / "swanlabd.log").exists(), 30, "pid and log files")
    paths = [
        home,
        home / "runs",
        run_dir,
        run_dir / "backup.swanlab",
        *sorted((run_dir / "files").iterdir()),
        home / "swanlabd.log",
        home / "swanlabd.pid",
        home / "state",
        *sorted((home / "state").iterdir()),
        shared_root.socket.parent,
        shared_root.socket,
    ]
    assert opened(probe(other, *paths)) == []


def test_another_user_reads_nothing_of_a_daemon_started_by_hand_with_its_log_elsewhere(
    shared_root: DaemonProcess, other: pwd.struct_passwd
) -> None:
    d = shared_root
    log = d.root / "logs" / "swanlabd.log"
    d.env["SWANLABD_LOG_FILE"] = str(log)
    d.proc = subprocess.Popen(d.command(), env=d.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, umask=0)
    d.wait_ready()
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=d.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert opened(probe(other, log, log.parent, d.home, d.socket.parent)) == []


# -- squatting: the other user makes a path of ours first, where it can (a 1777 directory) --------

SQUATS = {
    "data root, a directory of theirs": (
        "import os, sys; os.mkdir(sys.argv[1]); os.chmod(sys.argv[1], 0o777)",
        lambda d: [d.home],
    ),
    "data root, their symlink to their directory": (
        "import os, sys; os.mkdir(sys.argv[2]); os.chmod(sys.argv[2], 0o777); os.symlink(sys.argv[2], sys.argv[1])",
        lambda d: [d.home, d.root / "theirs"],
    ),
    "socket directory of theirs": (
        "import os, sys; os.mkdir(sys.argv[1]); os.chmod(sys.argv[1], 0o777)",
        lambda d: [d.socket.parent],
    ),
}


@pytest.mark.parametrize("case", list(SQUATS))
def test_a_directory_another_user_made_first_is_refused(case: str, other: pwd.struct_passwd) -> None:
    code, paths = SQUATS[case]
    d = DaemonProcess()
    os.chmod(d.root, 0o1777)  # like /tmp: anyone may create an entry, no one may take another's
    try:
        made = python_as(other, code, *map(str, paths(d)))
        assert made.returncode == 0, made.stderr
        proc = d.spawn()
        wait_for(lambda: proc.poll() is not None or socket_accepts(d.socket), 30, "the daemon refused or served")
        assert proc.poll() is not None, f"the daemon runs in {case} (owner uid {other.pw_uid}):\n{d.output()}"
        assert proc.returncode != 0
        squatted = paths(d)[0]
        assert str(squatted) in d.output(), d.output()  # the refusal names the path
        target = squatted.resolve()
        assert sorted(p.name for p in target.iterdir()) == [], "the daemon wrote into a directory it does not own"
    finally:
        d.close()


def test_a_log_file_another_user_made_first_gets_none_of_our_lines(other: pwd.struct_passwd) -> None:
    d = DaemonProcess()
    os.chmod(d.root, 0o1777)
    log = d.root / "swanlabd.log"
    d.env["SWANLABD_LOG_FILE"] = str(log)
    try:
        made = python_as(other, "import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT, 0o666))", str(log))
        assert made.returncode == 0, made.stderr
        proc = d.spawn()
        wait_for(lambda: proc.poll() is not None or socket_accepts(d.socket), 30, "the daemon refused or served")
        read = python_as(other, "import sys; print(open(sys.argv[1]).read(), end='')", str(log))
        assert "swanlabd" not in read.stdout, f"the other user reads our log:\n{read.stdout}"
    finally:
        d.close()
