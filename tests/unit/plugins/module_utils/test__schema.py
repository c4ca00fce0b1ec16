"""_schema: catalog SQL building, snapshot assembly, ignore patterns and snapshot comparison (all pure)."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _schema
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError


def column(position, type_, nullable=True, default=None, identity=None, generated=None):
    return dict(position=position, type=type_, nullable=nullable, default=default, identity=identity, generated=generated)


def table(schema, name, columns, constraints=None, indexes=None, kind="table"):
    return dict(schema=schema, name=name, kind=kind, columns=columns, constraints=constraints or {}, indexes=indexes or {})


def uk_lrt():
    return table("public", "uk_lrt", {
        "id": column(1, "uuid", nullable=False, default="gen_random_uuid()"),
        "family": column(2, "character varying(255)"),
        "name": column(3, "text", nullable=False),
        "year": column(4, "integer", default="2024"),
    }, constraints={
        "uk_lrt_pkey": dict(type="primary key", definition="PRIMARY KEY (id)"),
        "uk_lrt_year_check": dict(type="check", definition="CHECK ((year > 1900))"),
    }, indexes={
        "uk_lrt_pkey": dict(definition="CREATE UNIQUE INDEX uk_lrt_pkey ON public.uk_lrt USING btree (id)",
                            unique=True, primary=True, constraint="uk_lrt_pkey"),
        "uk_lrt_name_idx": dict(definition="CREATE INDEX uk_lrt_name_idx ON public.uk_lrt USING btree (name)",
                                unique=False, primary=False, constraint=None),
    })


def base():
    return {
        "public.uk_lrt": uk_lrt(),
        "public.schema_migrations": table("public", "schema_migrations", {
            "version": column(1, "bigint", nullable=False),
            "inserted_at": column(2, "timestamp(0) without time zone"),
        }),
    }


# ------------------------------------------------------------------ SQL building


@pytest.mark.parametrize("name, expected", [
    ("uk_lrt", (None, "uk_lrt")),
    ("public.uk_lrt", ("public", "uk_lrt")),
    ("audit.log.2024", ("audit", "log.2024")),
])
def test_split_table_name(name, expected):
    assert _schema.split_table_name(name) == expected


@pytest.mark.parametrize("bad", ["", "  ", ".uk_lrt", "public.", None])
def test_split_table_name_rejects(bad):
    with pytest.raises(PgError):
        _schema.split_table_name(bad)


@pytest.mark.parametrize("schemas, tables, expected", [
    (["public"], None, "c.relkind IN ('r', 'p') AND n.nspname IN ('public')"),
    (["public", "audit"], None, "c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'audit')"),
    (["public"], ["uk_lrt", "audit.log"],
     "c.relkind IN ('r', 'p') AND n.nspname IN ('public') AND (c.relname = 'uk_lrt' OR (n.nspname = 'audit' AND c.relname = 'log'))"),
    (["it's"], ["o'brien"], "c.relkind IN ('r', 'p') AND n.nspname IN ('it''s') AND (c.relname = 'o''brien')"),
])
def test_relation_filter(schemas, tables, expected):
    assert _schema.relation_filter(schemas, tables) == expected


def test_relation_filter_needs_a_schema():
    with pytest.raises(PgError, match="schemas is empty"):
        _schema.relation_filter([])


def test_snapshot_sql_is_one_statement_with_one_query_per_kind():
    sql = _schema.snapshot_sql(["public"])
    assert sql.count(";") == 0
    for needle in ("format_type(a.atttypid, a.atttypmod)", "pg_get_constraintdef(co.oid)", "pg_get_indexdef(i.indexrelid)",
                   "pg_get_expr(d.adbin, d.adrelid)"):
        assert needle in sql
    assert "n.nspname IN ('public')" in sql


def test_row_count_sql_quotes_names():
    snap = {"public.Weird Table": table("public", "Weird Table", {}), "a\"b.t": table('a"b', "t", {})}
    sql = _schema.row_count_sql(sorted(snap), snap)
    assert sql == ("SELECT 'a\"b.t' AS table_key, count(*) AS row_count FROM \"a\"\"b\".\"t\"\nUNION ALL\n"
                   "SELECT 'public.Weird Table' AS table_key, count(*) AS row_count FROM \"public\".\"Weird Table\"")


# ------------------------------------------------------------------ snapshot assembly


def test_build_snapshot_from_catalog_rows():
    row = {
        "tables": [{"schema": "public", "table": "uk_lrt", "relkind": "r"}, {"schema": "public", "table": "events", "relkind": "p"}],
        "columns": [
            {"schema": "public", "table": "uk_lrt", "name": "id", "position": 1, "type": "bigint", "not_null": True,
             "default": None, "identity": "a", "generated": ""},
            {"schema": "public", "table": "uk_lrt", "name": "slug", "position": 2, "type": "text", "not_null": False,
             "default": "lower(name)", "identity": "", "generated": "s"},
            {"schema": "public", "table": "events", "name": "at", "position": 1, "type": "date", "not_null": False,
             "default": "CURRENT_DATE", "identity": "", "generated": ""},
        ],
        "constraints": [{"schema": "public", "table": "uk_lrt", "name": "uk_lrt_pkey", "contype": "p", "definition": "PRIMARY KEY (id)"}],
        "indexes": [{"schema": "public", "table": "uk_lrt", "name": "uk_lrt_pkey", "unique": True, "primary": True,
                     "constraint": "uk_lrt_pkey", "definition": "CREATE UNIQUE INDEX uk_lrt_pkey ON public.uk_lrt USING btree (id)"}],
    }
    snap = _schema.build_snapshot(row)
    assert sorted(snap) == ["public.events", "public.uk_lrt"]
    assert snap["public.events"]["kind"] == "partitioned table"
    assert snap["public.uk_lrt"]["columns"] == {
        "id": column(1, "bigint", nullable=False, identity="always"),
        "slug": column(2, "text", default="lower(name)", generated="stored"),
    }
    assert snap["public.events"]["columns"]["at"]["default"] == "CURRENT_DATE"
    assert snap["public.uk_lrt"]["constraints"] == {"uk_lrt_pkey": {"type": "primary key", "definition": "PRIMARY KEY (id)"}}
    assert snap["public.uk_lrt"]["indexes"]["uk_lrt_pkey"]["constraint"] == "uk_lrt_pkey"
    json.dumps(snap)


@pytest.mark.parametrize("row", [None, {}, {"tables": [], "columns": [], "constraints": [], "indexes": []}])
def test_build_snapshot_of_nothing(row):
    assert _schema.build_snapshot(row) == {}


class FakeRunner:
    """Records the SQL; answers like a _pg runner (real runners are tested in tests/integration)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def query(self, sql, database=None):
        self.calls.append((sql, database))
        return self.answers.pop(0)


