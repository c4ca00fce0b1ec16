# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: a data restore made safe (schema_gate, pg_data_dump, pg_backup, pg_data_restore).

The rules of a restore live here, side-effect free: which PostgreSQL versions can read which dump,
a schema snapshot as a compressed document (it never travels as a task argument or registered result:
two 1,000-table snapshots through Ansible's templating cost seconds), the entries of a dump that get
restored, the one TRUNCATE, exact row counts compared, per-table COPY times read from the server's log,
and the names and rotation of backups. The few functions that run something take a ``_pg`` runner or a
``run_command`` with the signature of ``AnsibleModule.run_command``.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import re
import shlex
import time
import zlib

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    VERSION_COLUMNS,
    PgError,
    QueryLog,
    literal_list,
    pg_argument_spec,
    quote_ident,
    runner_from_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._schema import (
    CHECKS,
    build_snapshot,
    compact_snapshot_sql,
    compare_snapshots,
    display_table,
    row_count_sql,
)

# The migrations table belongs to the target: its backend's migrations filled it at start (a
# restored copy collides with it: the runbook's duplicate key on schema_migrations).
DEFAULT_KEEP_TABLES = ("schema_migrations",)

SNAPSHOT_FORMAT = 1


class RestoreError(Exception):
    """A restore step that cannot go on; the message says what to do."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------
# schema_gate's options, shared by its module and its action plugin
# --------------------------------------------------------------------------------------------

def source_argument_spec():
    """How schema_gate reaches the source database (the suboptions of ``source``): the connection options of
    pg_argument_spec() without their ``pg_`` prefix, the database, and where it is read."""
    spec = dict((name[len("pg_"):], option) for name, option in pg_argument_spec().items())
    spec.update(
        database=dict(type="str", required=True),
        read_on=dict(type="str", choices=["controller", "target"], default="controller"),
    )
    return spec


def gate_argument_spec():
    """schema_gate's argument spec: the target connection (doc fragment postgres) and the gate's own options."""
    spec = pg_argument_spec()
    spec.update(
        database=dict(type="str", required=True),
        schemas=dict(type="list", elements="str", default=["public"]),
        source=dict(type="dict", options=source_argument_spec(),
                    mutually_exclusive=[("container", "dsn"), ("container", "host"), ("dsn", "host")],
                    required_one_of=[("container", "dsn", "host")]),
        source_snapshot=dict(type="path"),
        ignore=dict(type="list", elements="str", default=[]),
        compare=dict(type="list", elements="str", choices=list(CHECKS), default=list(CHECKS)),
        fail_on_difference=dict(type="bool", default=True),
        check_versions=dict(type="bool", default=True),
        return_target_snapshot=dict(type="bool", default=False),
    )
    return spec


GATE_MUTUALLY_EXCLUSIVE = PG_MUTUALLY_EXCLUSIVE + [("source", "source_snapshot")]
GATE_REQUIRED_ONE_OF = [("pg_container", "pg_dsn", "pg_host")]
# Without a source the module only reads the target, for the action plugin that compares on the controller.
GATE_REQUIRED_IF = [("return_target_snapshot", False, ("source", "source_snapshot"), True)]


def source_params(source):
    """``source`` suboptions as the pg_* parameters runner_from_params() takes."""
    return dict(("pg_" + name, source.get(name)) for name in source_argument_spec() if name not in ("database", "read_on"))


# --------------------------------------------------------------------------------------------
# Versions: who can read what
# --------------------------------------------------------------------------------------------

_TOOL_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def major_of_num(num):
    """``server_version_num`` -> major as a tuple: 160014 -> (16,), 90624 -> (9, 6)."""
    num = int(num)
    if num >= 100000:
        return (num // 10000,)
    return (num // 10000, num // 100 % 100)


def major_text(major):
    return ".".join(str(part) for part in major) if major else "unknown"


def parse_tool_version(text):
    """``pg_restore (PostgreSQL) 16.2`` -> {"version": "16.2", "major": (16,)}; None when unreadable."""
    match = _TOOL_VERSION_RE.search(text or "")
    if not match:
        return None
    parts = [int(p) for p in match.groups() if p is not None]
    major = (parts[0],) if parts[0] >= 10 else tuple(parts[:2])
    return dict(version=".".join(str(p) for p in parts), major=major)


def version_problems(source_num, restore_tool, source_version=None):
    """Why a dump of the source cannot be restored by the target's pg_restore (pure; empty list when it can).

    ``source_num``: the source server's ``server_version_num``; ``restore_tool``: parse_tool_version() of the
    target's pg_restore. pg_dump refuses a server newer than itself, and an archive written by a newer pg_dump
    may use a format an older pg_restore cannot read: a source newer than the target's pg_restore cannot be
    restored by it, whatever dumps it.
    """
    if restore_tool is None:
        return ["cannot tell the version of the target's pg_restore: the target container must have the "
                "PostgreSQL client tools (pg_restore) of its server"]
    # a tuple also after a trip through JSON (the action plugin gets the target's pg_restore from the module)
    source, restore = major_of_num(source_num), tuple(restore_tool["major"])
    if source <= restore:
        return []
    return [
        "the source server runs PostgreSQL %s and the target's pg_restore is %s: a dump of PostgreSQL %s needs "
        "pg_dump %s or later (an older pg_dump refuses a newer server), and pg_restore %s cannot read the archive "
        "a newer pg_dump writes. Nothing was changed. What to do: upgrade the target's PostgreSQL to %s or later "
        "and restore again, or first copy the data into a PostgreSQL %s database and restore from that one."
        % (source_version or major_text(source), restore_tool["version"], major_text(source), major_text(source),
           major_text(restore), major_text(source), major_text(restore))]


def dump_version_problems(source_num, dump_tool, restore_major=None, tool_name="pg_dump"):
    """Why this pg_dump cannot make a dump of the source that the target's pg_restore reads (pure).

    ``dump_tool``: parse_tool_version() of the pg_dump (None: it could not be run); ``restore_major``: the
    target pg_restore's major as a tuple, or None when unknown.
    """
    if dump_tool is None:
        return ["cannot tell the version of %s: is it a PostgreSQL pg_dump?" % tool_name]
    source, dump = major_of_num(source_num), dump_tool["major"]
    problems = []
    if dump < source:
        problems.append(
            "%s is version %s, older than the source server (PostgreSQL %s), which pg_dump refuses to dump. Nothing "
            "was changed. Dump with pg_dump %s%s, for example from a container of the target's image."
            % (tool_name, dump_tool["version"], major_text(source), major_text(source),
               "" if restore_major is None else " to %s" % major_text(restore_major)))
    if restore_major is not None and dump > restore_major:
        problems.append(
            "%s is version %s, newer than the target's pg_restore (major %s), which may not read the archive it "
            "writes. Nothing was changed. Dump with pg_dump %s (the target's major), for example from a container "
            "of the target's image." % (tool_name, dump_tool["version"], major_text(restore_major), major_text(restore_major)))
    return problems


def parse_major(text):
    """``"16"`` or ``"9.6"`` -> (16,) or (9, 6); None for an empty value."""
    if text in (None, ""):
        return None
    try:
        parts = tuple(int(p) for p in str(text).split("."))
    except ValueError:
        raise RestoreError("%r is not a PostgreSQL major version such as 16" % (text,))
    return parts[:1] if parts[0] >= 10 else parts[:2]


# --------------------------------------------------------------------------------------------
# A snapshot as a document
# --------------------------------------------------------------------------------------------

# What a restore's room is reckoned from: the database's size on disk, and the most WAL the server keeps
# (max_wal_size between checkpoints, and max_slot_wal_keep_size behind a replication slot that is not read, as
# Electric's while a restore has it stopped; -1: no limit).
SIZE_COLUMNS = ("pg_database_size(current_database()) AS database_bytes, "
                "pg_size_bytes(current_setting('max_wal_size')) AS max_wal_bytes, "
                "pg_size_bytes(current_setting('max_slot_wal_keep_size')) AS slot_wal_keep_bytes")


def document_sql(schemas):
    """The catalog of a snapshot (compact_snapshot_sql()), the server version and the sizes of SIZE_COLUMNS, in
    one statement."""
    return "SELECT s.*, %s, %s FROM (%s) AS s" % (VERSION_COLUMNS, SIZE_COLUMNS, compact_snapshot_sql(schemas))


def read_snapshot_and_version(runner, database, schemas):
    """The schema snapshot and the server version in one statement (one docker exec, one round trip)."""
    rows = runner.query(document_sql(schemas), database=database)
    return document_parts(rows[0] if rows else {})


def document_parts(row):
    """(snapshot, version) of document_sql()'s row; version: num, text and sizes (SIZE_COLUMNS, bytes)."""
    sizes = dict((key, int(row[key])) for key in ("database_bytes", "max_wal_bytes", "slot_wal_keep_bytes")
                 if row.get(key) is not None)
    return build_snapshot(row), dict(num=int(row["server_version_num"]), text=row["server_version"], sizes=sizes)


def make_document(database, schemas, snapshot, version):
    document = dict(format=SNAPSHOT_FORMAT, database=database, schemas=list(schemas),
                    server_version_num=version["num"], server_version=version["text"], schema=snapshot)
    document.update(version.get("sizes") or {})
    return document


def wal_kept_at_most(document):
    """The most WAL the server of ``document`` keeps while a replication slot is not read: max_wal_size plus
    max_slot_wal_keep_size; None when that has no limit (-1, PostgreSQL's default) or was not read."""
    max_wal, slot_keep = document.get("max_wal_bytes"), document.get("slot_wal_keep_bytes")
    if max_wal is None or slot_keep is None or slot_keep < 0:
        return None
    return max_wal + slot_keep


def read_document(runner, database, schemas):
    """Snapshot + server version of a database (source or target), as one JSON-serialisable document."""
    snapshot, version = read_snapshot_and_version(runner, database, schemas)
    return make_document(database, schemas, snapshot, version)


def read_catalog_text(runner, database, schemas):
    """document_sql()'s answer as the runner got it, JSON text not parsed: what schema_gate's module returns
    to its action plugin (compressed by encode_catalog_text()), which builds the document."""
    return runner.query_text(document_sql(schemas), database=database)


def read_target(run_command, params, with_restore_tool):
    """schema_gate's read of the target (runner_from_params() options in ``params``): the catalog as JSON text
    (read_catalog_text()) and, when ``with_restore_tool``, parse_tool_version() of the container's pg_restore,
    run by the same docker exec. ``run_command``: AnsibleModule.run_command's contract (the module's, or the
    action plugin's over the task's connection)."""
    runner = None
    try:
        runner = runner_from_params(params, run_command, database=params["database"])
        if not with_restore_tool:
            return read_catalog_text(runner, params["database"], params["schemas"]), None
        out, text = runner.command_and_query_text(["pg_restore", "--version"], document_sql(params["schemas"]),
                                                  database=params["database"])
        return text, parse_tool_version(out) if out is not None else None
    except PgError as exc:
        raise RestoreError("cannot read the target database '%s': %s" % (params["database"], exc.message))
    finally:
        if runner is not None:
            runner.close()


def read_image(run_command, params):
    """The image of the target container (its Config.Image); None for a direct target connection."""
    if not params["pg_container"]:
        return None
    try:
        found, _missing = DockerCli(run_command, params["pg_docker_cli"]).inspect(params["pg_container"])
    except DockerError as exc:
        raise RestoreError("cannot inspect the target container '%s': %s" % (params["pg_container"], exc.message))
    return (found.get(params["pg_container"]) or {}).get("Config", {}).get("Image")


def encode_catalog_text(text):
    """read_catalog_text() as base64 text of gzip (some 100 kB for 1,000 tables), to travel in a module's result.

    The fastest gzip level: this is compressed and read once, within the same task.
    """
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=1)).decode("ascii")


