"""_image: what a healthcheck needs (pure): shell lines, test forms, compose interpolation and services;
pulling images, against a fake Docker CLI."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _image
from ansible_collections.sertantai.deploy.plugins.module_utils._disk import human_bytes, percent_used
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError
from tests.support.disk import df
from tests.support.docker import subprocess_run_command
from tests.support.fake_docker_cli import FakeDockerCli


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

A, B, C = "reg/a:1", "reg/b:1", "reg/c:1"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake Docker CLI (tests/support/fake_docker_cli.py) with its state in the test's directory: call it with
    the state to start from; the login writes under the test's DOCKER_CONFIG."""
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(tmp_path / "fake-docker"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    return lambda **state: FakeDockerCli(tmp_path / "fake-docker", **state)


def pull(engine, images, pull="always"):
    entries, disk = _image.pull_images(DockerCli(subprocess_run_command, engine.cli), images, pull)
    assert disk is None  # no limit given: the disk is not looked at
    return entries


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


def test_all_images_are_pulled_side_by_side_with_one_inspect_before_and_one_after(fake):
    # Each pull waits until all three have started: pulls one after another would fail.
    engine = fake(local={A: "sha256:a0"}, registry={A: "sha256:a1", B: "sha256:b1", C: "sha256:c1"}, barrier=3)
    entries = pull(engine, [A, B, C, A])
    assert engine.pulls() == [A, B, C]
    assert engine.calls("inspect") == [["inspect", "--type", "image", A, B, C]] * 2
    assert entries == [
        dict(image=A, pulled=True, id="sha256:a1", changed=True),
        dict(image=B, pulled=True, id="sha256:b1", changed=True),
        dict(image=C, pulled=True, id="sha256:c1", changed=True),
    ]
    assert _image.pull_summary(entries) == "Pulled 3 image(s); a new image for reg/a:1, reg/b:1, reg/c:1."


def test_the_fake_barrier_fails_pulls_that_do_not_run_side_by_side(fake):
    # What the test above relies on: a pull alone never gets past a barrier of two.
    engine = fake(registry={A: "sha256:a"}, barrier=2, barrier_timeout=0.5)
    entries = pull(engine, [A])
    assert entries[0]["error"] == "fake docker: pull reg/a:1 waited 0.5 s for 2 pulls to run at once"


@pytest.mark.parametrize("pull_mode, pulls, changed, msg", [
    # the registry holds what is here: pulled, nothing changed
    ("always", [A, B], [], "Pulled 2 image(s); all were up to date."),
    ("not_present", [], [], "All 2 image(s) are present locally: nothing pulled."),
])
def test_up_to_date_images_are_no_change(fake, pull_mode, pulls, changed, msg):
    engine = fake(local={A: "sha256:a", B: "sha256:b"}, registry={A: "sha256:a", B: "sha256:b"})
    entries = pull(engine, [A, B], pull_mode)
    assert engine.pulls() == pulls
    assert [e["image"] for e in entries if e["changed"]] == changed
    assert [e["id"] for e in entries] == ["sha256:a", "sha256:b"]
    assert _image.pull_summary(entries) == msg
    if not pulls:
        assert len(engine.calls("inspect")) == 1


def test_not_present_pulls_only_what_is_missing(fake):
    engine = fake(local={A: "sha256:a"}, registry={A: "sha256:a-new", B: "sha256:b"})
    entries = by_image(pull(engine, [A, B], "not_present"))
    assert engine.pulls() == [B]
    assert (entries[A]["pulled"], entries[A]["changed"], entries[A]["id"]) == (False, False, "sha256:a")
    assert (entries[B]["pulled"], entries[B]["changed"], entries[B]["id"]) == (True, True, "sha256:b")


# ---------------------------------------------------------------- the disk under the Docker data root

def counted(calls):
    """subprocess_run_command, counting the commands (the round trips of a module run on the controller)."""
    def run_command(argv, data=None, binary_data=False):
        calls.append(argv[0])
        return subprocess_run_command(argv, data=data, binary_data=binary_data)
    return run_command


def df_use(path):
    usage = df(path)
    return usage["size"], usage["used"], usage["avail"], percent_used(usage["used"], usage["avail"])


def test_the_disk_is_read_in_the_command_of_the_pulls_and_under_the_limit_they_run(fake, tmp_path):
    engine = fake(local={A: "sha256:a"}, registry={A: "sha256:a", B: "sha256:b"})
    commands = []
    entries, disk = _image.pull_images(DockerCli(counted(commands), engine.cli), [A, B], disk_max_percent=100)
    assert engine.pulls() == [A, B] and [e["changed"] for e in entries] == [False, True]
    # the same three commands as without a limit: inspect, the pulls (after docker info and df), inspect
    assert [os.path.basename(command) for command in commands] == ["docker", "sh", "docker"]
    assert [call[:2] for call in engine.calls() if call[0] != "inspect"][0] == ["info", "--format"]
    size, used, avail, percent = df_use(tmp_path / "fake-docker")
    assert disk["path"] == str(tmp_path / "fake-docker") and disk["max_percent"] == 100
    assert (disk["size"], disk["percent"]) == (size, percent) and disk["used"] > 0 and disk["available"] > 0


@pytest.mark.parametrize("check_mode", [False, True])
def test_above_the_limit_nothing_is_pulled_and_the_refusal_names_the_use(fake, tmp_path, check_mode):
    engine = fake(local={A: "sha256:a"}, registry={A: "sha256:a-new", B: "sha256:b"})
    docker = DockerCli(subprocess_run_command, engine.cli)
    with pytest.raises(_image.DiskFull) as raised:
        if check_mode:
            _image.check_pulls(docker, [A, B], disk_max_percent=0)
        else:
            _image.pull_images(docker, [A, B], disk_max_percent=0)
    # nothing pulled, and in check mode the registry was not asked either
    assert engine.pulls() == [] and engine.calls("manifest") == []
    # one docker info: in check mode the same one reads the registry settings
    assert len(engine.calls("info")) == 1
    disk = raised.value.disk
    assert disk["percent"] == df_use(tmp_path / "fake-docker")[3] >= 1 and disk["max_percent"] == 0
    assert raised.value.message == (
        "The filesystem of the Docker data root %s is %d%% used, more than disk_max_percent=0 allows (%s free of %s), "
        "so %s. A pull could fill it, and a full disk stops every container that writes to it, PostgreSQL first. "
        "Make room (docker system df shows what images, containers and the build cache take), or raise the limit "
        "(app_service_disk_max_percent in a deploy)."
        % (disk["path"], disk["percent"], human_bytes(disk["available"]), human_bytes(disk["size"]),
           "a run would pull nothing" if check_mode else "nothing was pulled"))


def test_with_nothing_to_pull_the_disk_is_not_read(fake):
    engine = fake(local={A: "sha256:a"})
    docker = DockerCli(subprocess_run_command, engine.cli)
    assert _image.pull_images(docker, [A], "not_present", disk_max_percent=0) == (
        [dict(image=A, pulled=False, id="sha256:a", changed=False)], None)
    assert _image.check_pulls(docker, [A], "not_present", disk_max_percent=0)[1] is None
    assert [call[0] for call in engine.calls()] == ["inspect", "inspect"]


def test_a_data_root_df_cannot_read_is_an_error_and_nothing_is_pulled(fake, tmp_path):
    engine = fake(registry={A: "sha256:a"}, root_dir=tmp_path / "no-such-root")
    with pytest.raises(DockerError, match="^df: .*/no-such-root: No such file or directory$") as raised:
        _image.pull_images(DockerCli(subprocess_run_command, engine.cli), [A], disk_max_percent=90)
    assert not isinstance(raised.value, _image.DiskFull)
    assert engine.pulls() == []


@pytest.mark.parametrize("output", ["", "sha256\tpulled\n", "disk\t/var/lib/docker\t1\t2\n", "disk\t/x\ta\tb\tc\td\n"])
def test_output_without_a_disk_line_is_an_error(output):
    with pytest.raises(DockerError, match="could not read the disk use of the Docker data root"):
        _image.disk_use(output, 90)


def test_the_disk_line_is_read_and_the_rest_goes_on():
    disk, rest = _image.disk_use("disk\t/var/lib/docker\t100\t90\t10\t90\n0\t\n", 90)
    assert disk == dict(path="/var/lib/docker", size=102400, used=92160, available=10240, percent=90, max_percent=90)
    assert rest == "0\t\n"
    assert _image.disk_use("0\t\n", None) == (None, "0\t\n")


def check(engine, images, pull="always", login=None):
    entries, disk = _image.check_pulls(DockerCli(subprocess_run_command, engine.cli), images, pull, login)
    assert disk is None
    return entries


def test_check_mode_pulls_nothing_and_asks_the_registry_about_each_image_a_run_would_pull(fake):
    engine = fake(local={A: "sha256:a", C: "sha256:c"}, registry={A: "sha256:a-new", B: "sha256:b", C: "sha256:c"})
    entries = check(engine, [A, B, C])
    assert engine.pulls() == [] and len([call for call in engine.calls("inspect") if call[0] == "inspect"]) == 1
    assert sorted(call[-1] for call in engine.calls("manifest")) == [A, B, C]
    assert entries == [
        dict(image=A, pulled=True, id="sha256:a", changed=True, remote="newer"),
        dict(image=B, pulled=True, id=None, changed=True),
        dict(image=C, pulled=True, id="sha256:c", changed=False, remote="current"),
    ]
    assert _image.pull_summary(entries, check_mode=True) == (
        "Check mode pulls nothing: the registry holds a newer image for reg/a:1 (a run would pull it); "
        "reg/b:1 would be pulled (not present locally).")
    assert _image.pull_summary(entries[2:], check_mode=True) == (
        "Check mode pulls nothing: all 1 image(s) are present locally, and the registry holds the same for 1.")


def test_check_mode_with_not_present_asks_only_about_the_absent_images(fake):
    engine = fake(local={A: "sha256:a"}, registry={A: "sha256:a-new", B: "sha256:b"})
    entries = check(engine, [A, B], "not_present")
    assert [call[-1] for call in engine.calls("manifest")] == [B]
    assert entries == [dict(image=A, pulled=False, id="sha256:a", changed=False), dict(image=B, pulled=True, id=None, changed=True)]
    assert _image.pull_summary(entries, check_mode=True) == "Check mode pulls nothing: reg/b:1 would be pulled (not present locally)."
    # nothing a run would pull, no login: one docker inspect and nothing else
    engine = fake(local={A: "sha256:a"})
    assert check(engine, [A], "not_present") == [dict(image=A, pulled=False, id="sha256:a", changed=False)]
    assert len(engine.calls()) == 1
    assert _image.pull_summary(check(engine, [A], "not_present"), check_mode=True) == (
        "Check mode pulls nothing: all 1 image(s) are present locally.")


def test_check_mode_names_a_reference_the_registry_does_not_have_as_a_run_would_fail(fake):
    typo = "reg/a:v1.2.O"
    engine = fake(local={A: "sha256:a"}, registry={A: "sha256:a"})
    entries = by_image(check(engine, [A, typo]))
    assert entries[typo] == dict(image=typo, pulled=True, id=None, changed=False, error="no such manifest: reg/a:v1.2.O")
    assert entries[A]["remote"] == "current"
    assert _image.pull_summary(list(entries.values()), check_mode=True) == (
        "Check mode pulls nothing, and a run would fail: reg/a:v1.2.O could not be pulled (no such manifest: reg/a:v1.2.O)")


def test_check_mode_asks_a_registry_the_daemon_reaches_over_plain_http_over_plain_http(fake):
    local, internal, ghcr = "localhost:5000/a:1", "reg.internal:5000/b:1", "ghcr.io/o/c:1"
    engine = fake(registry={local: "sha256:a", internal: "sha256:b", ghcr: "sha256:c"},
                  registry_config={"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {"reg.internal:5000": {"Secure": False}}})
    assert all(entry["changed"] for entry in check(engine, [local, internal, ghcr]))
    flags = dict((call[-1], call[3:-1]) for call in engine.calls("manifest"))
    assert flags == {local: ["--insecure"], internal: ["--insecure"], ghcr: []}


@pytest.mark.parametrize("registry, config, expected", [
    ("localhost:5000", {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}, True),
    ("127.0.0.1:5001", {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}, True),
    ("10.0.0.7", {"InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/24"]}, True),
    ("[::1]:5000", {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}, False),
    ("ghcr.io", {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {"docker.io": {"Secure": True}}}, False),
    ("reg.internal:5000", {"IndexConfigs": {"reg.internal:5000": {"Secure": False}}}, True),
    # a loopback registry the daemon was told to reach over TLS
    ("localhost:5000", {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {"localhost:5000": {"Secure": True}}}, False),
    ("localhost:5000", None, False),
])
def test_plain_http(registry, config, expected):
    assert _image.plain_http(registry, config) is expected


@pytest.mark.parametrize("ref, registry", [
    ("ghcr.io/shotleybuilder/sertantai-legal:v1", "ghcr.io"),
    ("localhost:5000/sertantai-legal-backend", "localhost:5000"),
    ("localhost/a", "localhost"),
    ("postgres:16", "docker.io"),
    ("electricsql/electric:1.0", "docker.io"),
])
def test_registry_of(ref, registry):
    assert _image.registry_of(ref) == registry


def manifest(digest, config):
    return {"Descriptor": {"digest": digest, "platform": {"os": "linux", "architecture": "amd64"}},
            "SchemaV2Manifest": {"config": {"digest": config}}}


ONE = manifest("sha256:m1", "sha256:c1")
INDEX = [manifest("sha256:m1", "sha256:c1"), dict(manifest("sha256:m2", "sha256:c2"), SchemaV2Manifest=None,
                                                  OCIManifest={"config": {"digest": "sha256:c2"}})]


@pytest.mark.parametrize("local, answer, state", [
    # Docker's classic store: the id is the configuration's digest, the repo digest the manifest's (or the index's)
    ({"Id": "sha256:c1", "RepoDigests": ["reg/a@sha256:m1"]}, ONE, "current"),
    ({"Id": "sha256:c0", "RepoDigests": ["reg/a@sha256:m0"]}, ONE, "newer"),
    ({"Id": "sha256:c2", "RepoDigests": ["reg/a@sha256:index"]}, INDEX, "current"),
    ({"Id": "sha256:c0", "RepoDigests": ["reg/a@sha256:index0"]}, INDEX, "newer"),
    # built here and tagged, never pulled: no repo digest
    ({"Id": "sha256:c1"}, ONE, "current"),
    # the containerd image store: the id is the digest it was pulled by
    ({"Id": "sha256:m1", "RepoDigests": ["reg/a@sha256:m1"]}, ONE, "current"),
    ({"Id": "sha256:m0", "RepoDigests": ["reg/a@sha256:m0"]}, ONE, "newer"),
    ({"Id": "sha256:index", "RepoDigests": ["reg/a@sha256:index"]}, INDEX, "unknown"),
])
def test_registry_state(local, answer, state):
    assert _image.registry_state(local, answer) == state


def test_check_summary_names_what_it_cannot_compare():
    entries = [dict(image=A, pulled=True, id="sha256:a", changed=False, remote="unknown")]
    assert _image.pull_summary(entries, check_mode=True) == (
        "Check mode pulls nothing: whether the registry holds a newer image for reg/a:1 is not known (a multi-platform "
        "index, which the containerd image store keeps under the index's digest only).")


def test_every_failed_pull_is_named_with_dockers_reason_after_the_others_ended(fake):
    denied = ("pull access denied for reg/c, repository does not exist or may require 'docker login': "
              "denied: requested access to the resource is denied")
    engine = fake(local={B: "sha256:b0"}, registry={A: "sha256:a"}, refusals={C: denied})
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


def test_an_image_still_absent_after_a_pull_is_an_error(fake):
    engine = fake(registry={A: "sha256:a"}, stores=False)
    entries = pull(engine, [A])
    assert entries[0]["error"] == "docker pull succeeded but the image is not present: check the reference"


@pytest.mark.parametrize("output, reasons", [
    ("0\t\n1\tError response from daemon: manifest unknown\x1f\n", {B: "manifest unknown"}),
    # stderr over several lines (a warning first): its first line is the reason
    ("1\tWARNING: low disk\x1fError response from daemon: denied\x1f\n0\t\n", {A: "WARNING: low disk"}),
    # a pull killed before it wrote its exit status
    ("\t\n0\t\n", {A: "docker pull failed with rc=unknown"}),
])
def test_pull_reasons(output, reasons):
    assert _image.pull_reasons([A, B], output) == reasons


def test_pull_results_that_do_not_match_the_images_are_an_error():
    with pytest.raises(DockerError, match="gave 1 result line"):
        _image.pull_reasons([A, B], "0\t\n")


def login(engine, password):
    return _image.registry_login(DockerCli(subprocess_run_command, engine.cli), "reg.example", "ci", password)


def test_login_reports_a_change_only_when_the_stored_credentials_changed(fake, tmp_path):
    engine = fake(password="token-1")
    assert login(engine, "token-1") is True
    assert json.loads((tmp_path / "docker-config" / "config.json").read_text()) == {"auths": {"reg.example": {"auth": "ci"}}}
    assert login(engine, "token-1") is False
    assert engine.calls("login") == [["login", "--username", "ci", "--password-stdin", "reg.example"]] * 2


def test_a_login_in_check_mode_asks_the_registry_and_writes_nothing(fake, tmp_path):
    # the registry answers only with credentials: the questions use the throwaway login
    engine = fake(password="token-1", local={A: "sha256:a"}, registry={A: "sha256:a-new", B: "sha256:b"})
    entries = check(engine, [A, B], login=("reg.example", "ci", "token-1"))
    assert [(entry["changed"], entry.get("error")) for entry in entries] == [(True, None), (True, None)]
    assert not (tmp_path / "docker-config").exists()
    # the host's own configuration holds no login: without one, the registry refuses
    refused = check(engine, [B])
    assert refused[0]["error"] == 'Get "https://reg/v2/": no basic auth credentials'
    with pytest.raises(_image.LoginRefused, match="unauthorized: incorrect username or password"):
        check(engine, [A, B], login=("reg.example", "ci", "expired"))
    # nothing a run would pull: the credentials are still checked
    with pytest.raises(_image.LoginRefused):
        check(engine, [A], "not_present", login=("reg.example", "ci", "expired"))
    assert engine.pulls() == []


def test_a_refused_login_raises_dockers_reason_and_writes_nothing(fake, tmp_path):
    engine = fake(password="token-1")
    with pytest.raises(_image.LoginRefused) as raised:
        login(engine, "expired")
    assert raised.value.message == 'Get "https://reg.example/v2/": unauthorized: incorrect username or password'
    assert not (tmp_path / "docker-config").exists()


def test_an_engine_that_cannot_inspect_is_an_error():
    def run_command(argv, data=None, binary_data=False):
        return 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    with pytest.raises(DockerError, match="Cannot connect to the Docker daemon"):
        _image.pull_images(DockerCli(run_command), [A])
