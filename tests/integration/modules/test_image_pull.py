"""image_pull driven through ansible against the local Docker Engine and a real registry with auth
(tests/images/registry) on 127.0.0.1, logged in through a DOCKER_CONFIG of the test's own."""

from __future__ import annotations

import secrets

import pytest

from tests.support.ansible import run_module
from tests.support.disk import df
from tests.support.docker import docker, local_image_id, remove_containers
from tests.support.registry import remove_pushed_images, start_registry

REGISTRY = "sertantai-test-image-pull-registry"
REGISTRY_USER = "shotleybuilder"
BASE = "sertantai-test/debian:bookworm"


@pytest.fixture(scope="module")
def registry(docker_engine, tmp_path_factory):
    """``(host, DOCKER_CONFIG)``: a registry with auth and a Docker config logged in to it."""
    remove_pushed_images("sertantai-test-pull-")
    password = secrets.token_hex(16)
    host = "127.0.0.1:%d" % start_registry(REGISTRY, REGISTRY_USER, password)
    config = str(tmp_path_factory.mktemp("docker-config"))
    docker("--config", config, "login", host, "-u", REGISTRY_USER, "--password-stdin", input=password)
    refs = []
    yield host, config, refs, password
    docker("rmi", "-f", *refs, check=False)
    remove_containers(REGISTRY)


def push(registry, name, version):
    """Build a one-layer image, push it as ``<registry>/<name>``, remove it locally; return (ref, image id)."""
    host, config, refs, _password = registry
    ref = "%s/%s" % (host, name)
    refs.append(ref)
    docker("build", "-q", "-t", ref, "-", input="FROM %s\nRUN echo %s > /version\n" % (BASE, version))
    image_id = local_image_id(ref)
    docker("--config", config, "push", "-q", ref)
    docker("rmi", ref)
    return ref, image_id