def decode_catalog_text(text, database, schemas, label="target_snapshot"):
    """The document of what encode_catalog_text() wrote (database and schemas: what was read)."""
    try:
        data = gzip.decompress(base64.b64decode(text or "", validate=True)).decode("utf-8")
    except (TypeError, ValueError, OSError, EOFError, zlib.error) as exc:
        raise RestoreError("%s is not gzip-compressed base64 text (%s: %s)" % (label, type(exc).__name__, exc))
    return document_from_catalog_text(data, database, schemas, label)


def document_from_catalog_text(text, database, schemas, label="the catalog"):
    """The document of read_catalog_text()'s JSON text (database and schemas: what was read)."""
    try:
        snapshot, version = document_parts(json.loads(text)[0])
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise RestoreError("%s is not the catalog of a snapshot (%s: %s)" % (label, type(exc).__name__, exc))
    return make_document(database, schemas, snapshot, version)


def encode_document(document):
    """The document as gzip-compressed JSON (a 1,000-table snapshot shrinks about fortyfold, to some 40 kB)."""
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), compresslevel=5)


def encode_document_text(document):
    """encode_document() as base64 text, to travel inside a module's JSON result."""
    return base64.b64encode(encode_document(document)).decode("ascii")


def decode_document_text(text, label="target_snapshot"):
    """Read what encode_document_text() wrote."""
    try:
        data = base64.b64decode(text or "", validate=True)
    except (TypeError, ValueError) as exc:
        raise RestoreError("%s is not base64 text: %s" % (label, exc))
    return decode_document(data, label)


