"""electric_slots_info and electric_reset against a real PostgreSQL (wal_level=logical) and real Electric stand-in containers.

Slots are cluster-wide: every test names its own slots (``electric_slot_t<random>``) and drops them
before its database goes, and asserts about those names only.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
from pathlib import Path

import psycopg
import pytest

from tests.conftest import start_pg
from tests.support.ansible import run_module
from tests.support.docker import PREFIX, docker, inspect, remove_containers, wait_until

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[3]
AREA = PREFIX + "electric-"
NETWORK = AREA + "net"
ELECTRIC_PG = AREA + "pg"
LOST_PG = AREA + "pg-lost"
ELECTRIC_1 = AREA + "1"
ELECTRIC_2 = AREA + "2"
ELECTRIC_IMAGE = os.environ.get("SERTANTAI_TEST_ELECTRIC_IMAGE", "sertantai-test/electric:latest")


def info(pg, **args):
    """Run electric_slots_info through docker exec psql against ``pg`` (a PgServer)."""
    return run_module("electric_slots_info", dict(args, pg_container=pg.container))


def reset(pg, check=False, diff=False, **args):
    """Run electric_reset through docker exec psql against ``pg``."""
    return run_module("electric_reset", dict(args, pg_container=pg.container), check=check, diff=diff)


def slot_of(result, name):
    found = [s for s in result["slots"] if s["name"] == name]
    return found[0] if found else None


def slot_exists(pg, name):
    return pg.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'" % name).strip() == "1"


@pytest.fixture
def stream_id():
    return "t" + secrets.token_hex(5)


@pytest.fixture
def own_slot(pg_server, pg_database, stream_id):
    """An inactive logical slot (pgoutput) and its publication in a fresh database; dropped afterwards."""
    slot = "electric_slot_" + stream_id
    pg_server.psql("CREATE PUBLICATION electric_publication_%s" % stream_id, pg_database)
    pg_server.psql("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')" % slot, pg_database)
    yield slot
    pg_server.psql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '%s' AND active" % slot)
    wait_until(lambda: pg_server.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s' AND active" % slot).strip() == "0",
               timeout=20, what="slot %s to become inactive" % slot)
    pg_server.psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s'" % slot)


# ------------------------------------------------------------------ conflicts


def test_conflicts_are_reported_before_any_sql():
    """Same stream id, or no stream id twice: the input alone is wrong, so the module fails without touching
    PostgreSQL (the container it names does not even exist)."""
    instances = [dict(name="legal-electric", stream_id="legal", database="legal_db"),
                 dict(name="legal2-electric", stream_id="legal", database="other_db"),
                 dict(name="auth-electric", database="auth_db"),
                 dict(name="enforcement-electric", stream_id="", database="enforcement_db"),
                 dict(name="fine-electric", stream_id="fine", database="fine_db")]
    result = run_module("electric_slots_info", dict(pg_container=AREA + "no-such-container", instances=instances))
    assert result.get("failed") is True
    assert [(c["kind"], c["slot"], c["instances"]) for c in result["conflicts"]] == [
        ("shared_slot", "electric_slot_default", ["auth-electric", "enforcement-electric"]),
        ("shared_slot", "electric_slot_legal", ["legal-electric", "legal2-electric"]),
    ]
    assert "ELECTRIC_REPLICATION_STREAM_ID" in result["msg"] and "set no stream id" in result["msg"]
    assert "no-such-container" not in result["msg"]


def test_slot_in_another_database_is_a_conflict(pg_server, pg_database, own_slot, stream_id):
    result = info(pg_server, instances=[dict(name="legal-electric", stream_id=stream_id, database="postgres")])
    assert result.get("failed") is True
    assert [(c["kind"], c["slot"], c["databases"]) for c in result["conflicts"]] == \
        [("other_database", own_slot, ["postgres", pg_database])]
    assert own_slot in result["msg"]


# ------------------------------------------------------------------ waiting on the replication lock


@pytest.fixture
def lock_sessions(pg_server, pg_database, stream_id):
    """Two sessions doing what two Electric instances do: the first holds the slot's lock, the second waits."""
    slot = "electric_slot_" + stream_id
    conninfo = dict(host=pg_server.host, port=pg_server.port, user="postgres", password=pg_server.password,
                    dbname=pg_database, autocommit=True, application_name="lock-test")
    holder = psycopg.connect(**conninfo)
    holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (slot,))
    waiter = psycopg.connect(**conninfo)
    waiter_pid = waiter.info.backend_pid
    blocked = threading.Thread(target=waiter.execute, args=("SELECT pg_advisory_lock(hashtext('%s'))" % slot,), daemon=True)
    blocked.start()
    wait_until(lambda: pg_server.psql("SELECT wait_event FROM pg_stat_activity WHERE pid = %d" % waiter_pid).strip() == "advisory",
               timeout=20, what="the second session to wait on the advisory lock")
    yield slot, holder.info.backend_pid, waiter_pid
    holder.close()
    blocked.join(timeout=20)
    waiter.close()


