#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_info
short_description: Validate the fleet description and return the services of one host
description:
  - Validates O(services) (the inventory variable C(sertantai_services)) before anything changes, and
    fails with one line per problem, each naming the service and the field.
  - Rejects unknown fields, duplicate service names, domains, databases and backend ports, invalid
    hostnames, database names that are not PostgreSQL identifiers, extension lists that are not lists
    of extension names, Electric stream ids that are not valid replication slot suffixes, duplicate
    stream ids, and a missing stream id where several Electric instances share the cluster (they would
    all use C(electric_slot_default) and block each other).
  - Returns the services of one host with defaults filled in and the derived names (containers,
    Electric slot and publication) every role uses.
  - Runs no command. Use it on the controller (C(delegate_to=localhost)) or on the host.
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  services:
    description:
      - The fleet description, a list of services. See the C(fleet) role's argument spec for every field.
    type: list
    elements: raw
    required: true
  host_services:
    description:
      - Names of the services this host runs. V(null) means all services.
    type: list
    elements: str
  container_prefix:
    description:
      - Prefix of every container name derived from a service name.
    type: str
    default: sertantai-
"""

EXAMPLES = r"""
- name: Validate the fleet before anything changes
  sertantai.deploy.fleet_info:
    services: "{{ sertantai_services }}"
    host_services: "{{ sertantai_host_services | default(omit) }}"
  delegate_to: localhost
  register: fleet
"""

RETURN = r"""
services:
  description: The services of this host, validated and normalised.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Service name.
      type: str
      sample: legal
    containers:
      description: Container names by component (V(backend), V(frontend), V(electric)).
      type: dict
      sample: {"backend": "sertantai-legal", "frontend": "sertantai-legal-frontend", "electric": "sertantai-legal-electric"}
    container_names:
      description: "The two containers of each component, by colour: C({backend: {blue: ..., green: ...}})."
      type: dict
      sample: {"backend": {"blue": "sertantai-legal-blue", "green": "sertantai-legal-green"}}
    electric:
      description:
        - Electric settings with C(slot) and C(publication) names when enabled, the shape storage volume
          C(storage_volume) both colours share, and C(instance) as the Electric modules take it.
      type: dict
      sample: {"enabled": true, "stream_id": "legal", "slot": "electric_slot_legal", "publication": "electric_publication_legal",
               "storage_volume": "sertantai-legal-electric-storage",
               "instance": {"name": "sertantai-legal-electric", "stream_id": "legal", "database": "sertantai_legal_prod"}}
names:
  description: The names of the services of this host, in fleet order.
  returned: success
  type: list
  elements: str
  sample: [legal, auth]
databases:
  description: Database name and extensions of each service of this host.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "sertantai_legal_prod", "extensions": ["uuid-ossp", "citext"], "service": "legal"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._fleet import FleetError, build_fleet


def main():
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(type="list", elements="raw", required=True),
            host_services=dict(type="list", elements="str"),
            container_prefix=dict(type="str", default="sertantai-"),
        ),
        supports_check_mode=True,
    )
    try:
        services = build_fleet(module.params["services"], module.params["host_services"], module.params["container_prefix"])
    except FleetError as exc:
        module.fail_json(msg="invalid fleet description (sertantai_services): " + "; ".join(exc.errors), errors=exc.errors)
    module.exit_json(
        changed=False,
        services=services,
        names=[s["name"] for s in services],
        databases=[dict(service=s["name"], name=s["database"], extensions=s["extensions"]) for s in services],
    )


if __name__ == "__main__":
    main()
