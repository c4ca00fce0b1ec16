#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy_lock
short_description: One deploy at a time per host
description:
  - Takes (O(state=present)) or releases (O(state=absent)) the deploy lock of a host, a file that appears
    whole or not at all (written aside, then hard-linked to its name), so of two runs that start at the same instant exactly one gets it.
  - The lock records who took it, from which controller, for what and since when; a run that finds it held fails
    at once with a message naming all of that and how old the lock is.
  - A run releases only the lock it took (matched by O(run_id)). A lock left by a run that was killed (Ctrl-C, a
    dropped SSH connection) stays; O(release=true) breaks it, and the result says whose lock was broken.
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports whether the lock would be taken or released, and still fails when another run holds it.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Taking a lock this run holds, or releasing one that is gone, changes nothing.
options:
  path:
    description: The lock file on the host.
    type: path
    default: /opt/sertantai/deploy.lock
  state:
    description:
      - V(present) takes the lock (a no-op when this run already holds it); V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description:
      - Identifies this run; only the run that took the lock releases it without O(release).
    type: str
    required: true
  owner:
    description: Who runs the deploy (recorded, shown to a refused run).
    type: str
    default: unknown
  controller:
    description: The machine the deploy runs from (recorded, shown to a refused run).
    type: str
    default: ""
  purpose:
    description: What the run does, for example the playbook and service (recorded, shown to a refused run).
    type: str
    default: ""
  release:
    description:
      - Break a lock that another run holds. With O(state=present) this run takes it over; with O(state=absent)
        it is removed.
      - Only for a lock left by a run that is known to be dead.
    type: bool
    default: false
  release_hint:
    description: How an operator sets O(release) where the module is called (named in the refusal message).
    type: str
    default: release=true
"""

EXAMPLES = r"""
- name: Take the deploy lock of this host
  sertantai.deploy.deploy_lock:
    run_id: "{{ deploy_run_id }}"
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}"
    controller: "{{ lookup('ansible.builtin.pipe', 'hostname') }}"
    purpose: deploy.yml service=legal

- name: Release it (in an always block)
  sertantai.deploy.deploy_lock:
    run_id: "{{ deploy_run_id }}"
    state: absent
"""

RETURN = r"""
holder:
  description:
    - The lock as it is after the task (with O(state=absent), the lock that was released or found), or null.
  returned: always
  type: dict
  contains:
    run_id:
      description: The run that holds it.
      type: str
    owner:
      description: Who took it.
      type: str
    controller:
      description: From which machine.
      type: str
    purpose:
      description: For what.
      type: str
    since:
      description: When, in UTC (ISO 8601 with C(Z)).
      type: str
age_seconds:
  description: Age of RV(holder) in seconds, or null.
  returned: always
  type: int
previous:
  description: The lock of another run that O(release=true) broke, or null.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _lock


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    return dict(argument_spec=dict(
        path=dict(type="path", default="/opt/sertantai/deploy.lock"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        run_id=dict(type="str", required=True),
        owner=dict(type="str", default="unknown"),
        controller=dict(type="str", default=""),
        purpose=dict(type="str", default=""),
        release=dict(type="bool", default=False),
        release_hint=dict(type="str", default="release=true"),
    ))


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    path = params["path"]
    result = dict(changed=False, holder=None, previous=None, age_seconds=None)
    now = None
    try:
        # The host's name and clock: the holder is named by the host it locks, its age by the host's time.
        seen = _lock.read_lock(module.run_command, path)
        host, now, current = seen
        if params["state"] == "present":
            holder = dict(run_id=params["run_id"], owner=params["owner"], controller=params["controller"],
                          purpose=params["purpose"], host=host)
            result["changed"], result["previous"] = _lock.acquire(module.run_command, path, holder, module.check_mode,
                                                                  params["release"], params["release_hint"], now, seen)
            # What the lock holds now: what this run wrote (or would write), or its own lock as it was.
            result["holder"] = dict(holder, since=_lock.iso(now)) if result["changed"] else current
            if result["previous"]:
                module.warn("broke the deploy lock of %s (taken %s): release=true"
                            % (result["previous"].get("owner"), result["previous"].get("since")))
        else:
            result["changed"], result["holder"] = _lock.release_lock(module.run_command, path, params["run_id"],
                                                                     module.check_mode, params["release"], seen)
    except _lock.LockError as exc:
        result["holder"] = exc.holder
        result["age_seconds"] = _lock.age_seconds(exc.holder or {}, now) if now else None
        module.fail_json(msg=exc.message, **result)
    except (IOError, OSError) as exc:
        action = "take" if params["state"] == "present" else "release"
        module.fail_json(msg="could not %s the deploy lock %s: %s" % (action, path, exc), **result)
    if result["holder"] and now:
        result["age_seconds"] = _lock.age_seconds(result["holder"], now)
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