def decode_document(data, label="source_snapshot"):
    """Read a document written by encode_document() (or plain JSON); check that it is a schema snapshot."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        document = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RestoreError("%s is not a snapshot file (gzip-compressed or plain JSON): %s" % (label, exc))
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT or not isinstance(document.get("schema"), dict):
        raise RestoreError("%s is not a schema snapshot of format %d (keys format, database, server_version_num, schema): "
                           "let schema_gate read the source (option source)" % (label, SNAPSHOT_FORMAT))
    if not isinstance(document.get("server_version_num"), int):
        raise RestoreError("%s has no server_version_num: it was not written by schema_gate" % label)
    return document


# --------------------------------------------------------------------------------------------
# The gate: versions and schema parity in one result
# --------------------------------------------------------------------------------------------

def gate_result(source_document, target_document, restore_tool, ignore=None, checks=None, check_versions=True):
    """Compare two documents of read_document() (pure). Returns the schema_gate result without ``changed``.

    Only the comparison and the versions: neither snapshot is part of the result.
    """
    kwargs = dict(ignore=ignore)
    if checks is not None:
        kwargs["checks"] = checks
    parity = compare_snapshots(source_document["schema"], target_document["schema"], **kwargs)
    problems = version_problems(source_document["server_version_num"], restore_tool,
                                source_version=source_document.get("server_version")) if check_versions else []
    versions = dict(
        source_server=dict(version=source_document.get("server_version"),
                           major=major_text(major_of_num(source_document["server_version_num"]))),
        target_server=dict(version=target_document.get("server_version"),
                           major=major_text(major_of_num(target_document["server_version_num"]))),
        target_pg_restore=dict(version=restore_tool["version"] if restore_tool else None,
                               major=major_text(restore_tool["major"]) if restore_tool else None),
        ok=not problems, problems=problems, checked=bool(check_versions),
    )
    result = dict(parity)
    result.update(versions=versions, source_database=source_document.get("database"),
                  sizes=dict(source=source_document.get("database_bytes"), target=target_document.get("database_bytes"),
                             target_wal_kept=wal_kept_at_most(target_document)),
                  passed=parity["identical"] and not problems)
    return result


def gate_message(result, failure_message):
    """One failure message: version problems first (nothing can be restored), then the drift report."""
    parts = list(result["versions"]["problems"])
    if not result["identical"]:
        parts.append(failure_message(result["report"]))
    return "\n".join(parts)


def gate_fails(result, fail_on_difference=True, check_versions=True):
    """Whether schema_gate fails with this result: versions that do not fit, or drift when that fails the gate."""
    return bool((check_versions and not result["versions"]["ok"]) or (fail_on_difference and not result["identical"]))


# --------------------------------------------------------------------------------------------
# Tables of a restore: which are emptied and restored, which stay the target's own
# --------------------------------------------------------------------------------------------

TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname IN (%s)
ORDER BY 1, 2
"""

