#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: schema_gate
short_description: Stop a data restore before anything changes unless source and target fit (schema and versions)
version_added: 0.1.0
description:
  - The preflight of a data restore, in one task. It reads the schema of the source database and of the
    target database, compares them as M(sertantai.deploy.schema_parity) does, and checks that the target's
    C(pg_restore) can read a dump of the source. It fails with a report (which table, which column, which side,
    what differs) or with the versions and what to do, and changes nothing either way.
  - B(Where each side is read.) The target is read where the task runs (the server, through
    O(pg_container)). The source is read where it is reachable, chosen with O(source.read_on). The default
    V(controller) fits the common case, the developer's database on the laptop that runs Ansible and a
    production server that cannot reach it. The module's action plugin then reads the source on the
    controller while the module reads the target on the server (both at the same time), the module returns
    the target's catalog compressed to the plugin, and the plugin builds its snapshot and compares the two on
    the controller.
    V(target) reads the source on the server too (a source container on the same host), and the module
    compares there.
  - B(Why one task.) A snapshot of a 1,000-table schema has about 10,000 columns. Two of them registered as
    task results and passed to M(sertantai.deploy.schema_parity) through Ansible's templating cost about ten
    times the reading itself; here no snapshot is ever a task argument or a task result, only the comparison
    is returned. The source's snapshot, the target's (one C(docker exec) of C(psql), which runs the
    container's C(pg_restore --version) before the query) and C(docker inspect) are read at the same time.
  - B(Versions.) C(pg_dump) refuses a server newer than itself, and an archive written by a newer C(pg_dump)
    may use a format an older C(pg_restore) cannot read. The gate therefore refuses a source server whose major
    version is newer than the target's C(pg_restore) (read with C(pg_restore --version) in O(pg_container), or
    on the host that runs the module when the target is a direct connection), and says which versions and what
    to do. M(sertantai.deploy.pg_data_dump) checks the C(pg_dump) it uses against both.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
  - sertantai.deploy.postgres
options:
  database:
    description:
      - The target database, the one that will receive the data.
    type: str
    required: true
  schemas:
    description:
      - The schemas compared on both sides (and, in a restore, restored).
    type: list
    elements: str
    default: [public]
  source:
    description:
      - How to reach the source database, the one whose data will be restored.
      - Mutually exclusive with O(source_snapshot); one of the two is required unless O(return_target_snapshot).
    type: dict
    suboptions:
      database:
        description:
          - The source database.
        type: str
        required: true
      read_on:
        description:
          - Where the source is read. V(controller) reads it on the Ansible controller (in this module's action
            plugin, with the controller's Python, which needs C(psycopg) for a direct connection) and compares
            there with the target's snapshot the module returns. V(target) reads it on the managed host, in the
            module.
        type: str
        choices: [controller, target]
        default: controller
      container:
        description:
          - A PostgreSQL container to read the source through, C(docker exec <container> psql), on the Docker
            engine of the host named by O(source.read_on).
          - One of O(source.container), O(source.dsn) and O(source.host) is required.
        type: str
      docker_cli:
        description:
          - The Docker CLI used for O(source.container).
        type: str
        default: docker
      dsn:
        description:
          - A libpq connection string or URI of the source. Never logged.
        type: str
      host:
        description:
          - Host of a direct connection to the source, for example V(localhost) for a database on the laptop.
        type: str
      port:
        description:
          - Port of a direct connection to the source.
        type: int
        default: 5432
      user:
        description:
          - Role to connect to the source as.
        type: str
        default: postgres
      password:
        description:
          - Password of a direct connection to the source. Never logged.
        type: str
      connect_timeout:
        description:
          - Seconds to wait for a direct connection to the source.
        type: int
        default: 10
  source_snapshot:
    description:
      - A source snapshot file on the host that runs the module (gzip-compressed or plain JSON), as
        C(encode_document) of the collection's C(_restore) module_utils writes it (for example a snapshot
        kept from an earlier run). Mutually exclusive with O(source).
    type: path
  return_target_snapshot:
    description:
      - Only read the target, and return the catalog its snapshot is built from, compressed, as
        RV(target_snapshot) with RV(target_pg_restore) and RV(target_image), instead of comparing. O(source)
        and O(source_snapshot) are then not used.
      - The action plugin sets this when it reads the source on the controller; a playbook has no need to.
    type: bool
    default: false
  ignore:
    description:
      - Tables or columns left out of the comparison, as in M(sertantai.deploy.schema_parity)
        (V(table), V(schema.table), V(table.column), V(schema.table.column); fnmatch per part).
      - For a restore, an ignored column that exists only in the source still makes C(pg_restore) fail;
        ignore only what the data does not touch.
    type: list
    elements: str
    default: []
  compare:
    description:
      - What is compared besides the presence of tables and columns, as in M(sertantai.deploy.schema_parity).
    type: list
    elements: str
    choices: [types, nullability, defaults, constraints, indexes]
    default: [types, nullability, defaults, constraints, indexes]
  fail_on_difference:
    description:
      - Fail when the schemas differ, with the report in the message and in RV(report).
    type: bool
    default: true
  check_versions:
    description:
      - Fail when the source server's major version is newer than the target's C(pg_restore).
    type: bool
    default: true
