#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_auth
short_description: Fail fast when the local docker config has no usable credentials for a registry
version_added: 0.1.0
description:
  - Reads the Docker CLI's C(config.json) the way C(docker) does. A C(credHelpers) entry for the registry wins,
    else C(credsStore), else the file's C(auths). Helpers are asked with C(docker-credential-<helper> get).
  - With O(verify=true) it also logs in against the registry's C(/v2/) endpoint with those credentials, as
    C(docker login) does. Both Basic auth and the Bearer token flow (C(WWW-Authenticate) realm, as GHCR uses) work.
  - On failure the message gives the C(docker login) command to run; when the registry refuses the credentials
    (C(denied)) it says the token may have expired or lack C(read:packages) / C(write:packages).
  - No secret is ever returned or logged; results carry the username at most. The module never changes anything.
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  registry:
    description:
      - The registry host, e.g. V(ghcr.io) or V(127.0.0.1:5000). A scheme may be given
        (V(http://127.0.0.1:5000) for a plain-HTTP test registry); it only matters for O(verify).
    type: str
    required: true
  config_path:
    description:
      - The docker config file. Default C($DOCKER_CONFIG/config.json) when C(DOCKER_CONFIG) is set, else
        C(~/.docker/config.json) of the user that runs the module.
    type: path
  verify:
    description:
      - Log in against the registry with the credentials found, and fail when it refuses them.
    type: bool
    default: false
  validate_certs:
    description:
      - Check the registry's TLS certificate when O(verify=true).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM CA bundle that signed the registry's certificate (a local registry with its own CA).
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request when O(verify=true).
    type: int
    default: 15
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Ensure this machine can push to GHCR before the build starts
  sertantai.deploy.registry_auth:
    registry: ghcr.io
    verify: true

- name: Ensure the server has pull credentials (config file of the deploy user)
  sertantai.deploy.registry_auth:
    registry: ghcr.io
    config_path: /home/deploy/.docker/config.json
"""

RETURN = r"""
registry:
  description: The registry host the credentials are for.
  returned: always
  type: str
  sample: ghcr.io
config_path:
  description: The docker config file that was read.
  returned: always
  type: str
  sample: /home/deploy/.docker/config.json
source:
  description: Where the credentials came from, V(auths), V(credHelpers), V(credsStore) or V(none).
  returned: always
  type: str
  sample: auths
helper:
  description: The credential helper asked (C(docker-credential-<helper>)), or null.
  returned: always
  type: str
  sample: desktop
username:
  description: The username of the credentials, or null. Never the password or token.
  returned: always
  type: str
  sample: shotleybuilder
logged_in:
  description: Usable credentials exist; with O(verify=true), the registry also accepted them.
  returned: always
  type: bool
verified:
  description: Whether a login against the registry was made (O(verify=true)) and succeeded.
  returned: always
  type: bool
auth_scheme:
  description: How the registry authenticated the login, V(basic), V(bearer) or V(none) (open registry); null without O(verify).
  returned: always
  type: str
  sample: bearer
reason:
  description: On failure, a short reason, V(no_credentials), V(denied), V(tls), V(unreachable), V(helper), V(config) or V(unexpected).
  returned: failure
  type: str
msg:
  description: A summary; on failure what to do, with the C(docker login) command.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._registry import (
    RegistryError,
    default_config_path,
    denied_hint,
    find_credentials,
    load_config,
    login_command,
    split_registry,
    verify_login,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            config_path=dict(type="path"),
            verify=dict(type="bool", default=False),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            timeout=dict(type="int", default=15),
        ),
        supports_check_mode=True,
    )
    params = module.params
    registry = params["registry"]
    _scheme, host = split_registry(registry)
    path = params["config_path"] or default_config_path()
    result = dict(changed=False, registry=host, config_path=path, source="none", helper=None, username=None,
                  logged_in=False, verified=False, auth_scheme=None)

    def fail(message, reason):
        module.fail_json(msg=message, reason=reason, **result)

    try:
        credentials = find_credentials(load_config(path), registry, module.run_command)
    except RegistryError as exc:
        fail("%s. Then: %s" % (exc.message, login_command(registry)), "config" if exc.reason == "error" else exc.reason)
    result.update(source=credentials.source, helper=credentials.helper, username=credentials.username)

    if not credentials.usable:
        where = "the credential helper docker-credential-%s has none" % credentials.helper if credentials.helper else "%s has none" % path
        fail("no credentials for %s: %s. Log in first (on every machine that pushes or pulls): %s"
             % (host, where, login_command(registry)), "no_credentials")
    result["logged_in"] = True

    if params["verify"]:
        try:
            result["auth_scheme"] = verify_login(registry, credentials, params["validate_certs"], params["ca_path"], params["timeout"])
        except RegistryError as exc:
            result["logged_in"] = False
            if exc.reason == "denied":
                fail("denied: %s; %s: %s" % (exc.message, denied_hint(host), login_command(registry, credentials.username)), "denied")
            fail(exc.message, exc.reason)
        result["verified"] = True
        result["msg"] = "%s accepted the credentials of %s (from %s)" % (host, credentials.username, credentials.source)
    else:
        result["msg"] = "credentials for %s found (%s, user %s); not verified against the registry" % (host, credentials.source, credentials.username)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
