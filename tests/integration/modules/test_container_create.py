"""container_create driven through ansible against the local Docker Engine: the frontend stand-in
(tests/images/frontend: serves on $PORT, has wget) created from full specs on a network of the test's own."""

from __future__ import annotations

import pytest

from tests.support.ansible import run_module
from tests.support.docker import docker, inspect, remove_containers, wait_until

IMAGE = "sertantai-test/frontend:latest"
NETWORK = "sertantai-test-ccreate-net"
A, B = "sertantai-test-ccreate-a", "sertantai-test-ccreate-b"
VOLUME = "sertantai-test-ccreate-data"
SECRET = "s3cret-only-in-the-environment"


def spec(name, **extra):
    base = dict(
        name=name, image=IMAGE, env={"PORT": "3100", "SECRET_KEY_BASE": SECRET},
        labels={"org.sertantai.service": "ccreate", "org.sertantai.spec": "1"},
        healthcheck=dict(test=["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "http://localhost:3100/"],
                         interval="1s", timeout="3s", retries=3, start_period="30s"),
        restart_policy="unless-stopped", stop_timeout=3, volumes=[VOLUME + ":/data"], memory="128m", cpus=0.5,
    )
    base.update(extra)
    return base


@pytest.fixture
def network(docker_engine):
    remove_containers(A, B)
    docker("network", "rm", NETWORK, check=False)
    docker("network", "create", NETWORK)
    yield NETWORK
    remove_containers(A, B)
    docker("network", "rm", NETWORK, check=False)
    docker("volume", "rm", VOLUME, check=False)


def test_creates_and_starts_each_container_as_specified(network):
    result = run_module("container_create", {"network": network, "containers": [spec(A), spec(B, volumes=[])]})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["msg"] == "Created and started %s, %s." % (A, B)
    assert [(c["name"], c["replaced"]) for c in result["containers"]] == [(A, False), (B, False)]
    assert SECRET not in result["_stdout"]

    doc = inspect(A)
    assert doc["Id"] == result["containers"][0]["id"] and doc["State"]["Running"]
    assert "SECRET_KEY_BASE=" + SECRET in doc["Config"]["Env"] and "PORT=3100" in doc["Config"]["Env"]
    assert doc["Config"]["Labels"]["org.sertantai.spec"] == "1"
    # the exec form, as given
    assert doc["Config"]["Healthcheck"]["Test"] == ["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "http://localhost:3100/"]
    assert (doc["Config"]["Healthcheck"]["Interval"], doc["Config"]["Healthcheck"]["Retries"]) == (10 ** 9, 3)
    assert doc["Config"]["StopTimeout"] == 3
    host = doc["HostConfig"]
    assert (host["RestartPolicy"]["Name"], host["Memory"], host["NanoCpus"]) == ("unless-stopped", 128 * 1024 ** 2, 5 * 10 ** 8)
    assert [(m["Type"], m["Name"], m["Destination"]) for m in doc["Mounts"]] == [("volume", VOLUME, "/data")]
    assert list(doc["NetworkSettings"]["Networks"]) == [network] and host["PortBindings"] == {}
    # healthy by its own check, and the other container reaches it by its name on the network
    wait_until(lambda: (inspect(A)["State"].get("Health") or {}).get("Status") == "healthy", timeout=30, what=A + " healthy")
    docker("exec", B, "wget", "-q", "-O", "/dev/null", "http://%s:3100/" % A)


def test_a_second_run_replaces_the_container_and_keeps_its_volume(network):
    first = run_module("container_create", {"network": network, "containers": [spec(A)]})
    assert first.get("failed") is not True, first.get("msg")
    docker("exec", A, "sh", "-c", "echo kept > /data/file")

    again = run_module("container_create", {"network": network, "containers": [spec(A, labels={"org.sertantai.spec": "2"})]})
    assert again.get("failed") is not True, again.get("msg")
    assert again["containers"][0]["replaced"] is True and again["containers"][0]["id"] != first["containers"][0]["id"]
    assert inspect(A)["Config"]["Labels"]["org.sertantai.spec"] == "2"
    assert docker("exec", A, "cat", "/data/file").stdout == "kept\n"


def test_a_missing_image_fails_naming_it_and_the_other_container_is_still_made(network):
    missing = "sertantai-test/never-built:1"
    result = run_module("container_create", {"network": network, "containers": [spec(A, image=missing), spec(B, volumes=[])]})
    assert result["failed"] is True
    assert result["msg"].startswith("%s: could not create it: " % A) and missing in result["msg"] and "(HTTP 404)" in result["msg"]
    assert inspect(A) is None and inspect(B)["State"]["Running"]
    assert result["changed"] is True


def test_check_mode_and_a_refused_spec_change_nothing(network):
    first = run_module("container_create", {"network": network, "containers": [spec(A)]})
    checked = run_module("container_create", {"network": network, "containers": [spec(A)]}, check=True)
    assert checked["changed"] is True and checked["containers"] == [dict(name=A, id=None, replaced=None)]
    refused = run_module("container_create", {"network": network, "containers": [spec(A, memory="lots")]})
    assert refused["failed"] is True and refused["msg"] == "%s: memory: 'lots' is not a size such as 512m or 1g" % A
    assert inspect(A)["Id"] == first["containers"][0]["id"]
