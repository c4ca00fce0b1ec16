# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: schema snapshots (pg_schema_info) and their comparison (schema_parity).

A snapshot is a plain JSON-serialisable dict keyed by ``"schema.table"``::

    {"public.uk_lrt": {
        "schema": "public", "name": "uk_lrt", "kind": "table",
        "columns": {"family": {"position": 2, "type": "character varying(255)", "nullable": True,
                               "default": None, "identity": None, "generated": None}},
        "constraints": {"uk_lrt_pkey": {"type": "primary key", "definition": "PRIMARY KEY (id)"}},
        "indexes": {"uk_lrt_pkey": {"definition": "CREATE UNIQUE INDEX ...", "unique": True,
                                    "primary": True, "constraint": "uk_lrt_pkey"}}}}

Reading the catalog is one statement with one sub-query per kind (tables, columns, constraints,
indexes), so its cost does not grow with one round trip per table; comparing is pure.
"""

from __future__ import annotations

import fnmatch
import operator
import re

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, quote_ident, quote_literal

RELKINDS = {"r": "table", "p": "partitioned table"}
CONSTRAINT_TYPES = {"p": "primary key", "u": "unique", "f": "foreign key", "c": "check", "x": "exclusion"}
IDENTITY = {"a": "always", "d": "by default"}
GENERATED = {"s": "stored", "v": "virtual"}

CHECKS = ("types", "nullability", "defaults", "constraints", "indexes")

NEXT_STEPS = (
    "What to do: do not restore data into the target yet (pg_restore would fail with 'column ... does not exist' "
    "or load data into the wrong shape). Write a migration that brings the target schema to the source's "
    "(or fix the source), rebuild and deploy the backend so that it runs the migration, then take both snapshots "
    "and compare again; restore only when schema_parity reports identical. Differences that do not matter for "
    "this restore can be listed in ignore."
)


# --------------------------------------------------------------------------------------------
# Reading the catalog
# --------------------------------------------------------------------------------------------

def split_table_name(name):
    """``"schema.table"`` -> ("schema", "table"); ``"table"`` -> (None, "table")."""
    if not isinstance(name, str) or not name.strip():
        raise PgError("a table name in tables is empty: list table names such as uk_lrt or public.uk_lrt")
    if "." in name:
        schema, table = name.split(".", 1)
        if not schema or not table:
            raise PgError("table name %r is neither 'table' nor 'schema.table'" % name)
        return schema, table
    return None, name


def relation_filter(schemas, tables=None):
    """The WHERE clause (aliases ``n`` for pg_namespace, ``c`` for pg_class) selecting the snapshot's tables."""
    if not schemas:
        raise PgError("schemas is empty: list at least one schema, for example [public]")
    clauses = [
        "c.relkind IN ('r', 'p')",
        "n.nspname IN (%s)" % ", ".join(quote_literal(s) for s in schemas),
    ]
    if tables:
        alternatives = []
        for item in tables:
            schema, table = split_table_name(item)
            if schema is None:
                alternatives.append("c.relname = %s" % quote_literal(table))
            else:
                alternatives.append("(n.nspname = %s AND c.relname = %s)" % (quote_literal(schema), quote_literal(table)))
        clauses.append("(%s)" % " OR ".join(alternatives))
    return " AND ".join(clauses)


