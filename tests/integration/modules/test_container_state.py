"""container_state driven through ansible against real containers: each drains for a while on SIGTERM, as
Phoenix does, and has a named and an anonymous volume."""

from __future__ import annotations

import datetime

import pytest

from tests.support.ansible import run_module
from tests.support.docker import docker, inspect, remove_containers

IMAGE = "sertantai-test/debian:bookworm"
A, B = "sertantai-test-cstate-a", "sertantai-test-cstate-b"
VOLUME = "sertantai-test-cstate-data"
# On SIGTERM: say when it came, finish "the requests in flight" for 1.5 s, then exit 0.
DRAIN = 'trap \'echo "term $(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"; sleep 1.5; exit 0\' TERM; echo up; while :; do sleep 0.1; done'


def when(text):
    """An RFC 3339 time with nanoseconds (Docker's and date's) as a datetime."""
    whole, _dot, rest = text.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(whole + "." + (rest + "000000")[:6])


@pytest.fixture
def containers(docker_engine):
    remove_containers(A, B)
    for name in (A, B):
        docker("run", "-d", "--name", name, "-v", VOLUME + ":/data", "-v", "/scratch", IMAGE, "sh", "-c", DRAIN)
    yield
    # The anonymous /scratch volumes are the test's own too (tests remove volumes explicitly, by name).
    scratch = [m["Name"] for name in (A, B) for m in (inspect(name) or {}).get("Mounts", []) if m["Destination"] == "/scratch"]
    remove_containers(A, B)
    docker("volume", "rm", VOLUME, *scratch, check=False)


def test_stopped_stops_both_side_by_side_and_a_second_run_changes_nothing(containers):
    result = run_module("container_state", {"names": [A, B], "state": "stopped"})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    assert result["containers"] == [dict(name=A, before="running", after="exited"), dict(name=B, before="running", after="exited")]
    # Each drained and exited cleanly; the second got its SIGTERM before the first had finished draining.
    got_term, finished = {}, {}
    for name in (A, B):
        doc = inspect(name)
        assert doc["State"]["ExitCode"] == 0
        got_term[name] = when(docker("logs", name).stdout.split("term ")[1].strip())
        finished[name] = when(doc["State"]["FinishedAt"])
    first, second = sorted((A, B), key=lambda name: got_term[name])
    assert got_term[second] < finished[first]

    again = run_module("container_state", {"names": [A, B], "state": "stopped"})
    assert again.get("failed") is not True and again["changed"] is False


def test_check_mode_says_what_would_go_and_touches_nothing(containers):
    result = run_module("container_state", {"names": [A, B, "sertantai-test-cstate-never"], "state": "absent"}, check=True)
    assert result["changed"] is True
    assert [(c["before"], c["after"]) for c in result["containers"]] == [("running", "absent"), ("running", "absent"), ("absent", "absent")]
    assert inspect(A)["State"]["Running"] and inspect(B)["State"]["Running"]


def test_absent_removes_the_containers_and_keeps_their_volumes(containers):
    anonymous = [m["Name"] for name in (A, B) for m in inspect(name)["Mounts"] if m["Destination"] == "/scratch"]
    result = run_module("container_state", {"names": [A, B], "state": "absent"})
    assert result.get("failed") is not True, result.get("msg")
    assert [c["after"] for c in result["containers"]] == ["absent", "absent"]
    assert inspect(A) is None and inspect(B) is None
    assert docker("volume", "inspect", VOLUME, *anonymous, check=False).returncode == 0
    docker("volume", "rm", *anonymous, check=False)
    assert run_module("container_state", {"names": [A, B], "state": "absent"})["changed"] is False


def test_started_after_stopped_and_a_missing_name_fails_naming_it(containers):
    run_module("container_state", {"names": [A], "state": "stopped"})
    result = run_module("container_state", {"names": ["sertantai-test-cstate-never", A], "state": "started"})
    assert result["failed"] is True
    assert result["msg"] == "sertantai-test-cstate-never could not be made started: does not exist."
    # the other one was still started
    assert inspect(A)["State"]["Running"]
    assert result["containers"][1] == dict(name=A, before="exited", after="running")
