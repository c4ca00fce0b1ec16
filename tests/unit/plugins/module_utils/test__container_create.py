"""_container_create: specs to Docker Engine API bodies (pure), and the host script against a fake Engine API on
a unix socket (each step's answer chosen by the test)."""

from __future__ import annotations

import json
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _container_create
from ansible_collections.sertantai.deploy.plugins.module_utils._container_create import SpecError
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerError
from tests.support.docker import subprocess_run_command


@pytest.mark.parametrize("value, ns", [
    ("5s", 5 * 10 ** 9), ("1m30s", 90 * 10 ** 9), ("500ms", 5 * 10 ** 8), ("1h", 3600 * 10 ** 9), ("1.5s", 15 * 10 ** 8),
    ("250us", 250 * 10 ** 3), (30, 30 * 10 ** 9), ("2", 2 * 10 ** 9), (0.5, 5 * 10 ** 8),
])
def test_duration_ns(value, ns):
    assert _container_create.duration_ns(value, "x") == ns


@pytest.mark.parametrize("value", ["", "5 s", "five", "5x", "s", "-1s", True])
def test_a_duration_docker_would_not_read_is_refused(value):
    with pytest.raises(SpecError, match="web: healthcheck interval: .* is not a duration"):
        _container_create.duration_ns(value, "web: healthcheck interval")


@pytest.mark.parametrize("value, size", [
    ("512m", 512 * 1024 ** 2), ("1g", 1024 ** 3), ("1G", 1024 ** 3), ("1.5GiB", 3 * 1024 ** 3 // 2), ("64k", 65536),
    ("1048576", 1048576), ("300mb", 300 * 1024 ** 2),
])
def test_size_bytes(value, size):
    assert _container_create.size_bytes(value, "x") == size


@pytest.mark.parametrize("value", ["", "lots", "1x", "-1g", True])
def test_a_size_docker_would_not_read_is_refused(value):
    with pytest.raises(SpecError, match="web: memory: .* is not a size"):
        _container_create.size_bytes(value, "web: memory")


@pytest.mark.parametrize("value, policy", [
    ("no", {"Name": ""}), ("always", {"Name": "always"}), ("unless-stopped", {"Name": "unless-stopped"}),
    ("on-failure", {"Name": "on-failure"}), ("on-failure:3", {"Name": "on-failure", "MaximumRetryCount": 3}),
])
def test_restart_policy(value, policy):
    assert _container_create.restart_policy(value, "x") == policy


@pytest.mark.parametrize("value", ["sometimes", "always:3", "on-failure:x", ""])
def test_an_unknown_restart_policy_is_refused(value):
    with pytest.raises(SpecError, match="web: restart policy"):
        _container_create.restart_policy(value, "web")


SPEC = dict(
    name="sertantai-legal-green", image="reg/legal:abc", env={"SECRET_KEY_BASE": "s3cret", "PORT": 4000},
    labels={"org.sertantai.service": "legal", "n": 1},
    healthcheck=dict(test=["CMD", "wget", "--spider", "http://localhost:4000/health"], interval="5s", timeout="3s",
                     retries=3, start_period="60s", start_interval="1s"),
    restart_policy="unless-stopped", stop_timeout=30, volumes=["legal-electric:/app/persistent"], memory="1g", cpus=1.5,
)


def test_create_body_maps_every_setting_onto_the_engine_api():
    assert _container_create.create_body(SPEC, "infra_network") == {
        "Image": "reg/legal:abc",
        "Env": ["PORT=4000", "SECRET_KEY_BASE=s3cret"],
        "Labels": {"org.sertantai.service": "legal", "n": "1"},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}, "Binds": ["legal-electric:/app/persistent"],
                       "NetworkMode": "infra_network", "PortBindings": {}, "Memory": 1024 ** 3, "NanoCpus": 1500000000},
        "NetworkingConfig": {"EndpointsConfig": {"infra_network": {}}},
        "StopTimeout": 30,
        # the exec form stays (runbook pitfall 9), which `docker create --health-cmd` cannot write
        "Healthcheck": {"Test": ["CMD", "wget", "--spider", "http://localhost:4000/health"], "Interval": 5 * 10 ** 9,
                        "Timeout": 3 * 10 ** 9, "StartPeriod": 60 * 10 ** 9, "StartInterval": 10 ** 9, "Retries": 3},
    }


def test_a_minimal_spec_gets_no_limits_healthcheck_or_stop_timeout():
    body = _container_create.create_body(dict(name="a", image="i"), "net")
    assert body["HostConfig"] == {"RestartPolicy": {"Name": ""}, "Binds": [], "NetworkMode": "net", "PortBindings": {}}
    assert "Healthcheck" not in body and "StopTimeout" not in body and body["Env"] == []


@pytest.mark.parametrize("test", ["wget -q http://x", [], ["wget", "http://x"], None])
def test_a_healthcheck_test_not_in_list_form_is_refused(test):
    with pytest.raises(SpecError, match="a: healthcheck test must be a list starting with CMD, CMD-SHELL or NONE"):
        _container_create.create_body(dict(name="a", image="i", healthcheck=dict(test=test)), "net")


# ---------------------------------------------------------------- the host script against a fake Engine API

