"""_restore: versions, the snapshot file, the gate, dump entries, TRUNCATE, counts, COPY times, backups (pure)."""

from __future__ import annotations

import datetime
import gzip
import json
import shlex

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _restore as restore
from ansible_collections.sertantai.deploy.plugins.module_utils._schema import failure_message


def tool(text):
    return restore.parse_tool_version(text)


# ------------------------------------------------------------------ versions


@pytest.mark.parametrize("num, major, text", [
    (160014, (16,), "16"),
    (150008, (15,), "15"),
    (170000, (17,), "17"),
    (90624, (9, 6), "9.6"),
    (100023, (10,), "10"),
])
def test_major_of_num(num, major, text):
    assert restore.major_of_num(num) == major
    assert restore.major_text(major) == text


@pytest.mark.parametrize("text, version, major", [
    ("pg_restore (PostgreSQL) 16.2", "16.2", (16,)),
    ("pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)\n", "15.8", (15,)),
    ("pg_dump (PostgreSQL) 17beta1", "17", (17,)),
    ("pg_dump (PostgreSQL) 9.6.24", "9.6.24", (9, 6)),
])
def test_parse_tool_version(text, version, major):
    assert tool(text) == dict(version=version, major=major)


@pytest.mark.parametrize("text", ["", None, "OCI runtime exec failed: pg_restore not found", "psql 16.2"])
def test_parse_tool_version_unreadable(text):
    assert tool(text) is None


@pytest.mark.parametrize("source, restore_text, ok", [
    (160004, "pg_restore (PostgreSQL) 16.2", True),
    (150008, "pg_restore (PostgreSQL) 16.2", True),
    (90624, "pg_restore (PostgreSQL) 15.8", True),
    (160014, "pg_restore (PostgreSQL) 15.8", False),
    (170002, "pg_restore (PostgreSQL) 16.2", False),
])
def test_version_problems(source, restore_text, ok):
    assert (restore.version_problems(source, tool(restore_text)) == []) is ok


def test_a_newer_source_is_refused_with_the_versions_and_what_to_do():
    (message,) = restore.version_problems(160014, tool("pg_restore (PostgreSQL) 15.8"), source_version="16.14")
    assert "PostgreSQL 16.14" in message and "pg_restore is 15.8" in message
    assert "Nothing was changed" in message
    assert "upgrade the target's PostgreSQL to 16" in message


def test_an_unreadable_pg_restore_is_a_problem():
    (message,) = restore.version_problems(160014, None)
    assert "cannot tell the version of the target's pg_restore" in message


@pytest.mark.parametrize("source, dump_text, restore_major, expected", [
    (160014, "pg_dump (PostgreSQL) 16.2", (16,), []),
    (150008, "pg_dump (PostgreSQL) 16.2", (16,), []),
    (150008, "pg_dump (PostgreSQL) 16.2", None, []),
    (160014, "pg_dump (PostgreSQL) 15.8", (16,), ["older than the source server"]),
    (150008, "pg_dump (PostgreSQL) 17.1", (16,), ["newer than the target's pg_restore"]),
    (170001, "pg_dump (PostgreSQL) 15.8", (16,), ["older than the source server"]),
])
def test_dump_version_problems(source, dump_text, restore_major, expected):
    problems = restore.dump_version_problems(source, tool(dump_text), restore_major)
    assert len(problems) == len(expected)
    for problem, words in zip(problems, expected):
        assert words in problem


def test_an_unknown_pg_dump_is_a_problem():
    assert "cannot tell the version of pg_dump" in restore.dump_version_problems(160000, None)[0]


@pytest.mark.parametrize("text, major", [("16", (16,)), ("9.6", (9, 6)), ("", None), (None, None), (15, (15,))])
def test_parse_major(text, major):
    assert restore.parse_major(text) == major


def test_parse_major_rejects():
    with pytest.raises(restore.RestoreError, match="not a PostgreSQL major"):
        restore.parse_major("sixteen")


