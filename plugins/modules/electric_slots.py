#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: electric_slots
short_description: Inspect and guard ElectricSQL replication slots, publications and locks
description:
  - Each ElectricSQL instance started with C(ELECTRIC_REPLICATION_STREAM_ID=<id>) uses the logical replication
    slot C(electric_slot_<id>) and the publication C(electric_publication_<id>); without a stream id both end in
    C(default). Replication slots are cluster-wide, so two instances with the same stream id (or both without one)
    on one PostgreSQL cluster conflict, even when they replicate different databases.
  - Before creating its slot, Electric takes an advisory lock (C(pg_advisory_lock)) keyed by the C(hashtext) of
    the slot name on a dedicated connection, and waits there. A second instance blocked on that lock looks healthy to Docker (its
    C(/v1/health) answers 202 C({"status":"waiting"})) but never serves. This module finds such instances in
    C(pg_locks) and C(pg_stat_activity) and names the pid that holds the lock.
  - With O(state=present) (the default) the module only reads. It fails before running any SQL when the
    O(instances) conflict, fails when a slot already lives in another database than its instance, and reports
    slots that are lost (Electric must resync all shapes) or inactive and retaining more WAL than
    O(max_retained_wal_bytes), as a warning or a failure (O(on_stale)).
  - With O(state=absent) it drops the slot and the publication of each instance, but only when the slot is
    inactive and no running Electric holds its replication lock; otherwise it fails and names the pid that
    holds it, and drops nothing.
  - Only slots named C(electric_slot_*) and publications named C(electric_publication_*) are considered.
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.postgres
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - With O(state=absent), reports what would be dropped (and C(changed=true)) without dropping anything.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - With O(state=absent), the slots and publications of O(instances) before and after the drop.
options:
  instances:
    description:
      - The Electric instances that run (or are about to run) against this PostgreSQL cluster.
      - Required with O(state=absent). With O(state=present) an empty list inspects every Electric slot.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - A name for the instance, usually its container or service name. Must be unique.
        type: str
        required: true
      stream_id:
        description:
          - Its C(ELECTRIC_REPLICATION_STREAM_ID). Lower-case letters, digits and C(_), at most 49 characters.
          - Omitted or empty means Electric's default, C(default) (slot C(electric_slot_default)).
        type: str
      database:
        description:
          - The database the instance replicates (the database in its C(DATABASE_URL)).
          - Used to find its publication and to detect a slot that already exists in another database.
          - When omitted and the slot does not exist, O(state=absent) searches every database for the publication.
        type: str
  max_retained_wal_bytes:
    description:
      - An inactive Electric slot that retains more WAL than this many bytes is reported in RV(stale).
      - Active slots are never stale for retaining WAL; lost slots (and slots about to be lost, C(wal_status)
        C(unreserved)) always are.
    type: int
    default: 1073741824
  on_stale:
    description:
      - What a stale slot does with O(state=present). V(warn) reports it in RV(stale) and as a warning;
        V(fail) also fails the task.
    type: str
    choices: [warn, fail]
    default: warn
  state:
    description:
      - V(present) inspects and guards; it never changes anything.
      - V(absent) drops the slot and publication of each of O(instances) when the slot is inactive and its
        replication lock is free. Clear Electric's shape cache at the same time ("clear one, clear the other").
    type: str
    choices: [present, absent]
    default: present
notes:
  - The connecting role needs to see other sessions' queries in C(pg_stat_activity) (a superuser or a member of
    C(pg_read_all_stats)); dropping a slot needs superuser or the C(REPLICATION) attribute, and dropping a
    publication needs its owner.
  - Advisory locks are per database, slots are per cluster; the module reads both cluster-wide views from the
    C(postgres) database.
seealso:
  - name: Electric replication stream id
    description: ELECTRIC_REPLICATION_STREAM_ID sets the names of Electric's slot and publication.
    link: https://electric-sql.com/docs/api/config#electric-replication-stream-id
"""

EXAMPLES = r"""
- name: Fail early when two Electric instances would share a replication slot
  sertantai.deploy.electric_slots:
    pg_container: shared_postgres
    instances:
      - {name: sertantai-legal-electric, stream_id: legal, database: sertantai_legal_prod}
      - {name: sertantai-auth-electric, stream_id: auth, database: sertantai_auth_prod}
    on_stale: fail

- name: Report Electric instances that are stuck waiting on a replication lock
  sertantai.deploy.electric_slots:
    pg_container: shared_postgres
  register: electric
- name: Show who waits on whom
  ansible.builtin.debug:
    msg: "{{ item.msg }}"
  loop: "{{ electric.waiting }}"

- name: Drop the slot and publication of a stopped Electric instance (before clearing its shape cache)
  sertantai.deploy.electric_slots:
    pg_container: shared_postgres
    state: absent
    instances:
      - {name: sertantai-legal-electric, stream_id: legal, database: sertantai_legal_prod}
