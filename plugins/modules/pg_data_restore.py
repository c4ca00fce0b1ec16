#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_data_restore
short_description: Replace the rows of a database with those of a data-only dump, and prove every table's row count
version_added: 0.1.0
description:
  - Restores a data-only custom-format dump (M(sertantai.deploy.pg_data_dump)) into O(database) of
    O(pg_container), as the superuser over the container's local socket, in this order.
  - Reads the dump's table of contents (C(pg_restore --list)) and refuses, before changing anything, a dump with
    data for a table the target does not have.
  - Empties every table of O(schemas) except O(keep_tables) in ONE C(TRUNCATE ... RESTART IDENTITY) (one
    transaction), so that restored rows do not collide with rows already there. The migrations table and the
    sequences it owns stay the target's own (the dump's rows of it, if any, are left out of the restore), so the
    runbook's duplicate key on C(schema_migrations) cannot happen. Sequences of the emptied tables get the
    source's values from the dump (C(SEQUENCE SET)).
  - Runs C(pg_restore --data-only --disable-triggers --exit-on-error --jobs N) inside the container. Foreign
    keys are not checked row by row, so tables load in any order, in parallel where there is more than one
    table with data (O(jobs)).
  - Counts the rows of every table exactly and fails unless each equals O(expected_row_counts) (a table the
    source did not have must be empty). Per-table C(COPY) times come from the server's log; the restore's
    sessions set C(log_min_duration_statement=0) and the module reads C(docker logs) of the container.
  - A failure after the C(TRUNCATE) leaves the tables partly restored; back up the database first
    (M(sertantai.deploy.pg_backup)) and restore the backup when this module fails.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Returns the C(TRUNCATE) in RV(queries) and the C(pg_restore) command in RV(command), and runs neither.
        The dump does not need to exist.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run empties the tables and restores them again.
options:
  pg_container:
    description:
      - The PostgreSQL container of the target; C(psql) and C(pg_restore) run in it.
    type: str
    required: true
  pg_user:
    description:
      - A superuser (C(--disable-triggers) needs one).
    type: str
    default: postgres
  pg_docker_cli:
    description:
      - The Docker CLI.
    type: str
    default: docker
  database:
    description:
      - The target database.
    type: str
    required: true
  dump:
    description:
      - The dump file inside O(pg_container) (for example copied there with
        M(community.docker.docker_container_copy_into)).
    type: str
    required: true
  schemas:
    description:
      - The schemas whose tables are emptied and restored.
    type: list
    elements: str
    default: [public]
  keep_tables:
    description:
      - Tables that stay the target's own, V(table) (in any of O(schemas)) or V(schema.table); not emptied, not
        restored, not compared.
    type: list
    elements: str
    default: [schema_migrations]
  jobs:
    description:
      - Parallel C(pg_restore) jobs. V(0) chooses one per table with data, at most one per CPU of the host
        (and 8); one table loads in one job whatever this says.
    type: int
    default: 0
  expected_row_counts:
    description:
      - Exact row count per table (C(schema.table)) the restore must produce,
        RV(sertantai.deploy.pg_data_dump#module:row_counts) of the dump. When empty, the counts are returned and not compared.
    type: dict
    default: {}
seealso:
  - module: sertantai.deploy.pg_data_dump
  - module: sertantai.deploy.pg_backup
  - module: sertantai.deploy.schema_gate
"""

EXAMPLES = r"""
- name: Restore the developer's data into production and prove the row counts
  sertantai.deploy.pg_data_restore:
    pg_container: shared_postgres
    database: sertantai_legal_prod
    dump: /tmp/sertantai-restore-legal.dump
    expected_row_counts: "{{ dump.row_counts }}"
  register: restored

- name: Show the per-table summary
  ansible.builtin.debug:
    msg: "{{ restored.summary }}"
"""

RETURN = r"""
tables:
  description:
    - One entry per table of O(schemas) with C(table) (C(schema.table)), C(rows) (exact count after the restore),
      C(seconds) (its C(COPY), null when the server's log did not say) and C(kept) for O(keep_tables).
  returned: success or failed counts
  type: list
  elements: dict
  sample: [{table: public.uk_lrt, rows: 19318, seconds: 0.412}, {table: public.schema_migrations, rows: 12, seconds: null, kept: true}]
summary:
  description: RV(tables) as aligned lines for an operator, with the total and the rows per second.
  returned: success or failed counts
  type: list
  elements: str
  sample: ["table          rows  seconds", "uk_lrt        19318    0.412", "total         19318    1.020  (18939 rows/s)"]
mismatches:
  description: Tables whose count differs from O(expected_row_counts), with both counts.
  returned: success or failed counts
  type: list
  elements: dict
  sample: [{table: public.uk_lrt, source: 19318, target: 0, message: "uk_lrt: 19318 rows in the source, 0 in the target"}]
jobs:
  description: The number of parallel jobs used.
  returned: success
  type: int
  sample: 2
skipped_entries:
  description: Entries of the dump left out of the restore, with the reason.
  returned: success
  type: list
  elements: dict
  sample: [{entry: "3456; 0 16385 TABLE DATA public schema_migrations postgres", reason: public.schema_migrations stays the target's own}]
queries:
  description: The SQL that changed the database (or would, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["TRUNCATE TABLE \"public\".\"uk_lrt\", \"public\".\"uk_lrt_family\" RESTART IDENTITY"]
command:
  description: The C(pg_restore) command line.
  returned: always
  type: list
  elements: str
  sample: [docker, exec, -i, shared_postgres, pg_restore, --data-only, --disable-triggers, --jobs=2]
touched:
  description:
    - On failure, whether the tables had been emptied (the target then holds part of the data and needs its backup
      restored); false when the module stopped before the C(TRUNCATE).
  returned: failure
  type: bool
  sample: true
seconds:
  description: Time from the C(TRUNCATE) to the end of C(pg_restore).
  returned: success
  type: float
  sample: 1.02
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import DockerExecRunner
from ansible_collections.sertantai.deploy.plugins.module_utils._restore import RestoreFailed, restore_data


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pg_container=dict(type="str", required=True),
            pg_user=dict(type="str", default="postgres"),
            pg_docker_cli=dict(type="str", default="docker"),
            database=dict(type="str", required=True),
            dump=dict(type="str", required=True),
            schemas=dict(type="list", elements="str", default=["public"]),
            keep_tables=dict(type="list", elements="str", default=["schema_migrations"]),
            jobs=dict(type="int", default=0),
            expected_row_counts=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    runner = DockerExecRunner(module.run_command, params["pg_container"], user=params["pg_user"],
                              database=params["database"], docker_cli=params["pg_docker_cli"])
    try:
        result = restore_data(runner, DockerCli(module.run_command, params["pg_docker_cli"]), params["pg_container"],
                              params["database"], params["dump"], schemas=params["schemas"],
                              keep_tables=params["keep_tables"], jobs=params["jobs"],
                              expected_row_counts=params["expected_row_counts"], check_mode=module.check_mode,
                              user=params["pg_user"], cpus=os.cpu_count())
    except RestoreFailed as exc:
        module.fail_json(msg=exc.message, touched=exc.touched, **exc.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
