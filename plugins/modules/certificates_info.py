#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificates_info
short_description: The certificates certbot holds for some domains, their expiry and which are due, in one run
description:
  - For each domain of O(domains), reads C(<config_dir>/live/<domain>/cert.pem) (with python3-cryptography, which
    certbot depends on, else C(openssl x509)) and the C(renew_before_expiry) of C(<config_dir>/renewal/<domain>.conf).
  - A domain is due when it has no certificate or when its certificate expires within O(renew_before_days).
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  domains:
    description: The domains to read.
    type: list
    elements: str
    required: true
  config_dir:
    description: certbot's configuration directory.
    type: path
    default: /etc/letsencrypt
  renew_before_days:
    description: The renewal window, in days.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Find which domains need an ACME request
  sertantai.deploy.certificates_info:
    domains: [legal.example.com, auth.example.com]
    renew_before_days: 30
  register: certificates
"""

RETURN = r"""
certificates:
  description:
    - "Per domain: C(exists), C(not_after) (UTC, ISO 8601), C(days_left), C(due), C(renew_before_expiry) (the renewal
      file's value, null when there is none)."
  returned: success
  type: dict
due:
  description: The domains with no certificate or one that expires within the window, in the order given.
  returned: success
  type: list
  elements: str
existing:
  description: The domains that have a certificate.
  returned: success
  type: list
  elements: str
threshold_differs:
  description: The domains whose renewal file has another C(renew_before_expiry) than O(renew_before_days) days.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._certificates import CertificatesError, read


def main():
    module = AnsibleModule(
        argument_spec=dict(
            domains=dict(type="list", elements="str", required=True),
            config_dir=dict(type="path", default="/etc/letsencrypt"),
            renew_before_days=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    try:
        result = read(module.params["config_dir"], module.params["domains"], module.params["renew_before_days"])
    except (CertificatesError, IOError, OSError, ValueError) as exc:
        module.fail_json(msg="certificates_info: %s" % exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