# ------------------------------------------------------------------ the snapshot file


def document(schema=None, num=160014):
    return dict(format=1, database="dev", schemas=["public"], server_version_num=num, server_version="16.14",
                schema=schema if schema is not None else {"public.t": table()})


def table(**columns):
    columns = columns or {"id": dict(position=1, type="bigint", nullable=False, default=None, identity=None, generated=None)}
    return dict(schema="public", name="t", kind="table", columns=columns, constraints={}, indexes={})


def test_document_round_trip_is_compressed():
    doc = document()
    data = restore.encode_document(doc)
    assert data[:2] == b"\x1f\x8b"
    assert restore.decode_document(data) == doc


def test_document_as_text_round_trip():
    doc = document()
    text = restore.encode_document_text(doc)
    assert isinstance(text, str) and restore.decode_document_text(text) == doc
    with pytest.raises(restore.RestoreError, match="is not base64 text"):
        restore.decode_document_text("not base64!")
    with pytest.raises(restore.RestoreError, match="is not a snapshot file"):
        restore.decode_document_text("")


def test_a_pg_restore_version_read_from_json_compares_as_read():
    """The action plugin gets the target's pg_restore through the module's JSON result: the major is a list."""
    read = json.loads(json.dumps(tool("pg_restore (PostgreSQL) 15.8")))
    assert read["major"] == [15]
    assert restore.version_problems(160004, read) and not restore.version_problems(150002, read)


def test_plain_json_is_read_too():
    doc = document()
    assert restore.decode_document(json.dumps(doc)) == doc


# Named ids: the test ids must be the same in every pytest-xdist worker (gzip's header holds the time).
@pytest.mark.parametrize("data, words", [
    (b"not json", "is not a snapshot file"),
    (gzip.compress(b"[1, 2]", mtime=0), "is not a schema snapshot"),
    (json.dumps(dict(format=2, schema={})).encode(), "is not a schema snapshot of format 1"),
    (json.dumps(dict(format=1, schema={}, server_version_num="16")).encode(), "has no server_version_num"),
], ids=["not-json", "gzip-of-a-list", "format-2", "no-server-version"])
def test_decode_rejects(data, words):
    with pytest.raises(restore.RestoreError, match=words):
        restore.decode_document(data)


# ------------------------------------------------------------------ the gate


def target(schema=None, num=160014, text="16.14"):
    doc = document(schema, num)
    doc.update(database="prod", server_version=text)
    return doc


def test_gate_passes_identical_schemas_and_fitting_versions():
    result = restore.gate_result(document(), target(), tool("pg_restore (PostgreSQL) 16.2"))
    assert result["passed"] and result["identical"] and result["versions"]["ok"]
    assert result["versions"]["source_server"] == dict(version="16.14", major="16")
    assert result["versions"]["target_pg_restore"] == dict(version="16.2", major="16")
    assert not restore.gate_fails(result)
    # only the comparison: no snapshot of either side
    assert "schema" not in result and "public.t" not in json.dumps(result)


def test_gate_reports_drift_and_versions_in_one_message():
    drifted = table(id=dict(position=1, type="integer", nullable=True, default=None, identity=None, generated=None))
    result = restore.gate_result(document(), target({"public.t": drifted}, 150008, "15.8"),
                                 tool("pg_restore (PostgreSQL) 15.8"))
    assert not result["passed"] and not result["identical"] and not result["versions"]["ok"]
    assert result["versions"]["target_server"] == dict(version="15.8", major="15")
    assert restore.gate_fails(result) and restore.gate_fails(result, fail_on_difference=False)
    assert restore.gate_fails(result, check_versions=False)
    assert not restore.gate_fails(result, fail_on_difference=False, check_versions=False)
    message = restore.gate_message(result, failure_message)
    lines = message.splitlines()
    assert lines[0].startswith("the source server runs PostgreSQL 16.14")
    assert "t.id: type bigint in source, integer in target" in message
    assert "t.id: NOT NULL in source, NULL allowed in target" in message


