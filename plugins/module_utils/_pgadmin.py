# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: databases, extensions and server settings (pg_database, pg_settings, pg_cluster_info).

Pure parts (value normalisation, comparison, the restart decision, SQL text) are plain functions;
the ``ensure_*`` / ``gather_*`` functions take a runner from ``_pg.runner_from_params`` and a
``check_mode`` flag, and record every statement they run (or would run) in ``queries``.
"""

from __future__ import annotations

import re
import time

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, is_identifier, quote_ident, quote_literal

# ---------------------------------------------------------------------------------------------
# Values and units
# ---------------------------------------------------------------------------------------------

MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}
TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60000, "h": 3600000, "d": 86400000}
TRUE_WORDS = ("on", "true", "yes", "1", "t", "y")
FALSE_WORDS = ("off", "false", "no", "0", "f", "n")

# Settings PostgreSQL stores as a list of quoted names (GUC_LIST_QUOTE): 'a,b' given as one
# literal would become the single name "a,b", so they are written as 'a', 'b'.
LIST_SETTINGS = frozenset((
    "search_path", "shared_preload_libraries", "session_preload_libraries", "local_preload_libraries", "temp_tablespaces",
))

SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$")
_NUMBER_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")


def value_text(value):
    """The text PostgreSQL is given for a desired value (bool -> on/off, numbers as written)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def unit_factor(unit):
    """Size of one pg_settings unit in its base (bytes or milliseconds), e.g. '8kB' -> 8192; None when unitless."""
    if not unit:
        return None
    match = re.match(r"^(\d*)\s*([A-Za-z]+)$", unit)
    if not match:
        return None
    count = int(match.group(1) or 1)
    base = MEMORY_UNITS.get(match.group(2), TIME_UNITS.get(match.group(2)))
    return None if base is None else count * base


def _unit_table(unit):
    if unit is None:
        return None
    name = re.sub(r"^\d+", "", unit)
    if name in MEMORY_UNITS:
        return MEMORY_UNITS
    if name in TIME_UNITS:
        return TIME_UNITS
    return None


def normalize(value, vartype=None, unit=None):
    """A comparable form of a setting value, as PostgreSQL would interpret it for a setting of this type/unit.

    Numbers become a float in the base unit (bytes or ms) — a bare number is in the setting's own
    unit, as in postgresql.conf; bools become 'on'/'off'; enums compare case-insensitively; lists
    become a tuple of names. Anything that cannot be parsed compares as its text.
    """
    text = value_text(value)
    if vartype == "bool":
        lower = text.lower()
        if lower in TRUE_WORDS:
            return "on"
        if lower in FALSE_WORDS:
            return "off"
        return text
    if vartype in ("integer", "real"):
        match = _NUMBER_RE.match(text)
        if not match:
            return text
        number = float(match.group(1))
        suffix = match.group(2)
        factor = unit_factor(unit)
        if not suffix:
            return number * factor if factor else number
        table = _unit_table(unit)
        if table is None or suffix not in table:
            return text
        return number * table[suffix]
    if vartype == "enum":
        return text.lower()
    return text


def normalize_list(text):
    return tuple(part.strip().strip('"') for part in value_text(text).split(",") if part.strip())


def same_value(desired, current, vartype=None, unit=None, name=None):
    """True when two values of one setting mean the same thing (e.g. '2GB' and 2048 with unit MB)."""
    if current is None:
        return False
    if name in LIST_SETTINGS:
        return normalize_list(desired) == normalize_list(current)
    left = normalize(desired, vartype, unit)
    right = normalize(current, vartype, unit)
    if isinstance(left, float) and isinstance(right, float):
        return abs(left - right) <= 1e-9 * max(1.0, abs(left), abs(right))
    return left == right


def display_value(setting, unit):
    """The running value with its unit, as a human reads it ('2048MB', '-1', 'logical')."""
    if setting is None:
        return None
    factor_unit = re.match(r"^(\d+)([A-Za-z]+)$", unit or "")
    if factor_unit and _NUMBER_RE.match(setting):
        number = float(setting) * int(factor_unit.group(1))
        return "%s%s" % (value_text(number), factor_unit.group(2))
    if unit and _NUMBER_RE.match(setting) and not setting.startswith("-"):
        return setting + unit
    return setting


def needs_restart(context, running_matches, file_applied=None, source=None):
    """Whether a desired value can only take effect after a server restart.

    A ``postmaster`` setting whose running value differs from the desired one needs a restart, and so
    does any auto.conf entry that PostgreSQL re-read but could not apply (``pg_file_settings.applied``
    false). A value given on the command line is never replaced by a restart; callers refuse it first.
    """
    if source == "command line":
        return False
    if running_matches:
        return False
    return context == "postmaster" or file_applied is False


