"""_disk: sizes as text, and a filesystem's use in percent as df shows it."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _disk
from ansible_collections.sertantai.deploy.plugins.module_utils._disk import human_bytes, percent_used
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli
from tests.support.disk import df
from tests.support.docker import subprocess_run_command


@pytest.mark.parametrize("value, text", [
    (None, None), (0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 kB"), (16 * 1024 ** 2, "16.0 MB"), (3 * 1024 ** 3, "3.0 GB"),
])
def test_human_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize("used, avail, percent", [
    (0, 100, 0),
    (1, 10 ** 9, 1),          # any use at all is at least 1%, as df rounds up
    (90, 10, 90),
    (901, 99, 91),            # 90.1% is 91%
    # ext4 keeps 5% for root: 86 used and 9 available of 100 blocks is 91% in df, not 86%
    (86, 9, 91),
    (100, 0, 100),
    (0, 0, None),
])
def test_percent_used_is_dfs_use_rounded_up_without_the_reserved_blocks(used, avail, percent):
    assert percent_used(used, avail) == percent


def test_percent_used_agrees_with_df_on_this_machines_filesystems():
    # POSIX df -P's capacity column is the same formula: the number an operator reads in df -h.
    for path in ("/", os.getcwd()):
        usage = df(path)
        assert percent_used(usage["used"] // 1024, usage["avail"] // 1024) == usage["capacity"]


# ---------------------------------------------------------------- room(): the filesystems a job writes to

FAKE_DOCKER = r"""#!/bin/sh
# info --format ...: the data root; inspect --type container --format ... NAMES: each one's mounts, as the
# template prints them; an unknown name fails as Docker's does. Each call is logged in $FAKE_LOG.
echo "$1" >> "$FAKE_LOG"
case $1 in
info) printf '%s\n' "$FAKE_ROOT" ;;
inspect)
    shift 5
    rc=0
    for name in "$@"; do
        case $name in
        pg) printf '/pg\t%s\t/var/lib/postgresql/data\t%s\t/var/lib/postgresql/data/pg_wal\n' "$FAKE_VOLUME" "$FAKE_WAL" ;;
        bare) printf '/bare\n' ;;
        *) printf 'Error: No such container: %s\n' "$name" >&2; rc=1 ;;
        esac
    done
    exit $rc ;;
