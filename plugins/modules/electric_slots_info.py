#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: electric_slots_info
short_description: Read and guard ElectricSQL replication slots, publications and replication locks
description:
  - Each ElectricSQL instance started with C(ELECTRIC_REPLICATION_STREAM_ID=<id>) uses the logical replication
    slot C(electric_slot_<id>) and the publication C(electric_publication_<id>); without a stream id both end in
    C(default). Replication slots are cluster-wide, so two instances with the same stream id (or both without one)
    on one PostgreSQL cluster conflict, even when they replicate different databases.
  - Before creating its slot, Electric takes an advisory lock (C(pg_advisory_lock)) keyed by the C(hashtext) of
    the slot name on a dedicated connection, and waits there. A second instance blocked on that lock looks healthy
    to Docker (its C(/v1/health) answers 202 C({"status":"waiting"})) but never turns active. This module finds
    such instances in C(pg_locks) and C(pg_stat_activity), names the pid that holds the lock, and reports the
    holder of each instance's lock also when the slot does not exist yet.
  - It fails before running any SQL when the O(instances) share a slot (O(fail_on_conflict)), fails when a slot
    already lives in another database than its instance, and reports slots that are lost (Electric must resync
    all shapes) or inactive and retaining more WAL than O(max_retained_wal_bytes).
  - It never changes anything; M(sertantai.deploy.electric_reset) drops a slot and its publication together.
  - Only slots named C(electric_slot_*) and publications named C(electric_publication_*) are considered.
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
  - sertantai.deploy.postgres
options:
  instances:
    description:
      - The Electric instances that run (or are about to run) against this PostgreSQL cluster.
      - An empty list inspects every Electric slot and lock.
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
          - Its C(ELECTRIC_REPLICATION_STREAM_ID). Lower-case letters, digits and C(_), at most 42 characters, so
            that C(electric_publication_<id>) fits PostgreSQL's 63-character names.
          - Omitted or empty means Electric's default, C(default) (slot C(electric_slot_default)).
        type: str
      database:
        description:
          - The database the instance replicates (the database in its C(DATABASE_URL)).
          - Used to find its publication, to detect a slot that already exists in another database, and to tell
            which lock holders count for it (advisory locks are per database).
        type: str
  max_retained_wal_bytes:
    description:
      - An inactive Electric slot that retains more WAL than this many bytes is reported in RV(stale).
      - Active slots are never stale for retaining WAL; lost slots (and slots about to be lost, C(wal_status)
        C(unreserved)) always are.
    type: int
    default: 1073741824
  fail_on_conflict:
    description:
      - Fail when RV(conflicts) is not empty. Instances that share a slot are found from O(instances) alone, before
        any SQL runs.
    type: bool
    default: true
  fail_on_stale:
    description:
      - Fail when RV(stale) is not empty. Otherwise each stale slot is a warning.
    type: bool
    default: false
  fail_on_lock_held:
    description:
      - Fail when the replication lock of one of O(instances) is held (RV(lock_holders)). Use it before the first
        start of an instance, when no Electric of this stream id should be running. Otherwise each holder of a slot
        that does not exist yet is a warning.
    type: bool
    default: false
notes:
  - The connecting role needs to see other sessions' queries in C(pg_stat_activity) (a superuser or a member of
    C(pg_read_all_stats)).
  - Advisory locks are per database, slots are per cluster; the module reads both cluster-wide views from the
    C(postgres) database.
seealso:
  - module: sertantai.deploy.electric_reset
  - name: Electric replication stream id
    description: ELECTRIC_REPLICATION_STREAM_ID sets the names of Electric's slot and publication.
    link: https://electric-sql.com/docs/api/config#electric-replication-stream-id
"""

EXAMPLES = r"""
- name: Fail early when two Electric instances would share a replication slot
  sertantai.deploy.electric_slots_info:
    pg_container: shared_postgres
    instances:
      - {name: sertantai-legal-electric, stream_id: legal, database: sertantai_legal_prod}
      - {name: sertantai-auth-electric, stream_id: auth, database: sertantai_auth_prod}
    fail_on_stale: true

- name: Refuse to start Electric while another session holds its replication lock
  sertantai.deploy.electric_slots_info:
    pg_container: shared_postgres
    instances:
      - {name: sertantai-legal-electric, stream_id: legal, database: sertantai_legal_prod}
    fail_on_lock_held: true

- name: Report Electric instances that are stuck waiting on a replication lock
  sertantai.deploy.electric_slots_info:
    pg_container: shared_postgres
  register: electric
