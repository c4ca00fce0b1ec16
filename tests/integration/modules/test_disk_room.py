"""disk_room driven through ansible against the local Docker Engine: a container with a bind mount on a
filesystem of its own (/dev/shm, a tmpfs) and its writable layer under the Docker data root."""

from __future__ import annotations

import os

import pytest

from tests.support.ansible import run_module
from tests.support.disk import df
from tests.support.docker import docker, remove_containers

CONTAINER = "sertantai-test-disk-room"
IMAGE = "sertantai-test/debian:bookworm"


@pytest.fixture(scope="module")
def container(docker_engine, tmp_path_factory):
    assert os.path.ismount("/dev/shm"), "this test needs /dev/shm, a tmpfs of its own"
    shm = tmp_path_factory.mktemp("room")  # only for a unique name
    bind = "/dev/shm/sertantai-test-room-" + shm.name
    os.makedirs(bind, exist_ok=True)
    remove_containers(CONTAINER)
    docker("run", "-d", "--name", CONTAINER, "-v", bind + ":/data", "--mount", "type=tmpfs,destination=/scratch",
           IMAGE, "sleep", "infinity")
    try:
        yield bind
    finally:
        remove_containers(CONTAINER)
        os.rmdir(bind)


@pytest.mark.docker
def test_the_writes_are_counted_on_the_filesystems_they_land_on(container, tmp_path):
    root = docker("info", "--format", "{{.DockerRootDir}}").stdout.strip()
    writes = [
        dict(path=str(tmp_path / "restore" / "a.dump"), bytes=1000, what="the dump"),
        dict(container=CONTAINER, path="/tmp/a.dump", bytes=2000, what="its copy"),
        dict(container=CONTAINER, path="/data/base", bytes=3000, what="the data"),
    ]
    for check in (False, True):
        result = run_module("disk_room", dict(writes=writes, max_percent=100), check=check)
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is False
        rows = dict((row["mount"], row) for row in result["filesystems"])
        shm = rows.pop("/dev/shm")
        assert [w["what"] for w in shm["writes"]] == ["the data"] and shm["bytes"] == 3000
        assert shm["size"] == df("/dev/shm")["size"]
        # the test's directory and the data root: the same disk on this machine, or two
        if df(root)["size"] == df(tmp_path)["size"] and len(rows) == 1:
            (row,) = rows.values()
            assert [w["what"] for w in row["writes"]] == ["the dump", "its copy"] and row["bytes"] == 3000
        else:
            assert sorted(w["what"] for row in rows.values() for w in row["writes"]) == ["its copy", "the dump"]
        assert len(result["lines"]) == len(result["filesystems"])


@pytest.mark.docker
def test_above_the_limit_it_fails_naming_the_filesystem_and_the_writes(container, tmp_path):
    usage = df("/dev/shm")
    writes = [dict(container=CONTAINER, path="/data/x", bytes=usage["avail"] + 1, what="too much"),
              dict(path=str(tmp_path), bytes=0, what="nothing")]
    for check in (False, True):
        result = run_module("disk_room", dict(writes=writes, max_percent=100, hint="Raise some_limit."), check=check)
        assert result.get("failed") is True
        assert result["msg"].startswith("No room: /dev/shm: "), result["msg"]
        assert "(too much " in result["msg"] and "nothing" not in result["msg"]  # only the filesystem that is full
        assert result["msg"].endswith("more than max_percent=100 allows. Nothing was written. Raise some_limit.")
        assert [row["ok"] for row in result["filesystems"] if row["mount"] == "/dev/shm"] == [False]


@pytest.mark.docker
def test_what_cannot_be_measured_is_an_error_not_a_pass(container):
    for writes, words in [
        ([dict(container="sertantai-test-disk-room-gone", path="/x", bytes=1, what="x")],
         "the container sertantai-test-disk-room-gone is not on this host"),
        ([dict(container=CONTAINER, path="/scratch/x", bytes=1, what="x")],
         "/scratch/x in the container %s is on a mount with no source on the host (a tmpfs)" % CONTAINER),
    ]:
        result = run_module("disk_room", dict(writes=writes))
        assert result.get("failed") is True and words in result["msg"], result["msg"]
    bad = run_module("disk_room", dict(writes=[dict(path="/", bytes=-1, what="x")], max_percent=101))
    assert bad.get("failed") is True and bad["msg"] == "max_percent must be between 0 and 100, not 101"