@pytest.mark.parametrize("max_wal, slot_keep, kept", [
    (1 << 30, 4 << 30, 5 << 30),      # the postgres role's max_slot_wal_keep_size: 4GB, beyond max_wal_size
    (1 << 30, -1, None),              # PostgreSQL's default: a slot keeps any amount
    (None, None, None),               # not read (a snapshot file written without it)
])
def test_the_gate_returns_the_sizes_a_restore_reckons_its_room_from(max_wal, slot_keep, kept):
    source = dict(document(), database_bytes=3000)
    target_doc = target()
    sizes = (("database_bytes", 1000), ("max_wal_bytes", max_wal), ("slot_wal_keep_bytes", slot_keep))
    target_doc.update(dict((key, value) for key, value in sizes if value is not None))
    result = restore.gate_result(source, target_doc, tool("pg_restore (PostgreSQL) 16.2"))
    assert result["sizes"] == dict(source=3000, target=1000, target_wal_kept=kept)
    assert restore.gate_result(document(), target(), None, check_versions=False)["sizes"] == dict(
        source=None, target=None, target_wal_kept=None)


def test_gate_without_version_check():
    result = restore.gate_result(document(num=170000), target(num=150008, text="15.8"), None, check_versions=False)
    assert result["passed"] and result["versions"]["problems"] == [] and not result["versions"]["checked"]


# ------------------------------------------------------------------ tables, TRUNCATE, keep tables


@pytest.mark.parametrize("key, keep, kept", [
    ("public.schema_migrations", ["schema_migrations"], True),
    ("audit.schema_migrations", ["schema_migrations"], True),
    ("audit.schema_migrations", ["public.schema_migrations"], False),
    ("public.schema_migrations_x", ["schema_migrations"], False),
    ("public.uk_lrt", [], False),
])
def test_is_kept(key, keep, kept):
    assert restore.is_kept(key, keep) is kept


@pytest.mark.parametrize("bad", ["", " ", ".x", "x.", None])
def test_validate_keep_tables(bad):
    with pytest.raises(restore.RestoreError, match="is not a table name"):
        restore.validate_keep_tables([bad])


def test_truncate_is_one_statement_without_cascade():
    sql = restore.truncate_sql(["public.uk_lrt", 'public.Weird "T"', "audit.log"])
    assert sql == 'TRUNCATE TABLE "public"."uk_lrt", "public"."Weird ""T""", "audit"."log" RESTART IDENTITY'
    assert "CASCADE" not in sql
    assert restore.truncate_sql([]) is None


def test_restored_tables_leave_out_kept_ones():
    assert restore.restored_tables(["public.a", "public.schema_migrations"], ["schema_migrations"]) == ["public.a"]


# ------------------------------------------------------------------ pg_dump and the dump's entries


def test_pg_dump_arguments_are_custom_format_data_only():
    args = restore.pg_dump_arguments("dev", ["public", "Audit"], ["schema_migrations", "public.Oban*"], "/dump/x")
    assert args[:4] == ["--format=custom", "--data-only", "--no-owner", "--no-acl"]
    assert "--dbname=dev" in args and "--file=/dump/x" in args
    assert '--schema="public"' in args and '--schema="Audit"' in args
    # quoted: taken literally by pg_dump, not as patterns
    assert '--exclude-table-data="schema_migrations"' in args
    assert '--exclude-table-data="public"."Oban*"' in args
    assert not any(a.startswith("--format=plain") or a == "-Fp" for a in args)


@pytest.mark.parametrize("conninfo, env", [
    (dict(host="localhost", port=5436, user="postgres", password="s3cret", dbname="dev"),
     dict(PGHOST="localhost", PGPORT="5436", PGUSER="postgres", PGPASSWORD="s3cret")),
    (dict(host="db", sslmode="require", password=None, connect_timeout=10),
     dict(PGHOST="db", PGSSLMODE="require", PGCONNECT_TIMEOUT="10")),
])
def test_libpq_environment(conninfo, env):
    assert restore.libpq_environment(conninfo) == env


