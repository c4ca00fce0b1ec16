# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: app_containers
short_description: The containers one service should run, with a hash of their settings
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
description:
  - From one item of C(sertantai_fleet) (as the fleet role normalises it), its secrets and the app_service
    settings, returns per component (V(backend), V(frontend), V(electric)) the image, environment, healthcheck
    (with a tool the image has, wget for backend and frontend, curl for Electric), volumes, restart policy,
    stop timeout, resources, and C(spec), a hash of all of it that a deploy compares with the live container's
    C(org.sertantai.spec) label, and C(settings), the same hash without the image reference (the
    C(org.sertantai.settings) label, which tells a change of settings that comes with a new tag).
  - The result holds secrets in C(env), so use it only in tasks with C(no_log).
options:
  _input:
    description: One normalised service (an item of C(sertantai_fleet)).
    type: dict
    required: true
  secrets:
    description: "C({secret_key_base, electric_secret, database_password})."
    type: dict
    required: true
  settings:
    description: "C({postgres_host, healthcheck, restart_policy, stop_timeout, resources, electric_storage_dir})."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Describe the containers of legal
  ansible.builtin.set_fact:
    containers: "{{ service | sertantai.deploy.app_containers(secrets, settings) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: "C({component: {image, env, port, healthcheck, volumes, restart_policy, stop_timeout, memory, cpus, tool, spec, settings}})."
  type: dict
"""

from ansible_collections.sertantai.deploy.plugins.module_utils._app import container_specs


def app_containers(service, secrets, settings):
    return container_specs(service, secrets, settings)


class FilterModule:
    def filters(self):
        return {"app_containers": app_containers}
