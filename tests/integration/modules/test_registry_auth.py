"""registry_auth driven through ansible against a REAL registry (tests/images/registry: Debian's
docker-registry 2.8 with htpasswd auth) published on 127.0.0.1, plain HTTP and TLS."""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import stat
import sys

import pytest

from tests.support.ansible import run_module
from tests.support.docker import remove_containers, sh
from tests.support.registry import start_registry

HTTP_NAME = "sertantai-test-preflight-registry"
TLS_NAME = "sertantai-test-preflight-registry-tls"
USER = "shotleybuilder"

HELPER = """#!%s
import json, sys
store = %r
server = sys.stdin.read().strip()
if sys.argv[1:] != ["get"]:
    sys.exit(2)
if server not in store:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps({"ServerURL": server, "Username": store[server][0], "Secret": store[server][1]}))
"""


@pytest.fixture(scope="module")
def registry(docker_engine):
    password = secrets.token_hex(16)
    port = start_registry(HTTP_NAME, USER, password)
    yield "127.0.0.1:%d" % port, password
    remove_containers(HTTP_NAME)


def write_config(directory, config):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return str(directory / "config.json")


def auth(user, password):
    return {"auth": base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


def test_auths_verified_against_the_registry(registry, tmp_path):
    host, password = registry
    config = write_config(tmp_path, {"auths": {host: auth(USER, password)}})
    result = run_module("registry_auth", {"registry": "http://" + host, "config_path": config, "verify": True})
    assert not result.get("failed"), result["msg"]
    assert (result["source"], result["username"], result["logged_in"], result["verified"], result["auth_scheme"]) == (
        "auths", USER, True, True, "basic")
    assert password not in result["_stdout"]


def test_wrong_password_is_denied_with_the_expired_token_hint(registry, tmp_path):
    host, password = registry
    wrong = secrets.token_hex(16)
    config = write_config(tmp_path, {"auths": {"http://" + host: auth(USER, wrong)}})
    result = run_module("registry_auth", {"registry": "http://" + host, "config_path": config, "verify": True}, check=True)
    assert result.get("failed") is True and result["reason"] == "denied"
    assert result["logged_in"] is False and result["source"] == "auths"
    assert "may have expired" in result["msg"]
    assert 'echo "$PAT" | docker login %s -u %s --password-stdin' % (host, USER) in result["msg"]
    assert wrong not in result["_stdout"] and password not in result["_stdout"]


def test_cred_helper_on_path_is_asked(registry, tmp_path, monkeypatch):
    host, password = registry
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-sertantaitest"
    helper.write_text(HELPER % (sys.executable, {host: [USER, password]}))
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ["PATH"])
    config = write_config(tmp_path / "cfg", {"auths": {host: {}}, "credHelpers": {host: "sertantaitest"}})
    result = run_module("registry_auth", {"registry": "http://" + host, "config_path": config, "verify": True})
    assert not result.get("failed"), result["msg"]
    assert (result["source"], result["helper"], result["username"], result["verified"]) == ("credHelpers", "sertantaitest", USER, True)
    assert password not in result["_stdout"]

    # credsStore with a helper that has nothing for ghcr.io: fail fast with the login command
    config = write_config(tmp_path / "store", {"auths": {}, "credsStore": "sertantaitest"})
    result = run_module("registry_auth", {"registry": "ghcr.io", "config_path": config})
    assert result.get("failed") is True and result["reason"] == "no_credentials"
    assert (result["source"], result["helper"]) == ("none", "sertantaitest")
    assert 'echo "$PAT" | docker login ghcr.io -u <user> --password-stdin' in result["msg"]


def test_no_config_at_all_uses_docker_config_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    result = run_module("registry_auth", {"registry": "ghcr.io"})
    assert result.get("failed") is True and result["source"] == "none" and result["logged_in"] is False
    assert result["config_path"] == str(tmp_path / "empty" / "config.json")
    assert "no credentials for ghcr.io" in result["msg"] and "docker login ghcr.io" in result["msg"]


def test_tls_registry_with_its_own_ca(registry, tmp_path):
    _host, password = registry
    certs = tmp_path / "certs"
    certs.mkdir()
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
       "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(certs / "key.pem"), "-out", str(certs / "cert.pem"))
    os.chmod(str(certs), 0o755)
    os.chmod(str(certs / "key.pem"), 0o644)
    try:
        context = ssl.create_default_context(cafile=str(certs / "cert.pem"))
        port = start_registry(TLS_NAME, USER, password, "-v", "%s:/certs:ro" % certs,
                              "-e", "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/cert.pem", "-e", "REGISTRY_HTTP_TLS_KEY=/certs/key.pem",
                              scheme="https", context=context)
        host = "127.0.0.1:%d" % port
        config = write_config(tmp_path / "cfg", {"auths": {host: auth(USER, password)}})
        args = {"registry": host, "config_path": config, "verify": True}
        untrusted = run_module("registry_auth", args)
        assert untrusted.get("failed") is True and untrusted["reason"] == "tls" and "ca_path" in untrusted["msg"]
        trusted = run_module("registry_auth", dict(args, ca_path=str(certs / "cert.pem")))
        assert not trusted.get("failed"), trusted["msg"]
        assert trusted["verified"] is True and trusted["auth_scheme"] == "basic"
    finally:
        remove_containers(TLS_NAME)