# Sequences owned by a column (serial: deptype a, identity: i), with their table.
OWNED_SEQUENCES_SQL = """
SELECT sn.nspname AS schema, s.relname AS name, tn.nspname AS table_schema, t.relname AS table_name
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND tn.nspname IN (%s)
ORDER BY 1, 2
"""


def key_of(schema, name):
    return "%s.%s" % (schema, name)


def split_key(key):
    schema, name = key.split(".", 1)
    return schema, name


def validate_keep_tables(keep_tables):
    """Names of tables that stay the target's own: V(table) (any restored schema) or V(schema.table)."""
    names = []
    for name in keep_tables or []:
        if not isinstance(name, str) or not name.strip() or name.startswith(".") or name.endswith("."):
            raise RestoreError("keep_tables entry %r is not a table name: use table or schema.table, "
                               "for example schema_migrations" % (name,))
        names.append(name)
    return names


def is_kept(key, keep_tables):
    schema, name = split_key(key)
    return any(k == name or k == key for k in keep_tables)


def read_tables(runner, database, schemas):
    """Keys (``schema.table``) of the tables and partitioned tables in ``schemas``, sorted."""
    rows = runner.query(TABLES_SQL % literal_list(schemas), database=database)
    return [key_of(r["schema"], r["name"]) for r in rows]


