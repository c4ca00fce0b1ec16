"""_lock: the deploy lock file: exclusive creation, the holder named, only the owner releases."""

from __future__ import annotations

import datetime
import functools
import json
import multiprocessing
import socket

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _lock
from tests.support.docker import subprocess_run_command

# The lock's commands run here, as AnsibleModule.run_command runs them on the host.
acquire = functools.partial(_lock.acquire, subprocess_run_command)
read_holder = functools.partial(_lock.read_holder, subprocess_run_command)
release_lock = functools.partial(_lock.release_lock, subprocess_run_command)

T0 = datetime.datetime(2026, 11, 27, 10, 0, 0, tzinfo=datetime.timezone.utc)


def holder(run_id, owner="alice"):
    return dict(run_id=run_id, owner=owner, controller="laptop", purpose="deploy.yml service=legal")


def test_acquire_writes_the_holder_and_is_idempotent_for_the_same_run(tmp_path):
    path = str(tmp_path / "sub" / "deploy.lock")
    assert acquire(path, holder("r1"), now=T0) == (True, None)
    written = json.loads(open(path, encoding="utf-8").read())
    assert written == dict(holder("r1"), since="2026-11-27T10:00:00Z")
    assert acquire(path, holder("r1"), now=T0) == (False, None)


def test_the_lock_is_read_with_the_hosts_name_and_clock(tmp_path):
    path = str(tmp_path / "deploy.lock")
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    host, now, current = _lock.read_lock(subprocess_run_command, path)
    assert host == socket.gethostname() and current is None
    assert before <= now <= datetime.datetime.now(datetime.timezone.utc)
    acquire(path, holder("r1"))
    assert read_holder(path)["since"] >= _lock.iso(now)


def test_a_second_run_is_refused_naming_the_holder_and_age(tmp_path):
    path = str(tmp_path / "deploy.lock")
    acquire(path, holder("r1"), now=T0)
    with pytest.raises(_lock.LockError) as err:
        acquire(path, holder("r2", "bob"), now=T0 + datetime.timedelta(seconds=42), release_hint="-e deploy_lock_release=true")
    message = err.value.message
    assert "held by alice, from laptop, running deploy.yml service=legal since 2026-11-27T10:00:00Z (42 s ago)" in message
    assert "-e deploy_lock_release=true" in message
    assert "probably killed" not in message
    assert err.value.holder["run_id"] == "r1"


def test_an_old_lock_is_called_probably_stale(tmp_path):
    path = str(tmp_path / "deploy.lock")
    acquire(path, holder("r1"), now=T0)
    with pytest.raises(_lock.LockError) as err:
        acquire(path, holder("r2"), now=T0 + datetime.timedelta(hours=3))
    assert "(3.0 h ago)" in err.value.message and "probably killed" in err.value.message


def test_release_breaks_another_runs_lock_and_reports_it(tmp_path):
    path = str(tmp_path / "deploy.lock")
    acquire(path, holder("r1"), now=T0)
    changed, previous = acquire(path, holder("r2", "bob"), release=True, now=T0)
    assert changed and previous["run_id"] == "r1"
    assert read_holder(path)["run_id"] == "r2"


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / "deploy.lock")
    assert acquire(path, holder("r1"), check_mode=True, now=T0) == (True, None)
    assert read_holder(path) is None


def test_only_the_owner_releases(tmp_path):
    path = str(tmp_path / "deploy.lock")
    acquire(path, holder("r1"), now=T0)
    assert release_lock(path, "r2") == (False, read_holder(path))
    assert read_holder(path)["run_id"] == "r1"
    changed, released = release_lock(path, "r2", force=True, check_mode=True)
    assert changed and released["run_id"] == "r1" and read_holder(path) is not None
    assert release_lock(path, "r1")[0] is True
    assert read_holder(path) is None
    assert release_lock(path, "r1") == (False, None)


def test_a_foreign_file_is_reported_not_crashed_on(tmp_path):
    path = tmp_path / "deploy.lock"
    path.write_text("garbage")
    with pytest.raises(_lock.LockError) as err:
        acquire(str(path), holder("r1"), now=T0)
    assert "not ours or was cut short" in err.value.message


def _race(path, run_id, barrier, results):
    barrier.wait()
    try:
        acquire(path, holder(run_id))
        results.put(run_id)
    except _lock.LockError as exc:
        results.put("refused: " + exc.message)


def test_of_runs_started_at_the_same_instant_exactly_one_gets_the_lock(tmp_path):
    path = str(tmp_path / "deploy.lock")
    # fork, a semaphore barrier and a pipe queue: no sockets (unit tests may not open any).
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(path, "r%d" % i, barrier, queue)) for i in range(8)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=30) for _proc in procs]
    for proc in procs:
        proc.join(timeout=30)
    winners = [r for r in results if not r.startswith("refused")]
    assert len(winners) == 1
    assert read_holder(path)["run_id"] == winners[0]
    assert all("held by alice" in r for r in results if r.startswith("refused"))
