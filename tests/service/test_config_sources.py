"""Configuration: sources and their precedence, and one clear error per invalid value."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from swanlabd.service import config
from swanlabd.service.config import ConfigError, load_config


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SWANLABD_* variables, and XDG_CONFIG_HOME in a temp dir (no user file unless a test writes one)."""
    for name in list(os.environ):
        if name.startswith("SWANLABD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    # The real /etc/swanlabd/config.toml must not leak into tests.
    monkeypatch.setattr(config, "SYSTEM_CONFIG_PATH", tmp_path / "etc" / "config.toml")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_set(clean_env: Path) -> None:
    loaded = load_config()
    assert loaded.config.fsync == "group"
    assert loaded.config.fsync_interval_ms == 1000
    assert loaded.sources == {}
    assert loaded.files == ()


def test_precedence_flag_over_env_over_user_file_over_system_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        config.SYSTEM_CONFIG_PATH,
        'fsync_interval_ms = 11\nlog_level = "error"\nmonitor_interval_s = 3\nfsync = "always"\n',
    )
    user = write(config.user_config_path(), "fsync_interval_ms = 22\nlog_level = 'warning'\nmonitor_interval_s = 4\n")
    monkeypatch.setenv("SWANLABD_FSYNC_INTERVAL_MS", "33")
    monkeypatch.setenv("SWANLABD_LOG_LEVEL", "debug")
    loaded = load_config(flags={"fsync_interval_ms": "44"})
    c = loaded.config
    assert (c.fsync_interval_ms, c.log_level, c.monitor_interval_s, c.fsync) == (44, "debug", 4.0, "always")
    assert loaded.sources["fsync_interval_ms"] == "flag --fsync-interval-ms"
    assert loaded.sources["log_level"] == "environment variable SWANLABD_LOG_LEVEL"
    assert loaded.sources["monitor_interval_s"] == f"file {user}"
    assert loaded.sources["fsync"] == f"file {config.SYSTEM_CONFIG_PATH}"
    assert loaded.files == (config.SYSTEM_CONFIG_PATH, user)


def test_explicit_config_file_replaces_the_default_files(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config.user_config_path(), "fsync_interval_ms = 22\n")
    chosen = write(clean_env / "chosen.toml", "shutdown_timeout_s = 3.5\n")
    loaded = load_config(config_file=chosen)
    assert loaded.config.fsync_interval_ms == 1000
    assert loaded.config.shutdown_timeout_s == 3.5
    monkeypatch.setenv("SWANLABD_CONFIG", str(chosen))
    assert load_config().files == (chosen,)


def test_empty_environment_value_counts_as_unset(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config.user_config_path(), "fsync_interval_ms = 22\n")
    monkeypatch.setenv("SWANLABD_FSYNC_INTERVAL_MS", "")
    assert load_config().config.fsync_interval_ms == 22


def test_old_key_names_still_work_in_files_environment_and_flags(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config.user_config_path(), 'home = "/from/file"\nforward = false\n')
    loaded = load_config()
    assert (loaded.config.data_root, loaded.config.upload) == (Path("/from/file"), False)
    assert loaded.sources["data_root"] == f"file {config.user_config_path()}"
    monkeypatch.setenv("SWANLABD_HOME", "/from/env")
    assert load_config().config.data_root == Path("/from/env")
    monkeypatch.setenv("SWANLABD_DATA_ROOT", "/new/env")  # the current name wins
    assert load_config().config.data_root == Path("/new/env")
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    args = parser.parse_args(["--home", "/from/flag", "--forward", "true"])
    loaded = config.load_from_args(args)
    assert (loaded.config.data_root, loaded.config.upload) == (Path("/from/flag"), True)