def test_libpq_environment_rejects_an_unknown_keyword():
    with pytest.raises(restore.RestoreError, match="'krbsrvname' cannot be passed"):
        restore.libpq_environment(dict(krbsrvname="x"))


def test_direct_conninfo_from_host_options():
    params = dict(pg_host="localhost", pg_port=5436, pg_user="postgres", pg_password="pw", pg_connect_timeout=3)
    assert restore.direct_conninfo(params) == dict(host="localhost", port=5436, user="postgres", password="pw",
                                                   connect_timeout=3)


def test_direct_conninfo_from_a_dsn_never_echoes_it():
    assert restore.direct_conninfo(dict(pg_dsn="host=h port=1 password=pw"))["password"] == "pw"
    with pytest.raises(restore.RestoreError) as info:
        restore.direct_conninfo(dict(pg_dsn="host=h password='unterminated"))
    assert "unterminated" not in info.value.message


TOC = """;
; Archive created at 2026-11-27 10:48:46 UTC
;     dbname: dev
;
; Selected TOC Entries:
;
3401; 0 16399 TABLE DATA public uk_lrt postgres
3402; 0 16412 TABLE DATA public schema_migrations postgres
3403; 0 16420 TABLE DATA public Weird Table postgres
3404; 0 16430 TABLE DATA audit log postgres
3405; 0 16440 TABLE DATA public legacy_import postgres
3410; 0 0 SEQUENCE SET public uk_lrt_id_seq postgres
3411; 0 0 SEQUENCE SET public schema_migrations_id_seq postgres
3412; 0 0 BLOBS - BLOBS
"""


def test_select_entries():
    tables = ["audit.log", "public.Weird Table", "public.schema_migrations", "public.uk_lrt"]
    entries = restore.select_entries(TOC, tables, ["schema_migrations"], ["public.schema_migrations_id_seq"])
    assert entries["data_tables"] == ["public.uk_lrt", "public.Weird Table", "audit.log"]
    assert [line.split(";")[0] for line in entries["lines"]] == ["3401", "3403", "3404", "3405", "3410", "3412"]
    assert [s["entry"].split(";")[0] for s in entries["skipped"]] == ["3402", "3411"]
    assert "public.schema_migrations stays the target's own" in entries["skipped"][0]["reason"]
    assert entries["unknown"] == ["3405; 0 16440 TABLE DATA public legacy_import postgres"]


def test_select_entries_of_an_empty_list():
    assert restore.select_entries("", [], [], []) == dict(lines=[], skipped=[], data_tables=[], unknown=[])


@pytest.mark.parametrize("cpus, tables, jobs", [(2, 5, 2), (8, 3, 3), (2, 1, 1), (None, 4, 1), (16, 40, 8), (4, 0, 1)])
def test_auto_jobs(cpus, tables, jobs):
    assert restore.auto_jobs(cpus, tables) == jobs


def test_pg_restore_arguments():
    args = restore.pg_restore_arguments("postgres", "prod", "/tmp/d.dump", 2)
    assert args[0] == "pg_restore" and args[-1] == "/tmp/d.dump"
    for flag in ("--data-only", "--disable-triggers", "--exit-on-error", "--jobs=2", "--use-list=/dev/stdin"):
        assert flag in args
    assert "--single-transaction" not in args  # excludes --jobs


# ------------------------------------------------------------------ counts and times


def test_count_mismatches():
    expected = {"public.a": 19318, "public.b": 5}
    actual = {"public.a": 19318, "public.b": 4, "public.c": 1}
    mismatches = restore.count_mismatches(expected, actual, ["public.a", "public.b", "public.c"])
    assert [m["table"] for m in mismatches] == ["public.b", "public.c"]
    assert mismatches[0]["message"] == "b: 5 rows in the source, 4 in the target"
    assert mismatches[1]["source"] == 0
    assert restore.count_mismatches(expected, {"public.a": 19318, "public.b": 5}, ["public.a", "public.b"]) == []


