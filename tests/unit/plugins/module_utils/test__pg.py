"""_pg: quoting and error parsing (pure). Both transports against a real PostgreSQL: tests/integration/module_utils."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _pg


@pytest.mark.parametrize("name, quoted", [
    ("legal", '"legal"'),
    ("uuid-ossp", '"uuid-ossp"'),
    ('we"ird', '"we""ird"'),
])
def test_quote_ident(name, quoted):
    assert _pg.quote_ident(name) == quoted


@pytest.mark.parametrize("bad", ["", None, "a\x00b", 5])
def test_quote_ident_rejects(bad):
    with pytest.raises(_pg.PgError):
        _pg.quote_ident(bad)


@pytest.mark.parametrize("value, literal", [
    ("it's", "'it''s'"),
    ("back\\slash", "'back\\slash'"),
    (None, "NULL"),
    (True, "true"),
    (42, "42"),
])
def test_quote_literal(value, literal):
    assert _pg.quote_literal(value) == literal


@pytest.mark.parametrize("name, ok", [
    ("sertantai_legal_prod", True),
    ("_x1", True),
    ("1abc", False),
    ("legal-prod", False),
    ("a" * 63, True),
    ("a" * 64, False),
    ("drop table;", False),
])
def test_is_identifier(name, ok):
    assert _pg.is_identifier(name) is ok


@pytest.mark.parametrize("stderr, expected", [
    ("Error: No such container: shared_postgres", "container 'shared_postgres' does not exist"),
    ("Error response from daemon: Container 0f3a is not running", "container '0f3a' is not running"),
    ('psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "nope" does not exist',
     "database 'nope' does not exist"),
    ('ERROR:  relation "missing" does not exist\nLINE 1: SELECT * FROM missing', 'relation "missing" does not exist'),
    ("psql:<stdin>:1: ERROR:  syntax error at or near \"SELEC\"", 'syntax error at or near "SELEC"'),
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", "Docker daemon is not reachable"),
    ("", "psql failed without an error message"),
])
def test_explain_error(stderr, expected):
    assert expected in _pg.explain_error(stderr, "shared_postgres")


def test_parse_rows_rejects_garbage():
    with pytest.raises(_pg.PgError, match="not the expected JSON"):
        _pg.parse_rows("not json")


def test_rows_sql_strips_semicolon():
    assert _pg.rows_sql("SELECT 1;").endswith("FROM (SELECT 1) AS q")