def alter_system_sql(name, value):
    if not SETTING_NAME_RE.match(name):
        raise PgError("'%s' is not a valid setting name" % name)
    if name in LIST_SETTINGS:
        parts = normalize_list(value)
        literal = ", ".join(quote_literal(part) for part in parts) if parts else "''"
    else:
        literal = quote_literal(value_text(value))
    return "ALTER SYSTEM SET %s = %s" % (name, literal)


def _in_list(names):
    return ", ".join(quote_literal(name) for name in names)


def settings_sql(names):
    return ("SELECT name, setting, unit, vartype, context, source, pending_restart FROM pg_settings "
            "WHERE name IN (%s) ORDER BY name" % _in_list(names))


def auto_conf_sql(names):
    # pg_file_settings re-reads the files on every query, so 'applied' reflects the file as it is now.
    return ("SELECT name, setting, applied, error FROM pg_file_settings "
            "WHERE sourcefile LIKE '%%postgresql.auto.conf' AND name IN (%s) ORDER BY seqno" % _in_list(names))


def _by_name(rows):
    # The last entry of a name in a file is the one PostgreSQL uses.
    return dict((row["name"], row) for row in rows)


def plan_settings(desired, running, auto_conf):
    """Decide what ALTER SYSTEM has to change.

    ``desired``: name -> value; ``running``: name -> pg_settings row; ``auto_conf``: name ->
    pg_file_settings row of postgresql.auto.conf. Returns (changes, errors): changes is name ->
    {before, after}; errors lists messages for names that cannot be managed this way.
    """
    changes = {}
    errors = []
    unknown = sorted(name for name in desired if name not in running)
    if unknown:
        errors.append("unknown PostgreSQL setting(s): %s (not in pg_settings of this server); check the spelling, "
                      "or load the extension that defines them first" % ", ".join(unknown))
        return changes, errors
    for name in sorted(desired):
        value = desired[name]
        row = running[name]
        live_matches = same_value(value, row["setting"], row["vartype"], row["unit"], name)
        if row.get("source") == "command line" and not live_matches:
            errors.append("%s is set on the postgres command line (-c %s=%s), and the command line wins over ALTER SYSTEM: "
                          "remove it from the container's command, then run this again"
                          % (name, name, display_value(row["setting"], row["unit"])))
            continue
        entry = auto_conf.get(name)
        if entry is not None:
            if same_value(value, entry["setting"], row["vartype"], row["unit"], name):
                continue
            before = entry["setting"]
        else:
            if live_matches:
                continue
            before = display_value(row["setting"], row["unit"])
        changes[name] = dict(before=before, after=value_text(value))
    return changes, errors


def restart_settings(desired, running, auto_conf):
    """Names whose desired value waits for a restart (this run's change or an earlier one)."""
    names = []
    for name in sorted(desired):
        row = running[name]
        entry = auto_conf.get(name)
        matches = same_value(desired[name], row["setting"], row["vartype"], row["unit"], name)
        if needs_restart(row["context"], matches, entry.get("applied") if entry else None, row.get("source")):
            names.append(name)
    return names


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


def read_settings(log, names):
    running = _by_name(log.read(settings_sql(names)))
    auto_conf = _by_name(log.read(auto_conf_sql(names)))
    return running, auto_conf


def ensure_settings(runner, desired, check_mode=False, settle_timeout=5.0, sleep=time.sleep):
    """Apply ``desired`` with ALTER SYSTEM + pg_reload_conf(); return the module result (without 'changed').

    Raises PgError with a message for the operator when a name is unknown, a value is rejected or a
    command-line value would silently win.
    """
    desired = dict((str(name).strip().lower(), value) for name, value in (desired or {}).items())
    for name in desired:
        if not SETTING_NAME_RE.match(name):
            raise PgError("'%s' is not a valid setting name: use the name as in pg_settings, e.g. wal_level" % name)
    log = QueryLog(runner, check_mode)
    result = dict(changed_settings={}, restart_required=False, restart_settings=[], queries=log.queries,
                  diff=dict(before={}, after={}))
    if not desired:
        return result
    names = sorted(desired)
    running, auto_conf = read_settings(log, names)
    changes, errors = plan_settings(desired, running, auto_conf)
    if errors:
        raise PgError("; ".join(errors))
    for name in sorted(changes):
        try:
            log.write(alter_system_sql(name, desired[name]))
        except PgError as exc:
            raise PgError("PostgreSQL rejected %s = %s: %s" % (name, value_text(desired[name]), exc.message), sql=exc.sql)
    if changes:
        log.write("SELECT pg_reload_conf()")
        if not check_mode:
            running, auto_conf = _settle(log, desired, names, settle_timeout, sleep)
            failed = [(n, auto_conf[n]["error"]) for n in names
                      if n in auto_conf and auto_conf[n].get("error") and running[n]["context"] != "postmaster"]
            if failed:
                raise PgError("PostgreSQL could not apply: %s" % "; ".join("%s: %s" % item for item in failed))
    result["changed_settings"] = changes
    result["restart_settings"] = restart_settings(desired, running, auto_conf)
    result["restart_required"] = bool(result["restart_settings"])
    result["diff"] = dict(before=dict((n, c["before"]) for n, c in changes.items()),
                          after=dict((n, c["after"]) for n, c in changes.items()))
    return result


