#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: schema_parity
short_description: Compare two database schema snapshots before a data restore
version_added: 0.1.0
description:
  - Compares two snapshots taken by M(sertantai.deploy.pg_schema_info), for example a developer's
    database (O(source)) and production (O(target)), and reports per table and column what is missing
    in the target, what exists only in the target, and what differs (type, nullability, default,
    constraints, indexes).
  - Compare schemas and align them with a migration BEFORE restoring data,
    because a C(pg_restore) into a target whose columns differ fails half-way with C(column ... does not exist).
    By default (O(fail_on_difference=true)) this module therefore fails when the schemas differ, so that
    a restore play stops before C(pg_restore); the failure carries the same report.
  - Runs on the controller and needs no database access; it only compares the two snapshots.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  source:
    description:
      - The reference snapshot, usually the database whose data will be restored.
      - The registered result of M(sertantai.deploy.pg_schema_info), or its RV(sertantai.deploy.pg_schema_info#module:schema) key.
    type: dict
    required: true
  target:
    description:
      - The snapshot compared against O(source), usually the database that will receive the data.
      - The registered result of M(sertantai.deploy.pg_schema_info), or its RV(sertantai.deploy.pg_schema_info#module:schema) key.
    type: dict
    required: true
  ignore:
    description:
      - Tables or columns left out of the comparison, as fnmatch patterns matched part by part
        (a V(*) never reaches across a dot).
      - V(table) or V(schema.table) ignores a table, for example V(schema_migrations) (migrations have
        already filled it on the target) or V(public.oban_*).
      - V(table.column) or V(schema.table.column) ignores a column, for example V(uk_lrt.legacy_*).
      - A pattern with one dot is tried both as V(schema.table) and as V(table.column).
    type: list
    elements: str
    default: []
  compare:
    description:
      - What is compared besides the presence of tables and columns (which is always compared).
      - V(types) compares column types, V(nullability) NOT NULL, V(defaults) column defaults, identity and
        generated columns, V(constraints) primary key, unique, foreign key, check and exclusion constraints,
        V(indexes) indexes that do not back a constraint.
      - Constraints and indexes are matched by name; two with different names but the same definition
        count as the same (a rename does not change what data fits).
    type: list
    elements: str
    choices: [types, nullability, defaults, constraints, indexes]
    default: [types, nullability, defaults, constraints, indexes]
  fail_on_difference:
    description:
      - Fail the task when the schemas differ, with the report in RV(report) and in the message.
        This is the hard stop a restore needs before C(pg_restore).
      - Set V(false) to only report (for example in a status play) and decide with RV(identical).
    type: bool
    default: true
notes:
  - A table missing in the target is reported once as a table, not once per column.
seealso:
  - module: sertantai.deploy.pg_schema_info
"""

EXAMPLES = r"""
- name: Snapshot the developer's database
  sertantai.deploy.pg_schema_info:
    pg_host: localhost
    pg_port: 5436
    pg_password: "{{ dev_db_password }}"
    database: sertantai_legal_dev
  delegate_to: localhost
  register: dev_schema

- name: Snapshot production
  sertantai.deploy.pg_schema_info:
    pg_container: shared_postgres
    database: sertantai_legal_prod
  register: prod_schema

- name: Stop before pg_restore unless production has the developer's schema
  sertantai.deploy.schema_parity:
    source: "{{ dev_schema }}"
    target: "{{ prod_schema }}"
    ignore:
      - schema_migrations

- name: Only report the differences
  sertantai.deploy.schema_parity:
    source: "{{ dev_schema.schema }}"
    target: "{{ prod_schema.schema }}"
    compare: [types, nullability]
    fail_on_difference: false
  register: parity

- name: Show what differs
  ansible.builtin.debug:
    var: parity.report
  when: not parity.identical
"""

RETURN = r"""
identical:
  description: Whether the schemas are the same for everything compared (ignored tables and columns left out).
  returned: always
  type: bool
  sample: false
differences:
  description: Number of differences (lines of RV(report) that describe one).
  returned: always
  type: int
  sample: 2
tables_compared:
  description: Number of tables present in both snapshots and compared in detail.
  returned: always
  type: int
  sample: 41
missing_in_target:
  description:
    - What O(source) has and O(target) lacks. C(tables) as C(schema.table); C(columns), C(constraints) and
      C(indexes) as C(schema.table.name). Columns of a missing table are not listed again.
  returned: always
  type: dict
  contains:
    tables:
      description: Tables missing in the target.
      type: list
      elements: str
    columns:
      description: Columns missing in the target.
      type: list
      elements: str
    constraints:
      description: Constraints missing in the target.
      type: list
      elements: str
    indexes:
      description: Indexes missing in the target.
      type: list
      elements: str
  sample: {tables: [], columns: [public.uk_lrt.family], constraints: [], indexes: []}
extra_in_target:
  description: What O(target) has and O(source) lacks, in the form of RV(missing_in_target).
  returned: always
  type: dict
  contains:
    tables:
      description: Tables only in the target.
      type: list
      elements: str
    columns:
      description: Columns only in the target.
      type: list
      elements: str
    constraints:
      description: Constraints only in the target.
      type: list
      elements: str
    indexes:
      description: Indexes only in the target.
      type: list
      elements: str
  sample: {tables: [], columns: [], constraints: [], indexes: []}
mismatched:
  description:
    - One entry per attribute that differs between a table, column, constraint or index present in both.
  returned: always
  type: list
  elements: dict
  contains:
    table:
      description: The table, as C(schema.table).
      type: str
    column:
      description: The column name when RV(mismatched[].object) is V(column), else null.
      type: str
    object:
      description: V(table), V(column), V(constraint) or V(index).
      type: str
    name:
      description: Name of the table, column, constraint or index.
      type: str
    attribute:
      description: >-
        What differs: V(kind) for a table; V(type), V(nullable), V(default), V(identity) or V(generated) for a column;
        V(definition) for a constraint or index.
      type: str
    source:
      description: The value in the source.
      type: raw
    target:
      description: The value in the target.
      type: raw
    message:
      description: The same difference as a line of RV(report).
      type: str
  sample:
    - table: public.uk_lrt
      column: family
      object: column
      name: family
      attribute: type
      source: character varying(255)
      target: text
      message: "uk_lrt.family: type character varying(255) in source, text in target"
ignored:
  description: Tables (C(schema.table)) and columns (C(schema.table.column)) that O(ignore) left out.
  returned: always
  type: dict
  contains:
    tables:
      description: Ignored tables.
      type: list
      elements: str
    columns:
      description: Ignored columns.
      type: list
      elements: str
  sample: {tables: [public.schema_migrations], columns: []}
report:
  description:
    - Lines for an operator. The first line sums up; then one line per difference, naming tables in the
      C(public) schema without the schema; when the schemas differ, the last line says what to do.
  returned: always
  type: list
  elements: str
  sample:
    - "source and target schemas differ: 1 differences in 41 tables compared, 0 tables missing in target, 0 only in target"
    - "uk_lrt.family: type character varying(255) in source, text in target"
    - "What to do: do not restore data into the target yet ... compare again; restore only when schema_parity reports identical. ..."
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._schema import (
    CHECKS,
    SnapshotError,
    compare_snapshots,
    failure_message,
    unwrap_snapshot,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            source=dict(type="dict", required=True),
            target=dict(type="dict", required=True),
            ignore=dict(type="list", elements="str", default=[]),
            compare=dict(type="list", elements="str", choices=list(CHECKS), default=list(CHECKS)),
            fail_on_difference=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        source = unwrap_snapshot(params["source"], "source")
        target = unwrap_snapshot(params["target"], "target")
        result = compare_snapshots(source, target, ignore=params["ignore"], checks=params["compare"])
    except SnapshotError as exc:
        module.fail_json(msg=str(exc))

    if not result["identical"] and params["fail_on_difference"]:
        module.fail_json(msg=failure_message(result["report"]), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
