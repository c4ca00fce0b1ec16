"""The Electric stand-in image (tests/images/electric) against a real PostgreSQL: lock, health, shape
storage shared by two instances, read-only serving while waiting (electric-sql/electric#4075),
slot recreation, ELECTRIC_SECRET, SIGTERM handover. What it models: docs/electric-standin.md.

Containers run on their own network beside the session's PostgreSQL; the HTTP API is published on
loopback only. Slots are cluster-wide: every test has its own stream id and drops its slot.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.support.docker import PREFIX, docker, inspect, published_port, remove_containers, wait_until

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[3]
AREA = PREFIX + "estandin-"
NETWORK = AREA + "net"
IMAGE = os.environ.get("SERTANTAI_TEST_ELECTRIC_IMAGE", "sertantai-test/electric:latest")
ROWS = [{"id": "1", "name": "first"}, {"id": "2", "name": 'with "quotes"'}]
# Short waits keep the suite quick; the real defaults are 5 s (stack ready) and 20 s (long poll).
FAST = ["ELECTRIC_STANDIN_STACK_READY_TIMEOUT=1000", "ELECTRIC_LONG_POLL_TIMEOUT=1000"]


@pytest.fixture(scope="module")
def network(pg_server):
    """Our network, with the session's PostgreSQL attached to it (detached again afterwards)."""
    if "SERTANTAI_TEST_ELECTRIC_IMAGE" not in os.environ:  # an override is built by whoever set it
        subprocess.run([str(REPO / "scripts" / "build-images"), "electric"], check=True, cwd=str(REPO), timeout=600)
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.fail("test image %s is missing: docker build -t %s tests/images/electric" % (IMAGE, IMAGE))
    docker("network", "rm", NETWORK, check=False)
    docker("network", "create", NETWORK)
    docker("network", "connect", NETWORK, pg_server.container)
    yield NETWORK
    docker("network", "disconnect", "-f", NETWORK, pg_server.container, check=False)
    docker("network", "rm", NETWORK, check=False)


class Site:
    """One test's database (with table ``items``), stream id, containers and volumes."""

    def __init__(self, pg, database):
        self.pg, self.database = pg, database
        self.stream_id = "es" + secrets.token_hex(4)
        self.slot = "electric_slot_" + self.stream_id
        self.containers, self.volumes = [], []
        pg.psql("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);"
                "INSERT INTO items VALUES (1, 'first'), (2, 'with \"quotes\"');"
                "CREATE TABLE others (id int PRIMARY KEY)", database)

    def volume(self, suffix):
        name = AREA + suffix + "-" + secrets.token_hex(3)
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def start(self, suffix, *env, volume=None, security=("ELECTRIC_INSECURE=true",), detach=True):
        name = AREA + suffix
        remove_containers(name)
        self.containers.append(name)
        args = ["--name", name, "--network", NETWORK, "-p", "127.0.0.1::3000",
                "-e", "DATABASE_URL=postgresql://postgres:%s@%s:5432/%s" % (self.pg.password, self.pg.container,
                                                                            self.database),
                "-e", "ELECTRIC_REPLICATION_STREAM_ID=" + self.stream_id]
        for item in (*security, *FAST, *env):
            args += ["-e", item]
        if volume:
            args += ["-v", volume + ":/app/persistent"]
        docker("run", "-d", *args, IMAGE)
        return Electric(name)

    def sql(self, query):
        return self.pg.psql(query, self.database).strip()

    def slot_row(self):
        return self.sql("SELECT slot_name, plugin, database, active FROM pg_replication_slots "
                        "WHERE slot_name = '%s'" % self.slot)

    def decoded_transactions(self):
        """Transactions the slot has decoded: statistics that live and die with the slot (0 when new)."""
        return int(self.sql("SELECT total_txns FROM pg_stat_replication_slots WHERE slot_name = '%s'" % self.slot)
                   or 0)

    def cleanup(self):
        remove_containers(*self.containers)
        wait_until(lambda: self.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s' AND active"
                                    % self.slot) == "0", timeout=30, what="%s to become inactive" % self.slot)
        self.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s'"
                 % self.slot)
        for volume in self.volumes:
            docker("volume", "rm", volume, check=False)


