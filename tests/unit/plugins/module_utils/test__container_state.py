"""_container_state: which Docker calls bring containers to a state (one call per step for all of them),
against a fake Docker that keeps its containers' states and answers like the CLI."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils._container_state import StateError, converge, failure_message, plan
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli


def doc(name, status):
    return {"Name": "/" + name, "State": {"Status": status, "Running": status in ("running", "restarting")}}


class FakeDocker:
    """Containers by name -> status; ``refuse`` {verb: {name: message}} makes that call fail for that name."""

    def __init__(self, containers, refuse=None):
        self.containers = dict(containers)
        self.refuse = refuse or {}
        self.calls = []

    def __call__(self, argv, data=None, binary_data=False):
        verb, args = argv[1], argv[2:]
        self.calls.append([verb] + args)
        if verb == "inspect":
            names = args[2:]
            found = [doc(n, self.containers[n]) for n in names if n in self.containers]
            err = "".join("Error response from daemon: No such container: %s\n" % n for n in names if n not in self.containers)
            return (1 if err else 0), json.dumps(found), err
        errors = []
        for name in args:
            if name in self.refuse.get(verb, {}):
                errors.append("Error response from daemon: %s" % self.refuse[verb][name])
            elif name not in self.containers:
                errors.append("Error response from daemon: No such container: %s" % name)
            elif verb == "start":
                self.containers[name] = "running"
            elif verb == "stop":
                self.containers[name] = "exited"
            elif verb == "rm":
                if self.containers[name] == "running":
                    errors.append("Error response from daemon: cannot remove container %s: container is running" % name)
                else:
                    del self.containers[name]
        return (1 if errors else 0), "", "\n".join(errors)


def run(fake, names, state, check_mode=False):
    return converge(DockerCli(fake), names, state, check_mode)


def test_absent_stops_the_running_ones_in_one_call_then_removes_all_in_one_call():
    fake = FakeDocker({"web-blue": "running", "ui-blue": "running", "web-green": "exited"})
    result = run(fake, ["web-blue", "ui-blue", "web-green", "gone"], "absent")
    # Docker did all it was asked: no second inspect
    assert fake.calls[1:] == [["stop", "web-blue", "ui-blue"], ["rm", "web-blue", "ui-blue", "web-green"]]
    assert "-v" not in fake.calls[2]  # volumes stay
    assert result == dict(changed=True, containers=[
        dict(name="web-blue", before="running", after="absent"),
        dict(name="ui-blue", before="running", after="absent"),
        dict(name="web-green", before="exited", after="absent"),
        dict(name="gone", before="absent", after="absent")])
    assert fake.containers == {}


def test_a_second_run_calls_nothing_but_inspect_and_changes_nothing():
    fake = FakeDocker({"web-blue": "exited"})
    assert run(fake, ["web-blue"], "stopped")["changed"] is False
    assert run(fake, ["web-blue", "web-blue", ""], "stopped")["containers"] == [dict(name="web-blue", before="exited", after="exited")]
    fake = FakeDocker({})
    assert run(fake, ["web-blue"], "absent")["changed"] is False
    assert [call[0] for call in fake.calls] == ["inspect"]


def test_started_starts_only_what_does_not_run():
    fake = FakeDocker({"a": "running", "b": "exited", "c": "created"})
    result = run(fake, ["a", "b", "c"], "started")
    assert fake.calls[1] == ["start", "b", "c"]
    assert [c["after"] for c in result["containers"]] == ["running"] * 3 and result["changed"] is True


def test_check_mode_predicts_and_changes_nothing():
    fake = FakeDocker({"a": "running", "b": "exited"})
    result = run(fake, ["a", "b"], "absent", check_mode=True)
    assert [call[0] for call in fake.calls] == ["inspect"]
    assert result["containers"] == [dict(name="a", before="running", after="absent"), dict(name="b", before="exited", after="absent")]
    assert result["changed"] is True
    assert fake.containers == {"a": "running", "b": "exited"}


def test_a_missing_container_fails_started_and_stopped_after_the_others_were_handled():
    fake = FakeDocker({"a": "running"})
    result = run(fake, ["gone", "a"], "stopped")
    assert fake.containers == {"a": "exited"}
    assert result["containers"] == [
        dict(name="gone", before="absent", after="absent", error="does not exist"),
        dict(name="a", before="running", after="exited")]
    assert failure_message("stopped", result["containers"]) == "gone could not be made stopped: does not exist."
    checked = run(FakeDocker({}), ["gone"], "started", check_mode=True)["containers"]
    assert failure_message("started", checked) == "gone could not be made started: does not exist."
    assert failure_message("started", run(FakeDocker({"a": "exited"}), ["a"], "started")["containers"]) == ""


def test_docker_refusing_one_container_names_it_with_dockers_reason():
    fake = FakeDocker({"a": "running", "b": "running"}, refuse={"stop": {"b": "cannot stop container: b: permission denied"}})
    result = run(fake, ["a", "b"], "absent")
    # a went; b could not be stopped, so it could not be removed either
    assert fake.containers == {"b": "running"}
    assert result["containers"] == [dict(name="a", before="running", after="absent"), dict(
        name="b", before="running", after="running",
        error="cannot stop container: b: permission denied; cannot remove container b: container is running")]


def test_an_unknown_state_is_refused():
    with pytest.raises(StateError, match="state must be one of started, stopped, absent"):
        plan(["a"], "paused", {})
