"""image_prune driven through ansible against the local Docker Engine, with images that reached it as a server's
do: pushed to a real registry (tests/images/registry) and pulled under a tag that moves, so the older ones stay
named only by their digest."""

from __future__ import annotations

import secrets

import pytest

from tests.support.ansible import run_module
from tests.support.docker import docker, local_image_id, remove_containers
from tests.support.registry import remove_pushed_images, start_registry

REGISTRY = "sertantai-test-image-prune-registry"
USER = "shotleybuilder"
BASE = "sertantai-test/debian:bookworm"
CONTAINER = "sertantai-test-image-prune-old"


@pytest.fixture
def deployed(docker_engine, tmp_path, monkeypatch):
    """Four versions of ``<registry>/sertantai-test-prune-backend``, each built, pushed and pulled as ``:latest`` in
    turn (as four deploys would), the second also tagged in another repository, and a stopped container on the first.
    Yields ``(latest ref, [ids oldest first], other ref)``."""
    remove_pushed_images("sertantai-test-prune-")
    password = secrets.token_hex(16)
    host = "127.0.0.1:%d" % start_registry(REGISTRY, USER, password)
    config = str(tmp_path / "docker-config")
    docker("--config", config, "login", host, "-u", USER, "--password-stdin", input=password)
    monkeypatch.setenv("DOCKER_CONFIG", config)
    repository = host + "/sertantai-test-prune-backend"
    latest, other = repository + ":latest", host + "/sertantai-test-prune-other:v2"
    ids = []
    for version in range(1, 5):
        docker("build", "-q", "-t", latest, "-", input="FROM %s\nRUN echo %d > /version\n" % (BASE, version))
        ids.append(local_image_id(latest))
        docker("push", "-q", latest)
        # A server pulls what was pushed: the image is now also named by its digest, which outlives the tag.
        docker("rmi", latest)
        docker("pull", "-q", latest)
        if version == 1:
            remove_containers(CONTAINER)
            docker("create", "--name", CONTAINER, latest, "true")
        if version == 2:
            docker("tag", latest, other)
    yield latest, ids, other
    remove_containers(CONTAINER, REGISTRY)
    docker("rmi", *[image_id for image_id in ids if local_image_id(image_id)], other, check=False)


def test_keeps_the_newest_and_the_used_removes_the_others_and_a_second_run_changes_nothing(deployed):
    latest, ids, other = deployed
    one, two, three, four = ids
    args = {"images": [latest], "keep": 2}

    checked = run_module("image_prune", args, check=True)
    assert not checked.get("failed"), checked["msg"]
    assert checked["changed"] is True
    assert [(item["id"], item["deleted"]) for item in checked["removed"]] == [(two, False)]
    assert checked["msg"].startswith("would remove 1 old image")
    assert all(local_image_id(image_id) is not None for image_id in ids)

    result = run_module("image_prune", args)
    assert not result.get("failed"), result["msg"]
    assert result["changed"] is True
    [removed] = result["removed"]
    # Only this repository's reference went: the other repository still names the image, so it stays.
    assert (removed["id"], removed["deleted"], removed["error"]) == (two, False, None)
    assert removed["references"] == [ref for ref in removed["references"] if ref.startswith(latest.split(":latest")[0] + "@")]
    assert local_image_id(two) and local_image_id(other) == two
    kept = dict((item["id"], item["why"]) for item in result["repositories"][0]["kept"])
    assert kept == {four: "wanted", three: "among the newest 2", one: "in use"}
    assert all(local_image_id(image_id) is not None for image_id in (one, three, four))

    again = run_module("image_prune", args)
    assert (again.get("failed"), again["changed"], again["removed"]) == (None, False, [])

    # Once the container that uses the oldest is gone, the oldest goes too, and is deleted: nothing else names it.
    remove_containers(CONTAINER)
    last = run_module("image_prune", args)
    assert [(item["id"], item["deleted"]) for item in last["removed"]] == [(one, True)]
    assert last["freed"] > 0 and not local_image_id(one)
    assert local_image_id(three) and local_image_id(four)
