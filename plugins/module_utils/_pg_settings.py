# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: server settings for pg_settings and pg_cluster_info.

Pure parts (value normalisation with units, comparison, the change plan, the restart decision, SQL
text) are plain functions; ``ensure_settings`` takes a runner from ``_pg.runner_from_params`` and
records every statement it runs (or would run in check mode) through ``_pg.QueryLog``.
"""

from __future__ import annotations

import re
import time

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, QueryLog, literal_list, quote_literal

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


def settings_sql(names):
    return ("SELECT name, setting, unit, vartype, context, source, pending_restart FROM pg_settings "
            "WHERE name IN (%s) ORDER BY name" % literal_list(names))


def auto_conf_sql(names):
    # pg_file_settings re-reads the files on every query, so 'applied' reflects the file as it is now.
    return ("SELECT name, setting, applied, error FROM pg_file_settings "
            "WHERE sourcefile LIKE '%%postgresql.auto.conf' AND name IN (%s) ORDER BY seqno" % literal_list(names))


def rows_by_name(rows):
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


def read_settings(log, names):
    running = rows_by_name(log.read(settings_sql(names)))
    auto_conf = rows_by_name(log.read(auto_conf_sql(names)))
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
