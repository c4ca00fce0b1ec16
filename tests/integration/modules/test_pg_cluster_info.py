"""pg_cluster_info against a real PostgreSQL: settings, databases with extensions, replication slots."""

from __future__ import annotations

import secrets

import pytest

from tests.support.ansible import run_module


@pytest.fixture
def slot(pg_server, pg_database):
    """A logical slot in the test database (slots are cluster-wide: a unique name, dropped afterwards)."""
    name = "sertantai_test_pgmods_" + secrets.token_hex(4)
    pg_server.psql("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')" % name, pg_database)
    yield name
    pg_server.psql("SELECT pg_drop_replication_slot('%s')" % name)


def test_reports_settings_databases_and_slots(pg_server, pg_database, slot):
    pg_server.psql('CREATE EXTENSION citext', pg_database)
    result = run_module("pg_cluster_info", dict(pg_container=pg_server.container), check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    # The server's own answer, by docker exec psql: the test image's major may change.
    assert result["version"] == pg_server.psql("SHOW server_version").strip()
    assert result["version_num"] == int(pg_server.psql("SHOW server_version_num"))
    assert sorted(result["settings"]) == ["max_replication_slots", "max_slot_wal_keep_size", "max_wal_senders", "wal_level"]
    assert result["settings"]["wal_level"]["setting"] == "logical"
    assert result["settings"]["wal_level"]["pending_restart"] is False
    assert result["settings"]["max_slot_wal_keep_size"]["unit"] == "MB"
    assert result["databases"][pg_database]["extensions"] == ["citext", "plpgsql"]
    assert result["databases"][pg_database]["size_bytes"] > 0
    assert "template0" not in result["databases"] and "template1" not in result["databases"]
    slots = dict((s["slot_name"], s) for s in result["replication_slots"])
    assert slots[slot]["database"] == pg_database
    assert slots[slot]["active"] is False and slots[slot]["slot_type"] == "logical"
    assert slots[slot]["wal_status"] in ("reserved", "extended")


def test_direct_connection_and_chosen_settings(pg_server):
    result = run_module("pg_cluster_info", dict(pg_host=pg_server.host, pg_port=pg_server.port, pg_password=pg_server.password,
                                                settings=["max_connections", "shared_buffers"]))
    assert not result.get("failed"), result.get("msg")
    assert sorted(result["settings"]) == ["max_connections", "shared_buffers"]
    assert result["settings"]["shared_buffers"]["unit"] == "8kB"
    assert "postgres" in result["databases"]


def test_unknown_setting_fails(pg_server):
    result = run_module("pg_cluster_info", dict(pg_container=pg_server.container, settings=["wal_levl"]))
    assert result.get("failed")
    assert "unknown PostgreSQL setting(s): wal_levl" in result["msg"]