def read_kept_sequences(runner, database, schemas, keep_tables):
    """Keys of the sequences owned by kept tables: their values stay the target's too."""
    rows = runner.query(OWNED_SEQUENCES_SQL % literal_list(schemas), database=database)
    return sorted(key_of(r["schema"], r["name"]) for r in rows
                  if is_kept(key_of(r["table_schema"], r["table_name"]), keep_tables))


def read_catalog(runner, database, schemas, keep_tables):
    """read_tables() and read_kept_sequences() in one statement: (table keys, kept sequence keys)."""
    sql = ("SELECT (SELECT coalesce(json_agg(t), '[]'::json) FROM (%s) AS t) AS tables, "
           "(SELECT coalesce(json_agg(q), '[]'::json) FROM (%s) AS q) AS sequences"
           % (TABLES_SQL % literal_list(schemas), OWNED_SEQUENCES_SQL % literal_list(schemas)))
    row = runner.query(sql, database=database)[0]
    tables = [key_of(r["schema"], r["name"]) for r in row["tables"]]
    sequences = sorted(key_of(r["schema"], r["name"]) for r in row["sequences"]
                       if is_kept(key_of(r["table_schema"], r["table_name"]), keep_tables))
    return tables, sequences


def restored_tables(table_keys, keep_tables):
    return [key for key in table_keys if not is_kept(key, keep_tables)]


def truncate_sql(table_keys):
    """One statement, one transaction: every listed table emptied together, owned sequences restarted.

    No CASCADE: a foreign key from a table outside the list (another schema, a kept table) makes it fail
    rather than silently empty that table too.
    """
    if not table_keys:
        return None
    names = ", ".join("%s.%s" % (quote_ident(s), quote_ident(n)) for s, n in (split_key(k) for k in table_keys))
    return "TRUNCATE TABLE %s RESTART IDENTITY" % names


def count_rows(runner, database, table_keys):
    """Exact ``count(*)`` of every table in one statement."""
    if not table_keys:
        return {}
    snapshot = dict((key, dict(zip(("schema", "name"), split_key(key)))) for key in table_keys)
    return dict((r["table_key"], int(r["row_count"]))
                for r in runner.query(row_count_sql(sorted(table_keys), snapshot), database=database))


# --------------------------------------------------------------------------------------------
# pg_dump and the entries of a dump
# --------------------------------------------------------------------------------------------

def _pattern_part(name):
    # pg_dump patterns treat * ? . and upper case specially unless double-quoted.
    return '"%s"' % name.replace('"', '""')


def exclude_pattern(keep_table):
    if "." in keep_table:
        schema, name = keep_table.split(".", 1)
        return "%s.%s" % (_pattern_part(schema), _pattern_part(name))
    return _pattern_part(keep_table)


def pg_dump_arguments(database, schemas, keep_tables, output):
    """pg_dump's arguments for a data-only dump in custom format (never SQL text)."""
    args = ["--format=custom", "--data-only", "--no-owner", "--no-acl", "--dbname=" + database, "--file=" + output]
    args.extend("--schema=" + _pattern_part(schema) for schema in schemas)
    args.extend("--exclude-table-data=" + exclude_pattern(name) for name in keep_tables)
    return args


# libpq keywords and the environment variables libpq reads for them.
LIBPQ_ENVIRONMENT = dict(
    host="PGHOST", hostaddr="PGHOSTADDR", port="PGPORT", user="PGUSER", password="PGPASSWORD",
    passfile="PGPASSFILE", connect_timeout="PGCONNECT_TIMEOUT", sslmode="PGSSLMODE", sslcert="PGSSLCERT",
    sslkey="PGSSLKEY", sslrootcert="PGSSLROOTCERT", sslcrl="PGSSLCRL", application_name="PGAPPNAME",
    options="PGOPTIONS", target_session_attrs="PGTARGETSESSIONATTRS", gssencmode="PGGSSENCMODE",
)


def libpq_environment(conninfo):
    """A connection (libpq keywords) as PG* environment variables, so that no secret is on a command line.

    ``dbname`` is left out (pg_dump gets the database as an argument); an unknown keyword is an error, not
    silently dropped.
    """
    env = {}
    for key, value in conninfo.items():
        if value in (None, "") or key == "dbname":
            continue
        if key not in LIBPQ_ENVIRONMENT:
            raise RestoreError("the connection option %r cannot be passed to pg_dump: use host, port, user, password "
                               "and sslmode (or their libpq environment variables)" % key)
        env[LIBPQ_ENVIRONMENT[key]] = str(value)
    return env