def snapshot_sql(schemas, tables=None):
    """One statement returning one row: JSON arrays ``tables``, ``columns``, ``constraints``, ``indexes``."""
    return """
WITH rel AS (
    SELECT c.oid, n.nspname AS schema_name, c.relname AS table_name, c.relkind::text AS relkind
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE %(filter)s
)
SELECT
    (SELECT coalesce(json_agg(json_build_object(
                'schema', r.schema_name, 'table', r.table_name, 'relkind', r.relkind)
            ORDER BY r.schema_name, r.table_name), '[]'::json)
       FROM rel r) AS tables,
    (SELECT coalesce(json_agg(json_build_object(
                'schema', r.schema_name, 'table', r.table_name, 'name', a.attname,
                'position', a.position,
                'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                'not_null', a.attnotnull,
                'default', %(default)s,
                'identity', a.attidentity::text,
                'generated', a.attgenerated::text)
            ORDER BY r.schema_name, r.table_name, a.attnum), '[]'::json)
       FROM rel r
       JOIN (SELECT pa.*, row_number() OVER (PARTITION BY pa.attrelid ORDER BY pa.attnum) AS position
               FROM pg_catalog.pg_attribute pa
              WHERE pa.attnum > 0 AND NOT pa.attisdropped
                AND pa.attrelid IN (SELECT oid FROM rel)) a ON a.attrelid = r.oid
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum) AS columns,
    (SELECT coalesce(json_agg(json_build_object(
                'schema', r.schema_name, 'table', r.table_name, 'name', co.conname,
                'contype', co.contype::text,
                'definition', pg_catalog.pg_get_constraintdef(co.oid))
            ORDER BY r.schema_name, r.table_name, co.conname), '[]'::json)
       FROM rel r
       JOIN pg_catalog.pg_constraint co ON co.conrelid = r.oid AND co.contype IN ('p', 'u', 'f', 'c', 'x')) AS constraints,
    (SELECT coalesce(json_agg(json_build_object(
                'schema', r.schema_name, 'table', r.table_name, 'name', ic.relname,
                'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
                'unique', i.indisunique, 'primary', i.indisprimary,
                'constraint', (SELECT co.conname FROM pg_catalog.pg_constraint co
                                WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                                  AND co.contype IN ('p', 'u', 'x')
                                ORDER BY co.conname LIMIT 1))
            ORDER BY r.schema_name, r.table_name, ic.relname), '[]'::json)
       FROM rel r
       JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid) AS indexes
""" % dict(filter=relation_filter(schemas, tables), default=DEFAULT_EXPR)


# A column default deparsed without opening its table: pg_get_expr() with a relation opens it (a lock and a
# relcache entry per table: some 10 % of a 1,000-table snapshot on the server), and a plain default cannot
# refer to a column anyway. A generated column's expression does, so it gets its table.
DEFAULT_EXPR = ("CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, 0) "
                "ELSE pg_catalog.pg_get_expr(d.adbin, d.adrelid) END")


def compact_snapshot_sql(schemas, tables=None):
    """snapshot_sql() for a comparison (schema_gate): the same catalog, less work, a smaller answer.

    One row of JSON arrays without key names (``tables``: [oid, schema, name, relkind]; ``columns``: [table
    oid, name, attnum, type, not null, default, identity, generated]; ``constraints``: [table oid, name,
    contype, definition]; ``indexes``: [table oid, name, definition, unique, primary, constraint]), in no
    particular order (build_snapshot() numbers the columns). An index that backs a constraint has no
    definition (null): compare_snapshots() compares it as that constraint, and pg_get_indexdef() is the
    dearest call of the statement.
    """
    return """
WITH rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE %(filter)s
)
SELECT
    (SELECT coalesce(json_agg(json_build_array(r.oid::int8, r.nspname, r.relname, r.relkind)), '[]'::json)
       FROM rel r) AS tables,
    (SELECT coalesce(json_agg(json_build_array(
                a.attrelid::int8, a.attname, a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                %(default)s, a.attidentity, a.attgenerated)), '[]'::json)
       FROM pg_catalog.pg_attribute a
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid IN (SELECT oid FROM rel) AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
    (SELECT coalesce(json_agg(json_build_array(
                co.conrelid::int8, co.conname, co.contype, pg_catalog.pg_get_constraintdef(co.oid))), '[]'::json)
       FROM pg_catalog.pg_constraint co
      WHERE co.conrelid IN (SELECT oid FROM rel) AND co.contype IN ('p', 'u', 'f', 'c', 'x')) AS constraints,
    (SELECT coalesce(json_agg(json_build_array(
                i.indrelid::int8, ic.relname,
                CASE WHEN co.conname IS NULL THEN pg_catalog.pg_get_indexdef(i.indexrelid) END,
                i.indisunique, i.indisprimary, co.conname)), '[]'::json)
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN LATERAL (SELECT co.conname FROM pg_catalog.pg_constraint co
                           WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                             AND co.contype IN ('p', 'u', 'x')
                           ORDER BY co.conname LIMIT 1) co ON true
      WHERE i.indrelid IN (SELECT oid FROM rel)) AS indexes
""" % dict(filter=relation_filter(schemas, tables), default=DEFAULT_EXPR)