attributes:
  action:
    description: Has an action plugin, which reads the source on the controller.
    support: full
  async:
    description: Can run asynchronously.
    support: none
notes:
  - Enum labels, domain constraints and partition bounds are not part of the snapshot; a difference there passes
    the gate and makes C(pg_restore) fail, which a restore play must be ready for (back up the target first).
requirements:
  - psycopg 3 in the controller's Python for a direct source connection read on the controller.
seealso:
  - module: sertantai.deploy.schema_parity
  - module: sertantai.deploy.pg_schema_info
  - module: sertantai.deploy.pg_data_dump
"""

EXAMPLES = r"""
- name: Stop unless production fits the developer's database on this laptop
  sertantai.deploy.schema_gate:
    pg_container: shared_postgres
    database: sertantai_legal_prod
    source:
      host: localhost
      port: 5436
      password: "{{ dev_db_password }}"
      database: sertantai_legal_dev

- name: Compare with a source container on the same server, and only report
  sertantai.deploy.schema_gate:
    pg_container: shared_postgres
    database: sertantai_legal_prod
    source:
      container: sertantai-legal-staging-db
      database: sertantai_legal_staging
      read_on: target
    fail_on_difference: false
  register: gate

- name: Show what differs
  ansible.builtin.debug:
    var: gate.report
  when: not gate.identical
"""

RETURN = r"""
passed:
  description: Whether the restore may go on (schemas identical and versions compatible, for what was checked).
  returned: always
  type: bool
  sample: true
identical:
  description: Whether the schemas are the same for everything compared, as RV(sertantai.deploy.schema_parity#module:identical).
  returned: success or a failed gate
  type: bool
  sample: false
differences:
  description: Number of schema differences.
  returned: success or a failed gate
  type: int
  sample: 3
tables_compared:
  description: Number of tables present on both sides and compared in detail.
  returned: success or a failed gate
  type: int
  sample: 41
missing_in_target:
  description: What the source has and the target lacks, as in M(sertantai.deploy.schema_parity).
  returned: success or a failed gate
  type: dict
  sample: {tables: [], columns: [public.uk_lrt.legacy_id], constraints: [], indexes: []}
extra_in_target:
  description: What the target has and the source lacks, as in M(sertantai.deploy.schema_parity).
  returned: success or a failed gate
  type: dict
  sample: {tables: [], columns: [], constraints: [], indexes: []}
mismatched:
  description: One entry per attribute that differs, as in M(sertantai.deploy.schema_parity).
  returned: success or a failed gate
  type: list
  elements: dict
  sample:
    - {table: public.uk_lrt, column: family, object: column, name: family, attribute: type,
       source: character varying(255), target: text, message: "uk_lrt.family: type character varying(255) in source, text in target"}
ignored:
  description: Tables and columns that O(ignore) left out.
  returned: success or a failed gate
  type: dict
  sample: {tables: [], columns: []}
report:
  description: The parity report for an operator, as in M(sertantai.deploy.schema_parity).
  returned: success or a failed gate
  type: list
  elements: str
  sample: ["source and target schemas are identical: 41 tables compared"]
sizes:
  description:
    - What the room a restore needs is reckoned from, read in the gate's own queries. Each is None when it was
      not read (a source from O(source_snapshot) written without it).
  returned: always
  type: dict
  contains:
    source:
      description: The source database's size on disk in bytes (C(pg_database_size)).
      type: int
      sample: 2147483648
    target:
      description: The target database's size on disk in bytes.
      type: int
      sample: 1073741824
    target_wal_kept:
      description:
        - The most WAL in bytes the target's server keeps while a replication slot is not read (as Electric's
          while a restore has it stopped), C(max_wal_size) plus C(max_slot_wal_keep_size). None when
          C(max_slot_wal_keep_size) is -1 (no limit).
      type: int
      sample: 5368709120
