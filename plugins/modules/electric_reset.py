#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: electric_reset
short_description: Drop an ElectricSQL instance's replication slot and publication together
description:
  - Drops the slot C(electric_slot_<id>) and the publication C(electric_publication_<id>) of each of
    O(instances) together ("clear one, clear the other"). Electric recreates both on its next start and resyncs
    every shape, so its shape storage must be emptied at the same time. The C(deploy.yml) playbook's
    C(electric_clear_cache) and the data restore do all of it in order.
  - Refuses, and drops nothing at all, while a slot is active or while any session holds the instance's
    replication lock (a running or starting Electric would lose its slot); the message names the pid.
  - Running it again when both are gone changes nothing.
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.change_with_diff
  - sertantai.deploy.postgres
attributes:
  check_mode:
    details:
      - Returns RV(dropped) and RV(queries) as they would be, without dropping anything.
  diff_mode:
    details:
      - The slots and publications of O(instances) before and after the drop.
options:
  instances:
    description:
      - The Electric instances whose slot and publication to drop.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - A name for the instance, usually its container or service name. Must be unique.
        type: str
        required: true
      stream_id:
        description:
          - Its C(ELECTRIC_REPLICATION_STREAM_ID); omitted or empty means C(default).
        type: str
      database:
        description:
          - The database the instance replicates. When omitted and the slot does not exist, every database is
            searched for the publication.
        type: str
notes:
  - Dropping a slot needs superuser or the C(REPLICATION) attribute, and dropping a publication needs its owner.
seealso:
  - module: sertantai.deploy.electric_slots_info
"""

EXAMPLES = r"""
- name: Stop the Electric of legal before its slot goes
  community.docker.docker_container:
    name: sertantai-legal-electric
    state: stopped

- name: Drop the slot and publication of legal's Electric (empty its shape storage too)
  sertantai.deploy.electric_reset:
    pg_container: shared_postgres
    instances:
      - {name: sertantai-legal-electric, stream_id: legal, database: sertantai_legal_prod}
"""

RETURN = r"""
dropped:
  description: Slots and publications dropped (with check mode, what would be dropped), in order.
  returned: always
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
queries:
  description: SQL run to drop slots and publications (with check mode, what would run).
  returned: always
  type: list
  elements: str
  sample: ["SELECT pg_drop_replication_slot('electric_slot_legal')", 'DROP PUBLICATION IF EXISTS "electric_publication_legal"']
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _electric as electric
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    PG_REQUIRED_ONE_OF,
    PgError,
    QueryLog,
    pg_argument_spec,
    runner_from_params,
)


def main():
    argument_spec = dict(
        instances=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            stream_id=dict(type="str"),
            database=dict(type="str"),
        )),
    )
    argument_spec.update(pg_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=PG_MUTUALLY_EXCLUSIVE,
        required_one_of=PG_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, dropped=[], queries=[])

    errors = electric.validate_instances(params["instances"])
    if not params["instances"]:
        errors.append("instances is empty: list the Electric instances whose slot and publication to drop")
    if errors:
        module.fail_json(msg="invalid instances: " + "; ".join(errors), **result)
    instances = electric.normalize_instances(params["instances"])

    runner = None
    try:
        runner = runner_from_params(params, module.run_command)
        log = QueryLog(runner, module.check_mode)
        result["queries"] = log.queries
        state = electric.read_state(runner, instances)
        actions, refusals = electric.plan_reset(instances, state["slots"], state["publications"], state["locks"])
        if refusals:
            module.fail_json(msg="nothing dropped: " + "; ".join(refusals), **result)
        if module._diff:
            result["diff"] = electric.reset_diff(instances, state["slots"], state["publications"], actions)
        result["dropped"] = electric.apply_reset(log, actions)
    except electric.ResetError as exc:
        result["dropped"] = exc.done
        module.fail_json(msg=exc.message, **result)
    except PgError as exc:
        module.fail_json(msg="could not read replication slots and locks: %s" % exc.message, **result)
    finally:
        if runner is not None:
            runner.close()
    result["changed"] = bool(result["dropped"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