def _none_if_empty(value, names):
    return names.get(value, value) if value else None


def build_snapshot(row):
    """Turn the single row of snapshot_sql() or compact_snapshot_sql() into the snapshot dict (pure)."""
    row = row or {}
    if row.get("tables") and not isinstance(row["tables"][0], dict):
        return _build_compact_snapshot(row)
    snapshot = {}
    for t in row.get("tables") or []:
        snapshot[t["schema"] + "." + t["table"]] = dict(
            schema=t["schema"], name=t["table"], kind=RELKINDS.get(t["relkind"], t["relkind"]),
            columns={}, constraints={}, indexes={},
        )
    for c in row.get("columns") or []:
        table = snapshot.get(c["schema"] + "." + c["table"])
        if table is not None:
            table["columns"][c["name"]] = dict(
                position=int(c["position"]), type=c["type"], nullable=not c["not_null"], default=c["default"],
                identity=_none_if_empty(c.get("identity"), IDENTITY),
                generated=_none_if_empty(c.get("generated"), GENERATED),
            )
    for c in row.get("constraints") or []:
        table = snapshot.get(c["schema"] + "." + c["table"])
        if table is not None:
            table["constraints"][c["name"]] = dict(
                type=CONSTRAINT_TYPES.get(c["contype"], c["contype"]), definition=c["definition"])
    for i in row.get("indexes") or []:
        table = snapshot.get(i["schema"] + "." + i["table"])
        if table is not None:
            table["indexes"][i["name"]] = dict(
                definition=i["definition"], unique=bool(i["unique"]), primary=bool(i["primary"]),
                constraint=i.get("constraint"))
    return snapshot


def _build_compact_snapshot(row):
    # dict literals and no per-row function calls: 10,000 columns are built on the controller, after the module
    snapshot = {}
    by_oid = {}
    for oid, schema, name, relkind in row["tables"]:
        by_oid[oid] = snapshot[schema + "." + name] = {
            "schema": schema, "name": name, "kind": RELKINDS.get(relkind, relkind),
            "columns": {}, "constraints": {}, "indexes": {}}
    last, position, columns = None, 0, None
    # position: the column's place among the table's columns, as snapshot_sql() numbers them
    for oid, name, _attnum, type_, not_null, default, identity, generated in sorted(
            row.get("columns") or [], key=operator.itemgetter(0, 2)):
        if oid != last:
            table = by_oid.get(oid)
            columns = None if table is None else table["columns"]
            last, position = oid, 0
        if columns is None:
            continue
        position += 1
        columns[name] = {
            "position": position, "type": type_, "nullable": not not_null, "default": default,
            "identity": IDENTITY.get(identity, identity) if identity else None,
            "generated": GENERATED.get(generated, generated) if generated else None}
    for oid, name, contype, definition in row.get("constraints") or []:
        table = by_oid.get(oid)
        if table is not None:
            table["constraints"][name] = {"type": CONSTRAINT_TYPES.get(contype, contype), "definition": definition}
    for oid, name, definition, unique, primary, constraint in row.get("indexes") or []:
        table = by_oid.get(oid)
        if table is not None:
            table["indexes"][name] = {"definition": definition, "unique": bool(unique), "primary": bool(primary),
                                      "constraint": constraint}
    return snapshot