@pytest.mark.parametrize("count_rows, queries", [(False, 1), (True, 2)])
def test_read_snapshot_runs_one_catalog_statement_and_at_most_one_count(count_rows, queries):
    row = {"tables": [{"schema": "public", "table": "t%d" % i, "relkind": "r"} for i in range(50)]}
    runner = FakeRunner([[row], [{"table_key": "public.t%d" % i, "row_count": i} for i in range(50)]])
    snap, counts = _schema.read_snapshot(runner, "db", ["public"], count_rows=count_rows)
    assert len(snap) == 50
    assert len(runner.calls) == queries
    assert all(db == "db" for _sql, db in runner.calls)
    assert counts == ({"public.t%d" % i: i for i in range(50)} if count_rows else {})


# ------------------------------------------------------------------ ignore patterns


@pytest.mark.parametrize("key, patterns, ignored", [
    ("public.schema_migrations", ["schema_migrations"], True),
    ("audit.schema_migrations", ["schema_migrations"], True),
    ("public.schema_migrations", ["public.schema_*"], True),
    ("audit.schema_migrations", ["public.schema_*"], False),
    ("public.uk_lrt", ["uk_lrt.family"], False),
    ("public.uk_lrt", ["uk_*"], True),
    ("public.uk_lrt", ["*"], True),
    ("public.uk_lrt", ["public.uk_lrt.*"], False),
])
def test_table_ignored(key, patterns, ignored):
    assert _schema.table_ignored(key, _schema.validate_patterns(patterns)) is ignored