versions:
  description: The versions the gate compared and what it found.
  returned: success or a failed gate
  type: dict
  contains:
    source_server:
      description: The source server's version and major.
      type: dict
      sample: {version: "16.4", major: "16"}
    target_server:
      description: The target server's version and major.
      type: dict
      sample: {version: "16.14", major: "16"}
    target_pg_restore:
      description: The version and major of the target's C(pg_restore).
      type: dict
      sample: {version: "16.2", major: "16"}
    ok:
      description: Whether a dump of the source can be restored by the target's C(pg_restore).
      type: bool
    checked:
      description: Whether O(check_versions) was on.
      type: bool
    problems:
      description: What is wrong, each with what to do; empty when RV(versions.ok).
      type: list
      elements: str
  sample:
    source_server: {version: "16.4", major: "16"}
    target_server: {version: "16.14", major: "16"}
    target_pg_restore: {version: "16.2", major: "16"}
    ok: true
    checked: true
    problems: []
target_image:
  description: The image of O(pg_container) (its C(Config.Image)); null for a direct target connection.
  returned: success, a failed gate, or O(return_target_snapshot)
  type: str
  sample: postgres:16-alpine
source_database:
  description: The source database the snapshot was read from.
  returned: success or a failed gate
  type: str
  sample: sertantai_legal_dev
seconds:
  description: Time spent reading both sides (at the same time) and comparing them.
  returned: success or a failed gate
  type: float
  sample: 0.84
target_snapshot:
  description:
    - The target's catalog (the rows of tables, columns, constraints and indexes its schema snapshot is built
      from) and server version, as base64 text of gzip-compressed JSON (some 100 kB for 1,000 tables). The
      action plugin builds the snapshot from it and removes it from the task's result after the comparison.
  returned: when O(return_target_snapshot)
  type: str
  sample: H4sIAAAAAAAEA4uuVipJTMpJLVayio7VUUrOzynNzYNz8opLihIz80qgApl5KakVMKXFqUVlqUXxQFycmZ8Xn1eaq2RlaGZgYGiio4Qqp2SlZGimZ2iiVBsLACFJQKlvAAAA
target_pg_restore:
  description: The version and major of the target's C(pg_restore), null when it cannot be run.
  returned: when O(return_target_snapshot)
  type: dict
  sample: {version: "16.2", major: [16]}