*) echo "fake docker: unexpected $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """A Docker CLI that knows the containers pg (a volume, and a bind mount for its WAL under it) and bare (no
    mounts), with its data root, the volume and the bind mount as directories of the test: on this machine's disk.
    Returns (DockerCli, {root, volume, wal}); the commands it runs are counted in its calls."""
    paths = dict((key, tmp_path / key) for key in ("root", "volume", "wal"))
    for path in paths.values():
        path.mkdir()
    cli = tmp_path / "docker"
    cli.write_text(FAKE_DOCKER)
    cli.chmod(0o755)
    monkeypatch.setenv("FAKE_ROOT", str(paths["root"]))
    monkeypatch.setenv("FAKE_VOLUME", str(paths["volume"]))
    monkeypatch.setenv("FAKE_WAL", str(paths["wal"]))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "docker.log"))
    calls = []

    def run_command(argv, data=None, binary_data=False):
        calls.append(argv)
        return subprocess_run_command(argv, data=data, binary_data=binary_data)
    docker = DockerCli(run_command, str(cli))
    docker.calls = calls
    docker.log = tmp_path / "docker.log"
    return docker, paths


def test_room_sums_the_writes_per_filesystem_in_one_command_and_counts_as_df_does(engine, tmp_path):
    docker, paths = engine
    writes = [
        dict(path=str(tmp_path / "restore" / "not" / "yet" / "there.dump"), bytes=1000, what="the dump"),
        dict(container="pg", path="/tmp/x.dump", bytes=1000, what="its copy"),          # writable layer: the root
        dict(container="pg", path="/var/lib/postgresql/data", bytes=3000, what="the data"),
        dict(container="pg", path="/var/lib/postgresql/data/pg_wal/", bytes=500, what="its WAL"),
        dict(container="bare", path="/var/lib/postgresql/data", bytes=7, what="no mount: the root"),
    ]
    rows = _disk.room(docker, writes, max_percent=100)
    assert len(docker.calls) == 1 and docker.calls[0][:2] == ["sh", "-c"]
    assert docker.log.read_text().split() == ["info", "inspect"]  # one inspect of both containers
    usage = df(tmp_path)
    assert len(rows) == 1  # all of it on the disk of this test's directory
    row = rows[0]
    assert row["size"] == usage["size"] and row["bytes"] == 5507
    assert abs(row["percent"] - usage["capacity"]) <= 1  # the disk is in use meanwhile
    assert row["percent"] == percent_used(row["used"], row["available"])
    assert row["percent_after"] == -(-100 * (row["used"] + 5507) // (row["used"] + row["available"]))
    assert row["ok"] is True
    assert [(w["what"], w["bytes"], w["container"]) for w in row["writes"]] == [
        ("the dump", 1000, None), ("its copy", 1000, "pg"), ("the data", 3000, "pg"), ("its WAL", 500, "pg"),
        ("no mount: the root", 7, "bare")]
    assert _disk.room_line(row) == "%s: %d%% used, %s free; 5.4 kB to write there (the dump 1000 bytes, its copy 1000 bytes, " \
        "the data 2.9 kB, its WAL 500 bytes, no mount: the root 7 bytes): %d%% after" % (
            row["mount"], row["percent"], human_bytes(row["available"]), row["percent_after"])


def test_each_write_lands_on_the_filesystem_of_its_path(engine, tmp_path):
    # /dev/shm is a filesystem of its own (tmpfs) on Linux: what lands there is counted there, not on the disk
    docker, _paths = engine
    assert os.path.ismount("/dev/shm"), "this test needs /dev/shm, a tmpfs of its own"
    rows = _disk.room(docker, [dict(path=str(tmp_path / "a"), bytes=10, what="a"),
                               dict(path="/dev/shm/sertantai-test-room/b", bytes=20, what="b"),
                               dict(path=str(tmp_path / "c"), bytes=30, what="c")], max_percent=100)
    assert [(row["mount"], row["bytes"], [w["what"] for w in row["writes"]]) for row in rows] == [
        (rows[0]["mount"], 40, ["a", "c"]), ("/dev/shm", 20, ["b"])]
    assert rows[0]["mount"] != "/dev/shm"


def test_what_does_not_fit_is_over_100_percent_and_not_ok(engine, tmp_path):
    docker, _paths = engine
    usage = df(tmp_path)
    row = _disk.room(docker, [dict(path=str(tmp_path), bytes=usage["avail"] * 2, what="too much")], max_percent=100)[0]
    assert row["percent_after"] > 100 and row["ok"] is False
    # the limit is the use after the writes: 0 bytes under a limit of the use now is fine, one percent less is not
    now = _disk.room(docker, [dict(path=str(tmp_path), bytes=0, what="nothing")], max_percent=100)[0]["percent"]
    assert _disk.room(docker, [dict(path=str(tmp_path), bytes=0, what="nothing")], max_percent=now)[0]["ok"] is True
    assert _disk.room(docker, [dict(path=str(tmp_path), bytes=0, what="nothing")], max_percent=now - 1)[0]["ok"] is False


def test_without_containers_docker_is_not_asked(engine, tmp_path):
    docker, _paths = engine
    rows = _disk.room(docker, [dict(path=str(tmp_path), bytes=1, what="x")], max_percent=100)
    assert rows[0]["bytes"] == 1 and not docker.log.exists()


def test_a_container_that_is_not_there_is_named(engine):
    docker, _paths = engine
    with pytest.raises(_disk.RoomError) as error:
        _disk.room(docker, [dict(container="pg", path="/x", bytes=1, what="x"),
                            dict(container="gone", path="/x", bytes=1, what="y")], max_percent=100)
    assert error.value.message == "the container gone is not on this host"


@pytest.mark.parametrize("output, message", [
    ("df\t/x\t12 34 nope /\n", "could not read the filesystem of /x from df: '12 34 nope /'"),
    ("df\t/x\t12 34\n", "could not read the filesystem of /x from df: '12 34'"),
])
def test_a_df_line_that_is_not_understood_is_an_error(output, message):
    with pytest.raises(_disk.RoomError) as error:
        _disk.parse_room(output)
    assert error.value.message == message


def test_the_deepest_mount_a_container_path_is_under_decides():
    mounts = {"pg": [("/vol", "/data"), ("/wal", "/data/pg_wal"), ("/other", "/database")]}

    def where(path):
        return _disk.host_path(dict(container="pg", path=path), "/root", mounts)

    assert where("/data") == "/vol" and where("/data/base/1") == "/vol"
    assert where("/data/pg_wal") == "/wal" and where("/data/pg_wal/0001") == "/wal"
    assert where("/database/x") == "/other"    # a prefix of the name is not a parent
    assert where("/tmp/x") == "/root"          # the writable layer
    assert _disk.host_path(dict(path="/host/x"), "/root", mounts) == "/host/x"
