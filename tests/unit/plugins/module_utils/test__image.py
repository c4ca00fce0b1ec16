"""_image: what a healthcheck needs (pure): shell lines, test forms, compose interpolation and services;
pulling images, against a fake Docker CLI."""

from __future__ import annotations

import json
import threading

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _image
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError


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


# ---------------------------------------------------------------- pulling several images in one run

class FakeEngine:
    """``run_command`` answering like the Docker CLI for ``docker inspect --type image`` and ``docker pull -q``.

    ``local`` maps a reference to its local image id, ``registry`` to the id a pull brings; a reference not in
    ``registry`` fails with ``refusals`` (default: Docker's answer for an unknown manifest). ``barrier``, when
    set, makes every pull wait for the others: a run that pulled one image after another would time out.
    ``stores=False``: a pull succeeds but leaves nothing behind.
    """

    def __init__(self, local, registry, refusals=None, barrier=None, stores=True):
        self.local = dict(local)
        self.registry = registry
        self.refusals = refusals or {}
        self.barrier = barrier
        self.stores = stores
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, argv, data=None, binary_data=False):
        with self.lock:
            self.calls.append(argv)
        assert argv[0] == "docker"
        if argv[1] == "inspect":
            assert argv[2:4] == ["--type", "image"]
            names = argv[4:]
            with self.lock:
                docs = [{"Id": self.local[n]} for n in names if n in self.local]
            err = "".join("Error response from daemon: No such image: %s\n" % n for n in names if n not in self.local)
            return (1 if err else 0), json.dumps(docs), err
        assert argv[1:3] == ["pull", "-q"]
        image = argv[3]
        if self.barrier is not None:
            self.barrier.wait()
        if image not in self.registry:
            return 1, "", "Error response from daemon: %s\n" % self.refusals.get(image, "manifest for %s not found: manifest unknown" % image)
        if self.stores:
            with self.lock:
                self.local[image] = self.registry[image]
        return 0, image + "\n", ""

    def pulls(self):
        return sorted(argv[3] for argv in self.calls if argv[1] == "pull")

    def inspects(self):
        return [argv for argv in self.calls if argv[1] == "inspect"]


A, B, C = "reg/a:1", "reg/b:1", "reg/c:1"


def pull(engine, images, pull="always", check_mode=False):
    return _image.pull_images(DockerCli(engine), images, pull, check_mode)


def by_image(entries):
    return dict((e["image"], e) for e in entries)


@pytest.mark.parametrize("images, pull_mode, present, expected", [
    ([A, B], "always", {A: {}}, [A, B]),
    ([A, B], "not_present", {A: {}}, [B]),
    ([A, B], "not_present", {A: {}, B: {}}, []),
    ([], "always", {}, []),
])
def test_images_to_pull(images, pull_mode, present, expected):
    assert _image.images_to_pull(images, pull_mode, present) == expected


def test_all_images_are_pulled_side_by_side_with_one_inspect_before_and_one_after():
    engine = FakeEngine({A: "sha256:a0"}, {A: "sha256:a1", B: "sha256:b1", C: "sha256:c1"}, barrier=threading.Barrier(3, timeout=5))
    entries = pull(engine, [A, B, C, A])
    assert engine.pulls() == [A, B, C]
    assert engine.inspects() == [["docker", "inspect", "--type", "image", A, B, C]] * 2
    assert entries == [
        dict(image=A, pulled=True, id="sha256:a1", changed=True),
        dict(image=B, pulled=True, id="sha256:b1", changed=True),
        dict(image=C, pulled=True, id="sha256:c1", changed=True),
    ]
    assert _image.pull_summary(entries) == "Pulled 3 image(s); a new image for reg/a:1, reg/b:1, reg/c:1."


@pytest.mark.parametrize("pull_mode, pulls, changed, msg", [
    # the registry holds what is here: pulled, nothing changed
    ("always", [A, B], [], "Pulled 2 image(s); all were up to date."),
    ("not_present", [], [], "All 2 image(s) are present locally: nothing pulled."),
])
def test_up_to_date_images_are_no_change(pull_mode, pulls, changed, msg):
    engine = FakeEngine({A: "sha256:a", B: "sha256:b"}, {A: "sha256:a", B: "sha256:b"})
    entries = pull(engine, [A, B], pull_mode)
    assert engine.pulls() == pulls
    assert [e["image"] for e in entries if e["changed"]] == changed
    assert [e["id"] for e in entries] == ["sha256:a", "sha256:b"]
    assert _image.pull_summary(entries) == msg
    if not pulls:
        assert len(engine.inspects()) == 1


def test_not_present_pulls_only_what_is_missing():
    engine = FakeEngine({A: "sha256:a"}, {A: "sha256:a-new", B: "sha256:b"})
    entries = by_image(pull(engine, [A, B], "not_present"))
    assert engine.pulls() == [B]
    assert (entries[A]["pulled"], entries[A]["changed"], entries[A]["id"]) == (False, False, "sha256:a")
    assert (entries[B]["pulled"], entries[B]["changed"], entries[B]["id"]) == (True, True, "sha256:b")


@pytest.mark.parametrize("pull_mode", ["always", "not_present"])
def test_check_mode_pulls_nothing_and_counts_absent_images_as_changes(pull_mode):
    engine = FakeEngine({A: "sha256:a"}, {A: "sha256:a-new", B: "sha256:b"})
    entries = pull(engine, [A, B], pull_mode, check_mode=True)
    assert engine.pulls() == [] and len(engine.inspects()) == 1
    assert entries == [
        dict(image=A, pulled=pull_mode == "always", id="sha256:a", changed=False),
        dict(image=B, pulled=True, id=None, changed=True),
    ]
    assert _image.pull_summary(entries, check_mode=True) == "Check mode pulls nothing: reg/b:1 would be pulled (not present locally)."
    assert _image.pull_summary(entries[:1], check_mode=True) == "Check mode pulls nothing: all 1 image(s) are present locally."


def test_every_failed_pull_is_named_with_dockers_reason_after_the_others_ended():
    denied = ("pull access denied for reg/c, repository does not exist or may require 'docker login': "
              "denied: requested access to the resource is denied")
    engine = FakeEngine({B: "sha256:b0"}, {A: "sha256:a"}, refusals={C: denied})
    entries = by_image(pull(engine, [A, B, C]))
    assert engine.pulls() == [A, B, C]
    assert (entries[A]["changed"], entries[A]["id"], "error" in entries[A]) == (True, "sha256:a", False)
    # a failed pull leaves the local image as it was
    assert (entries[B]["changed"], entries[B]["id"]) == (False, "sha256:b0")
    assert entries[B]["error"] == "manifest for reg/b:1 not found: manifest unknown"
    assert (entries[C]["changed"], entries[C]["id"], entries[C]["error"]) == (False, None, denied)
    assert _image.pull_summary(list(entries.values())) == (
        "reg/b:1 could not be pulled (manifest for reg/b:1 not found: manifest unknown); "
        "reg/c:1 could not be pulled (%s)" % denied)


def test_an_image_still_absent_after_a_pull_is_an_error():
    engine = FakeEngine({}, {A: "sha256:a"}, stores=False)
    entries = pull(engine, [A])
    assert entries[0]["error"] == "docker pull succeeded but the image is not present: check the reference"


def test_an_engine_that_cannot_inspect_is_an_error():
    def run_command(argv, data=None, binary_data=False):
        return 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    with pytest.raises(DockerError, match="Cannot connect to the Docker daemon"):
        pull(run_command, [A])
