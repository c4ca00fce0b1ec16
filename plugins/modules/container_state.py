#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_state
short_description: Start, stop or remove existing containers by name, side by side, in one task
version_added: 0.1.0
description:
  - Brings each container of O(names) to O(state) with one Docker CLI call per step for all of them. C(docker stop a b)
    stops them side by side, each with its own stop timeout (the one it was created with), so an app that drains on
    C(SIGTERM) finishes the requests it has in flight.
  - V(absent) stops a running container first, then removes it with C(docker rm), never with C(-v). Its volumes stay.
  - Only starts, stops or removes containers as they are. Creating a container or changing its settings is
    M(community.docker.docker_container)'s job.
  - Returns names and states only, never a container's configuration, so a container whose environment holds secrets
    needs no C(no_log).
  - Its action plugin runs the module's logic on the controller and sends only the C(docker) commands over the task's
    connection, which is faster than sending the module.
  - Fails when a container is not in O(state) at the end, with Docker's message for each one, after every other
    container was handled.
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the containers and returns what each one would become, and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  names:
    description:
      - The containers (names or ids). Empty names are ignored, and a name given twice counts once.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(started) starts the containers that do not run; V(stopped) stops the running ones; V(absent) stops and removes
        them.
      - A name that does not exist fails V(started) and V(stopped), and is already done for V(absent).
    type: str
    choices: [started, stopped, absent]
    required: true
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Ensure the old containers of legal are stopped and removed (their volumes stay)
  sertantai.deploy.container_state:
    names: [sertantai-legal-blue, sertantai-legal-frontend-blue]
    state: absent

- name: Ensure the live containers are stopped for the data restore
  sertantai.deploy.container_state:
    names: "{{ live_containers }}"
    state: stopped
"""

RETURN = r"""
containers:
  description: One entry per container, in the order of O(names).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name as given.
      type: str
    before:
      description: Docker's status before (C(running), C(exited), C(created), C(restarting), C(paused), C(dead)), or
        C(absent).
      type: str
    after:
      description: The status after (in check mode, what it would be).
      type: str
    error:
      description: Why the container is not in O(state) at the end (Docker's message, or C(does not exist)).
      type: str
      returned: when it is not
  sample: [{"name": "sertantai-legal-blue", "before": "running", "after": "absent"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _container_state
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError, docker_argument_spec, inspect_failed


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = dict(
        names=dict(type="list", elements="str", required=True),
        state=dict(type="str", choices=list(_container_state.STATES), required=True),
    )
    argument_spec.update(docker_argument_spec())
    return dict(argument_spec=argument_spec)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    cli = DockerCli(module.run_command, params["docker_cli"])
    try:
        result = _container_state.converge(cli, params["names"], params["state"], module.check_mode)
    except DockerError as exc:
        module.fail_json(msg=inspect_failed(exc, params["docker_cli"]))
    message = _container_state.failure_message(params["state"], result["containers"])
    if message:
        module.fail_json(msg=message, **result)
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