- name: Show who waits on whom
  ansible.builtin.debug:
    msg: "{{ item.msg }}"
  loop: "{{ electric.waiting }}"
"""

RETURN = r"""
slots:
  description:
    - Every C(electric_slot_*) replication slot of the cluster, as found .
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
lock_holders:
  description:
    - The session holding the replication lock of each of O(instances) (of every C(electric_slot_*) name when
      O(instances) is empty), whether or not the slot exists yet. Outside a rolling deploy, a holder that is not
      the instance's own running Electric (a stray C(psql), an old instance on another host) makes the next
      Electric wait forever.
  returned: success
  type: list
  elements: dict
  contains:
    slot:
      description: Slot whose lock is held.
      type: str
    database:
      description: Database the lock was taken in (advisory locks are per database).
      type: str
    instances:
      description: Names of the O(instances) whose lock it is.
      type: list
      elements: str
    slot_exists:
      description: Whether the slot exists.
      type: bool
    pid:
      description: Pid of the holding backend.
      type: int
    application_name:
      description: Its C(application_name).
      type: str
    client_addr:
      description: Its client address.
      type: str
    backend_start:
      description: When its connection started.
      type: str
    since:
      description: When it ran its lock query (its C(query_start)).
      type: str
    msg:
      description: Who holds the lock since when, and how to find or end that session.
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


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = dict(
        instances=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            stream_id=dict(type="str"),
            database=dict(type="str"),
        )),
        max_retained_wal_bytes=dict(type="int", default=1073741824),
        fail_on_conflict=dict(type="bool", default=True),
        fail_on_stale=dict(type="bool", default=False),
        fail_on_lock_held=dict(type="bool", default=False),
    )
    argument_spec.update(pg_argument_spec())
    return dict(argument_spec=argument_spec, mutually_exclusive=PG_MUTUALLY_EXCLUSIVE, required_one_of=PG_REQUIRED_ONE_OF)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    result = dict(changed=False, slots=[], conflicts=[], waiting=[], stale=[], lock_holders=[], publications=[])

    errors = electric.validate_instances(params["instances"])
    if errors:
        module.fail_json(msg="invalid instances: " + "; ".join(errors), **result)
    if params["max_retained_wal_bytes"] < 0:
        module.fail_json(msg="max_retained_wal_bytes must be 0 or more (bytes of WAL an inactive slot may retain)",
                         **result)
    instances = electric.normalize_instances(params["instances"])

    # A pure input check: it needs no database and must stop a deploy before anything starts.
    result["conflicts"] = electric.find_conflicts(instances)
    if result["conflicts"] and params["fail_on_conflict"]:
        module.fail_json(msg=" ".join(c["msg"] for c in result["conflicts"]), **result)

    runner = None
    try:
        runner = runner_from_params(params, module.run_command)
        state = electric.read_state(runner, instances)
    except PgError as exc:
        module.fail_json(msg="could not read replication slots and locks: %s" % exc.message, **result)
    finally:
        if runner is not None:
            runner.close()

    result["slots"], result["stale"] = electric.judge_slots(state["slots"], instances, state["publications"],
                                                            state["locks"], params["max_retained_wal_bytes"])
    result["waiting"] = electric.find_waiting(state["locks"], instances)
    result["lock_holders"] = electric.instance_lock_holders(instances, state["locks"], state["slots"])
    result["publications"] = state["publications"]
    result["conflicts"].extend(electric.database_conflicts(instances, state["slots"]))
    for inst in instances:
        if inst["database"] and inst["database"] not in state["databases"]:
            module.warn("database %s of Electric instance %s does not exist (yet) on this cluster"
                        % (inst["database"], inst["name"]))

    if result["conflicts"] and params["fail_on_conflict"]:
        module.fail_json(msg=" ".join(c["msg"] for c in result["conflicts"]), **result)
    held = [h for h in result["lock_holders"] if h["instances"]]
    if held and params["fail_on_lock_held"]:
        module.fail_json(msg=" ".join(h["msg"] for h in held) + " (fail_on_lock_held=true)", **result)
    if result["stale"] and params["fail_on_stale"]:
        module.fail_json(msg=" ".join(s["msg"] for s in result["stale"]) + " (fail_on_stale=true)", **result)
    for entry in result["waiting"]:
        module.warn(entry["msg"])
    for entry in result["lock_holders"]:
        if not entry["slot_exists"]:
            module.warn(entry["msg"])
    for entry in result["stale"]:
        module.warn(entry["msg"])
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
