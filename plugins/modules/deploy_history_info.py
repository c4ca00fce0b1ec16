#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy_history_info
short_description: Read the deploy history of a service, and find the builds a rollback goes back to
version_added: 0.1.0
description:
  - Reads the last O(last) deploys of a service from the history file M(sertantai.deploy.deploy_history) writes on
    its host (one command), oldest first.
  - With O(rollback), finds per component the build that ran before the last deploy that changed it (a deploy that
    restarted the same image, for a change of environment or a restore, changed none), by the tag that names it in
    the registry (the tag it was built as, else its reference's tag). It fails, naming each, when a component has
    no such build (never deployed on this host, a first deploy, or an unlabelled image under a tag that now names
    another one), so a rollback never guesses.
  - The module runs on the controller (an action plugin); only its one command goes over the task's connection.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  path:
    description: The history file on the host. A file that does not exist is an empty history.
    type: path
    required: true
  service:
    description: The service the history is of (named in the messages).
    type: str
    required: true
  last:
    description: How many of the last deploys to return.
    type: int
    default: 20
  rollback:
    description: The components to find the earlier build of (V(backend), V(frontend), V(electric)).
    type: list
    elements: str
    default: []
  rollback_last:
    description: Find the earlier build of each component the last deploy of the service changed (with O(rollback)
      empty). A last deploy that only restarted the same images is refused.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Find the builds that ran before the last deploy of the backend
  sertantai.deploy.deploy_history_info:
    path: /opt/sertantai/history/legal.jsonl
    service: legal
    rollback: [backend]
  register: history

- name: Deploy them
  ansible.builtin.include_role:
    name: sertantai.deploy.app_service
  vars:
    fleet_tags: {legal: "{{ history.rollback }}"}
"""

RETURN = r"""
deploys:
  description: The last O(last) deploys, oldest first, as M(sertantai.deploy.deploy_history) recorded them.
  returned: always
  type: list
  elements: dict
summaries:
  description: Each of RV(deploys) in one line.
  returned: always
  type: list
  elements: str
  sample: ["2026-11-29T15:10:02Z by alice@laptop: backend latest (061c576), before: latest (5f1252d)"]
unreadable:
  description: The number of lines of the file that are not a deploy record (left out).
  returned: always
  type: int
rollback:
  description: Per component of O(rollback), the tag of the build that ran before the last deploy that changed it.
  returned: when O(rollback) is given and every component has one
  type: dict
  sample: {backend: 5f1252d}
rolled_back_from:
  description: Per component of O(rollback), the last deploy that changed it (the one a rollback undoes), in one line.
  returned: when RV(rollback) is
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _history


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    return dict(argument_spec=dict(
        path=dict(type="path", required=True),
        service=dict(type="str", required=True),
        last=dict(type="int", default=20),
        rollback=dict(type="list", elements="str", default=[]),
        rollback_last=dict(type="bool", default=False),
    ))


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    unknown = [component for component in params["rollback"] if component not in ("backend", "frontend", "electric")]
    if unknown:
        module.fail_json(msg="rollback takes backend, frontend and electric, not %s" % ", ".join(unknown))
    if params["rollback"] and params["rollback_last"]:
        module.fail_json(msg="rollback names the components, rollback_last takes those of the last deploy: give one of them")
    if params["last"] < 1:
        module.fail_json(msg="last must be 1 or more, not %d" % params["last"])
    wanted = params["rollback"] or params["rollback_last"]
    try:
        # A rollback looks further back than what is returned: a component's last deploy may be older.
        records, unreadable = _history.read(module.run_command, params["path"], _history.KEEP if wanted else params["last"])
    except _history.HistoryError as exc:
        module.fail_json(msg="could not read the deploy history %s: %s" % (params["path"], exc.message))
    shown = records[-params["last"]:]
    result = dict(changed=False, deploys=shown, summaries=[_history.summary(record) for record in shown], unreadable=unreadable)
    if wanted:
        try:
            components = params["rollback"] or _history.last_changed(records, params["service"], params["path"])
            result["rollback"] = _history.rollback(records, params["service"], components)
        except _history.HistoryError as exc:
            module.fail_json(msg=exc.message, **result)
        last = _history.last_deploys(records, components)
        result["rolled_back_from"] = dict((component, _history.summary(last[component])) for component in components)
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