"""

import gc
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, runner_from_params
from ansible_collections.sertantai.deploy.plugins.module_utils._restore import (
    GATE_MUTUALLY_EXCLUSIVE,
    GATE_REQUIRED_IF,
    GATE_REQUIRED_ONE_OF,
    RestoreError,
    decode_document,
    document_from_catalog_text,
    encode_catalog_text,
    gate_argument_spec,
    gate_fails,
    gate_message,
    gate_result,
    parse_tool_version,
    read_image,
    read_document,
    read_target,
    source_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._schema import failure_message


def read_database(module, params, database, schemas, what):
    """read_document() of one side; a PgError becomes a RestoreError that names the side."""
    runner = None
    try:
        runner = runner_from_params(params, module.run_command, database=database)
        return read_document(runner, database, schemas)
    except PgError as exc:
        raise RestoreError("cannot read the %s database '%s': %s" % (what, database, exc.message))
    finally:
        if runner is not None:
            runner.close()


def read_snapshot_file(path, schemas):
    try:
        with open(path, "rb") as handle:
            document = decode_document(handle.read(), "source_snapshot %s" % path)
    except OSError as exc:
        raise RestoreError("cannot read the source snapshot: %s" % exc)
    if sorted(document.get("schemas") or []) != sorted(schemas):
        raise RestoreError("the source snapshot covers schemas %s, the gate compares %s: read the source again "
                           "with the same schemas" % (document.get("schemas"), schemas))
    return document


def read_restore_tool(module):
    """parse_tool_version() of pg_restore on the host (a direct target connection); None when it cannot be run."""
    rc, out, _err = module.run_command(["pg_restore", "--version"])
    return parse_tool_version(out) if rc == 0 else None


def read_all(module, params):
    """Everything the gate reads, at the same time: each is a docker exec (or a connection) that mostly waits.

    Returns a dict with target, restore_tool, image and, unless only the target is asked for, source. When only
    the target is asked for, target is the catalog's JSON text as read, for the action plugin to build; else
    the target's document. The container's pg_restore runs in the docker exec that reads the target.
    """
    in_container = bool(params["pg_container"])
    jobs = dict(target=(read_target, module.run_command, params, params["check_versions"] and in_container),
                image=(read_image, module.run_command, params))
    if params["check_versions"] and not in_container:
        jobs["restore_tool"] = (read_restore_tool, module)
    if not params["return_target_snapshot"]:
        if params["source_snapshot"]:
            jobs["source"] = (read_snapshot_file, params["source_snapshot"], params["schemas"])
        else:
            source = params["source"]
            jobs["source"] = (read_database, module, source_params(source), source["database"], params["schemas"],
                              "source")
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = dict((name, pool.submit(*job)) for name, job in jobs.items())
    found = dict(restore_tool=None)
    errors = []
    # the source's error first: it is the side an operator most often gets wrong
    for name in ("source", "target", "image", "restore_tool"):
        if name in futures:
            try:
                found[name] = futures[name].result()
            except RestoreError as exc:
                errors.append(exc.message)
    if errors:
        module.fail_json(msg="; ".join(errors))
    text, restore_tool = found["target"]
    if restore_tool is not None:
        found["restore_tool"] = restore_tool
    if params["return_target_snapshot"]:
        found["target"] = text
    else:
        try:
            found["target"] = document_from_catalog_text(text, params["database"], params["schemas"])
        except RestoreError as exc:
            module.fail_json(msg="cannot read the target database '%s': %s" % (params["database"], exc.message))
    return found


def main():
    module = AnsibleModule(
        argument_spec=gate_argument_spec(),
        mutually_exclusive=GATE_MUTUALLY_EXCLUSIVE,
        required_one_of=GATE_REQUIRED_ONE_OF,
        required_if=GATE_REQUIRED_IF,
        supports_check_mode=True,
    )
    params = module.params
    if not params["schemas"]:
        module.fail_json(msg="schemas is empty: list at least one schema, for example [public]")
    start = time.monotonic()
    found = read_all(module, params)
    # What is there now lives until the module exits: frozen, it is left out of the collection the interpreter
    # makes on its way out, which would walk every object Ansible's imports made (some 50 ms of the task).
    gc.freeze()
    if params["return_target_snapshot"]:
        module.exit_json(changed=False, target_snapshot=encode_catalog_text(found["target"]),
                         target_pg_restore=found["restore_tool"], target_image=found["image"],
                         seconds=round(time.monotonic() - start, 3))

    result = gate_result(found["source"], found["target"], found["restore_tool"], ignore=params["ignore"],
                         checks=params["compare"], check_versions=params["check_versions"])
    result.update(target_image=found["image"], seconds=round(time.monotonic() - start, 3))
    if gate_fails(result, params["fail_on_difference"], params["check_versions"]):
        module.fail_json(msg=gate_message(result, failure_message), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
