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


# ---------------------------------------------------------------- pulling: check mode and what counts as a change

class FakeDocker:
    """The local image store: ``images`` maps a reference to its id; a pull sets it to ``registry_id``."""

    def __init__(self, local_id, registry_id):
        self.images = {} if local_id is None else {"app:1": local_id}
        self.registry_id = registry_id
        self.pulls = []

    def inspect(self, *names, kind="container"):
        assert kind == "image"
        return dict((n, {"Id": self.images[n]}) for n in names if n in self.images), [n for n in names if n not in self.images]

    def run(self, *args, check=True):
        assert args[0] == "pull"
        self.pulls.append(args[-1])
        self.images[args[-1]] = self.registry_id
        return 0, "", ""


@pytest.mark.parametrize("local_id, registry_id, pull, check_mode, pulls, document_id, changed", [
    # pull: false never pulls and never changes
    ("sha256:old", "sha256:new", False, False, [], "sha256:old", False),
    ("sha256:old", "sha256:new", False, True, [], "sha256:old", False),
    # a pull that brings a new image id, or the first copy, is a change
    ("sha256:old", "sha256:new", True, False, ["app:1"], "sha256:new", True),
    (None, "sha256:new", True, False, ["app:1"], "sha256:new", True),
    # the registry has what is already here: pulled, nothing changed
    ("sha256:same", "sha256:same", True, False, ["app:1"], "sha256:same", False),
    # check mode never pulls; an absent image would be pulled (a change), a present one is used as it is
    (None, "sha256:new", True, True, [], None, True),
    ("sha256:old", "sha256:new", True, True, [], "sha256:old", False),
])
def test_ensure_image_pulls_only_outside_check_mode(local_id, registry_id, pull, check_mode, pulls, document_id, changed):
    docker = FakeDocker(local_id, registry_id)
    document, pulled = _image.ensure_image(docker, "app:1", pull, check_mode)
    assert docker.pulls == pulls
    assert (document or {}).get("Id") == document_id
    assert pulled is changed


@pytest.mark.parametrize("check_mode", [False, True])
def test_an_absent_image_without_pull_is_an_error(check_mode):
    docker = FakeDocker(None, "sha256:new")
    with pytest.raises(_image.ImageCommandsError, match="app:1 is not present locally: pull or build it first, or set pull: true"):
        _image.ensure_image(docker, "app:1", False, check_mode)
    assert docker.pulls == []


@pytest.mark.parametrize("before, after, changed", [
    (None, "sha256:a", True),
    ("sha256:a", "sha256:b", True),
    ("sha256:a", "sha256:a", False),
    ("sha256:a", None, False),
])
def test_pull_changed(before, after, changed):
    assert _image.pull_changed(before, after) is changed


def service(image, commands=(), unchecked=None):
    entry = dict(service=None, image=image, commands=list(commands))
    if unchecked:
        entry["unchecked"] = unchecked
    return entry


@pytest.mark.parametrize("services, images, pulled, problems, msg", [
    ([service("a:1", ["wget"])], ["a:1"], [], [], "all 1 needed command(s) exist in 1 image(s)."),
    ([service("a:1", ["wget"])], ["a:1"], ["a:1"], [], "all 1 needed command(s) exist in 1 image(s). Pulled a new image for a:1."),
    ([service("a:1", ["wget"]), service("b:1", unchecked="absent")], ["a:1", "b:1"], ["b:1"], [],
     "all 1 needed command(s) exist in 1 image(s). Not checked, because check mode does not pull: b:1 "
     "(not present locally, would be pulled)."),
    ([service("a:1", ["curl"])], ["a:1"], [], ["image a:1: the script needs curl, which the image does not have"],
     "image a:1: the script needs curl, which the image does not have."),
])
def test_summary(services, images, pulled, problems, msg):
    result = dict(services=services, images=[dict(image=i) for i in images], pulled=pulled)
    assert _image.summary(result, problems) == msg