def test_waiting_instance_is_reported_with_holder_pid(pg_server, pg_database, own_slot, lock_sessions, stream_id):
    slot, holder_pid, waiter_pid = lock_sessions
    # The direct (psycopg) transport this time.
    result = run_module("electric_slots_info", dict(pg_host=pg_server.host, pg_port=pg_server.port, pg_password=pg_server.password,
                                                    instances=[dict(name="legal-electric", stream_id=stream_id, database=pg_database)]))
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    waiting = [w for w in result["waiting"] if w["slot"] == slot]
    assert len(waiting) == 1
    entry = waiting[0]
    assert (entry["pid"], entry["holder_pid"], entry["database"]) == (waiter_pid, holder_pid, pg_database)
    assert (entry["wait_event_type"], entry["wait_event"]) == ("Lock", "advisory")
    assert entry["since"] and entry["holder_since"] and entry["backend_start"]
    assert entry["instances"] == ["legal-electric"]
    assert "pid %d" % waiter_pid in entry["msg"] and "held by pid %d" % holder_pid in entry["msg"]
    assert any("pid %d" % waiter_pid in w for w in result.get("warnings", []))
    # The slot is inactive, but its lock is held: a running Electric would use it again, so absent refuses.
    assert slot_of(result, slot)["lock_holder_pid"] == holder_pid
    refused = reset(pg_server, instances=[dict(name="legal-electric", stream_id=stream_id, database=pg_database)])
    assert refused.get("failed") is True
    assert "pid %d" % holder_pid in refused["msg"] and "holds its replication lock" in refused["msg"]
    assert slot_exists(pg_server, slot)


def test_lock_held_before_any_slot_exists_is_named(pg_server, pg_database, stream_id):
    """A stray session holding an instance's replication lock while no slot exists yet: the next Electric
    would wait forever, so the holder is reported (and fails the guard with fail_on_lock_held)."""
    slot = "electric_slot_" + stream_id
    stray = psycopg.connect(host=pg_server.host, port=pg_server.port, user="postgres", password=pg_server.password,
                            dbname=pg_database, autocommit=True, application_name="stray-psql")
    try:
        stray.execute("SELECT pg_advisory_lock(hashtext(%s))", (slot,))
        instances = [dict(name="legal-electric", stream_id=stream_id, database=pg_database)]
        result = info(pg_server, instances=instances)
        assert result.get("failed") is not True, result.get("msg")
        assert slot_of(result, slot) is None
        (holder,) = [h for h in result["lock_holders"] if h["slot"] == slot]
        assert (holder["pid"], holder["application_name"], holder["database"], holder["slot_exists"], holder["instances"]) == \
            (stray.info.backend_pid, "stray-psql", pg_database, False, ["legal-electric"])
        assert any("pid %d" % stray.info.backend_pid in w and "does not exist yet" in w for w in result.get("warnings", []))

        guarded = info(pg_server, instances=instances, fail_on_lock_held=True)
        assert guarded.get("failed") is True
        assert "pid %d (stray-psql" % stray.info.backend_pid in guarded["msg"]
        assert "pg_terminate_backend(%d)" % stray.info.backend_pid in guarded["msg"]

        # A lock in another database does not block an instance of this one.
        other = info(pg_server, instances=[dict(name="legal-electric", stream_id=stream_id, database="postgres")],
                     fail_on_lock_held=True)
        assert other.get("failed") is not True, other.get("msg")
        # Nor can the publication be dropped under a starting Electric.
        refused = reset(pg_server, instances=instances)
        assert refused.get("failed") is True and "is absent but pid %d" % stray.info.backend_pid in refused["msg"]
    finally:
        stray.close()
    released = info(pg_server, instances=[dict(name="legal-electric", stream_id=stream_id, database=pg_database)],
                    fail_on_lock_held=True)
    assert released.get("failed") is not True and [h for h in released["lock_holders"] if h["slot"] == slot] == []


# ------------------------------------------------------------------ stale and lost slots


