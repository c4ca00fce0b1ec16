"""pg_settings against real PostgreSQL servers started by the tests (settings are cluster-wide, so not pg_server)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import PG_IMAGE, start_pg
from tests.support.ansible import run_module
from tests.support.docker import PREFIX, docker, remove_containers, wait_until

AREA = PREFIX + "pgmods-settings-" + str(os.getpid())


@pytest.fixture(scope="module")
def server(docker_engine):
    """A fresh server; max_wal_size comes from the command line as 2048MB (start_pg adds wal_level=logical there)."""
    name = AREA + "-fresh"
    pg = start_pg(name, "-c", "max_wal_size=2048MB")
    yield pg
    remove_containers(name)


def show(pg, name):
    return pg.psql("SHOW %s" % name).strip()


def auto_conf(pg):
    return pg.psql("SELECT name || '=' || setting FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'").split()


def test_reloadable_setting_check_mode_then_live_then_idempotent(server):
    args = dict(pg_container=server.container, settings=dict(max_slot_wal_keep_size="1GB"))

    checked = run_module("pg_settings", args, check=True, diff=True)
    assert not checked.get("failed"), checked.get("msg")
    assert checked["changed"] and checked["restart_required"] is False
    assert checked["queries"] == ["ALTER SYSTEM SET max_slot_wal_keep_size = '1GB'", "SELECT pg_reload_conf()"]
    assert checked["diff"] == {"before": {"max_slot_wal_keep_size": "-1"}, "after": {"max_slot_wal_keep_size": "1GB"}}
    assert show(server, "max_slot_wal_keep_size") == "-1" and auto_conf(server) == []

    applied = run_module("pg_settings", args)
    assert not applied.get("failed"), applied.get("msg")
    assert applied["changed"] is True
    assert applied["changed_settings"] == {"max_slot_wal_keep_size": {"before": "-1", "after": "1GB"}}
    assert applied["restart_required"] is False and applied["restart_settings"] == []
    assert show(server, "max_slot_wal_keep_size") == "1GB"

    # Same value in the setting's own unit (MB), over a direct connection this time.
    again = run_module("pg_settings", dict(pg_host=server.host, pg_port=server.port, pg_password=server.password,
                                           settings=dict(max_slot_wal_keep_size=1024)))
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False and again["queries"] == [] and again["restart_required"] is False


def test_unit_equal_running_value_is_no_change(server):
    # max_wal_size runs as 2048 (unit MB) from the command line; 2GB is the same value, so nothing to refuse either.
    result = run_module("pg_settings", dict(pg_container=server.container, settings=dict(max_wal_size="2GB", wal_level="logical")))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["queries"] == []
    assert "max_wal_size=2GB" not in auto_conf(server)


@pytest.mark.parametrize("settings, fragments", [
    ({"wal_levl": "logical"}, ["unknown PostgreSQL setting(s): wal_levl"]),
    ({"wal_level": "replica"}, ["wal_level is set on the postgres command line", "the command line wins"]),
    ({"max_slot_wal_keep_size": "lots"}, ["PostgreSQL rejected max_slot_wal_keep_size = lots", "invalid value"]),
])
def test_refuses_with_a_clear_message(server, settings, fragments):
    before = auto_conf(server)
    result = run_module("pg_settings", dict(pg_container=server.container, settings=settings))
    assert result.get("failed"), result
    for fragment in fragments:
        assert fragment in result["msg"]
    assert auto_conf(server) == before


@pytest.fixture
def plain_server(docker_engine):
    """A server as the postgres role runs it: no settings on the command line, data that survives docker restart."""
    name = AREA + "-restart"
    remove_containers(name)
    docker("run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=unused-by-the-test", PG_IMAGE)
    yield name
    docker("rm", "-f", "-v", name, check=False)  # -v: the anonymous data volume of this container only


def _wait_ready(name):
    wait_until(lambda: docker("exec", name, "pg_isready", "-U", "postgres", "-h", "127.0.0.1", check=False).returncode == 0,
               timeout=60, what="PostgreSQL in %s" % name)


def _show(name, setting):
    return docker("exec", name, "psql", "-XAtq", "-U", "postgres", "-c", "SHOW %s" % setting).stdout.strip()


def test_postmaster_setting_needs_restart_until_restarted(plain_server):
    _wait_ready(plain_server)
    assert _show(plain_server, "wal_level") == "replica"
    args = dict(pg_container=plain_server, settings=dict(wal_level="logical", max_slot_wal_keep_size="2GB"))

    first = run_module("pg_settings", args)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True
    assert first["changed_settings"]["wal_level"] == {"before": "replica", "after": "logical"}
    assert first["restart_required"] is True and first["restart_settings"] == ["wal_level"]
    assert _show(plain_server, "wal_level") == "replica"

    # Nothing left to write, but the earlier change still waits for the restart.
    pending = run_module("pg_settings", args)
    assert pending["changed"] is False and pending["queries"] == []
    assert pending["restart_required"] is True and pending["restart_settings"] == ["wal_level"]

    docker("restart", plain_server)
    _wait_ready(plain_server)
    after = run_module("pg_settings", args)
    assert not after.get("failed"), after.get("msg")
    assert after["changed"] is False and after["restart_required"] is False and after["restart_settings"] == []
    assert _show(plain_server, "wal_level") == "logical"