def row_count_sql(table_keys, snapshot):
    """One statement counting the rows of every table exactly (``count(*)``, no statistics estimates)."""
    parts = []
    for key in table_keys:
        table = snapshot[key]
        parts.append("SELECT %s AS table_key, count(*) AS row_count FROM %s.%s" % (
            quote_literal(key), quote_ident(table["schema"]), quote_ident(table["name"])))
    return "\nUNION ALL\n".join(parts)


def read_snapshot(runner, database, schemas, tables=None, count_rows=False):
    """Snapshot ``database`` through a _pg runner: returns (schema, row_counts)."""
    rows = runner.query(snapshot_sql(schemas, tables), database=database)
    snapshot = build_snapshot(rows[0] if rows else None)
    row_counts = {}
    if count_rows and snapshot:
        keys = sorted(snapshot)
        for r in runner.query(row_count_sql(keys, snapshot), database=database):
            row_counts[r["table_key"]] = int(r["row_count"])
    return snapshot, row_counts


# --------------------------------------------------------------------------------------------
# Comparing two snapshots
# --------------------------------------------------------------------------------------------

class SnapshotError(ValueError):
    """An input that is not a pg_schema_info snapshot; the message says what to pass instead."""


def unwrap_snapshot(value, label):
    """Accept a whole pg_schema_info result or its ``schema`` key; return the snapshot dict."""
    hint = ("%s must be the result of sertantai.deploy.pg_schema_info (register it) or its schema key" % label)
    if not isinstance(value, dict):
        raise SnapshotError("%s is a %s, not a snapshot: %s" % (label, type(value).__name__, hint))
    if value.get("failed"):
        raise SnapshotError("%s is the result of a failed task (%s): fix that snapshot first" % (label, value.get("msg", "no message")))
    if isinstance(value.get("schema"), dict) and all(isinstance(v, dict) for v in value["schema"].values()):
        value = value["schema"]
    for key, table in value.items():
        if "." not in key or not isinstance(table, dict) or not isinstance(table.get("columns"), dict):
            raise SnapshotError("%s has an entry %r that is not a table of a snapshot: %s" % (label, key, hint))
    return value


def validate_patterns(patterns):
    """Ignore patterns have one to three dot-separated parts; return them as tuples."""
    parsed = []
    for pattern in patterns or []:
        if not isinstance(pattern, str) or not pattern.strip():
            raise SnapshotError("an ignore pattern is empty: use table, schema.table, table.column or schema.table.column")
        parts = tuple(pattern.split("."))
        if len(parts) > 3 or not all(parts):
            raise SnapshotError("ignore pattern %r is not table, schema.table, table.column or schema.table.column" % pattern)
        parsed.append(parts)
    return parsed


def _fits(parts, names):
    return len(parts) == len(names) and all(fnmatch.fnmatchcase(n, p) for p, n in zip(parts, names))


def table_ignored(key, patterns):
    """``table`` (any schema) or ``schema.table`` patterns, fnmatch per part."""
    schema, name = key.split(".", 1)
    return any(_fits(p, (name,)) or _fits(p, (schema, name)) for p in patterns)


def column_ignored(key, column, patterns):
    """``table.column`` or ``schema.table.column`` patterns, fnmatch per part."""
    schema, name = key.split(".", 1)
    return any(_fits(p, (name, column)) or _fits(p, (schema, name, column)) for p in patterns)


def _columns_may_be_ignored(key, column_patterns):
    """Whether a ``table.column`` or ``schema.table.column`` pattern can match a column of this table."""
    if not column_patterns:
        return False
    schema, name = key.split(".", 1)
    return any(fnmatch.fnmatchcase(name, p[0]) if len(p) == 2 else _fits(p[:2], (schema, name)) for p in column_patterns)


def display_table(key):
    """How the report names a table: without the default schema, as operators write it."""
    return key[len("public."):] if key.startswith("public.") else key


def describe_column(col):
    text = col.get("type") or "?"
    text += " NULL" if col.get("nullable") else " NOT NULL"
    if col.get("identity"):
        text += " GENERATED %s AS IDENTITY" % col["identity"].upper()
    elif col.get("generated"):
        text += " GENERATED ALWAYS AS (%s) %s" % (col.get("default"), col["generated"].upper())
    elif col.get("default") is not None:
        text += " DEFAULT %s" % col["default"]
    return text