LOG = """2026-11-27 10:48:48.218 UTC [192] LOG:  duration: 0.698 ms  statement: COPY public.t0003 (id, code) FROM stdin;
2026-11-27 10:48:49.724 UTC [191] LOG:  duration: 1516.713 ms  statement: COPY public.uk_lrt (id, name) FROM stdin;
2026-11-27 10:48:49.730 UTC [191] LOG:  duration: 12.5 ms  statement: COPY public."Weird Table" ("Mixed Case") FROM stdin;
2026-11-27 10:48:49.731 UTC [191] LOG:  duration: 2.0 ms  statement: COPY "Audit"."a.b" (x) FROM stdin;
2026-11-27 10:48:49.738 UTC [193] LOG:  duration: 0.022 ms  statement: SET standard_conforming_strings = on;
"""


def test_copy_durations():
    assert restore.copy_durations(LOG) == {
        "public.t0003": pytest.approx(0.000698), "public.uk_lrt": pytest.approx(1.516713),
        "public.Weird Table": pytest.approx(0.0125), "Audit.a.b": pytest.approx(0.002)}
    assert restore.copy_durations("") == {}


def test_summary():
    rows = restore.summary_rows(["public.uk_lrt", "public.b"], {"public.uk_lrt": 19318, "public.b": 2, "public.schema_migrations": 3},
                                {"public.uk_lrt": 0.4123}, kept=["public.schema_migrations"])
    assert rows == [dict(table="public.b", rows=2, seconds=None), dict(table="public.uk_lrt", rows=19318, seconds=0.412),
                    dict(table="public.schema_migrations", rows=3, seconds=None, kept=True)]
    lines = restore.summary_lines(rows, total_seconds=2.0)
    assert lines[0].split() == ["table", "rows", "seconds"]
    assert lines[1].split() == ["b", "2", "n/a"]
    assert lines[2].split() == ["uk_lrt", "19318", "0.412"]
    assert "kept (target's own)" in lines[3]
    assert lines[-1].split() == ["total", "19320", "2.000", "(9660", "rows/s)"]


# ------------------------------------------------------------------ backups


NOW = datetime.datetime(2026, 11, 27, 10, 45, 12, tzinfo=datetime.timezone.utc)


def test_backup_name_is_utc_and_unique():
    local = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert restore.backup_name("prod", local) == "prod-20261127T104512Z.dump"
    taken = ["prod-20261127T104512Z.dump", "prod-20261127T104512Z-2.dump"]
    assert restore.backup_name("prod", NOW, taken) == "prod-20261127T104512Z-3.dump"


def test_backups_to_remove_only_the_oldest_of_this_database():
    names = ["prod-20261101T000000Z.dump", "prod-20261102T000000Z.dump", "prod-20261102T000000Z-2.dump",
             "prod-20261103T000000Z.dump", "prod_other-20261101T000000Z.dump", "prod-20261101T000000Z.dump.partial",
             "notes.txt", "prod-latest.dump"]
    assert restore.backups_to_remove(names, "prod", 2) == ["prod-20261101T000000Z.dump", "prod-20261102T000000Z.dump"]
    assert restore.backups_to_remove(names, "prod", 10) == []
    assert restore.backups_to_remove(names, "prod_other", 1) == []


def test_keep_must_keep_the_new_backup():
    with pytest.raises(restore.RestoreError, match="keep at least 1"):
        restore.backups_to_remove([], "prod", 0)


def test_backup_restore_command_is_one_atomic_command():
    command = restore.backup_restore_command("shared_postgres", "postgres", "prod", "/opt/sertantai/backups/legal/prod-1 x.dump")
    argv = shlex.split(command.split(" < ")[0])
    assert argv[:4] == ["docker", "exec", "-i", "shared_postgres"]
    for flag in ("--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--dbname=prod"):
        assert flag in argv
    assert command.endswith("< '/opt/sertantai/backups/legal/prod-1 x.dump'")


