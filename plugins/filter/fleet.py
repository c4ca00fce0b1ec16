# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet
short_description: Validate the fleet description and return the services of one host, in the controller's process
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
description:
  - The same validation and normalisation as the module M(sertantai.deploy.fleet_info), run inside Ansible on the
    controller (no module process), so that a play pays nothing for it. The fleet role uses it.
  - Returns C({services, errors}); C(errors) holds one line per problem, naming the service and the field, and
    C(services) is empty when there is any.
options:
  _input:
    description: The fleet description, C(sertantai_services).
    type: list
    elements: raw
    required: true
  host_services:
    description: Names of the services of this host; null means all of them.
    type: list
    elements: str
  container_prefix:
    description: Prefix of every container name derived from a service name.
    type: str
    default: sertantai-
  tags:
    description:
      - "For one run, the tag of some components replaced: C({service name: {component: tag}}). C(deploy.yml -e tag=)
        deploys an earlier version this way, without a change to the fleet description. A tag that is not valid is a
        problem like any other."
    type: dict
  strict:
    description:
      - Return the list of services itself, and fail with one message that names every problem when there is
        any (a message that starts with C(invalid fleet description)). One task then validates and
        records.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Validate the fleet description
  ansible.builtin.set_fact:
    fleet: "{{ sertantai_services | sertantai.deploy.fleet(sertantai_host_services, 'sertantai-') }}"

- name: Record the services of this host, failing on an invalid fleet description
  ansible.builtin.set_fact:
    services: "{{ sertantai_services | sertantai.deploy.fleet(sertantai_host_services, 'sertantai-', strict=true) }}"
"""

RETURN = r"""
_value:
  description:
    - "C({services: [normalised services of the host], errors: [one line per problem]})."
    - With O(strict=true), the list of services.
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.sertantai.deploy.plugins.module_utils._fleet import FleetError, build_fleet


def fleet(services, host_services=None, container_prefix="sertantai-", strict=False, tags=None):
    try:
        built = build_fleet(services, host_services, container_prefix, tags)
    except FleetError as exc:
        if strict:
            raise AnsibleFilterError("invalid fleet description (sertantai_services): %s" % "; ".join(exc.errors))
        return dict(services=[], errors=exc.errors)
    return built if strict else dict(services=built, errors=[])


class FilterModule:
    def filters(self):
        return {"fleet": fleet}
