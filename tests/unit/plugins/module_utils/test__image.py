"""_image: what a healthcheck needs (pure): shell lines, test forms, compose interpolation and services."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _image


@pytest.mark.parametrize("line, expected", [
    ("curl -f http://localhost:4000/health", ["curl"]),
    ("curl -f http://localhost:3000/v1/health || exit 1", ["curl"]),
    ("wget -qO- http://x/health | grep -q active && echo ok", ["wget", "grep"]),
    ("pg_isready -U postgres; psql -c 'select 1'", ["pg_isready", "psql"]),
    ("FOO=1 BAR=2 /usr/local/bin/check --x", ["/usr/local/bin/check"]),
    ("curl -sf http://x >/dev/null 2>&1 || exit 1", ["curl"]),
    ("test -f /tmp/ready && cat /tmp/ready", ["cat"]),
    ("[ -f /tmp/x ] || nc -z localhost 5432", ["nc"]),
    ("exec timeout 5 curl -f http://x", ["timeout", "curl"]),
    ("env LANG=C nice -n 5 wget -q http://x", ["env", "nice", "wget"]),
    ("command -v curl && curl -f http://x", ["curl"]),
    ("$CHECK --now", []),
    ("echo $(curl -s http://x)", ["curl"]),
    ("if curl -f http://x; then exit 0; else exit 1; fi", ["curl"]),
    ("bin/app rpc 'IO.puts(:ok)'", ["bin/app"]),
    ("curl 'unbalanced", ["curl"]),
    ("curl -f http://a\nwget http://b", ["curl", "wget"]),
])
def test_shell_commands(line, expected):
    assert _image.shell_commands(line) == expected


@pytest.mark.parametrize("test, expected", [
    (["CMD", "curl", "-f", "http://localhost:4000/health"], ("exec", ["curl"])),
    (["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "http://localhost:4000/health"], ("exec", ["wget"])),
    (["CMD-SHELL", "curl -f http://localhost || exit 1"], ("shell", ["curl"])),
    ("wget -q --spider http://localhost:3000 && pgrep node", ("shell", ["wget", "pgrep"])),
    (["NONE"], ("none", [])),
    (None, ("none", [])),
])
def test_healthcheck_commands(test, expected):
    assert _image.healthcheck_commands(test) == expected


@pytest.mark.parametrize("test", [["curl", "-f"], [], 5])
def test_healthcheck_commands_rejects(test):
    with pytest.raises(_image.ImageCommandsError):
        _image.healthcheck_commands(test)


@pytest.mark.parametrize("value, env, expected", [
    ("ghcr.io/x/app:${TAG}", {"TAG": "abc"}, "ghcr.io/x/app:abc"),
    ("ghcr.io/x/app:${TAG:-latest}", {}, "ghcr.io/x/app:latest"),
    ("ghcr.io/x/app:${TAG:-latest}", {"TAG": ""}, "ghcr.io/x/app:latest"),
    ("ghcr.io/x/app:${TAG-latest}", {"TAG": ""}, "ghcr.io/x/app:"),
    ("$REG/app", {"REG": "r"}, "r/app"),
    ("echo $$HOME", {}, "echo $HOME"),
    ("x${A:+-suffix}", {"A": "1"}, "x-suffix"),
])
def test_interpolate(value, env, expected):
    assert _image.interpolate(value, env) == expected


def test_interpolate_required():
    with pytest.raises(_image.ImageCommandsError, match="variable TAG is required: set the tag"):
        _image.interpolate("app:${TAG:?set the tag}", {})


def test_read_env_file(tmp_path):
    (tmp_path / ".env").write_text("# c\nTAG=abc\nexport REG='ghcr.io/x'\nEMPTY=\n")
    assert _image.read_env_file(str(tmp_path / ".env")) == {"TAG": "abc", "REG": "ghcr.io/x", "EMPTY": ""}
    assert _image.read_env_file(str(tmp_path / "none")) == {}


COMPOSE = {
    "services": {
        "backend": {"image": "${REG}/backend:${TAG:-latest}",
                    "healthcheck": {"test": ["CMD", "curl", "-f", "http://localhost:4000/health"]}},
        "electric": {"image": "electric:1.4"},
        "worker": {"image": "worker:1", "healthcheck": {"disable": True}},
        "built": {"build": "."},
        "shell": {"image": "s:1", "healthcheck": {"test": "wget -q http://localhost:$${PORT}/"}},
    }
}


def test_compose_targets():
    targets = {t["service"]: t for t in _image.compose_targets(COMPOSE, env={"REG": "ghcr.io/o"})}
    assert targets["backend"]["image"] == "ghcr.io/o/backend:latest"
    assert targets["backend"]["test"] == ["CMD", "curl", "-f", "http://localhost:4000/health"]
    assert (targets["electric"]["test"], targets["electric"]["healthcheck_from"]) == (None, "image")
    assert targets["worker"]["test"] == ["NONE"]
    assert "has no image" in targets["built"]["error"]
    assert targets["shell"]["test"] == "wget -q http://localhost:${PORT}/"
    assert [t["service"] for t in _image.compose_targets(COMPOSE, ["shell", "backend"], {"REG": "r"})] == ["shell", "backend"]
    with pytest.raises(_image.ImageCommandsError, match="service.s. frontend not in the compose file"):
        _image.compose_targets(COMPOSE, ["frontend"])
