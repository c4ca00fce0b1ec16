"""pg_database against a real PostgreSQL, through docker exec and through a direct connection."""

from __future__ import annotations

import secrets

import pytest

from tests.support.ansible import run_module


def _conn(pg_server, transport):
    if transport == "pg_container":
        return dict(pg_container=pg_server.container)
    return dict(pg_host=pg_server.host, pg_port=pg_server.port, pg_password=pg_server.password)


def _extensions(pg_server, database):
    return pg_server.psql("SELECT extname FROM pg_extension ORDER BY extname", database).split()


def _exists(pg_server, name):
    return pg_server.psql("SELECT count(*) FROM pg_database WHERE datname = '%s'" % name).strip() == "1"


@pytest.fixture
def new_db_name(pg_server):
    name = "t_pgmods_" + secrets.token_hex(5)
    yield name
    pg_server.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


@pytest.mark.parametrize("transport", ["pg_container", "pg_host"])
def test_creates_database_with_extensions_then_changes_nothing(pg_server, new_db_name, transport):
    args = dict(_conn(pg_server, transport), name=new_db_name, extensions=["uuid-ossp", "citext"])

    first = run_module("pg_database", args, diff=True)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and first["created"]
    # through docker exec the action plugin ran the module's work on the controller (no module ran, so no
    # invocation); a direct connection is made by the module on the host
    assert ("invocation" in first) == (transport == "pg_host")
    assert first["extensions_created"] == ["uuid-ossp", "citext"]
    assert first["queries"][0] == 'CREATE DATABASE "%s" ENCODING \'UTF8\' TEMPLATE "template0"' % new_db_name
    assert first["diff"]["after"]["extensions"] == ["citext", "uuid-ossp"]
    assert _exists(pg_server, new_db_name)
    assert {"uuid-ossp", "citext"} <= set(_extensions(pg_server, new_db_name))
    assert pg_server.psql("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = '%s'" % new_db_name).strip() == "UTF8"

    if transport == "pg_container":  # one idempotence run is enough: both transports return the same rows
        second = run_module("pg_database", args)
        assert not second.get("failed"), second.get("msg")
        assert second["changed"] is False
        assert second["created"] is False and second["extensions_created"] == [] and second["queries"] == []


def test_check_mode_creates_nothing(pg_server, new_db_name):
    result = run_module("pg_database", dict(pg_container=pg_server.container, name=new_db_name, extensions=["citext"]),
                        check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["created"]
    assert result["extensions_created"] == ["citext"]
    assert result["queries"] == ['CREATE DATABASE "%s" ENCODING \'UTF8\' TEMPLATE "template0"' % new_db_name,
                                 'CREATE EXTENSION IF NOT EXISTS "citext" CASCADE']
    assert not _exists(pg_server, new_db_name)


def test_adds_a_missing_extension_to_an_existing_database(pg_server, pg_database):
    pg_server.psql('CREATE EXTENSION "uuid-ossp"', pg_database)
    args = dict(pg_container=pg_server.container, name=pg_database, extensions=["uuid-ossp", "pgcrypto"])
    assert "pgcrypto" not in _extensions(pg_server, pg_database)

    result = run_module("pg_database", args, diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["created"] is False
    assert result["extensions_created"] == ["pgcrypto"]
    assert result["queries"] == ['CREATE EXTENSION IF NOT EXISTS "pgcrypto" CASCADE']
    assert result["diff"]["before"]["extensions"] == ["plpgsql", "uuid-ossp"]
    assert "pgcrypto" in _extensions(pg_server, pg_database)


def test_invalid_name_fails_clearly(pg_server):
    name = "bad-name"  # other invalid names: unit tests of validate_database_args
    result = run_module("pg_database", dict(pg_container=pg_server.container, name=name))
    assert result.get("failed")
    assert "'%s' is not a valid database name" % name in result["msg"]
    assert not _exists(pg_server, name)


def test_unavailable_extension_fails_naming_it_and_the_image(pg_server, new_db_name):
    result = run_module("pg_database", dict(pg_container=pg_server.container, name=new_db_name,
                                            extensions=["citext", "postgis"]))
    assert result.get("failed")
    assert "'postgis'" in result["msg"] and "not available" in result["msg"]
    assert "image sertantai-test/postgres" in result["msg"]
    assert not _exists(pg_server, new_db_name), "nothing is created when an extension is missing"


def test_databases_ensures_several_in_one_run(pg_server, pg_database, new_db_name):
    args = dict(pg_container=pg_server.container, databases=[
        dict(name=pg_database, extensions=["citext"]),
        dict(name=new_db_name, extensions=["uuid-ossp"]),
    ])
    first = run_module("pg_database", args, diff=True)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"]
    assert [(r["database"], r["created"], r["extensions_created"]) for r in first["databases"]] == [
        (pg_database, False, ["citext"]), (new_db_name, True, ["uuid-ossp"])]
    assert first["queries"][-1] == 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp" CASCADE'
    assert sorted(first["diff"]["after"]) == sorted([pg_database, new_db_name]) and list(first["diff"]["before"]) == [pg_database]
    assert "citext" in _extensions(pg_server, pg_database) and "uuid-ossp" in _extensions(pg_server, new_db_name)

    second = run_module("pg_database", args)
    assert not second.get("failed"), second.get("msg")
    assert second["changed"] is False and second["queries"] == []