def test_tool_failure_keeps_the_last_lines():
    message = restore.tool_failure("pg_dump", 1, "", "pg_dump: error: connection lost\nserver closed the connection\n")
    assert message == "pg_dump failed (exit code 1): pg_dump: error: connection lost | server closed the connection"


# ------------------------------------------------------------------ restore_data, with a fake server


class FakeRunner:
    """Answers the catalog reads of restore_data; records what it executes; counts come from ``rows``."""

    def __init__(self, tables, rows, sequences=()):
        self.tables, self.rows, self.sequences = tables, rows, sequences
        self.executed = []

    def query(self, sql, database=None):
        if "row_count" in sql:
            return [dict(table_key=k, row_count=self.rows.get(k, 0)) for k in self.tables]
        assert "pg_depend" in sql  # tables and owned sequences in one statement
        return [dict(tables=[dict(schema=k.split(".")[0], name=k.split(".", 1)[1]) for k in self.tables],
                     sequences=[dict(schema="public", name=s, table_schema="public", table_name=t)
                                for s, t in self.sequences])]

    def execute(self, sql, database=None):
        self.executed.append(sql)


class FakeCli:
    cli = "docker"

    def __init__(self, toc, restore_rc=0, restore_err="", log=""):
        self.toc, self.restore_rc, self.restore_err, self.log = toc, restore_rc, restore_err, log
        self.calls = []

    def exec(self, container, argv, data=None, check=False):
        self.calls.append(["exec", container] + argv)
        return 0, self.toc, ""

    def run(self, *args, data=None, check=True):
        self.calls.append(list(args))
        if args[0] == "logs":
            return 0, "", self.log
        self.stdin = data
        return self.restore_rc, "", self.restore_err


RESTORE_TOC = """3401; 0 16399 TABLE DATA public uk_lrt postgres
3402; 0 16412 TABLE DATA public schema_migrations postgres
3403; 0 16413 TABLE DATA public tags postgres
3410; 0 0 SEQUENCE SET public uk_lrt_id_seq postgres
"""
RESTORE_TABLES = ["public.schema_migrations", "public.tags", "public.uk_lrt"]


def run_restore(runner, cli, **kwargs):
    now = datetime.datetime(2026, 11, 27, 10, 0, 0, tzinfo=datetime.timezone.utc)
    return restore.restore_data(runner, cli, "shared_postgres", "prod", "/tmp/d.dump", now=lambda: now, cpus=2, **kwargs)


def test_restore_data_empties_then_restores_then_counts():
    rows = {"public.uk_lrt": 19318, "public.tags": 10, "public.schema_migrations": 3}
    runner = FakeRunner(RESTORE_TABLES, rows)
    log = 'LOG:  duration: 412.3 ms  statement: COPY public.uk_lrt (id) FROM stdin;'
    cli = FakeCli(RESTORE_TOC, log=log)
    result = run_restore(runner, cli, expected_row_counts={"public.uk_lrt": 19318, "public.tags": 10})
    assert runner.executed == ['TRUNCATE TABLE "public"."tags", "public"."uk_lrt" RESTART IDENTITY']
    assert result["jobs"] == 2 and "--jobs=2" in result["command"]
    assert "schema_migrations" not in cli.stdin and "TABLE DATA public uk_lrt" in cli.stdin
    assert cli.calls[-1][:3] == ["logs", "--since", "2026-11-27T09:59:59.000000Z"]
    assert result["tables"][1] == dict(table="public.uk_lrt", rows=19318, seconds=0.412)
    assert result["tables"][2]["kept"] is True
    assert result["mismatches"] == []


