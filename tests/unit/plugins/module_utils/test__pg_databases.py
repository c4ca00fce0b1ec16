"""_pg_databases: the SQL text, option checks and the create plan (no server)."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _pg_databases
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError
from tests.support.pg import FakeRunner


@pytest.mark.parametrize("kwargs, sql", [
    (dict(name="legal"), 'CREATE DATABASE "legal" ENCODING \'UTF8\' TEMPLATE "template0"'),
    (dict(name="legal", owner="app", encoding="SQL_ASCII", template="template1"),
     'CREATE DATABASE "legal" OWNER "app" ENCODING \'SQL_ASCII\' TEMPLATE "template1"'),
    (dict(name="legal", encoding=None, template=None), 'CREATE DATABASE "legal"'),
])
def test_create_database_sql(kwargs, sql):
    assert _pg_databases.create_database_sql(**kwargs) == sql


@pytest.mark.parametrize("extension, sql", [
    ("uuid-ossp", 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp" CASCADE'),
    ("citext", 'CREATE EXTENSION IF NOT EXISTS "citext" CASCADE'),
])
def test_create_extension_sql(extension, sql):
    assert _pg_databases.create_extension_sql(extension) == sql


@pytest.mark.parametrize("name, extensions, owner, fragment", [
    ("bad-name", [], None, "name 'bad-name' is not a valid database name"),
    ("1db", [], None, "not a valid database name"),
    ("x" * 64, [], None, "not a valid database name"),
    ("ok", ["uuid-ossp", "bad ext"], None, "extension 'bad ext'"),
    ("ok", [], "no-such role", "owner 'no-such role'"),
])
def test_validate_database_args(name, extensions, owner, fragment):
    errors = _pg_databases.validate_database_args(name, extensions, owner)
    assert any(fragment in e for e in errors), errors


def test_validate_database_args_accepts():
    assert _pg_databases.validate_database_args("sertantai_legal_prod", ["uuid-ossp", "citext"], "postgres", "template0") == []


@pytest.mark.parametrize("check_mode", [True, False])
def test_ensure_database_new(check_mode):
    runner = FakeRunner([
        ("SELECT datname", []),
        ("SELECT name, default_version", [{"name": "uuid-ossp", "default_version": "1.1"}, {"name": "citext", "default_version": "1.6"}]),
    ])
    result = _pg_databases.ensure_databases(runner, [dict(name="legal", extensions=["uuid-ossp", "citext"])], check_mode=check_mode)[0]
    assert result["changed"] and result["created"]
    assert result["extensions_created"] == ["uuid-ossp", "citext"]
    assert result["queries"][0].startswith('CREATE DATABASE "legal"')
    assert runner.executed == ([] if check_mode else [
        (result["queries"][0], None),
        ('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" CASCADE', "legal"),
        ('CREATE EXTENSION IF NOT EXISTS "citext" CASCADE', "legal"),
    ])


def test_ensure_database_missing_extension_names_it_and_the_image():
    runner = FakeRunner([("SELECT datname", []), ("SELECT name, default_version", [{"name": "citext", "default_version": "1.6"}])])
    with pytest.raises(PgError) as err:
        _pg_databases.ensure_databases(runner, [dict(name="legal", extensions=["citext", "postgis"])],
                                       where=lambda: "container pg (image postgres:16)")
    assert "'postgis'" in err.value.message and "image postgres:16" in err.value.message
    assert runner.executed == []


def test_ensure_databases_reads_the_server_once_and_plans_each():
    runner = FakeRunner([
        ("SELECT datname", [{"datname": "legal", "owner": "postgres", "encoding": "UTF8"}]),
        ("SELECT name, default_version", [{"name": "citext", "default_version": "1.6"}, {"name": "uuid-ossp", "default_version": "1.1"}]),
        ("SELECT extname", [{"extname": "plpgsql"}, {"extname": "citext"}]),
    ])
    results = _pg_databases.ensure_databases(runner, [
        dict(name="legal", extensions=["citext"]),
        dict(name="auth", extensions=["uuid-ossp", "citext"]),
    ])
    assert [r["database"] for r in results] == ["legal", "auth"]
    assert not results[0]["changed"] and results[0]["queries"] == []
    assert results[1]["created"] and results[1]["extensions_created"] == ["uuid-ossp", "citext"]
    assert runner.executed == [
        ('CREATE DATABASE "auth" ENCODING \'UTF8\' TEMPLATE "template0"', None),
        ('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" CASCADE', "auth"),
        ('CREATE EXTENSION IF NOT EXISTS "citext" CASCADE', "auth"),
    ]


def test_ensure_databases_checks_every_database_before_creating_any():
    runner = FakeRunner([("SELECT datname", []), ("SELECT name, default_version", [{"name": "citext", "default_version": "1.6"}])])
    with pytest.raises(PgError) as err:
        _pg_databases.ensure_databases(runner, [dict(name="legal", extensions=["citext"]), dict(name="auth", extensions=["postgis"])],
                                       where="container pg")
    assert "'postgis'" in err.value.message
    assert runner.executed == []
    with pytest.raises(PgError) as err:
        _pg_databases.ensure_databases(runner, [dict(name="legal"), dict(name="legal")])
    assert "legal listed more than once" in err.value.message
