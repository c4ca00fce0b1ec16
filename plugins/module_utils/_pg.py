# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the one way to run SQL.

Two transports return the same rows:

- ``docker exec <container> psql``: the server has no host port, so SQL goes through the
  container's local socket (trusted, no password on any command line);
- a direct psycopg connection (DSN or host/port), e.g. a developer's database.

Rows come back as JSON built by PostgreSQL itself (``json_agg``), parsed the same way on both
paths, so a value has the same Python type whichever transport carried it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex

# psycopg is imported when a direct connection is made: importing it costs about 0.3 s, which every
# module that only goes through docker exec would otherwise pay.
try:
    HAS_PSYCOPG = importlib.util.find_spec("psycopg") is not None
except (ImportError, ValueError):  # pragma: no cover - depends on the controller
    HAS_PSYCOPG = False
psycopg = None  # pylint: disable=invalid-name


def _import_psycopg():
    global psycopg  # pylint: disable=global-statement
    if psycopg is None:
        psycopg = importlib.import_module("psycopg")
    return psycopg


IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


class PgError(Exception):
    """A SQL or connection failure, with a message that says what to do."""

    def __init__(self, message, sql=None):
        super().__init__(message)
        self.message = message
        self.sql = sql


def pg_argument_spec():
    """Connection options shared by every module that runs SQL (doc fragment ``postgres``)."""
    return dict(
        pg_container=dict(type="str"),
        pg_docker_cli=dict(type="str", default="docker"),
        pg_dsn=dict(type="str", no_log=True),
        pg_host=dict(type="str"),
        pg_port=dict(type="int", default=5432),
        pg_user=dict(type="str", default="postgres"),
        pg_password=dict(type="str", no_log=True),
        pg_connect_timeout=dict(type="int", default=10),
    )


PG_MUTUALLY_EXCLUSIVE = [("pg_container", "pg_dsn"), ("pg_container", "pg_host"), ("pg_dsn", "pg_host")]
PG_REQUIRED_ONE_OF = [("pg_container", "pg_dsn", "pg_host")]


def quote_ident(name):
    """Quote an identifier (database, table, extension, role) for SQL text."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise PgError("invalid SQL identifier: %r" % (name,))
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value):
    """Quote a value as a SQL literal (standard_conforming_strings is on since PostgreSQL 9.1)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if "\x00" in text:
        raise PgError("a SQL literal cannot contain a NUL byte")
    return "'" + text.replace("'", "''") + "'"


def is_identifier(name):
    """True for a plain (unquoted-safe) PostgreSQL identifier of at most 63 bytes."""
    return isinstance(name, str) and bool(IDENTIFIER_RE.match(name))


def literal_list(values):
    """``'a', 'b'``: values as a comma-separated list of SQL literals (for ``IN (...)``)."""
    return ", ".join(quote_literal(value) for value in values)


def rows_sql(query):
    """Wrap a row-returning query so that PostgreSQL returns every row as one JSON array."""
    return "SELECT coalesce(json_agg(q), '[]'::json) FROM (%s) AS q" % query.strip().rstrip(";")


def parse_rows(text):
    """Parse the JSON array of rows_sql() as returned by either transport."""
    if isinstance(text, (list, tuple)):
        return list(text)
    text = (text or "").strip()
    if not text:
        return []
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PgError("psql returned something that is not the expected JSON: %s" % exc)


_DOCKER_HINTS = (
    (re.compile(r"No such container: (\S+)"),
     "container '{0}' does not exist on this host: apply the postgres role first, or set pg_container"),
    (re.compile(r"[Cc]ontainer (\S+) is not running"),
     "container '{0}' is not running: start it (docker start {0}) or apply the postgres role"),
    (re.compile(r"Cannot connect to the Docker daemon"),
     "the Docker daemon is not reachable: is dockerd running on this host?"),
    (re.compile(r'executable file not found in \$PATH.*"psql"|"psql": executable file not found'),
     "container '{0}' has no psql: pg_container must name a PostgreSQL container"),
)


def explain_error(stderr, container=None):
    """Turn psql or docker stderr into one clear line (the SQL error itself when there is one)."""
    stderr = (stderr or "").strip()
    for pattern, hint in _DOCKER_HINTS:
        match = pattern.search(stderr)
        if match:
            name = match.group(1) if match.groups() else container
            return hint.format(name or container)
    for line in stderr.splitlines():
        line = line.strip()
        match = re.match(r"^(?:psql:\S*\s+)?(?:ERROR|FATAL|psql: error):\s*(.*)$", line)
        if match:
            message = match.group(1)
            db = re.search(r'database "([^"]+)" does not exist', message)
            if db:
                return "database '%s' does not exist: %s" % (db.group(1), message)
            return message
    return stderr.splitlines()[-1] if stderr else "psql failed without an error message"


# The server's version, as a column list any query can add (a snapshot reads it in the same statement).
VERSION_COLUMNS = ("current_setting('server_version_num')::int AS server_version_num, "
                   "current_setting('server_version') AS server_version")


def read_server_version(runner, database=None):
    """{num: 160014, text: "16.14"} of the server ``runner`` reaches."""
    rows = runner.query("SELECT %s" % VERSION_COLUMNS, database=database)
    return dict(num=int(rows[0]["server_version_num"]), text=rows[0]["server_version"])


