# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: one database per service with its extensions (pg_database).

Creates what is missing and never drops anything; every statement goes through ``_pg.QueryLog``.
"""

from __future__ import annotations

import re

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PgError,
    QueryLog,
    is_identifier,
    literal_list,
    quote_ident,
    quote_literal,
)


def create_database_sql(name, owner=None, encoding="UTF8", template="template0"):
    parts = ["CREATE DATABASE %s" % quote_ident(name)]
    if owner:
        parts.append("OWNER %s" % quote_ident(owner))
    if encoding:
        parts.append("ENCODING %s" % quote_literal(encoding))
    if template:
        parts.append("TEMPLATE %s" % quote_ident(template))
    return " ".join(parts)


def create_extension_sql(extension):
    # CASCADE installs what the extension requires (e.g. earthdistance needs cube), as a manual
    # CREATE EXTENSION would ask the operator to do one by one.
    return "CREATE EXTENSION IF NOT EXISTS %s CASCADE" % quote_ident(extension)


def databases_sql(names):
    return ("SELECT datname, pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding "
            "FROM pg_database WHERE datname IN (%s)" % literal_list(names))


def available_extensions_sql(extensions):
    return "SELECT name, default_version FROM pg_available_extensions WHERE name IN (%s)" % literal_list(extensions)


INSTALLED_EXTENSIONS_SQL = "SELECT extname, extversion FROM pg_extension ORDER BY extname"


def validate_database_args(name, extensions, owner=None, template=None):
    """Messages for bad options, before anything touches the server."""
    errors = []
    if not is_identifier(name):
        errors.append("name '%s' is not a valid database name: use letters, digits and underscores, starting with a letter "
                      "or underscore, at most 63 characters (e.g. sertantai_legal_prod)" % (name,))
    for option, value in (("owner", owner), ("template", template)):
        if value and not is_identifier(value):
            errors.append("%s '%s' is not a valid role/database name" % (option, value))
    for extension in extensions or []:
        if not extension or not re.match(r"^[A-Za-z0-9_\-]+$", extension):
            errors.append("extension '%s' is not a valid extension name" % (extension,))
    return errors


def missing_extensions_message(missing, where):
    return ("extension(s) %s not available in %s (pg_available_extensions does not list them): use a PostgreSQL "
            "image that ships them (e.g. postgis/postgis for postgis, pgvector/pgvector for vector) or remove them "
            "from the list" % (", ".join("'%s'" % e for e in missing), where))


def ensure_databases(runner, specs, check_mode=False, where="this PostgreSQL server"):
    """Create each database of ``specs`` ({name, extensions, owner, encoding, template}) if needed and every
    extension in it; never drops anything. Returns one result per database, in order.

    ``where`` names the server (container and image) in error messages; a callable is only called then.
    The reads that concern the whole server (which databases and roles exist, which extensions the
    server can provide) are made once for all of them; nothing is written before every check passed.
    """
    specs = [dict(spec, extensions=list(dict.fromkeys(spec.get("extensions") or []))) for spec in specs]
    errors = []
    for spec in specs:
        errors.extend(validate_database_args(spec["name"], spec["extensions"], spec.get("owner"), spec.get("template")))
    names = [spec["name"] for spec in specs]
    repeated = sorted(set(name for name in names if names.count(name) > 1))
    if repeated:
        errors.append("database(s) %s listed more than once" % ", ".join(repeated))
    if errors:
        raise PgError("; ".join(errors))
    if not specs:
        return []

    existing = dict((row["datname"], row) for row in runner.query(databases_sql(names)))
    owners = sorted(set(spec["owner"] for spec in specs if spec.get("owner")))
    if owners:
        roles = set(row["rolname"] for row in runner.query("SELECT rolname FROM pg_roles WHERE rolname IN (%s)" % literal_list(owners)))
        missing = [owner for owner in owners if owner not in roles]
        if missing:
            raise PgError("owner role(s) %s do not exist: create the role first, or leave owner unset"
                          % ", ".join("'%s'" % owner for owner in missing))
    wanted = list(dict.fromkeys(extension for spec in specs for extension in spec["extensions"]))
    if wanted:
        available = set(row["name"] for row in runner.query(available_extensions_sql(wanted)))
        missing = [extension for extension in wanted if extension not in available]
        if missing:
            raise PgError(missing_extensions_message(missing, where() if callable(where) else where))
    return [_ensure_one(runner, spec, existing.get(spec["name"]), check_mode) for spec in specs]


def _ensure_one(runner, spec, current, check_mode):
    name, extensions, owner = spec["name"], spec["extensions"], spec.get("owner")
    encoding, template = spec.get("encoding", "UTF8"), spec.get("template", "template0")
    log = QueryLog(runner, check_mode)
    result = dict(database=name, created=False, owner_changed=False, extensions_created=[], queries=log.queries, warnings=[])
    installed = []
    if current is None:
        log.write(create_database_sql(name, owner, encoding, template))
        result["created"] = True
    else:
        if owner and current["owner"] != owner:
            log.write("ALTER DATABASE %s OWNER TO %s" % (quote_ident(name), quote_ident(owner)))
            result["owner_changed"] = True
        if encoding and current["encoding"].upper().replace("-", "") != encoding.upper().replace("-", ""):
            result["warnings"].append("database %s exists with encoding %s, not %s; an encoding cannot be changed in place, "
                                      "so it was left as it is" % (name, current["encoding"], encoding))
        installed = [row["extname"] for row in log.read(INSTALLED_EXTENSIONS_SQL, database=name)]

    for extension in extensions:
        if extension in installed:
            continue
        log.write(create_extension_sql(extension), database=name)
        result["extensions_created"].append(extension)

    result["changed"] = bool(result["created"] or result["owner_changed"] or result["extensions_created"])
    before = None if current is None else dict(name=name, owner=current["owner"], extensions=sorted(installed))
    after = dict(name=name, owner=owner or (current or {}).get("owner"),
                 extensions=sorted(set(installed) | set(extensions)))
    result["diff"] = dict(before=before or {}, after=after)
    return result