@pytest.mark.parametrize("key, column_name, patterns, ignored", [
    ("public.uk_lrt", "family", ["uk_lrt.family"], True),
    ("public.uk_lrt", "legacy_a", ["uk_lrt.legacy_*"], True),
    ("public.uk_lrt", "family", ["public.uk_lrt.family"], True),
    ("public.uk_lrt", "family", ["audit.uk_lrt.family"], False),
    ("public.uk_lrt", "family", ["family"], False),
    ("public.uk_lrt", "id", ["*id"], False),
    ("public.uk_lrt", "id", ["*.id"], True),
])
def test_column_ignored(key, column_name, patterns, ignored):
    assert _schema.column_ignored(key, column_name, _schema.validate_patterns(patterns)) is ignored


@pytest.mark.parametrize("bad", ["", "a.b.c.d", "a..b", ".a", 5])
def test_validate_patterns_rejects(bad):
    with pytest.raises(_schema.SnapshotError):
        _schema.validate_patterns([bad])


# ------------------------------------------------------------------ inputs


def test_unwrap_accepts_module_result_or_schema_key():
    snap = base()
    assert _schema.unwrap_snapshot({"changed": False, "schema": snap, "row_counts": {}}, "source") is snap
    assert _schema.unwrap_snapshot(snap, "source") is snap
    assert _schema.unwrap_snapshot({}, "source") == {}


@pytest.mark.parametrize("value, message", [
    ("public.uk_lrt", "is a str, not a snapshot"),
    ({"failed": True, "msg": "database 'x' does not exist"}, "result of a failed task"),
    ({"uk_lrt": {"columns": {}}}, "entry 'uk_lrt' that is not a table"),
    ({"public.uk_lrt": {"name": "uk_lrt"}}, "entry 'public.uk_lrt' that is not a table"),
])
def test_unwrap_rejects(value, message):
    with pytest.raises(_schema.SnapshotError, match=message):
        _schema.unwrap_snapshot(value, "target")


# ------------------------------------------------------------------ comparison


def test_identical():
    result = _schema.compare_snapshots(base(), copy.deepcopy(base()))
    assert result["identical"] is True
    assert result["differences"] == 0
    assert result["tables_compared"] == 2
    assert result["mismatched"] == []
    assert result["missing_in_target"] == dict(tables=[], columns=[], constraints=[], indexes=[])
    assert result["report"] == ["source and target schemas are identical: 2 tables compared"]


def mutate(change):
    target = base()
    change(target)
    return _schema.compare_snapshots(base(), target)


def _set(path, value):
    def change(snap):
        node = snap
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return change


def _delete(path):
    def change(snap):
        node = snap
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
    return change


@pytest.mark.parametrize("change, attribute, src, tgt, line", [
    (_set(("public.uk_lrt", "columns", "family", "type"), "text"), "type", "character varying(255)", "text",
     "uk_lrt.family: type character varying(255) in source, text in target"),
    (_set(("public.uk_lrt", "columns", "name", "nullable"), True), "nullable", False, True,
     "uk_lrt.name: NOT NULL in source, NULL allowed in target"),
    (_set(("public.uk_lrt", "columns", "family", "nullable"), False), "nullable", True, False,
     "uk_lrt.family: NULL allowed in source, NOT NULL in target"),
    (_set(("public.uk_lrt", "columns", "year", "default"), None), "default", "2024", None,
     "uk_lrt.year: 2024 in source, no default in target"),
    (_set(("public.uk_lrt", "columns", "year", "default"), "2025"), "default", "2024", "2025",
     "uk_lrt.year: 2024 in source, 2025 in target"),
    (_set(("public.uk_lrt", "columns", "id", "identity"), "by default"), "identity", None, "by default",
     "uk_lrt.id: no identity in source, by default in target"),
])
def test_column_mismatch(change, attribute, src, tgt, line):
    result = mutate(change)
    assert result["identical"] is False
    assert result["mismatched"] == [dict(table="public.uk_lrt", column=line.split(":")[0].split(".")[1], object="column",
                                         name=line.split(":")[0].split(".")[1], attribute=attribute, source=src, target=tgt,
                                         message=line)]
    assert result["report"][1:-1] == [line]
    assert result["report"][-1].startswith("What to do: do not restore data")
    assert "write a migration" in result["report"][-1].lower()


