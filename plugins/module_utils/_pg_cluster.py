# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: read-only facts of a PostgreSQL cluster (pg_cluster_info)."""

from __future__ import annotations

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, read_server_version
from ansible_collections.sertantai.deploy.plugins.module_utils._pg_databases import INSTALLED_EXTENSIONS_SQL
from ansible_collections.sertantai.deploy.plugins.module_utils._pg_settings import rows_by_name, settings_sql

DEFAULT_INFO_SETTINGS = ["wal_level", "max_replication_slots", "max_wal_senders", "max_slot_wal_keep_size"]

DATABASES_SQL = ("SELECT datname, pg_database_size(datname) AS size_bytes FROM pg_database "
                 "WHERE NOT datistemplate AND datallowconn ORDER BY datname")
SLOTS_SQL = ("SELECT slot_name, slot_type, plugin, database, active, active_pid, wal_status FROM pg_replication_slots "
             "ORDER BY slot_name")


def gather_cluster_info(runner, settings=None):
    settings = [str(s).strip().lower() for s in (DEFAULT_INFO_SETTINGS if settings is None else settings)]
    version = read_server_version(runner)
    facts = dict(version=version["text"], version_num=version["num"], settings={}, databases={}, replication_slots=[])
    if settings:
        rows = rows_by_name(runner.query(settings_sql(settings)))
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