def test_inactive_slot_retaining_wal_is_stale(pg_server, pg_database, own_slot, stream_id):
    pg_server.psql("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) AS g", pg_database)
    # Created after the filler: it retains next to nothing, so the same threshold does not touch it.
    young = "electric_slot_" + stream_id + "_young"
    pg_server.psql("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')" % young, pg_database)
    try:
        instances = [dict(name="legal-electric", stream_id=stream_id, database=pg_database)]
        warned = info(pg_server, instances=instances, max_retained_wal_bytes=1024 ** 2)
        assert warned.get("failed") is not True, warned.get("msg")
        old_slot, young_slot = slot_of(warned, own_slot), slot_of(warned, young)
        assert (old_slot["active"], old_slot["stale"], old_slot["publication_exists"]) == (False, True, True)
        assert old_slot["retained_wal_bytes"] > 1024 ** 2
        assert (young_slot["active"], young_slot["stale"], young_slot["orphaned"]) == (False, False, True)
        assert young_slot["retained_wal_bytes"] < 1024 ** 2
        stale = [s for s in warned["stale"] if s["slot"] in (own_slot, young)]
        assert [(s["slot"], s["reason"], s["active"], s["resync_required"]) for s in stale] == \
            [(own_slot, "retained_wal", False, False)]
        assert any(own_slot in w for w in warned.get("warnings", []))

        failed = info(pg_server, instances=instances, max_retained_wal_bytes=1024 ** 2, fail_on_stale=True)
        assert failed.get("failed") is True
        assert own_slot in failed["msg"] and "max_retained_wal_bytes" in failed["msg"] and young not in failed["msg"]
    finally:
        pg_server.psql("SELECT pg_drop_replication_slot('%s')" % young)


@pytest.fixture(scope="module")
def lost_pg(docker_engine):
    """A PostgreSQL that keeps at most 1 MB of WAL for slots, so a slot that falls behind is lost."""
    server = start_pg(LOST_PG, "-c", "max_slot_wal_keep_size=1MB")
    yield server
    remove_containers(LOST_PG)


def test_lost_slot_is_reported_with_resync(lost_pg):
    slot = "electric_slot_lostdemo"
    lost_pg.psql("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')" % slot)
    lost_pg.psql("CREATE TABLE IF NOT EXISTS churn (x int)")

    def churn_until_lost():
        lost_pg.psql("INSERT INTO churn SELECT generate_series(1, 5000); SELECT pg_switch_wal(); CHECKPOINT;")
        return lost_pg.psql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '%s'" % slot).strip() == "lost"

    wait_until(churn_until_lost, timeout=60, interval=0.2, what="slot %s to be lost" % slot)

    result = info(lost_pg, instances=[dict(name="legal-electric", stream_id="lostdemo", database="postgres")], fail_on_stale=True)
    assert result.get("failed") is True and "must resync all shapes" in result["msg"]
    reported = slot_of(result, slot)
    assert (reported["wal_status"], reported["lost"], reported["retained_wal_bytes"]) == ("lost", True, None)
    (stale,) = [s for s in result["stale"] if s["slot"] == slot]
    assert (stale["reason"], stale["resync_required"]) == ("lost", True)
    assert "must resync all shapes" in stale["msg"]

    # A lost slot is inactive: electric_reset may drop it.
    dropped = reset(lost_pg, instances=[dict(name="legal-electric", stream_id="lostdemo")])
    assert dropped["changed"] is True and not slot_exists(lost_pg, slot)


# ------------------------------------------------------------------ electric_reset


def test_reset_check_mode_diff_then_drop_then_idempotent(pg_server, pg_database, own_slot, stream_id):
    publication = "electric_publication_" + stream_id
    instances = [dict(name="legal-electric", stream_id=stream_id, database=pg_database)]
    expected_before = dict(replication_slots=[dict(name=own_slot, database=pg_database)],
                           publications=[dict(name=publication, database=pg_database)])
    expected_dropped = [dict(kind="slot", name=own_slot, database=pg_database),
                        dict(kind="publication", name=publication, database=pg_database)]

    checked = reset(pg_server, check=True, diff=True, instances=instances)
    assert checked.get("failed") is not True, checked.get("msg")
    assert checked["changed"] is True
    assert checked["dropped"] == expected_dropped
    assert checked["queries"] == ["SELECT pg_drop_replication_slot('%s')" % own_slot,
                                  'DROP PUBLICATION IF EXISTS "%s"' % publication]
    assert checked["diff"]["before"] == expected_before
    assert checked["diff"]["after"] == dict(replication_slots=[], publications=[])
    assert slot_exists(pg_server, own_slot)
    assert pg_server.psql("SELECT count(*) FROM pg_publication WHERE pubname = '%s'" % publication, pg_database).strip() == "1"

    done = reset(pg_server, diff=True, instances=instances)
    assert done.get("failed") is not True, done.get("msg")
    assert (done["changed"], done["dropped"]) == (True, expected_dropped)
    assert done["diff"]["before"] == expected_before
    assert not slot_exists(pg_server, own_slot)
    assert pg_server.psql("SELECT count(*) FROM pg_publication WHERE pubname = '%s'" % publication, pg_database).strip() == "0"

    again = reset(pg_server, instances=instances)
    assert (again.get("failed"), again["changed"], again["dropped"], again["queries"]) == (None, False, [], [])