def direct_conninfo(params):
    """The libpq keywords of a direct connection (pg_dsn, or pg_host and friends); needs psycopg for a DSN."""
    if params.get("pg_dsn"):
        try:
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise RestoreError("reading pg_dsn needs psycopg 3 on the host that runs the module; or give pg_host, "
                               "pg_port, pg_user and pg_password")
        try:
            return conninfo_to_dict(params["pg_dsn"])
        except Exception as exc:  # psycopg raises ProgrammingError for a malformed DSN; never echo the DSN
            raise RestoreError("pg_dsn is not a valid libpq connection string (%s)" % exc.__class__.__name__)
    return dict(host=params.get("pg_host"), port=params.get("pg_port"), user=params.get("pg_user"),
                password=params.get("pg_password"), connect_timeout=params.get("pg_connect_timeout"))


_TOC_LINE_RE = re.compile(r"^(\d+);\s+\d+\s+\d+\s+(.*)$")
DATA_DESCS = ("TABLE DATA", "SEQUENCE SET")


def _entry_name(rest, desc, candidates):
    """The ``schema.name`` key of a TOC line's tail (``<schema> <name> <owner>``), matched against known keys."""
    tail = rest[len(desc):].strip()
    for key in candidates:
        schema, name = split_key(key)
        if tail == "%s %s" % (schema, name) or tail.startswith("%s %s " % (schema, name)):
            return key
    return None


def select_entries(toc_text, table_keys, keep_tables, kept_sequences):
    """Split ``pg_restore --list`` into the lines to restore and the lines left out, with reasons (pure).

    ``table_keys``: every table of the restored schemas in the target; data of a kept table, and the value of
    a sequence a kept table owns, stay the target's. ``unknown``: data for a table the target does not have.
    """
    selected, skipped, data_tables, unknown = [], [], [], []
    sequence_keys = list(kept_sequences)
    for line in (toc_text or "").splitlines():
        match = _TOC_LINE_RE.match(line.strip())
        if not match:
            continue
        rest = match.group(2)
        desc = next((d for d in DATA_DESCS if rest.startswith(d + " ")), None)
        if desc == "TABLE DATA":
            key = _entry_name(rest, desc, table_keys)
            if key is not None and is_kept(key, keep_tables):
                skipped.append(dict(entry=line.strip(), reason="%s stays the target's own" % key))
                continue
            if key is None:
                unknown.append(line.strip())
            else:
                data_tables.append(key)
        elif desc == "SEQUENCE SET":
            key = _entry_name(rest, desc, sequence_keys)
            if key is not None:
                skipped.append(dict(entry=line.strip(), reason="sequence %s belongs to a kept table" % key))
                continue
        selected.append(line.strip())
    return dict(lines=selected, skipped=skipped, data_tables=data_tables, unknown=unknown)


def auto_jobs(cpus, data_tables, limit=8):
    """Parallel jobs where they help: one per table with data, at most one per CPU (and ``limit``)."""
    return max(1, min(int(cpus or 1), int(data_tables or 1), limit))


def pg_restore_arguments(user, database, dump, jobs):
    return ["pg_restore", "--username=" + user, "--dbname=" + database, "--data-only", "--disable-triggers",
            "--exit-on-error", "--jobs=%d" % jobs, "--use-list=/dev/stdin", dump]


# --------------------------------------------------------------------------------------------
# After the restore: counts and times
# --------------------------------------------------------------------------------------------

def count_mismatches(expected, actual, table_keys):
    """Tables whose restored row count differs from the source's (a table the source lacks must be empty)."""
    mismatches = []
    for key in sorted(table_keys):
        want, got = int(expected.get(key, 0)), actual.get(key)
        if got != want:
            mismatches.append(dict(table=key, source=want, target=got,
                                   message="%s: %d rows in the source, %s in the target" % (display_table(key), want, got)))
    return mismatches


_QUALIFIED_RE = re.compile(r'((?:"(?:[^"]|"")*"|[^\s."(]+))\.((?:"(?:[^"]|"")*"|[^\s."(]+))')
_COPY_LOG_RE = re.compile(r"duration: ([0-9.]+) ms\s+statement: COPY (\S.*?) \(")


def _unquote(part):
    if part.startswith('"') and part.endswith('"'):
        return part[1:-1].replace('""', '"')
    return part