"""

RETURN = r"""
slots:
  description:
    - Every C(electric_slot_*) replication slot of the cluster, as found (with O(state=absent), before any drop).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Slot name.
      type: str
      sample: electric_slot_legal
    slot_name:
      description: "Slot name, as C(pg_replication_slots) spells it."
      type: str
    database:
      description: Database the logical slot belongs to.
      type: str
      sample: sertantai_legal_prod
    plugin:
      description: Output plugin.
      type: str
      sample: pgoutput
    slot_type:
      description: C(logical) or C(physical).
      type: str
    temporary:
      description: Whether the slot is temporary.
      type: bool
    active:
      description: Whether a replication connection streams from the slot now.
      type: bool
    active_pid:
      description: "Pid of the walsender that streams from it, or null."
      type: int
    active_application_name:
      description: "C(application_name) of that walsender's client."
      type: str
    active_client_addr:
      description: "Client address of that walsender (the Electric container's IP)."
      type: str
    active_since:
      description: When that replication connection started.
      type: str
    wal_status:
      description: "C(reserved), C(extended), C(unreserved) or C(lost)."
      type: str
      sample: reserved
    safe_wal_size:
      description: "Bytes of WAL that can still be written before the slot is lost, or null."
      type: int
    restart_lsn:
      description: Oldest WAL location the slot needs (null once lost).
      type: str
    confirmed_flush_lsn:
      description: Location up to which the consumer confirmed data.
      type: str
    retained_wal_bytes:
      description: Bytes of WAL kept on disk for this slot (null once lost).
      type: int
    retained_wal:
      description: "RV(slots[].retained_wal_bytes) for humans."
      type: str
      sample: 1.5 GB
    publication:
      description: The publication that goes with the slot.
      type: str
    publication_exists:
      description: "Whether that publication exists in the slot's database."
      type: bool
    instances:
      description: Names of the O(instances) that use this slot.
      type: list
      elements: str
    orphaned:
      description: True when O(instances) is given and none of them uses the slot.
      type: bool
    lock_holder_pid:
      description: "Pid holding the slot's replication lock (a running Electric), or null."
      type: int
    lost:
      description: C(wal_status) is C(lost).
      type: bool
    stale:
      description: The slot is listed in RV(stale).
      type: bool
conflicts:
  description:
    - Instances that cannot run side by side. C(shared_slot) comes from O(instances) alone (checked before any
      SQL runs); C(other_database) means the slot already exists in another database than its instance's.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(shared_slot) or C(other_database).
      type: str
    slot:
      description: The slot in question.
      type: str
    publication:
      description: Its publication.
      type: str
    instances:
      description: Instance names involved.
      type: list
      elements: str
    databases:
      description: Databases involved.
      type: list
      elements: str
    msg:
      description: What is wrong and what to do.
      type: str
waiting:
  description:
    - Backends blocked on an Electric slot's replication lock (C(pg_locks) advisory, not granted), each with the
      pid that holds that lock. A waiting Electric answers C(/v1/health) with 202 C({"status":"waiting"}).
  returned: success
  type: list
  elements: dict
  contains:
    slot:
      description: Slot whose lock it waits for.
      type: str
    publication:
      description: The publication of that slot.
      type: str
    database:
      description: Database the lock was taken in.
      type: str
    instances:
      description: Names of the O(instances) that use the slot.
      type: list
      elements: str
    pid:
      description: Pid of the waiting backend.
      type: int
    application_name:
      description: Its C(application_name).
      type: str
    client_addr:
      description: "Its client address (the waiting Electric container's IP)."
      type: str
    backend_start:
      description: When its connection started.
      type: str
    since:
      description: When it started waiting (its C(query_start)).
      type: str
    waiting_seconds:
      description: Seconds it has waited so far.
      type: int
    wait_event_type:
      description: C(Lock) while it waits.
      type: str
    wait_event:
      description: C(advisory) while it waits.
      type: str
    query:
      description: The lock query it runs.
      type: str
    holder_pid:
      description: Pid that holds the lock (null if not visible).
      type: int
    holder_application_name:
      description: "The holder's C(application_name)."
      type: str
    holder_client_addr:
      description: "The holder's client address."
      type: str
    holder_backend_start:
      description: "When the holder's connection started."
      type: str
    holder_since:
      description: When the holder ran its lock query (its C(query_start)).
      type: str
    msg:
      description: A sentence saying who waits on whom since when.
      type: str
stale:
  description: Slots that are lost, about to be lost, or inactive and retaining more WAL than allowed.
  returned: success
  type: list
  elements: dict
  contains:
    slot:
      description: Slot name.
      type: str
    publication:
      description: Its publication.
      type: str
    database:
      description: Its database.
      type: str
    reason:
      description: "C(lost), C(unreserved) or C(retained_wal)."
      type: str
    active:
      description: Whether it is active.
      type: bool
    wal_status:
      description: Its C(wal_status).
      type: str
    retained_wal_bytes:
      description: WAL it retains (null once lost).
      type: int
    resync_required:
      description: True when Electric must (or soon must) resync all shapes.
      type: bool
    instances:
      description: Names of the O(instances) that use it.
      type: list
      elements: str
    msg:
      description: "What is wrong, the consequence and what to do."
      type: str