def test_restore_data_in_check_mode_runs_nothing():
    runner = FakeRunner(RESTORE_TABLES, {})
    cli = FakeCli(RESTORE_TOC)
    result = run_restore(runner, cli, check_mode=True)
    assert runner.executed == [] and cli.calls == []
    assert result["queries"] == ['TRUNCATE TABLE "public"."tags", "public"."uk_lrt" RESTART IDENTITY']
    assert result["command"][-1] == "/tmp/d.dump"


def test_restore_data_refuses_a_dump_for_other_tables_before_emptying_anything():
    runner = FakeRunner(["public.uk_lrt"], {})
    with pytest.raises(restore.RestoreFailed) as info:
        run_restore(runner, FakeCli(RESTORE_TOC))
    assert "does not have in public" in info.value.message and "TABLE DATA public tags" in info.value.message
    assert not info.value.touched and runner.executed == []


def test_a_failed_pg_restore_says_the_tables_are_touched():
    runner = FakeRunner(RESTORE_TABLES, {})
    cli = FakeCli(RESTORE_TOC, restore_rc=1, restore_err='pg_restore: error: invalid input value for enum law_status: "x"')
    with pytest.raises(restore.RestoreFailed) as info:
        run_restore(runner, cli)
    assert info.value.touched and len(runner.executed) == 1
    assert "failed while restoring the data" in info.value.message and "partly restored" in info.value.message
    assert 'invalid input value for enum law_status: "x"' in info.value.message


def test_different_counts_fail_with_each_table():
    runner = FakeRunner(RESTORE_TABLES, {"public.uk_lrt": 19000, "public.tags": 10})
    with pytest.raises(restore.RestoreFailed) as info:
        run_restore(runner, FakeCli(RESTORE_TOC), expected_row_counts={"public.uk_lrt": 19318, "public.tags": 10})
    assert info.value.touched
    assert info.value.message.endswith("uk_lrt: 19318 rows in the source, 19000 in the target")
    assert info.value.result["tables"]  # the summary is there for the operator


@pytest.mark.parametrize("kwargs, words", [
    (dict(schemas=[]), "schemas is empty"),
    (dict(jobs=-1), "jobs is -1"),
    (dict(keep_tables=[""]), "is not a table name"),
])
def test_restore_data_rejects_bad_input(kwargs, words):
    with pytest.raises(restore.RestoreFailed, match=words):
        run_restore(FakeRunner(RESTORE_TABLES, {}), FakeCli(RESTORE_TOC), **kwargs)


def test_snapshot_and_version_come_in_one_statement():
    class OneQuery:
        def __init__(self):
            self.sql = []

        def query(self, sql, database=None):
            self.sql.append(sql)
            return [dict(tables=[dict(schema="public", table="t", relkind="r")], columns=[], constraints=[], indexes=[],
                         server_version_num=160014, server_version="16.14", database_bytes=8000000,
                         max_wal_bytes=1 << 30, slot_wal_keep_bytes=-1)]

    runner = OneQuery()
    document = restore.read_document(runner, "dev", ["public"])
    assert len(runner.sql) == 1 and "server_version_num" in runner.sql[0] and "pg_database_size" in runner.sql[0]
    assert document["server_version_num"] == 160014 and document["server_version"] == "16.14"
    assert (document["database_bytes"], document["max_wal_bytes"], document["slot_wal_keep_bytes"]) == (8000000, 1 << 30, -1)
    assert list(document["schema"]) == ["public.t"] and document["schemas"] == ["public"]


def test_read_catalog_keeps_the_sequences_of_kept_tables_only():
    runner = FakeRunner(["public.schema_migrations", "public.uk_lrt"], {},
                        sequences=[("schema_migrations_id_seq", "schema_migrations"), ("uk_lrt_id_seq", "uk_lrt")])
    tables, sequences = restore.read_catalog(runner, "prod", ["public"], ["schema_migrations"])
    assert tables == ["public.schema_migrations", "public.uk_lrt"]
    assert sequences == ["public.schema_migrations_id_seq"]
