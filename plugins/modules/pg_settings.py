#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_settings
short_description: Apply PostgreSQL server settings with ALTER SYSTEM and report whether a restart is needed
version_added: 0.1.0
description:
  - Writes each setting of O(settings) whose value differs with C(ALTER SYSTEM SET name = 'value') (into
    C(postgresql.auto.conf)), then runs C(SELECT pg_reload_conf()).
  - A value is compared with what C(postgresql.auto.conf) holds for it, or, when it is not there, with the running
    value in C(pg_settings), both read through the setting's unit, so V(2GB) equals a running C(2048) in C(MB), V(on)
    equals V(true), and enum values compare case-insensitively. Equal values change nothing.
  - Settings with context C(postmaster) (for example C(wal_level), C(max_replication_slots), C(max_wal_senders))
    only take effect after a server restart. The module never restarts the server; it returns
    RV(restart_required) and RV(restart_settings) so the caller can restart (for example a handler). A restart is
    also reported while an earlier run's postmaster change still waits for one.
  - An unknown setting name fails before anything is changed, and so does a value that PostgreSQL rejects
    (with PostgreSQL's own message).
extends_documentation_fragment:
  - sertantai.deploy.postgres
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.change_with_diff
attributes:
  check_mode:
    details:
      - Reports the settings that would change, the SQL that would run and whether a restart would be needed.
  diff_mode:
    details:
      - The changed settings before and after.
options:
  settings:
    description:
      - Setting name -> desired value. Values may be strings (with a unit, for example V(2GB) or V(30s)), integers
        (in the setting's own unit, as in C(postgresql.conf)) or booleans.
      - List-valued settings such as C(shared_preload_libraries) take a comma-separated string.
    type: dict
    required: true
notes:
  - Settings given on the postgres command line (C(postgres -c name=value), for example a container's command) take
    precedence over C(postgresql.auto.conf), so ALTER SYSTEM cannot change them, not even after a restart. The module
    fails when a desired value differs from a running value that comes from the command line; remove it from the
    command first. The C(postgres) role passes no settings on the command line for that reason.
  - Connecting as a superuser (or a role granted C(ALTER SYSTEM)) is required.
seealso:
  - module: sertantai.deploy.pg_cluster_info
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Ensure logical replication settings for Electric
  sertantai.deploy.pg_settings:
    pg_container: shared_postgres
    settings:
      wal_level: logical
      max_replication_slots: 10
      max_wal_senders: 10
      max_slot_wal_keep_size: 2GB
  register: postgres_settings

- name: Restart PostgreSQL when a setting needs it
  community.docker.docker_container:
    name: shared_postgres
    restart: true
  when: postgres_settings.restart_required
"""

RETURN = r"""
changed_settings:
  description: The settings that were changed (or would be, in check mode), name -> before/after.
  returned: always
  type: dict
  sample:
    wal_level:
      before: replica
      after: logical
restart_required:
  description: Whether at least one desired value only takes effect after a server restart.
  returned: always
  type: bool
  sample: true
restart_settings:
  description: Names of the settings that wait for a restart, sorted.
  returned: always
  type: list
  elements: str
  sample: [wal_level]
queries:
  description: The SQL statements that changed something (or would have, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample:
    - ALTER SYSTEM SET wal_level = 'logical'
    - SELECT pg_reload_conf()
diff:
  description: Changed settings before and after (with C(--diff)).
  returned: when diff mode is on
  type: dict
  sample:
    before: {wal_level: replica}
    after: {wal_level: logical}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    PG_REQUIRED_ONE_OF,
    PgError,
    pg_argument_spec,
    runner_from_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._pg_settings import ensure_settings


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = pg_argument_spec()
    argument_spec.update(settings=dict(type="dict", required=True))
    return dict(argument_spec=argument_spec, mutually_exclusive=PG_MUTUALLY_EXCLUSIVE, required_one_of=PG_REQUIRED_ONE_OF)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    settings = module.params["settings"]
    bad = sorted(str(name) for name, value in settings.items()
                 if value is None or isinstance(value, (dict, list)))
    if bad:
        module.fail_json(msg="settings %s have no usable value: give a string, number or boolean for each" % ", ".join(bad))

    runner = None
    try:
        runner = runner_from_params(module.params, module.run_command)
        result = ensure_settings(runner, settings, check_mode=module.check_mode)
    except PgError as exc:
        module.fail_json(msg="cannot apply PostgreSQL settings: %s" % exc.message)
    finally:
        if runner is not None:
            runner.close()

    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(changed=bool(result["changed_settings"]), **result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