@pytest.mark.parametrize("change, section, kind, entry, line", [
    (_delete(("public.uk_lrt", "columns", "family")), "missing_in_target", "columns", "public.uk_lrt.family",
     "uk_lrt.family: column missing in target (character varying(255) NULL in source)"),
    (_set(("public.uk_lrt", "columns", "legacy"), column(5, "text", nullable=False, default="''::text")),
     "extra_in_target", "columns", "public.uk_lrt.legacy",
     "uk_lrt.legacy: column only in target (text NOT NULL DEFAULT ''::text), not in source"),
    (_delete(("public.uk_lrt",)), "missing_in_target", "tables", "public.uk_lrt",
     "uk_lrt: table missing in target (4 columns in source)"),
    (_set(("audit.log",), table("audit", "log", {"id": column(1, "integer")})), "extra_in_target", "tables", "audit.log",
     "audit.log: table only in target, not in source"),
    (_delete(("public.uk_lrt", "constraints", "uk_lrt_year_check")), "missing_in_target", "constraints",
     "public.uk_lrt.uk_lrt_year_check", "uk_lrt: constraint uk_lrt_year_check missing in target (CHECK ((year > 1900)))"),
    (_delete(("public.uk_lrt", "indexes", "uk_lrt_name_idx")), "missing_in_target", "indexes",
     "public.uk_lrt.uk_lrt_name_idx",
     "uk_lrt: index uk_lrt_name_idx missing in target (CREATE INDEX uk_lrt_name_idx ON public.uk_lrt USING btree (name))"),
])
def test_missing_and_extra(change, section, kind, entry, line):
    result = mutate(change)
    assert result["identical"] is False
    assert result[section][kind] == [entry]
    other = "extra_in_target" if section == "missing_in_target" else "missing_in_target"
    assert result[other] == dict(tables=[], columns=[], constraints=[], indexes=[])
    assert result["mismatched"] == []
    assert result["report"][1:-1] == [line]


def test_constraint_definition_mismatch():
    result = mutate(_set(("public.uk_lrt", "constraints", "uk_lrt_year_check", "definition"), "CHECK ((year > 2000))"))
    assert [(m["object"], m["name"], m["attribute"]) for m in result["mismatched"]] == [("constraint", "uk_lrt_year_check", "definition")]
    assert result["report"][1] == "uk_lrt: constraint uk_lrt_year_check is CHECK ((year > 1900)) in source, CHECK ((year > 2000)) in target"


def test_renamed_constraint_and_index_are_not_differences():
    def rename(snap):
        cons = snap["public.uk_lrt"]["constraints"]
        cons["year_check"] = cons.pop("uk_lrt_year_check")
        idx = snap["public.uk_lrt"]["indexes"]
        idx["by_name"] = dict(idx.pop("uk_lrt_name_idx"), definition="CREATE INDEX by_name ON public.uk_lrt USING btree (name)")
    assert mutate(rename)["identical"] is True


def test_index_backing_a_constraint_is_compared_as_the_constraint():
    result = mutate(_delete(("public.uk_lrt", "constraints", "uk_lrt_pkey")))
    assert result["missing_in_target"]["constraints"] == ["public.uk_lrt.uk_lrt_pkey"]
    assert result["missing_in_target"]["indexes"] == []
    assert result["differences"] == 1


