#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_schema_info
short_description: Snapshot the schema of a PostgreSQL database (tables, columns, constraints, indexes)
version_added: 0.1.0
description:
  - Reads the tables of a database from the PostgreSQL catalog and returns a snapshot that
    M(sertantai.deploy.schema_parity) compares with another one, for example a developer's database
    against production before a data restore.
  - Per table it returns the columns with their type as PostgreSQL formats it
    (C(format_type), so C(character varying(255)) and C(text) are told apart), nullability, default,
    identity and generation; the primary key, unique, foreign key, check and exclusion constraints
    with their definitions (C(pg_get_constraintdef)); and the indexes (C(pg_get_indexdef)).
  - The catalog is read in one statement with one query per kind of object, so a schema of a
    thousand tables takes one round trip, not one per table.
  - Optionally counts the rows of every table exactly (C(SELECT count(*))), for example to verify a
    restore.
  - Both transports (O(pg_container) and a direct connection) return the same snapshot for the same
    database.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.postgres
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  database:
    description:
      - The database to snapshot.
    type: str
    required: true
  schemas:
    description:
      - The schemas whose tables are read.
    type: list
    elements: str
    default: [public]
  tables:
    description:
      - Restrict the snapshot to these tables, given as C(table) (in any of O(schemas)) or C(schema.table).
      - A name that does not exist is simply absent from the snapshot (M(sertantai.deploy.schema_parity)
        then reports it as missing).
      - By default every ordinary and partitioned table of O(schemas) is read.
    type: list
    elements: str
  count_rows:
    description:
      - Also count the rows of every table of the snapshot exactly with C(SELECT count(*)).
      - This reads every table, which takes time on large tables; the schema snapshot itself reads only
        the catalog.
    type: bool
    default: false
notes:
  - Views, materialized views and sequences are not part of the snapshot; partitions are (they hold data).
  - The column C(position) counts only columns that exist (dropped columns leave no gap), so two databases
    that reached the same schema by different migrations have the same positions.
seealso:
  - module: sertantai.deploy.schema_parity
"""

EXAMPLES = r"""
- name: Snapshot the production schema through the PostgreSQL container
  sertantai.deploy.pg_schema_info:
    pg_container: shared_postgres
    database: sertantai_legal_prod
  register: prod_schema

- name: Snapshot the developer's database on the laptop, with exact row counts
  sertantai.deploy.pg_schema_info:
    pg_host: localhost
    pg_port: 5436
    pg_password: "{{ dev_db_password }}"
    database: sertantai_legal_dev
    count_rows: true
  delegate_to: localhost
  register: dev_schema

- name: Snapshot two tables only
  sertantai.deploy.pg_schema_info:
    pg_container: shared_postgres
    database: sertantai_legal_prod
    tables: [uk_lrt, public.uk_lrt_family]
  register: some_tables

- name: Compare them before restoring data
  sertantai.deploy.schema_parity:
    source: "{{ dev_schema }}"
    target: "{{ prod_schema }}"
    ignore: [schema_migrations]
"""

RETURN = r"""
database:
  description: The database that was read.
  returned: success
  type: str
  sample: sertantai_legal_prod
schemas:
  description: The schemas that were read.
  returned: success
  type: list
  elements: str
  sample: [public]
table_count:
  description: Number of tables in RV(schema).
  returned: success
  type: int
  sample: 42
schema:
  description:
    - The snapshot, keyed by C(schema.table). Each table has C(schema), C(name), C(kind)
      (V(table) or V(partitioned table)), C(columns), C(constraints) and C(indexes).
    - C(columns) maps a column name to C(position), C(type) (as C(format_type) prints it),
      C(nullable), C(default) (the expression, or null), C(identity) (V(always), V(by default) or null)
      and C(generated) (V(stored) or null; C(default) then holds the expression).
    - C(constraints) maps a constraint name to C(type) (V(primary key), V(unique), V(foreign key),
      V(check) or V(exclusion)) and C(definition) (C(pg_get_constraintdef)).
    - C(indexes) maps an index name to C(definition) (C(pg_get_indexdef)), C(unique), C(primary) and
      C(constraint) (the constraint the index backs, or null).
  returned: success
  type: dict
  sample:
    public.uk_lrt:
      schema: public
      name: uk_lrt
      kind: table
      columns:
        id: {position: 1, type: uuid, nullable: false, default: gen_random_uuid(), identity: null, generated: null}
        family: {position: 2, type: character varying(255), nullable: true, default: null, identity: null, generated: null}
      constraints:
        uk_lrt_pkey: {type: primary key, definition: PRIMARY KEY (id)}
      indexes:
        uk_lrt_pkey:
          definition: CREATE UNIQUE INDEX uk_lrt_pkey ON public.uk_lrt USING btree (id)
          unique: true
          primary: true
          constraint: uk_lrt_pkey
row_counts:
  description: Exact number of rows per table (keyed by C(schema.table)) when O(count_rows=true); empty otherwise.
  returned: success
  type: dict
  sample: {public.uk_lrt: 19089}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    PG_REQUIRED_ONE_OF,
    PgError,
    pg_argument_spec,
    runner_from_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._schema import read_snapshot


def main():
    argument_spec = pg_argument_spec()
    argument_spec.update(
        database=dict(type="str", required=True),
        schemas=dict(type="list", elements="str", default=["public"]),
        tables=dict(type="list", elements="str"),
        count_rows=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=PG_MUTUALLY_EXCLUSIVE,
        required_one_of=PG_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    params = module.params
    if not params["schemas"]:
        module.fail_json(msg="schemas is empty: list at least one schema, for example [public]")

    runner = None
    try:
        runner = runner_from_params(params, module.run_command, database=params["database"])
        schema, row_counts = read_snapshot(runner, params["database"], params["schemas"], params["tables"],
                                           count_rows=params["count_rows"])
    except PgError as exc:
        module.fail_json(msg="cannot read the schema of database '%s': %s" % (params["database"], exc.message))
    finally:
        if runner is not None:
            runner.close()

    module.exit_json(changed=False, database=params["database"], schemas=params["schemas"], table_count=len(schema),
                     schema=schema, row_counts=row_counts)


if __name__ == "__main__":
    main()
