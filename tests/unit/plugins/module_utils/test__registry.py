"""_registry: docker config reading, the credential-helper protocol (a real helper script), challenges."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _registry
from tests.support.docker import subprocess_run_command

HELPER = """#!%s
import json, sys
store = %r
server = sys.stdin.read().strip()
if sys.argv[1] != "get":
    sys.exit(2)
if server not in store:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps({"ServerURL": server, "Username": store[server][0], "Secret": store[server][1]}))
"""


def install_helper(directory, name, store):
    path = directory / ("docker-credential-" + name)
    path.write_text(HELPER % (sys.executable, store))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def helper_dir(tmp_path, monkeypatch):
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory) + os.pathsep + os.environ["PATH"])
    return directory


def b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("registry, expected", [
    ("ghcr.io", (None, "ghcr.io")),
    ("https://ghcr.io/v2/", ("https", "ghcr.io")),
    ("http://127.0.0.1:5000", ("http", "127.0.0.1:5000")),
    ("GHCR.IO", (None, "ghcr.io")),
    ("docker.io", (None, "index.docker.io")),
    ("https://index.docker.io/v1/", ("https", "index.docker.io")),
])
def test_split_registry(registry, expected):
    assert _registry.split_registry(registry) == expected


@pytest.mark.parametrize("header, expected", [
    ('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
     ("bearer", {"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:user/image:pull"})),
    ('Basic realm="sertantai-test-registry"', ("basic", {"realm": "sertantai-test-registry"})),
    ("Bearer realm=https://auth.example/token, service=reg", ("bearer", {"realm": "https://auth.example/token", "service": "reg"})),
    (None, ("", {})),
])
def test_parse_challenge(header, expected):
    assert _registry.parse_challenge(header) == expected


@pytest.mark.parametrize("config, registry, source, username", [
    ({"auths": {"ghcr.io": {"auth": b64("alice:pat")}}}, "ghcr.io", "auths", "alice"),
    ({"auths": {"https://ghcr.io": {"auth": b64("alice:pa:t")}}}, "ghcr.io", "auths", "alice"),
    ({"auths": {"ghcr.io": {"username": "bob", "password": "x"}}}, "https://ghcr.io", "auths", "bob"),
    ({"auths": {"ghcr.io": {"identitytoken": "tok"}}}, "ghcr.io", "auths", "<token>"),
    ({"auths": {"other.io": {"auth": b64("alice:pat")}}}, "ghcr.io", "none", None),
    ({"auths": {"ghcr.io": {}}}, "ghcr.io", "none", None),
    ({}, "ghcr.io", "none", None),
])
def test_find_credentials_in_auths(config, registry, source, username):
    credentials = _registry.find_credentials(config, registry, subprocess_run_command)
    assert (credentials.source, credentials.username) == (source, username)
    assert "pat" not in repr(credentials)


def test_bad_auth_entry():
    with pytest.raises(_registry.RegistryError, match="does not decode to user:password"):
        _registry.find_credentials({"auths": {"ghcr.io": {"auth": b64("nocolon")}}}, "ghcr.io", subprocess_run_command)


def test_cred_helpers_and_store_through_a_real_helper(helper_dir):
    install_helper(helper_dir, "sertantaitest", {"ghcr.io": ["carol", "s3cret"], "https://reg.example": ["dave", "pw"]})
    config = {"auths": {"ghcr.io": {}}, "credHelpers": {"ghcr.io": "sertantaitest"}}
    credentials = _registry.find_credentials(config, "ghcr.io", subprocess_run_command)
    assert (credentials.source, credentials.username, credentials.helper, credentials.secret()) == ("credHelpers", "carol", "sertantaitest", "s3cret")
    # credsStore: the helper is asked for the host, then for https://host
    credentials = _registry.find_credentials({"credsStore": "sertantaitest"}, "reg.example", subprocess_run_command)
    assert (credentials.source, credentials.username) == ("credsStore", "dave")
    credentials = _registry.find_credentials({"credsStore": "sertantaitest"}, "quay.io", subprocess_run_command)
    assert (credentials.source, credentials.helper, credentials.usable) == ("none", "sertantaitest", False)
    # a credHelpers entry for another registry does not apply
    credentials = _registry.find_credentials({"credHelpers": {"quay.io": "sertantaitest"}, "auths": {}}, "ghcr.io", subprocess_run_command)
    assert credentials.source == "none"


def test_missing_helper_says_so(helper_dir):
    with pytest.raises(_registry.RegistryError, match="docker-credential-nosuchhelper is not installed"):
        _registry.find_credentials({"credsStore": "nosuchhelper"}, "ghcr.io", subprocess_run_command)


def test_config_path_and_loading(tmp_path):
    assert _registry.default_config_path({"DOCKER_CONFIG": "/x"}) == "/x/config.json"
    assert _registry.default_config_path({}).endswith("/.docker/config.json")
    assert _registry.load_config(str(tmp_path / "none.json")) == {}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(_registry.RegistryError, match="not valid JSON"):
        _registry.load_config(str(tmp_path / "bad.json"))
    (tmp_path / "ok.json").write_text(json.dumps({"auths": {}}))
    assert _registry.load_config(str(tmp_path / "ok.json")) == {"auths": {}}


def test_login_command_and_hint():
    assert _registry.login_command("https://ghcr.io", "alice") == 'echo "$PAT" | docker login ghcr.io -u alice --password-stdin'
    assert "read:packages" in _registry.denied_hint("ghcr.io") and "write:packages" in _registry.denied_hint("ghcr.io")