publications:
  description: The C(electric_publication_*) publications found in the databases looked at.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Publication name.
      type: str
    database:
      description: Database it lives in.
      type: str
    all_tables:
      description: Whether it is C(FOR ALL TABLES).
      type: bool
    tables:
      description: Number of tables it publishes.
      type: int
queries:
  description: SQL run to drop slots and publications (with check mode, what would run).
  returned: success
  type: list
  elements: str
  sample: ["SELECT pg_drop_replication_slot('electric_slot_legal')", 'DROP PUBLICATION IF EXISTS "electric_publication_legal"']
dropped:
  description: Slots and publications dropped (with check mode, what would be dropped).
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: C(slot) or C(publication).
      type: str
    name:
      description: Its name.
      type: str
    database:
      description: Its database.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _electric as electric
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    PG_REQUIRED_ONE_OF,
    PgError,
    pg_argument_spec,
    runner_from_params,
)


def inspect(runner, instances):
    """Read slots, Electric's advisory locks and publications (all read-only)."""
    found = runner.query(electric.inspect_sql(instances))[0]
    slots, databases = found["slots"], found["databases"]
    locks = electric.electric_locks(found["locks"], found["lock_keys"])
    publications = []
    for database in electric.publication_databases(instances, slots, databases):
        publications.extend(runner.query(electric.PUBLICATIONS_SQL, database=database))
    return slots, locks, publications, databases


def main():
    argument_spec = dict(
        instances=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            stream_id=dict(type="str"),
            database=dict(type="str"),
        )),
        max_retained_wal_bytes=dict(type="int", default=1073741824),
        on_stale=dict(type="str", choices=["warn", "fail"], default="warn"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    argument_spec.update(pg_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=PG_MUTUALLY_EXCLUSIVE,
        required_one_of=PG_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    params = module.params
    state = params["state"]
    result = dict(changed=False, slots=[], conflicts=[], waiting=[], stale=[], publications=[], queries=[], dropped=[])

    errors = electric.validate_instances(params["instances"])
    if errors:
        module.fail_json(msg="invalid instances: " + "; ".join(errors), **result)
    if state == "absent" and not params["instances"]:
        module.fail_json(msg="state=absent needs instances: list the Electric instances whose slot and publication "
                             "to drop", **result)
    if params["max_retained_wal_bytes"] < 0:
        module.fail_json(msg="max_retained_wal_bytes must be 0 or more (bytes of WAL an inactive slot may retain)",
                         **result)
    instances = electric.normalize_instances(params["instances"])

    if state == "present":
        # A pure input check: it needs no database and must stop a deploy before anything starts.
        result["conflicts"] = electric.find_conflicts(instances)
        if result["conflicts"]:
            module.fail_json(msg=" ".join(c["msg"] for c in result["conflicts"]), **result)

    try:
        runner = runner_from_params(params, module.run_command)
        slots, locks, publications, databases = inspect(runner, instances)
    except PgError as exc:
        module.fail_json(msg="could not read replication slots and locks: %s" % exc.message, **result)

    result["slots"], result["stale"] = electric.judge_slots(slots, instances, publications, locks,
                                                            params["max_retained_wal_bytes"])
    result["waiting"] = electric.find_waiting(locks, instances)
    result["publications"] = publications
    for inst in instances:
        if inst["database"] and inst["database"] not in databases:
            module.warn("database %s of Electric instance %s does not exist (yet) on this cluster"
                        % (inst["database"], inst["name"]))

    if state == "present":
        result["conflicts"] = electric.database_conflicts(instances, slots)
        if result["conflicts"]:
            module.fail_json(msg=" ".join(c["msg"] for c in result["conflicts"]), **result)
        for entry in result["waiting"]:
            module.warn(entry["msg"])
        if result["stale"] and params["on_stale"] == "fail":
            module.fail_json(msg=" ".join(s["msg"] for s in result["stale"]) + " (on_stale=fail)", **result)
        for entry in result["stale"]:
            module.warn(entry["msg"])
        module.exit_json(**result)

    actions, refusals = electric.plan_absent(instances, slots, publications, locks)
    if refusals:
        module.fail_json(msg="nothing dropped: " + "; ".join(refusals), **result)
    result["queries"] = [a["sql"] for a in actions]
    result["dropped"] = [dict(kind=a["kind"], name=a["name"], database=a["database"]) for a in actions]
    result["changed"] = bool(actions)
    if module._diff:
        result["diff"] = electric.absent_diff(instances, slots, publications, actions)
    if not module.check_mode:
        for action in actions:
            try:
                runner.execute(action["sql"], database=action["database"])
            except PgError as exc:
                index = actions.index(action)
                result["dropped"] = result["dropped"][:index]
                result["queries"] = result["queries"][:index + 1]
                module.fail_json(msg="could not drop %s %s in database %s: %s; if an Electric instance started using it, "
                                     "stop that instance and run again" % (action["kind"], action["name"],
                                                                           action["database"], exc.message),
                                 **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