def test_reset_refuses_active_slot_and_names_its_pid(pg_server, pg_database, own_slot, stream_id):
    # pg_recvlogical inside the PostgreSQL container streams from the slot, as Electric would.
    docker("exec", "-d", pg_server.container, "pg_recvlogical", "-U", "postgres", "-d", pg_database, "--slot", own_slot,
           "--start", "--no-loop", "-f", "/dev/null", "-o", "proto_version=1", "-o", "publication_names=electric_publication_" + stream_id)
    active_pid = wait_until(
        lambda: pg_server.psql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = '%s' AND active" % own_slot).strip(),
        timeout=20, what="slot %s to become active" % own_slot)
    instances = [dict(name="legal-electric", stream_id=stream_id, database=pg_database)]

    result = reset(pg_server, check=True, instances=instances)
    assert result.get("failed") is True
    assert "pid %s" % active_pid in result["msg"] and "is active" in result["msg"]
    assert result["dropped"] == [] and result["changed"] is False
    # Without check mode too: nothing dropped.
    assert reset(pg_server, instances=instances).get("failed") is True
    slot = slot_of(info(pg_server, instances=instances), own_slot)
    assert (slot["active"], str(slot["active_pid"]), slot["stale"]) == (True, active_pid, False)
    assert slot_exists(pg_server, own_slot)


# ------------------------------------------------------------------ two Electric containers, one stream id


def _cleanup_electric():
    remove_containers(ELECTRIC_1, ELECTRIC_2, ELECTRIC_PG)
    docker("network", "rm", NETWORK, check=False)


@pytest.fixture(scope="module")
def electric_pg(docker_engine):
    if "SERTANTAI_TEST_ELECTRIC_IMAGE" not in os.environ:  # an override is built by whoever set it
        subprocess.run([str(REPO / "scripts" / "build-images"), "electric"], check=True, cwd=str(REPO), timeout=600)
    _cleanup_electric()
    docker("network", "create", NETWORK)
    server = start_pg(ELECTRIC_PG)
    docker("network", "connect", NETWORK, ELECTRIC_PG)
    server.psql("CREATE DATABASE legal")
    yield server
    _cleanup_electric()


def start_electric(pg, name, stream_id):
    docker("run", "-d", "--name", name, "--network", NETWORK,
           "-e", "DATABASE_URL=postgresql://postgres:%s@%s:5432/legal" % (pg.password, ELECTRIC_PG),
           "-e", "ELECTRIC_REPLICATION_STREAM_ID=" + stream_id, "-e", "ELECTRIC_INSECURE=true", ELECTRIC_IMAGE)


def health(name):
    """(HTTP code, body) of /v1/health, asked inside the container as the healthcheck does."""
    out = docker("exec", name, "curl", "-s", "-o", "-", "-w", "\n%{http_code}", "http://localhost:3000/v1/health", check=False).stdout
    body, code = out.rsplit("\n", 1) if "\n" in out else ("", out)
    return code, body


