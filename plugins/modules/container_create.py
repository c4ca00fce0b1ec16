#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_create
short_description: Create and start containers from full specs in one task, replacing those of the same names
version_added: 0.1.0
description:
  - Creates and starts each container of O(containers) on O(network), through the Docker Engine API, in one command on
    the host. No port is published on the host; other containers on O(network) reach them.
  - A container that already has the name is stopped (with its own stop timeout) and removed first, never with its
    volumes; so the module always replaces. Deciding whether a container must change is the caller's job
    (M(sertantai.deploy.app_service_info) compares the C(org.sertantai.spec) label).
  - The healthcheck keeps its form (C(CMD), exec form, as the runbook's pitfall 9 writes it), which C(docker create)
    cannot set, and the environment travels on the command's stdin, never on a command line.
  - Its action plugin runs the module's logic on the controller and sends one command over the task's connection, in
    which the host's Python (the one Ansible runs modules with) talks to the Docker socket (C(DOCKER_HOST) when it names a unix
    socket, else C(/var/run/docker.sock)).
  - Returns names, ids and errors only, never a container's environment, so a task that passes secrets in O(containers)
    shows nothing of them (the option is C(no_log)).
  - Fails when a container could not be created or started, with Docker's message for each one, after every other
    container was handled. A container that was created but could not start is left stopped, for its logs.
  - Only creates and starts. Starting, stopping or removing containers as they are is
    M(sertantai.deploy.container_state)'s job.
extends_documentation_fragment:
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode checks the specs (durations, sizes, restart policy, healthcheck form), changes nothing and reports
        each container as one that would be created.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run replaces the containers. Run it only for containers that must change.
options:
  containers:
    description:
      - The containers to create and start, in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The container's name.
        type: str
        required: true
      image:
        description: The image, which must be present on the host (pull it first, with M(sertantai.deploy.image_pull)).
        type: str
        required: true
      env:
        description: The environment. Values are written as strings. Never logged or returned.
        type: dict
      labels:
        description: Labels of the container.
        type: dict
      healthcheck:
        description:
          - C(test) (a list starting with C(CMD), C(CMD-SHELL) or C(NONE)), C(interval), C(timeout), C(start_period),
            C(start_interval) (durations such as C(5s), C(1m30s), C(500ms); a number is seconds) and C(retries).
          - C(start_interval) needs Docker 25 (API 1.44).
        type: dict
      restart_policy:
        description: V(no), V(on-failure) (optionally V(on-failure:N)), V(always) or V(unless-stopped).
        type: str
        default: "no"
      stop_timeout:
        description: Seconds the container gets to stop on C(SIGTERM) before C(SIGKILL); the engine's default when unset.
        type: int
      volumes:
        description: Bind mounts and named volumes as C(source:target[:mode]). A named volume that does not exist is created.
        type: list
        elements: str
        default: []
      memory:
        description: Memory limit (C(512m), C(1g); a number is bytes).
        type: str
      cpus:
        description: CPU limit in CPUs (V(1.5)).
        type: float
  network:
    description: The network each container joins (its only one). Other containers on it reach it by its name.
    type: str
    required: true
requirements:
  - Python 3.6 or newer on the host (the one Ansible runs modules with) and access to the Docker socket.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Start the new backend beside the live one
  sertantai.deploy.container_create:
    network: infra_network
    containers:
      - name: sertantai-legal-green
        image: ghcr.io/shotleybuilder/sertantai-legal:{{ git_sha }}
        env:
          PORT: "4000"
          SECRET_KEY_BASE: "{{ secret_key_base }}"
        labels:
          org.sertantai.service: legal
        healthcheck:
          test: [CMD, wget, --no-verbose, --tries=1, --spider, "http://localhost:4000/health"]
          interval: 5s
          start_period: 60s
          start_interval: 1s
        restart_policy: unless-stopped
        stop_timeout: 30
"""

RETURN = r"""
containers:
  description: One entry per container of O(containers), in the order given.
  returned: unless a spec was refused before anything changed, or the host could not run the request
  type: list
  elements: dict
  contains:
    name:
      description: The container's name.
      type: str
    id:
      description: The new container's id; null in check mode or when it could not be created.
      type: str
    replaced:
      description: Whether a container of that name was removed first; null in check mode.
      type: bool
    error:
      description: Docker's reason when the container could not be replaced, created or started.
      type: str
      returned: when that step failed
      sample: "could not create it: No such image: ghcr.io/shotleybuilder/sertantai-legal:abc123 (HTTP 404)"
msg:
  description: A summary; on failure each container that failed, with Docker's reason.
  returned: always
  type: str
  sample: Created and started sertantai-legal-green, sertantai-legal-frontend-green.
"""

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _container_create
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerError


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    container = dict(
        name=dict(type="str", required=True),
        image=dict(type="str", required=True),
        env=dict(type="dict", no_log=True),
        labels=dict(type="dict"),
        healthcheck=dict(type="dict"),
        restart_policy=dict(type="str", default="no"),
        stop_timeout=dict(type="int"),
        volumes=dict(type="list", elements="str", default=[]),
        memory=dict(type="str"),
        cpus=dict(type="float"),
    )
    return dict(argument_spec=dict(
        containers=dict(type="list", elements="dict", required=True, options=container),
        network=dict(type="str", required=True),
    ))


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (its command over the
    task's connection, run by the host's Python, ``module.python``)."""
    params = module.params
    python = getattr(module, "python", None) or sys.executable
    try:
        results = _container_create.create(module.run_command, python, params["containers"], params["network"],
                                           check_mode=module.check_mode)
    except (_container_create.SpecError, DockerError) as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=bool(results), containers=results, msg=_container_create.summary(results, module.check_mode))
    if any(entry.get("error") for entry in results):
        result["changed"] = any(entry.get("id") or entry.get("replaced") for entry in results)
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
