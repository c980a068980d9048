"""credentials: hosts, key and netrc resolved and written as the official SDK (0.10.3) does."""

from __future__ import annotations

import netrc
import os
import stat

import pytest

from swanlabd.local import credentials as c


@pytest.fixture(autouse=True)
def no_process_login():
    c.forget_login()
    yield
    c.forget_login()


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("api.example.com", "https://api.example.com"),
        ("api.example.com/some/path", "https://api.example.com"),
        ("http://127.0.0.1:8000/api", "http://127.0.0.1:8000"),
        ("https://h.example:8443/?q=1", "https://h.example:8443"),
        ("  http://h  ", "http://h"),
    ],
)
def test_host_normalisation(raw, want):
    assert c.normalize_host(raw) == want


def test_web_host_follows_a_self_hosted_api_host_and_defaults_for_the_public_cloud():
    assert c.resolve_hosts("http://10.0.0.5:8000") == ("http://10.0.0.5:8000", "http://10.0.0.5:8000")
    assert c.resolve_hosts(None) == (c.DEFAULT_API_HOST, c.DEFAULT_WEB_HOST)
    assert c.resolve_hosts("http://api.swanlab.cn") == (c.DEFAULT_API_HOST, c.DEFAULT_WEB_HOST)


def test_save_login_writes_a_0600_netrc_the_sdk_reads(tmp_path):
    path = c.save_login("k" * 24, "http://127.0.0.1:9000/", path=tmp_path / ".swanlab" / ".netrc")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    login, _, password = netrc.netrc(str(path)).authenticators("http://127.0.0.1:9000")
    assert (login, password) == ("http://127.0.0.1:9000", "k" * 24)
    c.save_login("other-key", "http://other:1", path=path)  # one entry: a new login replaces the old
    assert list(netrc.netrc(str(path)).hosts) == ["http://other:1"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_resolve_order_env_then_netrc_and_a_foreign_host_gets_no_key(tmp_path):
    root = tmp_path / "root"
    c.save_login("netrc-key", "http://mine:1", path=root / ".netrc")
    env = {"SWANLAB_ROOT": str(root)}
    assert c.resolve(environ=env, cwd=tmp_path) == c.Credentials("http://mine:1", "http://mine:1", "netrc-key")
    assert c.resolve(environ={**env, "SWANLAB_API_KEY": '"env-key"'}, cwd=tmp_path).api_key == "env-key"
    other = c.resolve(environ={**env, "SWANLAB_API_HOST": "http://other:2"}, cwd=tmp_path)
    assert other.api_host == "http://other:2" and other.api_key is None
    same = c.resolve(environ={**env, "SWANLAB_API_HOST": "mine:1/api"}, cwd=tmp_path)
    assert same.api_key is None  # https://mine:1 is not http://mine:1
    assert c.resolve(api_key="arg", environ={**env, "SWANLAB_API_KEY": "env"}, cwd=tmp_path).api_key == "arg"


def test_project_level_netrc_wins(tmp_path):
    c.save_login("global", "http://g:1", path=tmp_path / "root" / ".netrc")
    c.save_login("local", "http://l:1", path=c.netrc_path(local=True, cwd=tmp_path))
    got = c.resolve(environ={"SWANLAB_ROOT": str(tmp_path / "root")}, cwd=tmp_path)
    assert (got.api_host, got.api_key) == ("http://l:1", "local")


def test_sdk_written_netrc_with_api_suffix_is_read(tmp_path):
    path = tmp_path / ".netrc"
    path.write_text("machine https://api.swanlab.cn/api\n\tlogin https://swanlab.cn\n\tpassword abc\n")
    assert c.read_netrc(path) == c.Credentials(c.DEFAULT_API_HOST, c.DEFAULT_WEB_HOST, "abc")


def test_process_login_overrides_the_environment_and_the_key_never_shows():
    creds = c.Credentials("http://h:1", "http://h:1", "very-secret")
    c.set_login(creds)
    assert c.resolve(environ={"SWANLAB_API_KEY": "env"}) is creds
    assert "very-secret" not in repr(creds) and "very-secret" not in str(creds)


def test_whitespace_in_a_key_is_refused(tmp_path):
    with pytest.raises(c.CredentialsError):
        c.save_login("a b", "http://h:1", path=tmp_path / ".netrc")
