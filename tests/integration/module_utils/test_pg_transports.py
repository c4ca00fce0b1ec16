"""_pg: both transports (docker exec psql, psycopg) against a real PostgreSQL return the same rows and errors."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _pg
from tests.support.docker import subprocess_run_command

ROW_QUERY = """
SELECT n AS id, 'row ' || n AS label, n % 2 = 0 AS even, NULL::text AS nothing,
       ARRAY[n, n + 1] AS pair, 1.5::numeric * n AS amount, '{"k": 1}'::jsonb AS doc,
       'it''s' AS quote
FROM generate_series(1, 3) AS n ORDER BY n
"""


@pytest.fixture
def runners(pg_server):
    exec_runner = _pg.DockerExecRunner(subprocess_run_command, pg_server.container)
    direct = _pg.DirectRunner(host=pg_server.host, port=pg_server.port, password=pg_server.password)
    yield exec_runner, direct
    direct.close()


def test_both_transports_return_the_same_rows(runners, pg_database):
    exec_runner, direct = runners
    via_exec = exec_runner.query(ROW_QUERY, database=pg_database)
    via_direct = direct.query(ROW_QUERY, database=pg_database)
    assert via_exec == via_direct
    assert via_exec[0] == {"id": 1, "label": "row 1", "even": False, "nothing": None, "pair": [1, 2],
                           "amount": 1.5, "doc": {"k": 1}, "quote": "it's"}
    assert [r["id"] for r in via_exec] == [1, 2, 3]


def test_empty_result_is_an_empty_list(runners):
    for runner in runners:
        assert runner.query("SELECT 1 AS x WHERE false") == []


def test_execute_runs_statements_outside_a_transaction(runners, pg_server):
    """CREATE DATABASE cannot run in a transaction block: both transports must autocommit."""
    for i, runner in enumerate(runners):
        db = "t_autocommit_%d" % i
        runner.execute("CREATE DATABASE %s" % _pg.quote_ident(db))
        try:
            assert runner.query("SELECT datname FROM pg_database WHERE datname = %s" % _pg.quote_literal(db)) == [{"datname": db}]
        finally:
            runner.execute("DROP DATABASE %s" % _pg.quote_ident(db))


def test_sql_error_is_reported_with_the_sql(runners):
    for runner in runners:
        with pytest.raises(_pg.PgError) as err:
            runner.query("SELECT * FROM no_such_table")
        assert 'relation "no_such_table" does not exist' in err.value.message
        assert "no_such_table" in err.value.sql


def test_missing_database_is_named(runners):
    for runner in runners:
        with pytest.raises(_pg.PgError, match="database 'no_such_db' does not exist"):
            runner.query("SELECT 1", database="no_such_db")


def test_missing_container_is_explained():
    runner = _pg.DockerExecRunner(subprocess_run_command, "sertantai-test-no-such-container")
    with pytest.raises(_pg.PgError, match="does not exist on this host"):
        runner.query("SELECT 1")


def test_runner_from_params_picks_the_transport(pg_server):
    params = dict(pg_container=pg_server.container, pg_user="postgres")
    assert isinstance(_pg.runner_from_params(params, subprocess_run_command), _pg.DockerExecRunner)
    params = dict(pg_host=pg_server.host, pg_port=pg_server.port, pg_password=pg_server.password)
    runner = _pg.runner_from_params(params, subprocess_run_command)
    assert isinstance(runner, _pg.DirectRunner)
    assert runner.query("SELECT current_user AS u") == [{"u": "postgres"}]
    runner.close()


def test_dsn_connection(pg_server):
    runner = _pg.DirectRunner(dsn=pg_server.dsn)
    assert runner.query("SELECT 2 AS two") == [{"two": 2}]
    runner.close()