def _settle(log, desired, names, timeout, sleep):
    """Re-read after pg_reload_conf(): the postmaster reloads asynchronously, so wait briefly for reloadable values."""
    deadline = time.monotonic() + timeout
    while True:
        running, auto_conf = read_settings(log, names)
        waiting = [n for n in names if running[n]["context"] != "postmaster"
                   and not same_value(desired[n], running[n]["setting"], running[n]["vartype"], running[n]["unit"], n)
                   and not (auto_conf.get(n) or {}).get("error")]
        if not waiting or time.monotonic() >= deadline:
            return running, auto_conf
        sleep(0.2)


# ---------------------------------------------------------------------------------------------
# Databases and extensions
# ---------------------------------------------------------------------------------------------

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


def database_sql(name):
    return ("SELECT datname, pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding "
            "FROM pg_database WHERE datname = %s" % quote_literal(name))


def available_extensions_sql(extensions):
    return "SELECT name, default_version FROM pg_available_extensions WHERE name IN (%s)" % _in_list(extensions)


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


def ensure_database(runner, name, extensions=None, owner=None, encoding="UTF8", template="template0",
                    check_mode=False, where="this PostgreSQL server"):
    """Create database ``name`` if needed and every extension in it; never drops anything.

    ``where`` names the server (container and image) in error messages; a callable is only called then.
    """
    extensions = list(dict.fromkeys(extensions or []))
    errors = validate_database_args(name, extensions, owner, template)
    if errors:
        raise PgError("; ".join(errors))
    log = QueryLog(runner, check_mode)
    result = dict(database=name, created=False, owner_changed=False, extensions_created=[], queries=log.queries, warnings=[])
    current = log.read(database_sql(name))
    current = current[0] if current else None

    if owner and not log.read("SELECT rolname FROM pg_roles WHERE rolname = %s" % quote_literal(owner)):
        raise PgError("owner role '%s' does not exist: create the role first, or leave owner unset" % owner)
    if extensions:
        available = set(row["name"] for row in log.read(available_extensions_sql(extensions)))
        missing = [e for e in extensions if e not in available]
        if missing:
            raise PgError(missing_extensions_message(missing, where() if callable(where) else where))

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


# ---------------------------------------------------------------------------------------------
# Cluster facts
# ---------------------------------------------------------------------------------------------

DEFAULT_INFO_SETTINGS = ["wal_level", "max_replication_slots", "max_wal_senders", "max_slot_wal_keep_size"]

DATABASES_SQL = ("SELECT datname, pg_database_size(datname) AS size_bytes FROM pg_database "
                 "WHERE NOT datistemplate AND datallowconn ORDER BY datname")
SLOTS_SQL = ("SELECT slot_name, slot_type, plugin, database, active, active_pid, wal_status FROM pg_replication_slots "
             "ORDER BY slot_name")


def gather_cluster_info(runner, settings=None):
    settings = [str(s).strip().lower() for s in (DEFAULT_INFO_SETTINGS if settings is None else settings)]
    version = runner.query("SELECT current_setting('server_version') AS version, "
                           "current_setting('server_version_num')::int AS version_num")[0]
    facts = dict(version=version["version"], version_num=version["version_num"], settings={}, databases={}, replication_slots=[])
    if settings:
        rows = _by_name(runner.query(settings_sql(settings)))
        unknown = sorted(set(settings) - set(rows))
        if unknown:
            raise PgError("unknown PostgreSQL setting(s): %s (not in pg_settings of this server); check the spelling"
                          % ", ".join(unknown))
        for name in settings:
            row = rows[name]
            facts["settings"][name] = dict(setting=row["setting"], unit=row["unit"], pending_restart=row["pending_restart"],
                                           context=row["context"], source=row["source"])
    for row in runner.query(DATABASES_SQL):
        extensions = [e["extname"] for e in runner.query(INSTALLED_EXTENSIONS_SQL, database=row["datname"])]
        facts["databases"][row["datname"]] = dict(extensions=extensions, size_bytes=row["size_bytes"])
    facts["replication_slots"] = runner.query(SLOTS_SQL)
    return facts