class DockerExecRunner:
    """Run SQL as the superuser over the container's local socket: ``docker exec -i C psql``.

    ``run_command`` has the signature of ``AnsibleModule.run_command`` (args, data=...) and
    returns ``(rc, stdout, stderr)``; unit tests pass a subprocess wrapper.
    """

    def __init__(self, run_command, container, user="postgres", database="postgres", docker_cli="docker"):
        self.run_command = run_command
        self.container = container
        self.user = user
        self.database = database
        self.docker_cli = docker_cli

    def argv(self, database=None):
        return [
            self.docker_cli, "exec", "-i", self.container,
            "psql", "--no-psqlrc", "--quiet", "--no-align", "--tuples-only",
            "--set", "ON_ERROR_STOP=1", "--username", self.user, "--dbname", database or self.database,
        ]

    def _run(self, sql, database=None):
        rc, out, err = self.run_command(self.argv(database), data=sql, binary_data=False)
        if rc != 0:
            raise PgError(explain_error(err, self.container), sql=sql)
        return out

    def execute(self, sql, database=None):
        self._run(sql, database)

    def query(self, sql, database=None):
        return parse_rows(self._run(rows_sql(sql), database))

    def query_text(self, sql, database=None):
        """The JSON array of rows_sql() as psql printed it, not parsed (for a caller that only passes it on)."""
        return self._run(rows_sql(sql), database).strip()

    def command_and_query_text(self, argv, sql, database=None):
        """A program's output and query_text() in one ``docker exec``: psql runs ``argv`` in the container
        (``\\!``, through its shell) before the query. Each docker exec costs the host about 0.1 s of CPU.

        Returns (the program's stdout, or None when it cannot be run or fails; the query's JSON text).
        """
        command = " ".join(shlex.quote(arg) for arg in argv)
        script = "\\! %s 2>/dev/null; status=$?; echo; echo %s$status\n%s" % (command, _COMMAND_STATUS, rows_sql(sql))
        out = self._run(script, database)
        match = _COMMAND_STATUS_RE.search(out)
        if not match:
            raise PgError("psql did not run %s before the query: %s" % (command, out[:200]), sql=sql)
        program = out[:match.start()][:-1] if match.group(1) == "0" else None
        return program, out[match.end():].strip()

    def close(self):
        pass


_COMMAND_STATUS = "sertantai-command-status="
_COMMAND_STATUS_RE = re.compile(r"^%s(\d+)$" % _COMMAND_STATUS, re.MULTILINE)


class DirectRunner:
    """Run SQL through psycopg (autocommit, as psql does statement by statement)."""

    def __init__(self, dsn=None, host=None, port=5432, user="postgres", password=None, database="postgres",
                 connect_timeout=10):
        if not HAS_PSYCOPG:
            raise PgError("a direct PostgreSQL connection needs psycopg 3 on the host that runs the module "
                          "(pip install 'psycopg[binary]'), or use pg_container to go through docker exec")
        _import_psycopg()
        self.dsn = dsn
        self.kwargs = dict(host=host, port=port, user=user, password=password, connect_timeout=connect_timeout)
        self.database = database
        self._conns = {}

    def _conn(self, database):
        database = database or self.database
        conn = self._conns.get(database)
        if conn is None or conn.closed:
            try:
                if self.dsn:
                    conn = psycopg.connect(self.dsn, dbname=database, autocommit=True)
                else:
                    kwargs = dict((k, v) for k, v in self.kwargs.items() if v is not None)
                    conn = psycopg.connect(dbname=database, autocommit=True, **kwargs)
            except psycopg.Error as exc:
                raise PgError(explain_error("FATAL: " + _first_line(exc)))
            self._conns[database] = conn
        return conn

    def _run(self, sql, database=None, fetch=False):
        conn = self._conn(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql.encode("utf-8"))
                return cur.fetchone()[0] if fetch else None
        except psycopg.Error as exc:
            raise PgError(_first_line(exc), sql=sql)

    def execute(self, sql, database=None):
        self._run(sql, database)

    def query(self, sql, database=None):
        return parse_rows(self._run(rows_sql(sql), database, fetch=True))

    def query_text(self, sql, database=None):
        """The JSON array of rows_sql() as text, not parsed (psycopg would parse a json value)."""
        return self._run("SELECT (%s)::text" % rows_sql(sql), database, fetch=True)

    def close(self):
        for conn in self._conns.values():
            conn.close()
        self._conns = {}


class QueryLog:
    """Runs SQL through a runner and remembers every statement, as community.postgresql returns ``queries``."""

    def __init__(self, runner, check_mode=False):
        self.runner = runner
        self.check_mode = check_mode
        self.queries = []

    def read(self, sql, database=None):
        return self.runner.query(sql, database=database)

    def write(self, sql, database=None):
        self.queries.append(sql)
        if not self.check_mode:
            self.runner.execute(sql, database=database)


def _first_line(exc):
    text = str(exc).strip()
    text = re.sub(r"^connection failed:\s*", "", text)
    return text.splitlines()[0] if text else exc.__class__.__name__


def runner_from_params(params, run_command, database="postgres"):
    """Build the runner that the module's connection options ask for."""
    if params.get("pg_container"):
        return DockerExecRunner(run_command, params["pg_container"], user=params.get("pg_user") or "postgres",
                                database=database, docker_cli=params.get("pg_docker_cli") or "docker")
    return DirectRunner(dsn=params.get("pg_dsn"), host=params.get("pg_host"), port=params.get("pg_port") or 5432,
                        user=params.get("pg_user") or "postgres", password=params.get("pg_password"),
                        database=database, connect_timeout=params.get("pg_connect_timeout") or 10)
