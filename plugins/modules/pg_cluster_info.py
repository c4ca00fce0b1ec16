#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_cluster_info
short_description: Read facts about a PostgreSQL cluster (version, settings, databases, replication slots)
version_added: 0.1.0
description:
  - Reports the server version, selected settings (with their unit and whether a change waits for a restart),
    every database that accepts connections (not the templates) with its extensions and size, and the
    replication slots.
  - The module only reads; it never changes anything.
extends_documentation_fragment:
  - sertantai.deploy.postgres
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  settings:
    description:
      - Names of the settings to report, as in C(pg_settings). An unknown name fails.
    type: list
    elements: str
    default: [wal_level, max_replication_slots, max_wal_senders, max_slot_wal_keep_size]
seealso:
  - module: sertantai.deploy.pg_settings
  - module: sertantai.deploy.pg_database
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Read the state of shared_postgres
  sertantai.deploy.pg_cluster_info:
    pg_container: shared_postgres
  register: postgres_info

- name: Ensure logical replication is live
  ansible.builtin.assert:
    that:
      - postgres_info.settings.wal_level.setting == 'logical'
      - not postgres_info.settings.wal_level.pending_restart
"""

RETURN = r"""
version:
  description: C(server_version) of the server.
  returned: always
  type: str
  sample: "15.14 (Debian 15.14-0+deb12u1)"
version_num:
  description: C(server_version_num) of the server.
  returned: always
  type: int
  sample: 150014
settings:
  description: The settings of O(settings), name -> facts.
  returned: always
  type: dict
  contains:
    setting:
      description: Running value as C(pg_settings.setting) shows it (a number is in RV(settings.unit)).
      type: str
      sample: "2048"
    unit:
      description: Unit of RV(settings.setting), or null.
      type: str
      sample: MB
    pending_restart:
      description: Whether a changed value in the configuration files waits for a server restart.
      type: bool
      sample: false
    context:
      description: When a change can take effect (C(postmaster) means only at server start).
      type: str
      sample: sighup
    source:
      description: Where the running value comes from (C(default), C(configuration file), C(command line), ...).
      type: str
      sample: configuration file
  sample:
    wal_level: {setting: logical, unit: null, pending_restart: false, context: postmaster, source: configuration file}
databases:
  description: Databases that accept connections, templates excluded, name -> facts.
  returned: always
  type: dict
  contains:
    extensions:
      description: Extensions installed in the database, sorted (C(plpgsql) included).
      type: list
      elements: str
      sample: [citext, plpgsql, uuid-ossp]
    size_bytes:
      description: C(pg_database_size()) of the database.
      type: int
      sample: 7631663
  sample:
    sertantai_legal_prod: {extensions: [citext, plpgsql, uuid-ossp], size_bytes: 7631663}
replication_slots:
  description: Every replication slot of the cluster, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    slot_name:
      description: Name of the slot.
      type: str
      sample: electric_slot_legal
    slot_type:
      description: V(logical) or V(physical).
      type: str
      sample: logical
    plugin:
      description: Output plugin of a logical slot.
      type: str
      sample: pgoutput
    database:
      description: Database of a logical slot.
      type: str
      sample: sertantai_legal_prod
    active:
      description: Whether a client is streaming from the slot.
      type: bool
      sample: true
    active_pid:
      description: Backend PID of the active client, or null.
      type: int
      sample: 4242
    wal_status:
      description: C(reserved), C(extended), C(unreserved) or C(lost).
      type: str
      sample: reserved
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    PG_REQUIRED_ONE_OF,
    PgError,
    pg_argument_spec,
    runner_from_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._pg_cluster import DEFAULT_INFO_SETTINGS, gather_cluster_info


def main():
    argument_spec = pg_argument_spec()
    argument_spec.update(settings=dict(type="list", elements="str", default=list(DEFAULT_INFO_SETTINGS)))
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=PG_MUTUALLY_EXCLUSIVE,
        required_one_of=PG_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )

    runner = None
    try:
        runner = runner_from_params(module.params, module.run_command)
        facts = gather_cluster_info(runner, module.params["settings"])
    except PgError as exc:
        module.fail_json(msg="cannot read the PostgreSQL cluster: %s" % exc.message)
    finally:
        if runner is not None:
            runner.close()

    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