class Electric:
    def __init__(self, name):
        self.name = name
        self._port = None

    @property
    def port(self):
        if self._port is None:
            self._port = published_port(self.name, 3000)
        return self._port

    def get(self, path, headers=None):
        """(status, headers, body text) of one request on loopback; None status while not listening."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        except (ConnectionError, http.client.HTTPException) as exc:
            return None, {}, str(exc)

    def health(self):
        status, _headers, body = self.get("/v1/health")
        return status, body

    def shape(self, query):
        status, headers, body = self.get("/v1/shape?" + query)
        return status, headers, (json.loads(body) if body else None)

    def wait_for(self, status, body):
        wait_until(lambda: self.health() == (status, body), timeout=60, what="%s to answer %s %s" % (self.name, status, body))

    def logs(self):
        proc = docker("logs", self.name)
        return proc.stdout + proc.stderr

    def stop(self):
        """docker stop (SIGTERM, SIGKILL after 30 s); the exit code."""
        docker("stop", "-t", "30", self.name)
        return inspect(self.name)["State"]["ExitCode"]

    def exit_code(self):
        return int(docker("wait", self.name, timeout=120).stdout.strip())


@pytest.fixture
def site(network, pg_server, pg_database):
    made = Site(pg_server, pg_database)
    yield made
    made.cleanup()


def rows_of(body):
    return [item["value"] for item in body if "key" in item]


def read_shape(electric, table="items"):
    """The initial request, then the request from the offset it gave: (handle, rows, headers of both)."""
    status, first, body = electric.shape("table=%s&offset=-1" % table)
    assert status == 200, body
    query = "table=%s&handle=%s&offset=%s" % (table, first["electric-handle"], first["electric-offset"])
    status, second, tail = electric.shape(query)
    assert status == 200, tail
    assert tail[-1]["headers"]["control"] == "up-to-date"
    return first["electric-handle"], rows_of(body) + rows_of(tail), first, second


WAITING = (202, '{"status":"waiting"}')
ACTIVE = (200, '{"status":"active"}')


@pytest.mark.parametrize("read_only_mode", ["true", "false"])
def test_waiting_instance_answers_202_holds_new_shapes_and_leaves_the_lock_queue_on_sigterm(site, pg_server, read_only_mode):
    holder = psycopg.connect(host=pg_server.host, port=pg_server.port, user="postgres", password=pg_server.password,
                             dbname=site.database, autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (site.slot,))
        waiting = site.start("wait", "ELECTRIC_STANDIN_READ_ONLY_MODE=" + read_only_mode)
        waiting.wait_for(*WAITING)

        # A shape no instance has stored needs the lock: held for the stack-ready timeout, then 503.
        status, headers, body = waiting.shape("table=items&offset=-1")
        assert (status, headers["retry-after"], headers["cache-control"], body) == \
            (503, "5", "no-store", {"message": "Timeout waiting for Postgres lock acquisition"})
        assert "electric-handle" not in headers
        assert waiting.get("/v1/health")[1]["content-type"] == "application/json; charset=utf-8"

        # SIGTERM while queued in pg_advisory_lock: clean exit, and the queued request is gone.
        assert waiting.stop() == 0
        wait_until(lambda: site.sql("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                                    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()")
                   == "0", timeout=30, what="the stopped instance's lock request to leave the queue")
        assert "stopping: closing the replication and lock connections" in waiting.logs()
        assert site.slot_row() == ""  # it never got the lock, so it created nothing
    finally:
        holder.close()


@pytest.mark.parametrize("read_only_mode", ["true", "false"])
def test_rolling_handover_on_shared_storage_keeps_slot_and_handles(site, read_only_mode):
    mode = "ELECTRIC_STANDIN_READ_ONLY_MODE=" + read_only_mode
    storage = site.volume("storage")
    old = site.start("old", mode, volume=storage)
    old.wait_for(*ACTIVE)
    handle, rows, first, second = read_shape(old)
    assert rows == ROWS
    assert (first["electric-offset"], "electric-up-to-date" in first, "electric-up-to-date" in second) == \
        ("0_inf", False, True)
    assert json.loads(first["electric-schema"]) == {"id": {"type": "int4", "pk_index": 0, "not_null": True},
                                                    "name": {"type": "text", "not_null": True}}
    slot_before = site.slot_row()
    assert slot_before == "%s|pgoutput|%s|t" % (site.slot, site.database)
    # Rows written after the snapshot stay out of the stored shape: what the new instance serves
    # while waiting comes from storage, not from a fresh query.
    site.sql("INSERT INTO items VALUES (3, 'after the snapshot')")
    # A marker only this slot carries: its decoding statistics (dropped with the slot, zero when new).
    decoded = wait_until(site.decoded_transactions, timeout=30,
                         what="the old instance to decode a transaction from %s" % site.slot)

    new = site.start("new", mode, volume=storage)
    new.wait_for(*WAITING)
    status, headers, body = new.shape("table=items&handle=%s&offset=0_inf" % handle)
    if read_only_mode == "true":
        assert (status, headers["electric-handle"], headers["electric-offset"]) == (200, handle, "0_inf")
        assert body[-1]["headers"] == {"control": "up-to-date", "global_last_seen_lsn": "0"}
        status, headers, body = new.shape("table=items&offset=-1")
        assert (status, headers["electric-handle"], rows_of(body)) == (200, handle, ROWS)
        # Live requests long-poll on the stored shape and end up-to-date, with a cursor.
        status, headers, body = new.shape("table=items&handle=%s&offset=0_inf&live=true" % handle)
        assert (status, headers["electric-has-data"], "electric-up-to-date" in headers) == (200, "false", True)
        assert int(headers["electric-cursor"]) > 0 and body[-1]["headers"]["control"] == "up-to-date"
    else:
        assert (status, headers["retry-after"], body) == \
            (503, "5", {"message": "Timeout waiting for Postgres lock acquisition"})
    status, headers, body = new.shape("table=others&offset=-1")  # a new shape needs the lock in both modes
    assert (status, headers["retry-after"]) == (503, "5")

    assert old.stop() == 0
    new.wait_for(*ACTIVE)
    status, headers, body = new.shape("table=items&handle=%s&offset=0_inf" % handle)
    assert (status, headers["electric-handle"]) == (200, handle)
    assert new.shape("table=items&offset=-1")[1]["electric-handle"] == handle
    assert site.slot_row() == slot_before  # same slot, active again, and not created anew:
    assert site.decoded_transactions() >= decoded
    assert "created replication slot" in old.logs() and "created replication slot" not in new.logs()
    assert "purged all shapes" not in new.logs()
    status, headers, body = new.shape("table=others&offset=-1")  # the new holder creates shapes again
    assert (status, rows_of(body)) == (200, [])


def test_recreated_slot_invalidates_stored_shapes(site):
    storage = site.volume("storage")
    old = site.start("old", volume=storage)
    old.wait_for(*ACTIVE)
    handle, rows = read_shape(old)[:2]
    for statement in ("CREATE TABLE t1 ()", "CREATE TABLE t2 ()", "CREATE TABLE t3 ()"):
        site.sql(statement)
    decoded = wait_until(lambda: site.decoded_transactions() >= 3 and site.decoded_transactions(), timeout=30,
                         what="the old instance to decode three transactions from %s" % site.slot)
    assert old.stop() == 0
    wait_until(lambda: site.slot_row().endswith("|f"), timeout=30, what="the slot to become inactive")
    site.sql("SELECT pg_drop_replication_slot('%s')" % site.slot)

    new = site.start("new", volume=storage)
    new.wait_for(*ACTIVE)
    assert "created replication slot" in new.logs() and "purged all shapes" in new.logs()
    assert site.decoded_transactions() < decoded  # the marker the handover test relies on resets
    status, headers, body = new.shape("table=items&handle=%s&offset=0_inf" % handle)
    assert (status, body) == (409, [{"headers": {"control": "must-refetch"}}])
    assert headers["electric-handle"] != handle
    assert headers["cache-control"] == "public, max-age=60, must-revalidate"
    refetched, rows_again = read_shape(new)[:2]
    assert (refetched, rows_again) == (headers["electric-handle"], rows)


def test_shape_requests_need_the_secret_and_health_does_not(site):
    secret = secrets.token_hex(16)
    electric = site.start("secret", security=("ELECTRIC_SECRET=" + secret,))
    electric.wait_for(*ACTIVE)
    for query in ("table=items&offset=-1", "table=items&offset=-1&secret=wrong"):
        status, _headers, body = electric.shape(query)
        assert (status, body) == (401, {"message": "Unauthorized - Invalid API secret"})
    assert electric.shape("table=items&offset=-1&secret=" + secret)[0] == 200
    assert electric.shape("table=items&offset=-1&api_secret=" + secret)[0] == 200  # the pre-v2 name
    assert secret not in electric.logs()


@pytest.mark.parametrize("security, message", [
    ((), "You must set ELECTRIC_SECRET unless ELECTRIC_INSECURE=true"),
    (("ELECTRIC_SECRET=s3cret", "ELECTRIC_INSECURE=true"), "You cannot set both ELECTRIC_SECRET and ELECTRIC_INSECURE=true"),
])
def test_start_refuses_missing_or_conflicting_security_settings(site, security, message):
    electric = site.start("insecure", security=security)
    assert electric.exit_code() == 1
    assert message in electric.logs()


def test_bad_requests_are_refused_with_the_fields_named(site):
    electric = site.start("bad")
    electric.wait_for(*ACTIVE)
    status, _headers, body = electric.shape("table=items&offset=0_inf")
    assert (status, body) == (400, {"message": "Invalid request",
                                    "errors": {"handle": ["can't be blank when offset != -1"]}})
    status, _headers, body = electric.shape("table=nope&offset=-1")
    assert status == 400 and body["errors"]["table"][0].startswith('Table "public"."nope" does not exist.')
    status, _headers, body = electric.shape("table=items&offset=-1&live=true")
    assert (status, body["errors"]) == (400, {"live": ["can't be true when offset == -1"]})


def test_lost_lock_connection_ends_the_process_with_exit_1(site):
    electric = site.start("lost")
    electric.wait_for(*ACTIVE)
    terminated = site.sql("SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                          "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()")
    assert terminated == "t"
    assert electric.exit_code() == 1
    assert "fatal: lock connection lost" in electric.logs()