def copy_durations(log_text):
    """Seconds per table of the ``COPY ... FROM stdin`` statements in a server log (log_min_duration_statement=0)."""
    durations = {}
    for match in _COPY_LOG_RE.finditer(log_text or ""):
        name = _QUALIFIED_RE.match(match.group(2))
        if not name:
            continue
        key = key_of(_unquote(name.group(1)), _unquote(name.group(2)))
        durations[key] = durations.get(key, 0.0) + float(match.group(1)) / 1000.0
    return durations


def summary_rows(table_keys, counts, durations, kept=()):
    """Per-table rows of the operator's summary: rows, seconds of its COPY (None when unknown)."""
    rows = []
    for key in sorted(table_keys):
        seconds = durations.get(key)
        rows.append(dict(table=key, rows=counts.get(key), seconds=None if seconds is None else round(seconds, 3)))
    for key in sorted(kept):
        rows.append(dict(table=key, rows=counts.get(key), seconds=None, kept=True))
    return rows


def summary_lines(rows, total_seconds=None):
    """The per-table summary as aligned text lines."""
    width = max([len("table")] + [len(display_table(r["table"])) for r in rows])
    lines = ["%-*s  %10s  %9s" % (width, "table", "rows", "seconds")]
    total = 0
    for r in rows:
        if r.get("kept"):
            lines.append("%-*s  %10s  %9s" % (width, display_table(r["table"]), r["rows"], "kept (target's own)"))
            continue
        total += r["rows"] or 0
        seconds = "n/a" if r["seconds"] is None else "%.3f" % r["seconds"]
        lines.append("%-*s  %10s  %9s" % (width, display_table(r["table"]), r["rows"], seconds))
    tail = "%-*s  %10s" % (width, "total", total)
    if total_seconds:
        tail += "  %9.3f  (%d rows/s)" % (total_seconds, total / total_seconds if total_seconds else 0)
    lines.append(tail)
    return lines


# --------------------------------------------------------------------------------------------
# The restore itself (pg_data_restore): list, empty, restore, count
# --------------------------------------------------------------------------------------------

# Every session of the restore logs each statement with its duration: the COPY lines give per-table times.
LOG_OPTIONS = "PGOPTIONS=-c log_min_duration_statement=0"


class RestoreFailed(RestoreError):
    """The restore stopped; ``result`` holds what it did so far, ``touched`` whether the tables were emptied."""

    def __init__(self, message, result, touched):
        super().__init__(message)
        self.result = result
        self.touched = touched