def test_relative_paths_become_absolute(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(clean_env)
    c = load_config(flags={"data_root": "data", "log_file": "~/d.log"}).config
    assert c.data_root == clean_env / "data"
    assert c.log_file is not None and c.log_file.is_absolute() and "~" not in str(c.log_file)


# (key, bad value, words the message must contain after "expected")
INVALID = [
    ("fsync", "sometimes", "one of group, always"),
    ("fsync_interval_ms", "0", "an integer > 0 and <= 60000"),
    ("fsync_interval_ms", "100000", "an integer > 0 and <= 60000"),
    ("fsync_interval_ms", "fast", "an integer > 0 and <= 60000"),
    ("upload", "maybe", "true or false"),
    ("monitor_interval_s", "-1", "a number >= 0"),
    ("monitor_interval_s", "often", "a number >= 0"),
    ("log_level", "loud", "one of debug, info, warning, error"),
    ("log_format", "xml", "one of text, json"),
    ("shutdown_timeout_s", "0", "a number > 0"),
    ("socket", "/tmp/" + "s" * 120 + "/swanlabd.sock", "a path of at most 107 bytes"),
]


@pytest.mark.parametrize(("key", "value", "expected"), INVALID, ids=[f"{k}={v[:12]}" for k, v, _ in INVALID])
@pytest.mark.parametrize("source", ["flag", "env", "file"])
def test_each_invalid_value_names_key_source_and_expectation(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str, expected: str, source: str
) -> None:
    flags = {}
    if source == "flag":
        flags[key] = value
        where = f"flag --{key.replace('_', '-')}"
    elif source == "env":
        monkeypatch.setenv(f"SWANLABD_{key.upper()}", value)
        where = f"environment variable SWANLABD_{key.upper()}"
    else:
        path = write(clean_env / "c.toml", f"{key} = {json.dumps(value)}\n")
        monkeypatch.setenv("SWANLABD_CONFIG", str(path))
        where = f"file {path}"
    with pytest.raises(ConfigError) as info:
        load_config(flags=flags)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid configuration: {key} = ")
    assert f"({where}): expected {expected}" in message
    assert info.value.key == key


def test_file_values_of_the_wrong_toml_type_are_reported(clean_env: Path) -> None:
    path = write(clean_env / "c.toml", "fsync_interval_ms = [1, 2]\nupload = 3.5\n")
    with pytest.raises(ConfigError) as info:
        load_config(config_file=path)
    assert "fsync_interval_ms = [1, 2]" in str(info.value)
    assert "upload = 3.5" in str(info.value)


def test_unknown_key_in_file(clean_env: Path) -> None:
    path = write(clean_env / "c.toml", "fsync_intervall_ms = 5\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'fsync_intervall_ms' in file .*c\.toml \(known keys: socket, data_root"
    ):
        load_config(config_file=path)


def test_file_that_is_not_toml(clean_env: Path) -> None:
    path = write(clean_env / "c.toml", "fsync = group\n")
    with pytest.raises(ConfigError, match=r"c\.toml: not valid TOML"):
        load_config(config_file=path)


def test_missing_explicit_file(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(config_file=clean_env / "absent.toml")


def test_every_key_has_a_flag_and_flags_are_validated_like_env(clean_env: Path) -> None:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    args = parser.parse_args(["--fsync", "always", "--fsync-interval-ms", "5"])
    c = config.load_from_args(args).config
    assert (c.fsync, c.fsync_interval_ms) == ("always", 5)
    help_text = parser.format_help()
    for key in config.DaemonConfig.model_fields:
        assert config.flag(key) in help_text


def test_mask_hides_secret_keys_and_secret_str() -> None:
    from pydantic import SecretStr

    assert config.mask("api_key", "abc") == "********"
    assert config.mask("cloud_token", "abc") == "********"
    assert config.mask("x", SecretStr("abc")) == "********"
    assert config.mask("socket", "/run/x") == "/run/x"


def swanlabd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swanlabd", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_swanlabd_config_prints_effective_values_with_sources(clean_env: Path) -> None:
    env = {**os.environ, "SWANLABD_FSYNC": "always"}
    user = write(clean_env / "xdg" / "swanlabd" / "config.toml", "monitor_interval_s = 2.5\n")
    out = swanlabd("config", "--log-level", "debug", env=env)
    assert out.returncode == 0, out.stderr
    assert 'fsync = "always"  # environment variable SWANLABD_FSYNC' in out.stdout
    assert 'log_level = "debug"  # flag --log-level' in out.stdout
    assert f"monitor_interval_s = 2.5  # file {user}" in out.stdout
    assert "fsync_interval_ms = 1000  # default" in out.stdout
    as_json = json.loads(swanlabd("config", "--json", env=env).stdout)
    assert as_json["fsync"] == "always" and as_json["log_file"] is None


def test_swanlabd_config_output_is_a_valid_config_file(clean_env: Path) -> None:
    out = swanlabd("config", "--fsync-interval-ms", "7")
    saved = write(clean_env / "saved.toml", out.stdout)
    assert load_config(config_file=saved).config.fsync_interval_ms == 7


def test_swanlabd_config_exits_2_with_one_line(clean_env: Path) -> None:
    out = swanlabd("config", "--fsync", "never")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith(
        "swanlabd: invalid configuration: fsync = 'never' (flag --fsync): expected one of group, always"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--fsync-interval-ms", "0"], "fsync_interval_ms = '0' (flag --fsync-interval-ms): expected an integer > 0"),
        (["--log-level", "chatty"], "log_level = 'chatty' (flag --log-level): expected one of debug"),
    ],
)
def test_daemon_refuses_to_start_on_invalid_config(clean_env: Path, args: list[str], needle: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    try:
        out = swanlabd("run", "--socket", str(root / "s.sock"), "--data-root", str(root / "home"), *args)
        assert out.returncode == 2, out.stderr
        assert needle in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert not (root / "s.sock").exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_every_key_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    for key in config.DaemonConfig.model_fields:
        assert f"| `{key}` |" in doc, f"docs/configuration.md has no row for {key}"


@pytest.mark.parametrize("source", ["flag", "file"])
def test_empty_log_file_means_stderr_not_the_current_directory(clean_env: Path, source: str) -> None:
    if source == "flag":
        loaded = load_config(flags={"log_file": ""})
    else:
        loaded = load_config(config_file=write(clean_env / "c.toml", 'log_file = ""\n'))
    assert loaded.config.log_file is None
