"""schema_gate, pg_data_dump, pg_backup and pg_data_restore against real PostgreSQL 16 and 15 containers."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import DockerExecRunner
from ansible_collections.sertantai.deploy.plugins.module_utils._restore import encode_document, read_document
from tests.conftest import PG15_IMAGE, PG_IMAGE
from tests.support.ansible import run_module
from tests.support.docker import PREFIX, docker, remove_containers, subprocess_run_command, wait_until

SCHEMA = """
CREATE TABLE schema_migrations (version bigint PRIMARY KEY);
CREATE TABLE laws (id bigserial PRIMARY KEY, name text NOT NULL, year integer);
CREATE TABLE amendments (id bigserial PRIMARY KEY, law_id bigint NOT NULL REFERENCES laws (id), note varchar(40));
"""
SOURCE_DATA = """
INSERT INTO schema_migrations VALUES (1), (2), (3);
INSERT INTO laws (name, year) SELECT 'law ' || g, 1900 + g % 100 FROM generate_series(1, 1500) AS g;
INSERT INTO amendments (law_id, note) SELECT 1 + g % 1500, 'n' || g FROM generate_series(1, 700) AS g;
"""
TARGET_DATA = "INSERT INTO schema_migrations VALUES (1), (9); INSERT INTO laws (name) VALUES ('old');"


@pytest.fixture(scope="module")
def pg15(docker_engine):
    name = PREFIX + "restore-pg15-" + str(os.getpid())
    remove_containers(name)
    docker("run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=unused", "--tmpfs", "/var/lib/postgresql/data", PG15_IMAGE)
    wait_until(lambda: docker("exec", name, "pg_isready", "-U", "postgres", "-h", "127.0.0.1", check=False).returncode == 0,
               timeout=90, what="PostgreSQL 15")
    yield name
    remove_containers(name)


@pytest.fixture
def databases(pg_server, pg_database):
    """A source database and a target database of the same schema on the session's PostgreSQL 16."""
    target = pg_database + "_tgt"
    pg_server.psql('CREATE DATABASE "%s"' % target)
    pg_server.psql(SCHEMA + SOURCE_DATA, pg_database)
    pg_server.psql(SCHEMA + TARGET_DATA, target)
    yield pg_database, target
    pg_server.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % target)


def psql(container, database, sql):
    return docker("exec", "-i", container, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", database,
                  input=sql).stdout


def gate_args(pg_server, source, target, **extra):
    args = dict(pg_container=pg_server.container, database=target,
                source=dict(host=pg_server.host, port=pg_server.port, password=pg_server.password, database=source))
    args.update(extra)
    return args


@pytest.mark.docker
def test_gate_reads_the_source_on_the_controller_and_passes(pg_server, databases):
    source, target = databases
    result = run_module("schema_gate", gate_args(pg_server, source, target))
    assert not result.get("failed"), result.get("msg")
    assert result["passed"] and result["identical"] and result["changed"] is False
    assert result["tables_compared"] == 3
    assert result["versions"]["source_server"]["major"] == "16"
    assert result["versions"]["target_pg_restore"]["major"] == "16"
    assert result["target_image"] == PG_IMAGE
    assert pg_server.password not in result["_stdout"]
    # the target container was read with commands over the connection: no module ran (the source's
    # connection details never left the controller), and no snapshot is in the task's result
    assert "invocation" not in result
    assert "target_snapshot" not in result and "target_catalog" not in result and "schema" not in result
    assert len(result["_stdout"]) < 20000


@pytest.mark.docker
def test_gate_runs_the_module_where_the_connection_cannot_compress(pg_server, databases, tmp_path):
    """A host without a working gzip: the target is read by the module, with the same result."""
    source, target = databases
    (tmp_path / "gzip").write_text("#!/bin/sh\necho 'gzip: not installed here' >&2\nexit 127\n")
    (tmp_path / "gzip").chmod(0o755)
    result = run_module("schema_gate", gate_args(pg_server, source, target),
                        env=dict(PATH=str(tmp_path) + os.pathsep + os.environ["PATH"]))
    assert not result.get("failed"), result.get("msg")
    assert result["passed"] and result["tables_compared"] == 3 and result["target_image"] == PG_IMAGE
    assert result["versions"]["target_pg_restore"]["major"] == "16"
    # the module read only the target; the source's connection details stayed on the controller, and the
    # target's snapshot the module returned is not in the task's result
    module_args = result["invocation"]["module_args"]
    assert module_args["return_target_snapshot"] is True and not module_args.get("source")
    assert "target_snapshot" not in result and pg_server.password not in result["_stdout"]


@pytest.mark.docker
def test_gate_names_a_target_container_that_is_not_there(pg_server, databases):
    source, target = databases
    result = run_module("schema_gate", gate_args(pg_server, source, target, pg_container=PREFIX + "no-such-postgres"))
    assert result.get("failed")
    assert result["msg"] == ("cannot read the target database '%s': container '%sno-such-postgres' does not exist on "
                             "this host: apply the postgres role first, or set pg_container" % (target, PREFIX))