def restore_data(runner, cli, container, database, dump, schemas=("public",), keep_tables=DEFAULT_KEEP_TABLES,
                 jobs=0, expected_row_counts=None, check_mode=False, user="postgres", cpus=1, now=None):
    """Empty the tables of ``schemas`` but ``keep_tables`` in one TRUNCATE, pg_restore the data-only ``dump`` (a
    path inside ``container``), count every table exactly and compare with ``expected_row_counts``.

    ``runner``: a _pg DockerExecRunner on ``database``; ``cli``: a _docker DockerCli. Returns the result dict of
    pg_data_restore; raises RestoreFailed. In check mode nothing runs but the reads of the target.
    """
    log = QueryLog(runner, check_mode)
    result = dict(changed=True, queries=log.queries, command=[], tables=[], summary=[], mismatches=[],
                  skipped_entries=[], jobs=jobs or None)
    stage = "reading the target"
    try:
        if not schemas:
            raise RestoreError("schemas is empty: list at least one schema, for example [public]")
        if jobs < 0:
            raise RestoreError("jobs is %d: use 0 (one per table with data, at most one per CPU) or a positive number" % jobs)
        keep_tables = validate_keep_tables(keep_tables)
        tables, kept_sequences = read_catalog(runner, database, schemas, keep_tables)
        restore_keys = restored_tables(tables, keep_tables)
        kept_keys = [key for key in tables if is_kept(key, keep_tables)]
        statement = truncate_sql(restore_keys)
        if check_mode:
            if statement:
                log.write(statement)
            result["command"] = [cli.cli, "exec", "-i", "--env", LOG_OPTIONS, container] + pg_restore_arguments(
                user, database, dump, jobs or 1)
            return result

        stage = "reading the dump"
        rc, out, err = cli.exec(container, ["pg_restore", "--list", dump])
        if rc != 0:
            raise RestoreError(tool_failure("pg_restore --list %s" % dump, rc, out, err))
        entries = select_entries(out, tables, keep_tables, kept_sequences)
        if entries["unknown"]:
            raise RestoreError("the dump has data for tables that %s does not have in %s (%s): nothing was changed. "
                               "Compare the schemas (schema_gate) and migrate the target first."
                               % (database, ", ".join(schemas), "; ".join(entries["unknown"][:5])))
        result["skipped_entries"] = entries["skipped"]
        jobs = jobs or auto_jobs(cpus, len(entries["data_tables"]))
        result["jobs"] = jobs
        argv = ["exec", "-i", "--env", LOG_OPTIONS, container] + pg_restore_arguments(user, database, dump, jobs)
        result["command"] = [cli.cli] + argv

        stage = "emptying the tables"
        now = now or (lambda: datetime.datetime.now(datetime.timezone.utc))
        since = (now() - datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        start = time.monotonic()
        if statement:
            log.write(statement)
        stage = "restoring the data"
        rc, out, err = cli.run(*argv, data="\n".join(entries["lines"]) + "\n", check=False)
        result["seconds"] = round(time.monotonic() - start, 3)
        if rc != 0:
            raise RestoreError(tool_failure("pg_restore", rc, out, err))

        stage = "counting the rows"
        counts = count_rows(runner, database, tables)
        _rc, log_out, log_err = cli.run("logs", "--since", since, container, check=False)
        durations = copy_durations((log_out or "") + (log_err or ""))
        rows = summary_rows(restore_keys, counts, durations, kept=kept_keys)
        result.update(tables=rows, summary=summary_lines(rows, result["seconds"]))
        if expected_row_counts:
            result["mismatches"] = count_mismatches(expected_row_counts, counts, restore_keys)
    except (RestoreError, PgError) as exc:
        touched = stage in ("restoring the data", "counting the rows")
        message = "the restore of '%s' failed while %s: %s" % (database, stage, exc.message)
        if touched:
            message += ". The tables are emptied and partly restored."
        raise RestoreFailed(message, result, touched)
    if result["mismatches"]:
        raise RestoreFailed("the restore of '%s' does not have the source's rows: %s" % (
            database, "; ".join(m["message"] for m in result["mismatches"][:20])), result, True)
    return result


# --------------------------------------------------------------------------------------------
# Backups: names, rotation and the command that restores one
# --------------------------------------------------------------------------------------------

def backup_name(database, now=None, taken=()):
    """``<database>-<UTC timestamp>.dump``; a second backup within the same second gets ``-2``, ``-3`` ..."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stamp = now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = "%s-%s.dump" % (database, stamp)
    number = 2
    while name in taken:
        name = "%s-%s-%d.dump" % (database, stamp, number)
        number += 1
    return name


def backup_pattern(database):
    return re.compile(r"^%s-(\d{8}T\d{6}Z)(?:-(\d+))?\.dump$" % re.escape(database))


def backups_to_remove(names, database, keep):
    """The oldest backups of ``database`` beyond the newest ``keep`` (other files are never touched)."""
    if keep < 1:
        raise RestoreError("keep is %d: keep at least 1 backup (the one just made)" % keep)
    pattern = backup_pattern(database)
    ours = []
    for name in names:
        match = pattern.match(name)
        if match:
            ours.append(((match.group(1), int(match.group(2) or 1)), name))
    ours.sort()
    return [name for _key, name in ours[:max(0, len(ours) - keep)]]


def backup_restore_command(container, user, database, path, docker_cli="docker"):
    """The one command, run on the server, that brings ``database`` back to the backup ``path``.

    A full custom-format dump restored with --clean --if-exists in a single transaction: every object of the
    dump is dropped and recreated with its rows, or nothing changes.
    """
    argv = [docker_cli, "exec", "-i", container, "pg_restore", "--username=" + user, "--dbname=" + database,
            "--clean", "--if-exists", "--single-transaction", "--exit-on-error"]
    return "%s < %s" % (" ".join(shlex.quote(a) for a in argv), shlex.quote(path))


def last_lines(text, count=5):
    lines = [line.rstrip() for line in (text or "").splitlines() if line.strip()]
    return lines[-count:]


def tool_failure(what, rc, out, err):
    """A failed pg_dump/pg_restore/docker as one message with the last lines it printed."""
    tail = last_lines(err, 8) or last_lines(out, 8)
    return "%s failed (exit code %s): %s" % (what, rc, " | ".join(tail) if tail else "no output")


def check_pg_error(func):
    """Run func(); turn a PgError into a RestoreError (the modules report one kind of error)."""
    try:
        return func()
    except PgError as exc:
        raise RestoreError(exc.message)