def _value_text(attribute, value):
    if attribute == "nullable":
        return "NULL allowed" if value else "NOT NULL"
    if value is None:
        return {"default": "no default", "identity": "no identity", "generated": "not generated"}.get(attribute, "none")
    return str(value)


_INDEX_NAME_RE = re.compile(r'^(CREATE (?:UNIQUE )?INDEX )(?:"(?:[^"]|"")*"|\S+) ON ')


def index_shape(definition):
    """An index definition without its name, to pair indexes that differ only by name."""
    return _INDEX_NAME_RE.sub(r"\1ON ", definition or "", count=1)


def _pair(source, target, shape):
    """Match named objects by name, then the leftovers by shape (a rename is not a difference)."""
    common = sorted(set(source) & set(target))
    only_source = sorted(set(source) - set(target))
    only_target = sorted(set(target) - set(source))
    by_shape = {}
    for name in only_target:
        by_shape.setdefault(shape(target[name]), []).append(name)
    missing = []
    for name in only_source:
        candidates = by_shape.get(shape(source[name]))
        if candidates:
            only_target.remove(candidates.pop(0))
        else:
            missing.append(name)
    return common, missing, only_target


def _column_attributes(checks):
    attributes = []
    if "types" in checks:
        attributes.append("type")
    if "nullability" in checks:
        attributes.append("nullable")
    if "defaults" in checks:
        attributes.extend(["default", "identity", "generated"])
    return attributes


def _column_message(table, column, attribute, src, tgt):
    name = "%s.%s" % (display_table(table), column)
    if attribute == "type":
        return "%s: type %s in source, %s in target" % (name, src, tgt)
    return "%s: %s in source, %s in target" % (name, _value_text(attribute, src), _value_text(attribute, tgt))


