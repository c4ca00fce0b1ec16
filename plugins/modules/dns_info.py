#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_info
short_description: Resolve domains to IPv4 addresses and compare them with the address of a server
version_added: 0.1.0
description:
  - Looks up the A records of O(names), either through the host's own resolver or by sending raw DNS queries
    over UDP to O(resolver) (no C(dnspython) needed).
  - With O(expected_addresses), reports every name whose answer is empty, failed, or contains an address that is
    not expected. This is the check an operator does by hand with C(dig <domain> +short) (it must return the
    server's address), done before an ACME request, so a wrong A record is reported by domain instead of as a
    failed HTTP-01 challenge.
  - Read-only; it never changes anything and returns RV(ignore:changed=false). It does not fail on a mismatch
    unless O(fail_on_mismatch=true).
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  names:
    description:
      - The domain names to resolve.
    type: list
    elements: str
    required: true
  resolver:
    description:
      - The DNS server to ask, as C(host), C(host:port) or C([v6address]:port) (port 53 by default).
      - Omitted or empty, the host's own resolver is used (C(getaddrinfo)).
    type: str
  expected_addresses:
    description:
      - The addresses the names must resolve to (the server's public IPv4 address). Every A record of a name must be
        one of them. Empty or omitted, nothing is compared and RV(mismatches) is empty.
    type: list
    elements: str
    default: []
  fail_on_mismatch:
    description:
      - Fail when a name does not resolve to O(expected_addresses); the message lists each name with its answer.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for each answer from O(resolver).
    type: float
    default: 3.0
notes:
  - Only A (IPv4) records are looked up and compared.
  - The role C(sertantai.deploy.certbot) runs this check before every ACME request.
"""

EXAMPLES = r"""
- name: Check that every domain points at this server before requesting certificates
  sertantai.deploy.dns_info:
    names: [legal.sertantai.com, auth.sertantai.com]
    expected_addresses: ["{{ ansible_facts['default_ipv4']['address'] }}"]
    fail_on_mismatch: true

- name: Ask a given DNS server (a test server on a non-standard port)
  sertantai.deploy.dns_info:
    names: [legal.sertantai.test]
    resolver: 10.213.77.11:8053
  register: dns

- name: Show what legal.sertantai.test resolves to
  ansible.builtin.debug:
    msg: "{{ dns.records[0].addresses }}"
"""

RETURN = r"""
resolver:
  description: The DNS server asked as C(host:port), or V(system) for the host's resolver.
  returned: always
  type: str
  sample: 10.213.77.11:8053
records:
  description: One entry per name, in the order of O(names).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name looked up.
      type: str
      sample: legal.sertantai.com
    addresses:
      description: Its IPv4 addresses, sorted (empty when there is none).
      type: list
      elements: str
      sample: [46.224.29.187]
    rcode:
      description: The DNS response code (V(NOERROR), V(NXDOMAIN), V(SERVFAIL), ...), or null when there was no answer.
      type: str
      sample: NOERROR
    error:
      description: Why the lookup failed (no answer, malformed reply), or null.
      type: str
      sample: null
mismatches:
  description: The names that do not resolve to O(expected_addresses) only; empty when all match or nothing is expected.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name.
      type: str
      sample: legal.sertantai.com
    addresses:
      description: What it resolves to.
      type: list
      elements: str
      sample: [192.0.2.10]
    expected:
      description: O(expected_addresses), sorted.
      type: list
      elements: str
      sample: [46.224.29.187]
    reason:
      description: A readable reason.
      type: str
      sample: resolves to 192.0.2.10, expected 46.224.29.187
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._dns import compare, describe, parse_server, resolve


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str", required=True),
            resolver=dict(type="str"),
            expected_addresses=dict(type="list", elements="str", default=[]),
            fail_on_mismatch=dict(type="bool", default=False),
            timeout=dict(type="float", default=3.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    server = None
    if params["resolver"]:
        try:
            server = parse_server(params["resolver"])
        except ValueError as exc:
            module.fail_json(msg="resolver: %s; give host, host:port or [v6address]:port" % exc)
    records = resolve(params["names"], server=server, timeout=params["timeout"])
    mismatches = compare(records, params["expected_addresses"]) if params["expected_addresses"] else []
    result = dict(
        changed=False,
        resolver="%s:%d" % server if server else "system",
        records=records,
        mismatches=mismatches,
    )
    if mismatches and params["fail_on_mismatch"]:
        module.fail_json(msg="DNS does not point at %s: %s. Fix the A records before requesting certificates."
                         % (" or ".join(sorted(set(params["expected_addresses"]))), describe(mismatches)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
