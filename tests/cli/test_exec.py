"""`swanlabctl exec -- COMMAND`: an unchanged `import swanlab` script logs through swanlabd, and the
command's exit status, signals and standard streams are its own.

Real processes throughout; the runs go to a real daemon (tests/helpers/daemon.py). The official
SDK and the frameworks live in cached venvs (alias_venvs.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alias_venvs import FRAMEWORKS, OFFICIAL_SDK, OFFICIAL_SDK_PIP_ARGS, cached_python, source_pythonpath

import _swanlab_alias
from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from swanlabd_pb import records_pb2 as pb

SWANLABCTL = [sys.executable, "-m", "swanlabd.cli.swanlabctl"]

TRAIN = """
import swanlab

run = swanlab.init(project="exec", experiment_name="unchanged", config={"lr": 0.1}, mode="offline")
for step in range(5):
    swanlab.log({"loss": step / 10})
swanlab.finish()
print(swanlab.__name__, swanlab.__file__)
"""


def swanlabctl_exec(*command: str, **kw) -> subprocess.CompletedProcess[str]:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run([*SWANLABCTL, "exec", "--", *command], timeout=120, **kw)


def assert_the_run_landed(daemon: DaemonProcess) -> None:
    [run_dir] = daemon.runs()
    view = read_view(run_dir)
    assert view.rows[1] == [(step, {"loss": step / 10}) for step in range(5)]
    assert view.config == {"lr": 0.1}
    assert view.finish is not None and view.finish.state == pb.FINISHED


def test_an_unchanged_swanlab_script_logs_through_swanlabd(daemon: DaemonProcess, tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    result = swanlabctl_exec(sys.executable, str(script), env=daemon.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "swanlab_client"
    assert_the_run_landed(daemon)


def test_with_the_official_sdk_installed_too_swanlab_is_still_swanlab_client(daemon: DaemonProcess, tmp_path: Path):
    python = str(cached_python("swanlab-0.10.3-nodeps", OFFICIAL_SDK, OFFICIAL_SDK_PIP_ARGS))
    env = {**daemon.env, "PYTHONPATH": source_pythonpath(with_dependencies=True)}
    probe = "import importlib.util, importlib.metadata as m; print(importlib.util.find_spec('swanlab').origin)"
    without = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert "site-packages/swanlab/__init__.py" in without.stdout, "the official SDK is what Python finds without exec"

    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    result = swanlabctl_exec(python, str(script), env=env)
    assert result.returncode == 0, result.stderr
    name, path = result.stdout.split()
    assert name == "swanlab_client" and path.endswith("client/swanlab_client/__init__.py")
    assert_the_run_landed(daemon)
    version = swanlabctl_exec(python, "-c", "import importlib.metadata as m; print(m.version('swanlab'))", env=env)
    assert version.stdout.strip() == _swanlab_alias.SWANLAB_API_VERSION


def test_python_dash_m_and_subprocesses_of_the_command_see_the_alias(tmp_path: Path):
    package = tmp_path / "trainpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        textwrap.dedent("""
            import subprocess, sys
            import swanlab
            print(swanlab.__name__)
            code = "import swanlab; print(swanlab.__name__)"
            print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip())
        """)
    )
    # A shell in between, as a launcher script would be.
    result = swanlabctl_exec("sh", "-c", f"cd {tmp_path} && exec {sys.executable} -m trainpkg")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["swanlab_client", "swanlab_client"]


@pytest.mark.parametrize("code", [0, 1, 3])
def test_the_exit_code_is_the_commands(code: int):
    result = swanlabctl_exec(sys.executable, "-c", f"import sys, swanlab; sys.exit({code})")
    assert result.returncode == code, result.stderr


WAIT_FOR_SIGNAL = """
import os, sys, swanlab
print(os.getpid(), swanlab.__name__, flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_reaches_the_command_and_its_death_is_the_exit_status(sig: signal.Signals):
    proc = subprocess.Popen(
        [*SWANLABCTL, "exec", "--", sys.executable, "-c", WAIT_FOR_SIGNAL],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid, name = proc.stdout.readline().split()
        # exec replaced swanlabctl: no process in between to forward (or lose) the signal
        assert int(pid) == proc.pid and name == "swanlab_client"
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == -sig  # Python dies of an uncaught SIGINT as of SIGTERM
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close(), proc.stdout.close(), proc.stderr.close()


def test_ctrl_c_gives_the_shell_exit_status_130(tmp_path: Path):
    pid_file = tmp_path / "pid"
    script = f"import os, sys, swanlab; open({str(pid_file)!r}, 'w').write(str(os.getpid())); sys.stdin.readline()"
    shell = subprocess.Popen(
        ["sh", "-c", '"$@"; echo "exit status $?"', "sh", *SWANLABCTL, "exec", "--", sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        from helpers.waiting import wait_for

        pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), 60, "the script wrote its pid"))
        os.kill(pid, signal.SIGINT)
        out, _ = shell.communicate(timeout=60)
        assert out.strip() == "exit status 130"
    finally:
        shell.kill()
        shell.wait()


def test_stdin_stdout_and_stderr_pass_through_byte_for_byte():
    code = (
        "import sys, swanlab\n"
        "data = sys.stdin.buffer.read()\n"
        "sys.stdout.buffer.write(data[::-1])\n"
        "sys.stderr.write('e')\n"
    )
    data = bytes(range(256)) * 64
    result = subprocess.run(
        [*SWANLABCTL, "exec", "--", sys.executable, "-c", code], input=data, capture_output=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout == data[::-1] and result.stderr == b"e"


def test_a_command_that_is_missing_or_cannot_run_exits_as_the_shell_does(tmp_path: Path):
    missing = swanlabctl_exec("no-such-command-swanlabd")
    assert missing.returncode == 127
    assert missing.stderr == "swanlabctl exec: no-such-command-swanlabd: command not found\n"
    not_executable = tmp_path / "data.txt"
    not_executable.write_text("")
    refused = swanlabctl_exec(str(not_executable))
    assert refused.returncode == 126
    assert refused.stderr == f"swanlabctl exec: {not_executable}: cannot run: Permission denied\n"
    empty = subprocess.run([*SWANLABCTL, "exec"], capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "no COMMAND given" in empty.stderr


def test_the_pythonpath_form_for_launchers_that_cannot_wrap_the_command(daemon: DaemonProcess, tmp_path: Path):
    printed = subprocess.run([*SWANLABCTL, "exec", "--pythonpath"], capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == _swanlab_alias.SITE_DIR
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    env = {**daemon.env, "PYTHONPATH": printed.stdout.strip()}
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_the_run_landed(daemon)


FRAMEWORK_CHECKS = """
import importlib.util, sys
from transformers.integrations.integration_utils import is_swanlab_available as transformers_check
from accelerate.utils.imports import is_swanlab_available as accelerate_check
print(transformers_check(), bool(accelerate_check()), "swanlab" in sys.modules, "swanlab_client" in sys.modules)
"""


def test_transformers_and_accelerate_find_swanlab_under_exec_without_importing_it():
    python = str(cached_python("frameworks", FRAMEWORKS))
    env = {**os.environ, "PYTHONPATH": source_pythonpath(with_dependencies=False)}
    without = subprocess.run([python, "-c", FRAMEWORK_CHECKS], env=env, capture_output=True, text=True, timeout=300)
    assert without.stdout.strip() == "False False False False", without.stderr
    result = swanlabctl_exec(python, "-c", FRAMEWORK_CHECKS, env=env)
    assert result.stdout.strip() == "True True False False", result.stderr