@pytest.mark.docker
def test_gate_reads_a_source_container_on_the_controller(pg_server, databases):
    source, target = databases
    result = run_module("schema_gate", dict(pg_container=pg_server.container, database=target,
                                            source=dict(container=pg_server.container, database=source)))
    assert not result.get("failed"), result.get("msg")
    assert result["passed"] and result["source_database"] == source


@pytest.mark.docker
def test_gate_reads_a_source_container_on_the_target(pg_server, databases):
    source, target = databases
    result = run_module("schema_gate", dict(pg_container=pg_server.container, database=target,
                                            source=dict(container=pg_server.container, database=source, read_on="target")))
    assert not result.get("failed"), result.get("msg")
    assert result["passed"]


@pytest.mark.docker
def test_gate_compares_a_kept_snapshot_file_on_the_host(pg_server, databases, tmp_path):
    source, target = databases
    runner = DockerExecRunner(subprocess_run_command, pg_server.container, database=source)
    snapshot = tmp_path / "source.json.gz"
    snapshot.write_bytes(encode_document(read_document(runner, source, ["public"])))
    result = run_module("schema_gate", dict(pg_container=pg_server.container, database=target,
                                            source_snapshot=str(snapshot)))
    assert not result.get("failed"), result.get("msg")
    assert result["passed"] and result["source_database"] == source and result["tables_compared"] == 3
    other = run_module("schema_gate", dict(pg_container=pg_server.container, database=target,
                                           source_snapshot=str(snapshot), schemas=["public", "audit"]))
    assert other.get("failed") and "the source snapshot covers schemas ['public']" in other["msg"]


@pytest.mark.docker
def test_gate_names_every_difference(pg_server, databases):
    source, target = databases
    pg_server.psql("ALTER TABLE laws ADD COLUMN legacy_id text; ALTER TABLE amendments ALTER COLUMN note TYPE text; "
                   "ALTER TABLE laws ALTER COLUMN year SET NOT NULL;", source)
    result = run_module("schema_gate", gate_args(pg_server, source, target))
    assert result.get("failed")
    assert not result["passed"] and result["versions"]["ok"]
    assert "laws.legacy_id: column missing in target (text NULL in source)" in result["msg"]
    assert "amendments.note: type text in source, character varying(40) in target" in result["msg"]
    assert "laws.year: NOT NULL in source, NULL allowed in target" in result["msg"]


@pytest.mark.docker
def test_gate_refuses_a_source_newer_than_the_targets_pg_restore(pg_server, databases, pg15):
    source, _target = databases
    psql(pg15, "postgres", "CREATE DATABASE gate15")
    psql(pg15, "gate15", SCHEMA)
    result = run_module("schema_gate", gate_args(pg_server, source, "gate15", pg_container=pg15))
    assert result.get("failed")
    assert result["identical"] and not result["versions"]["ok"]
    assert "the source server runs PostgreSQL 16" in result["msg"] and "pg_restore is 15." in result["msg"]


@pytest.mark.docker
def test_gate_says_when_the_source_cannot_be_read(pg_server, databases):
    source, target = databases
    args = gate_args(pg_server, source, target)
    args["source"]["password"] = "wrong-" + pg_server.password
    result = run_module("schema_gate", args)
    assert result.get("failed")
    assert "cannot read the source database '%s' on the controller" % source in result["msg"]
    assert "wrong-" not in result["_stdout"]


def dump_args(pg_server, source, dest, **extra):
    args = dict(pg_host=pg_server.host, pg_port=pg_server.port, pg_password=pg_server.password, database=source,
                dest=str(dest), dump_image=PG_IMAGE, pg_restore_major="16")
    args.update(extra)
    return args


