"""_pg_settings: value normalisation with units, the change plan, the restart decision and the SQL text."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _pg_settings
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError
from tests.support.pg import FakeRunner


@pytest.mark.parametrize("unit, factor", [
    ("MB", 1024 ** 2),
    ("8kB", 8192),
    ("kB", 1024),
    ("B", 1),
    ("ms", 1),
    ("s", 1000),
    ("min", 60000),
    (None, None),
    ("", None),
])
def test_unit_factor(unit, factor):
    assert _pg_settings.unit_factor(unit) == factor


@pytest.mark.parametrize("desired, current, vartype, unit, same", [
    ("2GB", "2048", "integer", "MB", True),
    ("2GB", "2048MB", "integer", "MB", True),
    (2048, "2GB", "integer", "MB", True),
    ("2GB", "2047", "integer", "MB", False),
    ("1GB", "-1", "integer", "MB", False),
    (-1, "-1", "integer", "MB", True),
    ("-1", "-1", "integer", "MB", True),
    ("128MB", "16384", "integer", "8kB", True),
    ("16384", "16384", "integer", "8kB", True),
    ("30s", "30000", "integer", "ms", True),
    ("1min", "60", "integer", "s", True),
    ("1min", "61", "integer", "s", False),
    ("0.9", "0.9", "real", None, True),
    (10, "10", "integer", None, True),
    ("10", "11", "integer", None, False),
    ("logical", "logical", "enum", None, True),
    ("Logical", "logical", "enum", None, True),
    ("replica", "logical", "enum", None, False),
    (True, "on", "bool", None, True),
    ("true", "on", "bool", None, True),
    ("1", "on", "bool", None, True),
    ("yes", "on", "bool", None, True),
    (False, "off", "bool", None, True),
    ("off", "on", "bool", None, False),
    ("UTC", "UTC", "string", None, True),
    ("UTC", "utc", "string", None, False),
    ("2GB", None, "integer", "MB", False),
])
def test_same_value(desired, current, vartype, unit, same):
    assert _pg_settings.same_value(desired, current, vartype, unit) is same


@pytest.mark.parametrize("desired, current, same", [
    ("pg_stat_statements, auto_explain", "pg_stat_statements,auto_explain", True),
    ('"pg_stat_statements"', "pg_stat_statements", True),
    ("auto_explain,pg_stat_statements", "pg_stat_statements,auto_explain", False),
])
def test_same_value_lists(desired, current, same):
    assert _pg_settings.same_value(desired, current, "string", None, name="shared_preload_libraries") is same


@pytest.mark.parametrize("value, text", [
    (True, "on"),
    (False, "off"),
    (10, "10"),
    (" 2GB ", "2GB"),
    (2.0, "2"),
])
def test_value_text(value, text):
    assert _pg_settings.value_text(value) == text


@pytest.mark.parametrize("setting, unit, shown", [
    ("2048", "MB", "2048MB"),
    ("-1", "MB", "-1"),
    ("16384", "8kB", "131072kB"),
    ("logical", None, "logical"),
    ("0", "ms", "0ms"),
])
def test_display_value(setting, unit, shown):
    assert _pg_settings.display_value(setting, unit) == shown


@pytest.mark.parametrize("context, matches, applied, source, restart", [
    ("postmaster", False, None, "default", True),
    ("postmaster", False, False, "configuration file", True),
    ("postmaster", True, True, "configuration file", False),
    ("sighup", False, None, "default", False),
    ("sighup", True, True, "configuration file", False),
    ("sighup", False, False, "configuration file", True),
    ("postmaster", False, False, "command line", False),
])
def test_needs_restart(context, matches, applied, source, restart):
    assert _pg_settings.needs_restart(context, matches, applied, source) is restart


def _row(name, setting, unit=None, vartype="integer", context="sighup", source="default"):
    return dict(name=name, setting=setting, unit=unit, vartype=vartype, context=context, source=source, pending_restart=False)


RUNNING = {
    "wal_level": _row("wal_level", "replica", vartype="enum", context="postmaster"),
    "max_slot_wal_keep_size": _row("max_slot_wal_keep_size", "-1", unit="MB"),
    "max_wal_size": _row("max_wal_size", "2048", unit="MB", source="command line"),
}


@pytest.mark.parametrize("desired, auto_conf, changes, restart", [
    # Running value differs, nothing in auto.conf: change it; postmaster -> restart.
    ({"wal_level": "logical"}, {}, {"wal_level": {"before": "replica", "after": "logical"}}, ["wal_level"]),
    # An earlier run wrote it, no restart since: no change, but the restart is still pending.
    ({"wal_level": "logical"}, {"wal_level": {"setting": "logical", "applied": False}}, {}, ["wal_level"]),
    # Equal to the running value: nothing.
    ({"wal_level": "replica"}, {}, {}, []),
    # auto.conf holds another value than desired (and than running): change it again, compared with the file.
    ({"wal_level": "replica"}, {"wal_level": {"setting": "logical", "applied": False}},
     {"wal_level": {"before": "logical", "after": "replica"}}, []),
    # Reloadable setting with a unit; auto.conf wins over the running value for the comparison.
    ({"max_slot_wal_keep_size": "2GB"}, {}, {"max_slot_wal_keep_size": {"before": "-1", "after": "2GB"}}, []),
    ({"max_slot_wal_keep_size": 2048}, {"max_slot_wal_keep_size": {"setting": "2GB", "applied": True}}, {}, []),
    # Command line value equal to the desired one is fine.
    ({"max_wal_size": "2GB"}, {}, {}, []),
])
def test_plan_and_restart(desired, auto_conf, changes, restart):
    got, errors = _pg_settings.plan_settings(desired, RUNNING, auto_conf)
    assert errors == []
    assert got == changes
    assert _pg_settings.restart_settings(desired, RUNNING, auto_conf) == restart


@pytest.mark.parametrize("desired, fragment", [
    ({"wal_levle": "logical", "max_slot_wal_keep_size": "1GB"}, "unknown PostgreSQL setting(s): wal_levle"),
    ({"max_wal_size": "4GB"}, "command line wins"),
])
def test_plan_errors(desired, fragment):
    changes, errors = _pg_settings.plan_settings(desired, RUNNING, {})
    assert changes == {}
    assert len(errors) == 1 and fragment in errors[0]


@pytest.mark.parametrize("name, value, sql", [
    ("wal_level", "logical", "ALTER SYSTEM SET wal_level = 'logical'"),
    ("max_slot_wal_keep_size", 2048, "ALTER SYSTEM SET max_slot_wal_keep_size = '2048'"),
    ("hot_standby", True, "ALTER SYSTEM SET hot_standby = 'on'"),
    ("log_line_prefix", "it's", "ALTER SYSTEM SET log_line_prefix = 'it''s'"),
    ("shared_preload_libraries", "pg_stat_statements, auto_explain",
     "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', 'auto_explain'"),
    ("pg_stat_statements.max", 5000, "ALTER SYSTEM SET pg_stat_statements.max = '5000'"),
])
def test_alter_system_sql(name, value, sql):
    assert _pg_settings.alter_system_sql(name, value) == sql


@pytest.mark.parametrize("name", ["wal_level; DROP TABLE x", "a b", "1abc", ""])
def test_alter_system_sql_rejects_names(name):
    with pytest.raises(PgError):
        _pg_settings.alter_system_sql(name, "x")


def test_ensure_settings_check_mode_runs_nothing():
    runner = FakeRunner([
        ("SELECT name, setting, unit", [RUNNING["wal_level"]]),
        ("SELECT name, setting, applied", []),
    ])
    result = _pg_settings.ensure_settings(runner, {"WAL_LEVEL": "logical"}, check_mode=True)
    assert result["queries"] == ["ALTER SYSTEM SET wal_level = 'logical'", "SELECT pg_reload_conf()"]
    assert result["restart_settings"] == ["wal_level"] and result["restart_required"]
    assert result["diff"] == {"before": {"wal_level": "replica"}, "after": {"wal_level": "logical"}}
    assert runner.executed == []