def compare_snapshots(source, target, ignore=None, checks=CHECKS):
    """Compare two snapshots (pure). Returns the schema_parity result without ``changed``."""
    patterns = validate_patterns(ignore)
    checks = set(checks or ())
    missing = dict(tables=[], columns=[], constraints=[], indexes=[])
    extra = dict(tables=[], columns=[], constraints=[], indexes=[])
    ignored = dict(tables=[], columns=[])
    mismatched = []
    lines = []

    def mismatch(table, obj, name, attribute, src, tgt, message):
        mismatched.append(dict(table=table, column=name if obj == "column" else None, object=obj, name=name,
                               attribute=attribute, source=src, target=tgt, message=message))
        lines.append(message)

    column_patterns = [p for p in patterns if len(p) > 1]
    compared = 0
    for key in sorted(set(source) | set(target)):
        if table_ignored(key, patterns):
            ignored["tables"].append(key)
            continue
        shown = display_table(key)
        if key not in target:
            missing["tables"].append(key)
            lines.append("%s: table missing in target (%d columns in source)" % (shown, len(source[key].get("columns") or {})))
            continue
        if key not in source:
            extra["tables"].append(key)
            lines.append("%s: table only in target, not in source" % shown)
            continue
        compared += 1
        src, tgt = source[key], target[key]
        if src == tgt and not _columns_may_be_ignored(key, column_patterns):
            continue  # the same table on both sides: nothing to report, whatever is compared
        if src.get("kind") != tgt.get("kind"):
            mismatch(key, "table", src.get("name"), "kind", src.get("kind"), tgt.get("kind"),
                     "%s: %s in source, %s in target" % (shown, src.get("kind"), tgt.get("kind")))

        src_cols, tgt_cols = src.get("columns") or {}, tgt.get("columns") or {}
        order = sorted(set(src_cols) | set(tgt_cols),
                       key=lambda c: ((src_cols.get(c) or tgt_cols.get(c) or {}).get("position") or 0, c not in src_cols, c))
        for column in order:
            if column_ignored(key, column, patterns):
                ignored["columns"].append("%s.%s" % (key, column))
                continue
            if column not in tgt_cols:
                missing["columns"].append("%s.%s" % (key, column))
                lines.append("%s.%s: column missing in target (%s in source)" % (shown, column, describe_column(src_cols[column])))
                continue
            if column not in src_cols:
                extra["columns"].append("%s.%s" % (key, column))
                lines.append("%s.%s: column only in target (%s), not in source" % (shown, column, describe_column(tgt_cols[column])))
                continue
            for attribute in _column_attributes(checks):
                a, b = src_cols[column].get(attribute), tgt_cols[column].get(attribute)
                if a != b:
                    mismatch(key, "column", column, attribute, a, b, _column_message(key, column, attribute, a, b))

        if "constraints" in checks:
            s_con, t_con = src.get("constraints") or {}, tgt.get("constraints") or {}
            common, only_s, only_t = _pair(s_con, t_con, lambda c: (c.get("type"), c.get("definition")))
            for name in common:
                a, b = s_con[name], t_con[name]
                if (a.get("type"), a.get("definition")) != (b.get("type"), b.get("definition")):
                    mismatch(key, "constraint", name, "definition", a.get("definition"), b.get("definition"),
                             "%s: constraint %s is %s in source, %s in target" % (shown, name, a.get("definition"), b.get("definition")))
            for name in only_s:
                missing["constraints"].append("%s.%s" % (key, name))
                lines.append("%s: constraint %s missing in target (%s)" % (shown, name, s_con[name].get("definition")))
            for name in only_t:
                extra["constraints"].append("%s.%s" % (key, name))
                lines.append("%s: constraint %s only in target (%s)" % (shown, name, t_con[name].get("definition")))

        if "indexes" in checks:
            # Indexes that back a primary key, unique or exclusion constraint are compared as that constraint.
            s_idx = dict((n, i) for n, i in (src.get("indexes") or {}).items() if not i.get("constraint"))
            t_idx = dict((n, i) for n, i in (tgt.get("indexes") or {}).items() if not i.get("constraint"))
            common, only_s, only_t = _pair(s_idx, t_idx, lambda i: index_shape(i.get("definition")))
            for name in common:
                a, b = s_idx[name].get("definition"), t_idx[name].get("definition")
                if a != b:
                    mismatch(key, "index", name, "definition", a, b,
                             "%s: index %s is %s in source, %s in target" % (shown, name, a, b))
            for name in only_s:
                missing["indexes"].append("%s.%s" % (key, name))
                lines.append("%s: index %s missing in target (%s)" % (shown, name, s_idx[name].get("definition")))
            for name in only_t:
                extra["indexes"].append("%s.%s" % (key, name))
                lines.append("%s: index %s only in target (%s)" % (shown, name, t_idx[name].get("definition")))

    differences = len(lines)
    identical = differences == 0
    skipped = ""
    if ignored["tables"] or ignored["columns"]:
        skipped = " (ignored: %d tables, %d columns)" % (len(ignored["tables"]), len(ignored["columns"]))
    if identical:
        report = ["source and target schemas are identical: %d tables compared%s" % (compared, skipped)]
    else:
        report = ["source and target schemas differ: %d differences in %d tables compared, %d tables missing in target, "
                  "%d only in target%s" % (differences, compared, len(missing["tables"]), len(extra["tables"]), skipped)]
        report.extend(lines)
        report.append(NEXT_STEPS)
    return dict(identical=identical, differences=differences, tables_compared=compared,
                missing_in_target=missing, extra_in_target=extra, mismatched=mismatched,
                ignored=ignored, report=report)


def failure_message(report, max_lines=30):
    """The report as a task failure message; a large drift is cut short there (the report keeps every line)."""
    if len(report) < 2:
        return "\n".join(report)
    details = report[1:-1]
    if len(details) > max_lines:
        details = details[:max_lines] + ["... and %d more differences (see report)" % (len(details) - max_lines)]
    return "\n".join([report[0]] + details + [report[-1]])