def ip_of(name):
    return inspect(name)["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]


def test_second_electric_waits_on_the_first_ones_lock(electric_pg):
    instances = [dict(name=ELECTRIC_1, stream_id="legal", database="legal")]
    start_electric(electric_pg, ELECTRIC_1, "legal")
    wait_until(lambda: health(ELECTRIC_1)[0] == "200", timeout=60, what="%s to be active" % ELECTRIC_1)
    start_electric(electric_pg, ELECTRIC_2, "legal")
    wait_until(lambda: health(ELECTRIC_2)[0] == "202", timeout=60, what="%s to answer 202" % ELECTRIC_2)
    assert json.loads(health(ELECTRIC_1)[1]) == {"status": "active"}
    assert json.loads(health(ELECTRIC_2)[1]) == {"status": "waiting"}
    # The pitfall: Docker calls the waiting one healthy, since curl --fail accepts 202.
    wait_until(lambda: inspect(ELECTRIC_2)["State"]["Health"]["Status"] == "healthy", timeout=30,
               what="docker to call the waiting %s healthy" % ELECTRIC_2)

    result = info(electric_pg, instances=instances)
    assert result.get("failed") is not True, result.get("msg")
    slot = slot_of(result, "electric_slot_legal")
    assert (slot["active"], slot["active_client_addr"], slot["database"], slot["publication_exists"]) == \
        (True, ip_of(ELECTRIC_1), "legal", True)
    (waiting,) = result["waiting"]
    assert (waiting["slot"], waiting["database"], waiting["client_addr"], waiting["holder_client_addr"]) == \
        ("electric_slot_legal", "legal", ip_of(ELECTRIC_2), ip_of(ELECTRIC_1))
    assert waiting["holder_pid"] == slot["lock_holder_pid"]
    assert waiting["since"] and waiting["wait_event"] == "advisory"

    refused = reset(electric_pg, instances=instances)
    assert refused.get("failed") is True and "pid %d" % slot["active_pid"] in refused["msg"]

    # The first one stops: the second takes the lock and the slot over.
    docker("stop", "-t", "5", ELECTRIC_1)
    wait_until(lambda: health(ELECTRIC_2)[0] == "200", timeout=60, what="%s to take over" % ELECTRIC_2)
    after = info(electric_pg, instances=instances)
    assert after["waiting"] == []
    assert slot_of(after, "electric_slot_legal")["active_client_addr"] == ip_of(ELECTRIC_2)

    # With both stopped the slot and publication can go (clear one, clear the other).
    remove_containers(ELECTRIC_1, ELECTRIC_2)
    wait_until(lambda: electric_pg.psql("SELECT count(*) FROM pg_replication_slots WHERE active").strip() == "0",
               timeout=30, what="the slot to become inactive")
    dropped = reset(electric_pg, instances=instances)
    assert dropped.get("failed") is not True, dropped.get("msg")
    assert [(d["kind"], d["name"]) for d in dropped["dropped"]] == \
        [("slot", "electric_slot_legal"), ("publication", "electric_publication_legal")]


def test_stray_lock_holder_keeps_a_new_electric_waiting_and_is_named(electric_pg):
    """The stand-in behaves like Electric: it waits on the lock a stray session holds, and the guard names that
    session although the slot has never existed."""
    stray = psycopg.connect(host=electric_pg.host, port=electric_pg.port, user="postgres", password=electric_pg.password,
                            dbname="legal", autocommit=True, application_name="stray-psql")
    try:
        stray.execute("SELECT pg_advisory_lock(hashtext('electric_slot_stray'))")
        start_electric(electric_pg, ELECTRIC_1, "stray")
        wait_until(lambda: health(ELECTRIC_1)[0] == "202", timeout=60, what="%s to answer 202" % ELECTRIC_1)
        result = info(electric_pg, instances=[dict(name=ELECTRIC_1, stream_id="stray", database="legal")])
        assert slot_of(result, "electric_slot_stray") is None
        (waiting,) = [w for w in result["waiting"] if w["slot"] == "electric_slot_stray"]
        assert (waiting["client_addr"], waiting["holder_pid"]) == (ip_of(ELECTRIC_1), stray.info.backend_pid)
        (holder,) = [h for h in result["lock_holders"] if h["slot"] == "electric_slot_stray"]
        assert (holder["pid"], holder["application_name"], holder["slot_exists"]) == (stray.info.backend_pid, "stray-psql", False)
    finally:
        stray.close()
    wait_until(lambda: health(ELECTRIC_1)[0] == "200", timeout=60, what="%s to turn active once the stray lock is gone" % ELECTRIC_1)
    remove_containers(ELECTRIC_1)
    wait_until(lambda: electric_pg.psql("SELECT count(*) FROM pg_replication_slots WHERE active").strip() == "0",
               timeout=30, what="the slot to become inactive")
    dropped = reset(electric_pg, instances=[dict(name=ELECTRIC_1, stream_id="stray", database="legal")])
    assert [(d["kind"], d["name"]) for d in dropped["dropped"]] == \
        [("slot", "electric_slot_stray"), ("publication", "electric_publication_stray")]