class FakeEngineApi(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The Docker Engine API endpoints the host script calls, on a unix socket. ``answers`` maps
    ``"METHOD /path"`` (with or without its query) to (status, document); unless told otherwise stop and remove
    answer 404 (no such container), create 201 with an id, start 204. ``calls``: (method, path with query, body)."""

    daemon_threads = True

    def __init__(self, path, answers):
        self.answers = answers
        self.calls = []
        super().__init__(path, Handler)


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.calls.append((self.command, self.path, body))
        path = self.path.split("?", 1)[0]
        keys = [key for key in ("%s %s" % (self.command, self.path), "%s %s" % (self.command, path)) if key in self.server.answers]
        if keys:
            status, document = self.server.answers[keys[0]]
        elif self.command == "DELETE" or path.endswith("/stop"):
            status, document = 404, {"message": "No such container: %s" % path.split("/")[2]}
        elif path == "/containers/create":
            status, document = 201, {"Id": "id-%d" % len(self.server.calls)}
        else:
            status, document = 204, None
        data = json.dumps(document).encode() if document is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_DELETE = _answer

    def log_message(self, *args):
        del args


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """``start(answers)``: a fake Engine API on a socket of the test's own, which DOCKER_HOST names for the host
    script; returns it (its ``calls``)."""
    servers = []

    def start(answers=None):
        path = str(tmp_path / "docker.sock")
        server = FakeEngineApi(path, answers or {})
        monkeypatch.setenv("DOCKER_HOST", "unix://" + path)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def create(specs, check_mode=False):
    return _container_create.create(subprocess_run_command, sys.executable, specs, "net", check_mode=check_mode)


def test_each_container_is_stopped_removed_created_and_started_in_order(engine):
    server = engine({"POST /containers/a/stop": (204, None), "DELETE /containers/a": (204, None)})
    results = create([dict(name="a", image="i", env={"K": "v"}), dict(name="b", image="j")])
    assert results == [dict(name="a", id="id-3", replaced=True), dict(name="b", id="id-7", replaced=False)]
    assert [(method, url) for method, url, _body in server.calls] == [
        ("POST", "/containers/a/stop"), ("DELETE", "/containers/a"), ("POST", "/containers/create?name=a"),
        ("POST", "/containers/id-3/start"),
        ("POST", "/containers/b/stop"), ("DELETE", "/containers/b"), ("POST", "/containers/create?name=b"),
        ("POST", "/containers/id-7/start"),
    ]
    # the volumes of a replaced container stay: no v=1, no force
    assert server.calls[2][2]["Env"] == ["K=v"]
    assert _container_create.summary(results) == "Created and started a, b."


def test_a_refused_create_is_reported_with_dockers_message_and_the_next_container_still_made(engine):
    server = engine({"POST /containers/create?name=a": (404, {"message": "No such image: reg/a:missing"})})
    results = create([dict(name="a", image="reg/a:missing"), dict(name="b", image="j")])
    assert results[0] == dict(name="a", id=None, replaced=False, error="could not create it: No such image: reg/a:missing (HTTP 404)")
    assert results[1]["id"] and "error" not in results[1]
    assert len(server.calls) == 3 + 4  # a: stop, remove, create; b: and start
    assert _container_create.summary(results) == "a: could not create it: No such image: reg/a:missing (HTTP 404)"


def test_a_container_that_cannot_start_keeps_its_id_for_its_logs(engine):
    engine({"POST /containers/id-3/start": (500, {"message": "failed to create task: exec: not found"})})
    [result] = create([dict(name="a", image="i")])
    assert result == dict(name="a", id="id-3", replaced=False,
                          error="created, but could not start it: failed to create task: exec: not found (HTTP 500)")


def test_a_container_that_cannot_be_removed_is_not_created(engine):
    server = engine({"POST /containers/a/stop": (204, None), "DELETE /containers/a": (409, {"message": "removal in progress"})})
    [result] = create([dict(name="a", image="i")])
    assert result["error"] == "could not remove the container of that name: removal in progress (HTTP 409)"
    assert len(server.calls) == 2


def test_no_daemon_on_the_socket_is_an_error_per_container(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix://%s" % (tmp_path / "none.sock"))
    results = create([dict(name="a", image="i")])
    assert results[0]["error"].startswith("could not talk to the Docker daemon at %s: " % (tmp_path / "none.sock"))


def test_check_mode_and_a_refused_spec_run_nothing_on_the_host():
    def run_command(*_args, **_kwargs):
        raise AssertionError("nothing runs on the host")

    specs = [dict(name="a", image="i")]
    assert _container_create.create(run_command, "python3", specs, "net", check_mode=True) == [dict(name="a", id=None, replaced=None)]
    assert _container_create.summary([dict(name="a", id=None, replaced=None)], check_mode=True) == (
        "Check mode changes nothing: a would be created and started.")
    with pytest.raises(SpecError, match="memory"):
        _container_create.create(run_command, "python3", [dict(name="a", image="i", memory="lots")], "net")


def test_a_host_that_cannot_run_the_script_is_a_docker_error():
    def run_command(*_args, **_kwargs):
        return 127, "", "sh: 1: /usr/bin/python3: not found\n"

    with pytest.raises(DockerError, match="/usr/bin/python3 on the host failed \\(rc=127\\): sh: 1: /usr/bin/python3: not found"):
        _container_create.create(run_command, "/usr/bin/python3", [dict(name="a", image="i")], "net")


def test_the_request_goes_on_stdin_not_on_the_command_line():
    seen = {}

    def run_command(argv, data=None, binary_data=False):
        del binary_data
        seen.update(argv=argv, data=data)
        return 0, json.dumps([dict(name="a", id="x", replaced=False)]), ""

    _container_create.create(run_command, "python3", [dict(name="a", image="i", env={"SECRET": "s3cret"})], "net")
    assert "s3cret" not in " ".join(seen["argv"]) and "s3cret" in seen["data"]