@pytest.mark.docker
def test_dump_restore_and_backup_round_trip(pg_server, databases, tmp_path):
    source, target = databases
    dump = tmp_path / "data.dump"
    result = run_module("pg_data_dump", dump_args(pg_server, source, dump))
    assert not result.get("failed"), result.get("msg")
    assert result["row_counts"] == {"public.laws": 1500, "public.amendments": 700}
    assert result["kept"] == ["public.schema_migrations"]
    assert result["pg_dump_version"].startswith("16.")
    assert dump.read_bytes()[:5] == b"PGDMP" and oct(dump.stat().st_mode & 0o777) == "0o600"
    assert pg_server.password not in result["_stdout"] and pg_server.password not in " ".join(result["command"])
    docker("cp", str(dump), "%s:/tmp/restore-test.dump" % pg_server.container)
    listing = docker("exec", pg_server.container, "pg_restore", "--list", "/tmp/restore-test.dump").stdout
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    assert any("TABLE DATA public laws" in e for e in entries)
    assert not any("schema_migrations" in e for e in entries)
    assert all(" TABLE DATA " in e or " SEQUENCE SET " in e for e in entries), entries  # data only

    backup_dir = tmp_path / "backups"
    backup = run_module("pg_backup", dict(pg_container=pg_server.container, database=target, dir=str(backup_dir), keep=2))
    assert not backup.get("failed"), backup.get("msg")
    assert os.path.basename(backup["path"]).startswith(target + "-")
    before = psql(pg_server.container, target, "SELECT string_agg(name, ',' ORDER BY id) FROM laws; "
                                               "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations")

    restored = run_module("pg_data_restore", dict(pg_container=pg_server.container, database=target,
                                                  dump="/tmp/restore-test.dump", expected_row_counts=result["row_counts"]))
    assert not restored.get("failed"), restored.get("msg")
    rows = dict((t["table"], t["rows"]) for t in restored["tables"])
    assert rows == {"public.laws": 1500, "public.amendments": 700, "public.schema_migrations": 2}
    assert restored["queries"] == ['TRUNCATE TABLE "public"."amendments", "public"."laws" RESTART IDENTITY']
    assert psql(pg_server.container, target, "SELECT last_value FROM laws_id_seq").strip() == "1500"

    # the backup's command brings the exact state before back
    subprocess.run(["sh", "-c", backup["restore_command"]], check=True, capture_output=True, text=True, timeout=120)
    after = psql(pg_server.container, target, "SELECT string_agg(name, ',' ORDER BY id) FROM laws; "
                                              "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations")
    assert after == before == "old\n1,9\n"


@pytest.mark.docker
def test_dump_of_a_container_with_its_own_pg_dump(pg_server, databases, tmp_path):
    source, _target = databases
    dump = tmp_path / "c.dump"
    result = run_module("pg_data_dump", dict(pg_container=pg_server.container, database=source, dest=str(dump)))
    assert not result.get("failed"), result.get("msg")
    assert dump.stat().st_size == result["size"] > 0
    assert docker("exec", pg_server.container, "sh", "-c", "ls /tmp/sertantai-dump-* 2>/dev/null || true").stdout == ""


@pytest.mark.docker
def test_dump_refuses_a_pg_dump_the_target_cannot_read(pg_server, databases, tmp_path):
    source, _target = databases
    result = run_module("pg_data_dump", dump_args(pg_server, source, tmp_path / "x.dump", pg_restore_major="15"))
    assert result.get("failed")
    assert "newer than the target's pg_restore (major 15)" in result["msg"]
    assert not list(tmp_path.iterdir())


@pytest.mark.docker
def test_dump_refuses_a_pg_dump_older_than_the_source(pg_server, databases, tmp_path):
    source, _target = databases
    result = run_module("pg_data_dump", dump_args(pg_server, source, tmp_path / "x.dump", dump_image=PG15_IMAGE))
    assert result.get("failed")
    assert "older than the source server (PostgreSQL 16)" in result["msg"]
    assert not list(tmp_path.iterdir())


@pytest.mark.docker
def test_check_mode_dumps_backs_up_and_restores_nothing(pg_server, databases, tmp_path):
    source, target = databases
    dump = run_module("pg_data_dump", dump_args(pg_server, source, tmp_path / "x.dump"), check=True)
    assert not dump.get("failed"), dump.get("msg")
    assert dump["changed"] and dump["row_counts"]["public.laws"] == 1500 and not list(tmp_path.iterdir())
    backup = run_module("pg_backup", dict(pg_container=pg_server.container, database=target, dir=str(tmp_path / "b")), check=True)
    assert backup["changed"] and not (tmp_path / "b").exists()
    restored = run_module("pg_data_restore", dict(pg_container=pg_server.container, database=target, dump="/nonexistent"),
                          check=True)
    assert not restored.get("failed"), restored.get("msg")
    assert restored["queries"][0].startswith("TRUNCATE TABLE")
    assert psql(pg_server.container, target, "SELECT count(*) FROM laws").strip() == "1"


@pytest.mark.docker
def test_restore_refuses_a_dump_with_tables_the_target_lacks(pg_server, databases, tmp_path):
    source, target = databases
    pg_server.psql("CREATE TABLE extra (id int); INSERT INTO extra VALUES (1);", source)
    dump = tmp_path / "e.dump"
    assert not run_module("pg_data_dump", dump_args(pg_server, source, dump)).get("failed")
    docker("cp", str(dump), "%s:/tmp/restore-extra.dump" % pg_server.container)
    result = run_module("pg_data_restore", dict(pg_container=pg_server.container, database=target, dump="/tmp/restore-extra.dump"))
    assert result.get("failed") and result["touched"] is False
    assert "TABLE DATA public extra" in result["msg"]
    assert psql(pg_server.container, target, "SELECT count(*) FROM laws").strip() == "1"
