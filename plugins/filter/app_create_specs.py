# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: app_create_specs
short_description: The containers a deploy of one service creates, as container_create takes them
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
description:
  - From the result of P(sertantai.deploy.app_containers#filter) and the new containers of a deploy (the name to
    create for each component, in its colour), returns the O(sertantai.deploy.container_create#module:containers) of
    M(sertantai.deploy.container_create), with the labels that P(sertantai.deploy.app_containers#filter)'s spec and
    settings hashes and the blue/green colours are read from.
  - The result holds secrets in C(env); M(sertantai.deploy.container_create) never logs or returns them.
options:
  _input:
    description: The result of P(sertantai.deploy.app_containers#filter) for the service.
    type: dict
    required: true
  new:
    description: "C([{component, color, new}]): the container name (C(new)) to create for each component, in C(color)."
    type: list
    elements: dict
    required: true
  service:
    description: The service's name.
    type: str
    required: true
  start_interval:
    description: Whether the engine knows the healthcheck's C(start_interval) (Docker 25, API 1.44); if not, it is left out.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Start the new backend
  sertantai.deploy.container_create:
    network: infra_network
    containers: "{{ containers | sertantai.deploy.app_create_specs([{'component': 'backend', 'color': 'green',
                    'new': 'sertantai-legal-green'}], 'legal') }}"
"""

RETURN = r"""
_value:
  description: "C([{name, image, env, labels, healthcheck, restart_policy, stop_timeout, volumes, memory, cpus}])."
  type: list
  elements: dict
"""

from ansible_collections.sertantai.deploy.plugins.module_utils._app import create_specs


def app_create_specs(containers, new, service, start_interval=True):
    return create_specs(containers, new, service, start_interval)


class FilterModule:
    def filters(self):
        return {"app_create_specs": app_create_specs}
