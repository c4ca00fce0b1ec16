"""schema_parity on snapshots of two real databases, built by SQL here and read by pg_schema_info."""

from __future__ import annotations

import secrets

import pytest

from tests.support.ansible import run_module

SOURCE_SQL = """
CREATE TABLE uk_lrt (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family varchar(255),
    name text NOT NULL,
    year integer DEFAULT 2024,
    legacy_code text,
    status text NOT NULL DEFAULT 'active'
);
CREATE INDEX uk_lrt_name_idx ON uk_lrt (name);
CREATE TABLE schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp(0) without time zone);
CREATE TABLE airtable_import (id int PRIMARY KEY, raw jsonb);
"""

TARGET_SQL = """
CREATE TABLE uk_lrt (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family text,
    name text,
    year integer,
    status text NOT NULL DEFAULT 'active',
    electric_flag boolean
);
CREATE TABLE schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp without time zone);
CREATE TABLE oban_jobs (id bigserial PRIMARY KEY);
"""

EXPECTED_LINES = [
    "airtable_import: table missing in target (2 columns in source)",
    "oban_jobs: table only in target, not in source",
    "schema_migrations.inserted_at: type timestamp(0) without time zone in source, timestamp without time zone in target",
    "uk_lrt.family: type character varying(255) in source, text in target",
    "uk_lrt.name: NOT NULL in source, NULL allowed in target",
    "uk_lrt.year: 2024 in source, no default in target",
    "uk_lrt.legacy_code: column missing in target (text NULL in source)",
    "uk_lrt.electric_flag: column only in target (boolean NULL), not in source",
    "uk_lrt: index uk_lrt_name_idx missing in target (CREATE INDEX uk_lrt_name_idx ON public.uk_lrt USING btree (name))",
]


@pytest.fixture
def other_database(pg_server):
    """A second fresh database (pg_database gives one per test; a comparison needs two)."""
    db = "t_" + secrets.token_hex(6)
    pg_server.psql('CREATE DATABASE "%s"' % db)
    yield db
    pg_server.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)


def snapshot(pg_server, database, direct=False):
    if direct:
        args = dict(pg_host=pg_server.host, pg_port=pg_server.port, pg_password=pg_server.password, database=database)
    else:
        args = dict(pg_container=pg_server.container, database=database)
    result = run_module("pg_schema_info", args)
    assert not result.get("failed"), result.get("msg")
    result.pop("_stdout")
    return result


@pytest.fixture
def drifted(pg_server, pg_database, other_database):
    """Source = developer's database (docker exec), target = production (direct connection)."""
    pg_server.psql(SOURCE_SQL, pg_database)
    pg_server.psql(TARGET_SQL, other_database)
    return snapshot(pg_server, pg_database), snapshot(pg_server, other_database, direct=True)


def test_every_difference_is_reported_per_table_and_column(drifted):
    source, target = drifted
    result = run_module("schema_parity", dict(source=source, target=target, fail_on_difference=False))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["identical"] is False
    assert result["differences"] == len(EXPECTED_LINES)
    assert result["missing_in_target"] == dict(tables=["public.airtable_import"], columns=["public.uk_lrt.legacy_code"],
                                               constraints=[], indexes=["public.uk_lrt.uk_lrt_name_idx"])
    assert result["extra_in_target"] == dict(tables=["public.oban_jobs"], columns=["public.uk_lrt.electric_flag"],
                                             constraints=[], indexes=[])
    by_column = dict(((m["table"], m["column"], m["attribute"]), (m["source"], m["target"])) for m in result["mismatched"])
    assert by_column == {
        ("public.schema_migrations", "inserted_at", "type"): ("timestamp(0) without time zone", "timestamp without time zone"),
        ("public.uk_lrt", "family", "type"): ("character varying(255)", "text"),
        ("public.uk_lrt", "name", "nullable"): (False, True),
        ("public.uk_lrt", "year", "default"): ("2024", None),
    }
    report = result["report"]
    assert report[0] == ("source and target schemas differ: 9 differences in 2 tables compared, "
                         "1 tables missing in target, 1 only in target")
    assert report[1:-1] == EXPECTED_LINES
    assert report[-1].startswith("What to do: do not restore data into the target yet")
    for step in ("Write a migration", "rebuild and deploy", "compare again"):
        assert step in report[-1]


def test_fails_by_default_before_a_restore(drifted):
    source, target = drifted
    result = run_module("schema_parity", dict(source=source, target=target))
    assert result["failed"] is True
    assert result["identical"] is False
    assert "uk_lrt.family: type character varying(255) in source, text in target" in result["msg"]
    assert "What to do" in result["msg"]
    assert result["report"][1:-1] == EXPECTED_LINES


def test_ignore_and_compare_narrow_the_comparison(drifted):
    source, target = drifted
    result = run_module("schema_parity", dict(
        source=source["schema"], target=target["schema"], fail_on_difference=False,
        ignore=["schema_migrations", "airtable_*", "oban_jobs", "uk_lrt.legacy_code", "uk_lrt.electric_flag"],
        compare=["types"]))
    assert not result.get("failed"), result.get("msg")
    assert result["ignored"] == dict(
        tables=["public.airtable_import", "public.oban_jobs", "public.schema_migrations"],
        columns=["public.uk_lrt.legacy_code", "public.uk_lrt.electric_flag"])
    assert result["report"][1:-1] == ["uk_lrt.family: type character varying(255) in source, text in target"]


def test_identical_schemas(pg_server, pg_database, other_database):
    pg_server.psql(SOURCE_SQL, pg_database)
    pg_server.psql(SOURCE_SQL, other_database)
    # same data shape reached by a different history: a dropped column must not matter
    pg_server.psql("ALTER TABLE uk_lrt ADD COLUMN tmp int; ALTER TABLE uk_lrt DROP COLUMN tmp;", other_database)
    source = snapshot(pg_server, pg_database, direct=True)
    target = snapshot(pg_server, other_database)
    result = run_module("schema_parity", dict(source=source, target=target))
    assert not result.get("failed"), result.get("msg")
    assert result["identical"] is True
    assert result["differences"] == 0
    assert result["mismatched"] == []
    assert result["report"] == ["source and target schemas are identical: 3 tables compared"]
    # Ansible's own invocation key, untouched: the arguments as given
    assert result["invocation"]["module_args"]["source"] == source
    assert result["invocation"]["module_args"]["ignore"] == []
    checked = run_module("schema_parity", dict(source=source["schema"], target=target), check=True)
    assert checked["identical"] is True and checked["changed"] is False


def test_a_failed_snapshot_is_rejected_with_a_clear_message(drifted):
    source, _target = drifted
    failed = run_module("pg_schema_info", dict(pg_container="sertantai-test-schema-no-such-container", database="x"))
    assert failed["failed"]
    failed.pop("_stdout")
    result = run_module("schema_parity", dict(source=source, target=failed))
    assert result["failed"]
    assert result["msg"].startswith("target is the result of a failed task")
    assert "fix that snapshot first" in result["msg"]