def test_pulls_all_images_in_one_call_and_reports_what_changed(registry, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", registry[1])
    backend, backend_id = push(registry, "sertantai-test-pull-backend:1", "backend-1")
    frontend, frontend_id = push(registry, "sertantai-test-pull-frontend:1", "frontend-1")
    args = {"images": [backend, frontend]}

    # check mode: both are absent, so both would be pulled (a change), but nothing is pulled
    checked = run_module("image_pull", args, check=True)
    assert not checked.get("failed"), checked["msg"]
    assert (checked["changed"], checked["pulled"]) == (True, [backend, frontend])
    assert [(i["pulled"], i["changed"], i["id"]) for i in checked["images"]] == [(True, True, None)] * 2
    assert "would be pulled" in checked["msg"]
    assert (local_image_id(backend), local_image_id(frontend)) == (None, None)

    # one call pulls both
    pulled = run_module("image_pull", args)
    assert not pulled.get("failed"), pulled["msg"]
    assert (pulled["changed"], pulled["pulled"]) == (True, [backend, frontend])
    assert [(i["image"], i["id"], i["changed"]) for i in pulled["images"]] == [(backend, backend_id, True), (frontend, frontend_id, True)]
    assert (local_image_id(backend), local_image_id(frontend)) == (backend_id, frontend_id)

    # not_present: both are here, nothing pulled, nothing changed
    again = run_module("image_pull", dict(args, pull="not_present"))
    assert (again.get("failed"), again["changed"], again["pulled"]) == (None, False, [])
    assert [i["pulled"] for i in again["images"]] == [False, False]

    # always: pulled again, the registry holds the same images, nothing changed
    again = run_module("image_pull", args)
    assert (again.get("failed"), again["changed"], again["pulled"]) == (None, False, [])
    assert [i["pulled"] for i in again["images"]] == [True, True]

    # check mode asks the registry: it holds the same images
    checked = run_module("image_pull", args, check=True)
    assert (checked.get("failed"), checked["changed"], checked["pulled"]) == (None, False, [])
    assert [i["remote"] for i in checked["images"]] == ["current", "current"]

    # a new image under the backend's tag: check mode pulls nothing and names it; the real run changes the backend only
    new_backend, new_backend_id = push(registry, "sertantai-test-pull-backend:1", "backend-2")
    docker("image", "tag", backend_id, backend)
    checked = run_module("image_pull", args, check=True)
    assert (checked["changed"], checked["pulled"]) == (True, [backend])
    assert [i["remote"] for i in checked["images"]] == ["newer", "current"]
    assert "the registry holds a newer image for %s" % backend in checked["msg"]
    assert local_image_id(backend) == backend_id
    updated = run_module("image_pull", args)
    assert (updated["changed"], updated["pulled"]) == (True, [backend])
    assert [i["changed"] for i in updated["images"]] == [True, False]
    assert local_image_id(backend) == new_backend_id
    docker("rmi", "-f", backend_id, check=False)


def test_a_missing_image_fails_naming_it_with_dockers_reason(registry, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", registry[1])
    present, present_id = push(registry, "sertantai-test-pull-present:1", "present")
    missing = "%s/sertantai-test-pull-present:never-pushed" % registry[0]

    result = run_module("image_pull", {"images": [missing, present]})
    assert result.get("failed") is True
    by_image = dict((i["image"], i) for i in result["images"])
    assert "manifest unknown" in by_image[missing]["error"] and by_image[missing]["id"] is None
    assert result["msg"] == "%s could not be pulled (%s)" % (missing, by_image[missing]["error"])
    # the other image was pulled all the same
    assert "error" not in by_image[present] and by_image[present]["id"] == present_id
    assert (result["changed"], result["pulled"]) == (True, [present])


def test_check_mode_fails_on_a_tag_the_registry_does_not_have_and_pulls_nothing(registry, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", registry[1])
    present, _present_id = push(registry, "sertantai-test-pull-typo:1", "typo")
    typo = "%s/sertantai-test-pull-typo:l" % registry[0]
    result = run_module("image_pull", {"images": [present, typo], "failure_hint": "Nothing was changed."}, check=True)
    assert result.get("failed") is True
    by_image = dict((i["image"], i) for i in result["images"])
    assert "error" not in by_image[present] and by_image[present]["changed"] is True
    assert by_image[typo]["error"] == "no such manifest: %s" % typo
    assert result["msg"] == ("Check mode pulls nothing, and a run would fail: %s could not be pulled (no such manifest: %s). "
                             "Nothing was changed." % (typo, typo))
    assert local_image_id(present) is None


def test_without_a_login_the_registry_refuses_and_the_reason_says_so(registry, monkeypatch, tmp_path):
    ref, _image_id = push(registry, "sertantai-test-pull-private:1", "private")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    result = run_module("image_pull", {"images": [ref], "pull": "not_present"})
    assert result.get("failed") is True
    assert result["msg"].startswith("%s could not be pulled (" % ref)
    assert "no basic auth credentials" in result["msg"] or "unauthorized" in result["msg"], result["msg"]
    assert local_image_id(ref) is None


def test_logs_in_first_in_the_same_run_and_a_refused_login_pulls_nothing(registry, monkeypatch, tmp_path):
    host, _config, _refs, password = registry
    ref, image_id = push(registry, "sertantai-test-pull-login:1", "login")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    config = tmp_path / "config.json"
    args = {"images": [ref], "registry": host, "username": REGISTRY_USER, "password": password}

    # check mode: the registry checks the credentials and answers with them; the host's configuration is not written
    checked = run_module("image_pull", args, check=True)
    assert not checked.get("failed"), checked["msg"]
    assert checked["login"] == {"registry": host, "username": REGISTRY_USER, "changed": False}
    assert checked["pulled"] == [ref] and "would be pulled" in checked["msg"]
    assert not config.exists()
    # without the login, the registry refuses to answer, as it would refuse the pull
    unlogged = run_module("image_pull", {"images": [ref]}, check=True)
    assert unlogged.get("failed") is True and "no basic auth credentials" in unlogged["images"][0]["error"], unlogged["msg"]

    refused = run_module("image_pull", dict(args, password="expired-token"), check=True)
    assert refused.get("failed") is True and "images" not in refused
    assert refused["msg"].startswith("could not log in to %s as %s: " % (host, REGISTRY_USER)), refused["msg"]
    refused = run_module("image_pull", dict(args, password="expired-token"))
    assert refused.get("failed") is True and "images" not in refused
    assert refused["msg"].startswith("could not log in to %s as %s: " % (host, REGISTRY_USER)), refused["msg"]
    assert "unauthorized" in refused["login"]["error"].lower() or "401" in refused["login"]["error"], refused["login"]
    assert not config.exists() and local_image_id(ref) is None

    first = run_module("image_pull", args)
    assert not first.get("failed"), first["msg"]
    assert first["login"]["changed"] is True and first["pulled"] == [ref] and local_image_id(ref) == image_id
    assert host in config.read_text()
    assert password not in repr(first)
    again = run_module("image_pull", args)
    assert (again["login"]["changed"], again["changed"]) == (False, False)


def test_a_disk_fuller_than_the_limit_pulls_nothing_and_says_how_full(registry, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", registry[1])
    ref, image_id = push(registry, "sertantai-test-pull-disk:1", "disk")
    root = docker("info", "--format", "{{.DockerRootDir}}").stdout.strip()
    usage = df(root)
    percent = usage["capacity"]
    assert percent >= 1  # any use at all is at least 1%, as df rounds up: a limit of 0 refuses on every real disk

    for check in (True, False):
        refused = run_module("image_pull", {"images": [ref], "disk_max_percent": 0, "failure_hint": "A token hint."}, check=check)
        assert refused.get("failed") is True and "images" not in refused
        assert refused["disk"] == dict(path=root, size=usage["size"], used=refused["disk"]["used"],
                                       available=refused["disk"]["available"], percent=refused["disk"]["percent"], max_percent=0)
        assert abs(refused["disk"]["percent"] - percent) <= 1  # the engine's disk is this machine's, in use meanwhile
        assert refused["msg"].startswith("The filesystem of the Docker data root %s is %d%% used, more than disk_max_percent=0 allows ("
                                         % (root, refused["disk"]["percent"])), refused["msg"]
        assert ("a run would pull nothing" if check else "nothing was pulled") in refused["msg"]
        assert "token" not in refused["msg"]  # not the registry's refusal: no hint about credentials
        assert local_image_id(ref) is None

    pulled = run_module("image_pull", {"images": [ref], "disk_max_percent": 100})
    assert not pulled.get("failed"), pulled["msg"]
    assert pulled["pulled"] == [ref] and local_image_id(ref) == image_id
    assert (pulled["disk"]["path"], pulled["disk"]["max_percent"]) == (root, 100)

    bad = run_module("image_pull", {"images": [ref], "disk_max_percent": 101})
    assert bad.get("failed") is True and bad["msg"] == "disk_max_percent must be between 0 and 100, not 101"