def test_index_definition_mismatch():
    result = mutate(_set(("public.uk_lrt", "indexes", "uk_lrt_name_idx", "definition"),
                         "CREATE INDEX uk_lrt_name_idx ON public.uk_lrt USING hash (name)"))
    assert [(m["object"], m["attribute"], m["target"]) for m in result["mismatched"]] == [
        ("index", "definition", "CREATE INDEX uk_lrt_name_idx ON public.uk_lrt USING hash (name)")]


@pytest.mark.parametrize("definition, shape", [
    ("CREATE INDEX a_idx ON public.a USING btree (x)", "CREATE INDEX ON public.a USING btree (x)"),
    ("CREATE UNIQUE INDEX \"Odd \"\"name\" ON public.a USING btree (x)", "CREATE UNIQUE INDEX ON public.a USING btree (x)"),
    (None, ""),
])
def test_index_shape(definition, shape):
    assert _schema.index_shape(definition) == shape


@pytest.mark.parametrize("checks, reported", [
    (_schema.CHECKS, {"type", "nullable", "default"}),
    (["types"], {"type"}),
    (["nullability", "defaults"], {"nullable", "default"}),
    ([], set()),
])
def test_compare_option_limits_what_is_compared(checks, reported):
    target = base()
    cols = target["public.uk_lrt"]["columns"]
    cols["family"]["type"] = "text"
    cols["name"]["nullable"] = True
    cols["year"]["default"] = None
    del target["public.uk_lrt"]["constraints"]["uk_lrt_year_check"]
    result = _schema.compare_snapshots(base(), target, checks=checks)
    assert {m["attribute"] for m in result["mismatched"]} == reported
    assert bool(result["missing_in_target"]["constraints"]) is ("constraints" in checks)


def test_ignore_tables_and_columns():
    target = base()
    target["public.schema_migrations"]["columns"]["inserted_at"]["type"] = "timestamp without time zone"
    del target["public.uk_lrt"]["columns"]["family"]
    target["public.uk_lrt"]["columns"]["year"]["type"] = "bigint"
    result = _schema.compare_snapshots(base(), target, ignore=["schema_migrations", "uk_lrt.family"])
    assert [m["name"] for m in result["mismatched"]] == ["year"]
    assert result["ignored"] == dict(tables=["public.schema_migrations"], columns=["public.uk_lrt.family"])
    assert result["report"][0].endswith("(ignored: 1 tables, 1 columns)")
    everything = _schema.compare_snapshots(base(), target, ignore=["schema_migrations", "uk_lrt.family", "uk_lrt.year"])
    assert everything["identical"] is True


def test_report_lists_every_difference_in_table_and_column_order():
    target = base()
    del target["public.schema_migrations"]
    cols = target["public.uk_lrt"]["columns"]
    cols["year"]["type"] = "bigint"
    cols["family"]["type"] = "text"
    cols["zz_extra"] = column(5, "jsonb")
    result = _schema.compare_snapshots(base(), target)
    assert result["report"] == [
        "source and target schemas differ: 4 differences in 1 tables compared, 1 tables missing in target, 0 only in target",
        "schema_migrations: table missing in target (2 columns in source)",
        "uk_lrt.family: type character varying(255) in source, text in target",
        "uk_lrt.year: type integer in source, bigint in target",
        "uk_lrt.zz_extra: column only in target (jsonb NULL), not in source",
        _schema.NEXT_STEPS,
    ]
    json.dumps(result)


def lines(count):
    return ["line %d" % i for i in range(count)]


@pytest.mark.parametrize("report, expected", [
    (["identical"], ["identical"]),
    (["summary"] + lines(3) + ["What to do"], ["summary"] + lines(3) + ["What to do"]),
    (["summary"] + lines(30) + ["What to do"], ["summary"] + lines(30) + ["What to do"]),
    (["summary"] + lines(31) + ["What to do"], ["summary"] + lines(30) + ["... and 1 more differences (see report)", "What to do"]),
    (["summary"] + lines(100) + ["What to do"], ["summary"] + lines(30) + ["... and 70 more differences (see report)", "What to do"]),
])
def test_failure_message_is_cut_short(report, expected):
    assert _schema.failure_message(report).splitlines() == expected
