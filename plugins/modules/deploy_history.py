#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy_history
short_description: Record a deploy in the history of a service on its host
version_added: 0.1.0
description:
  - Appends one line (a JSON object) to the history file of a service on its host, for a deploy that replaced
    containers. It holds when (the host's clock), who from which controller and for what, and per component the
    container that now runs with its image, the tag it was built as and its image id, and the same of the one it
    replaced. M(sertantai.deploy.deploy_history_info) reads it, and finds the builds a rollback goes back to.
  - The containers that run now are read with one C(docker inspect) (which also reads the host's clock); the line is
    appended with one more command. The file keeps its last O(keep) lines, in a directory only root and its group
    read.
  - The module runs on the controller (an action plugin); only its two commands go over the task's connection.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the containers and returns the record, and appends nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - "Each run records a deploy: a history has one line per deploy."
options:
  path:
    description: The history file on the host.
    type: path
    required: true
  service:
    description: The service the deploy was for.
    type: str
    required: true
  containers:
    description: The containers that run now, by component (V(backend), V(frontend), V(electric)).
    type: dict
    required: true
  before:
    description:
      - What ran before, by component, as the deploy found it (the C(live) container of app_service_info, with
        C(name), C(image), C(build) and C(image_id)); a component with no container before is left out or null.
    type: dict
    default: {}
  who:
    description:
      - Who deployed, as the deploy lock holds it (C(owner), C(controller), C(run_id), C(purpose)).
    type: dict
    default: {}
  keep:
    description: How many deploys the file keeps (the oldest lines go first).
    type: int
    default: 500
"""

EXAMPLES = r"""
- name: Record the deploy
  sertantai.deploy.deploy_history:
    path: /opt/sertantai/history/legal.jsonl
    service: legal
    containers: {backend: sertantai-legal-green, frontend: sertantai-legal-frontend-green}
    before: {backend: {name: sertantai-legal-blue, image: "ghcr.io/shotleybuilder/sertantai-legal-backend:latest",
                       build: 5f1252d, image_id: "sha256:..."}}
    who: "{{ lock.holder }}"
"""

RETURN = r"""
record:
  description: The line appended (or, in check mode, the line a run would append).
  returned: always
  type: dict
  sample:
    time: "2026-11-29T15:10:02Z"
    service: legal
    owner: alice
    controller: laptop
    run_id: 0f3c9a1b2d4e5f60
    purpose: playbooks/deploy.yml service=legal components=backend
    components:
      backend:
        container: sertantai-legal-green
        image: ghcr.io/shotleybuilder/sertantai-legal-backend:latest
        build: 061c576
        image_id: "sha256:761f3240e8bc..."
        before: {container: sertantai-legal-blue, image: "ghcr.io/shotleybuilder/sertantai-legal-backend:latest",
                 build: 5f1252d, image_id: "sha256:d0b4db848de5..."}
msg:
  description: The record in one line, as status and check_only show a deploy.
  returned: always
  type: str
  sample: "2026-11-29T15:10:02Z by alice@laptop: backend latest (061c576), before: latest (5f1252d)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _history
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import docker_argument_spec


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = docker_argument_spec()
    argument_spec.update(
        path=dict(type="path", required=True),
        service=dict(type="str", required=True),
        containers=dict(type="dict", required=True),
        before=dict(type="dict", default={}),
        who=dict(type="dict", default={}),
        keep=dict(type="int", default=_history.KEEP),
    )
    return dict(argument_spec=argument_spec)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    if params["keep"] < 1:
        module.fail_json(msg="keep must be 1 or more, not %d" % params["keep"])
    try:
        now, running = _history.inspect_running(module.run_command, params["docker_cli"], params["containers"])
        before = dict((component, _history.ran_before(entry)) for component, entry in (params["before"] or {}).items() if entry)
        record = _history.make_record(now, params["service"], params["who"] or {}, running, before)
        if not module.check_mode:
            _history.append(module.run_command, params["path"], record, params["keep"])
    except _history.HistoryError as exc:
        module.fail_json(msg="could not record the deploy of %s in %s: %s" % (params["service"], params["path"], exc.message))
    module.exit_json(changed=True, record=record, msg=_history.summary(record))


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
