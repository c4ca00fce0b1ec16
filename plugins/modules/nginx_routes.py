#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_routes
short_description: Switch which colour of a service's components nginx serves, proven before the reload
description:
  - The site of each service (role C(sertantai.deploy.nginx)) sends the traffic of each component to
    C(<container>-<colour>), the colour read from C(<routes_dir>/<service>.conf). This module writes that file
    for O(colors).
  - The new file replaces the old one atomically, the whole configuration is proven with C(nginx -t) in the
    running nginx container, and only then is nginx reloaded gracefully (requests in flight finish on the old
    workers). When C(nginx -t) refuses, the previous file is put back and nginx is not reloaded, so traffic stays
    where it was; the failure carries nginx's own error line.
  - One task does it all. Its action plugin runs the module's logic on the controller and sends only its commands
    (reading and writing the routes file with C(sh), C(docker exec) into nginx) over the task's connection.
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.docker
attributes:
  check_mode:
    support: full
    details:
      - Says whether the routes would change; writes and reloads nothing.
  diff_mode:
    support: full
    details:
      - The routes file before and after.
  idempotent:
    support: full
    details:
      - The same colours again change nothing and reload nothing.
options:
  service:
    description: The service name (C(sertantai_services[].name)).
    type: str
    required: true
  colors:
    description: "The live colour per component, for example C({backend: green, frontend: blue})."
    type: dict
    required: true
  routes_dir:
    description: The directory of the routes files (mounted into the nginx container).
    type: path
    default: /opt/sertantai/nginx/routes
  container:
    description: The nginx container.
    type: str
    default: nginx
  retire:
    description:
      - Containers to stop (C(docker stop), their own stop timeout) right after the reload, in the same call.
      - For an Electric handover, where the old instance must free the replication lock the moment traffic has
        moved to the new one; any delay between the two is time without an active Electric.
      - They are stopped once nginx serves with the new routes only, that is once every worker process is one
        the reload started and the old ones have finished the requests they had in flight (at most
        O(retire_timeout) seconds). A request in flight to a retired container is never cut off by its stop.
      - Nothing is stopped when the routes did not change or in check mode.
    type: list
    elements: str
    default: []
  retire_timeout:
    description:
      - How long to wait, after the reload, for the old worker processes to finish before stopping O(retire)
        anyway (with a warning).
    type: float
    default: 5
"""

EXAMPLES = r"""
- name: Send legal's backend traffic to sertantai-legal-green
  sertantai.deploy.nginx_routes:
    service: legal
    colors: {backend: green, frontend: blue, electric: blue}
"""

RETURN = r"""
content:
  description: The routes file as it is now (in check mode, as it would be).
  returned: success
  type: str
previous:
  description: The routes file before, or null when there was none.
  returned: success
  type: str
retired:
  description: The containers of O(retire) that were stopped.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _nginx
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, docker_argument_spec


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = dict(
        service=dict(type="str", required=True),
        colors=dict(type="dict", required=True),
        routes_dir=dict(type="path", default="/opt/sertantai/nginx/routes"),
        container=dict(type="str", default="nginx"),
        retire=dict(type="list", elements="str", default=[]),
        retire_timeout=dict(type="float", default=5),
    )
    argument_spec.update(docker_argument_spec())
    return dict(argument_spec=argument_spec)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    cli = DockerCli(module.run_command, params["docker_cli"])

    def docker_exec(*argv):
        rc, _out, err = cli.run("exec", params["container"], *argv, check=False)
        return rc == 0, err

    def list_workers():
        rc, out, _err = cli.run("exec", params["container"], "sh", "-c", _nginx.LIST_PROCESSES, check=False)
        return _nginx.parse_workers(out) if rc == 0 else None

    # The workers before the reload, read only when it happens and something is to be retired after it.
    before = {}

    def reload():
        if params["retire"]:
            before["workers"] = list_workers()
        return docker_exec("nginx", "-s", "reload")

    routes = _nginx.RoutesFile(module.run_command, params["routes_dir"], params["service"])
    try:
        content = _nginx.render(params["service"], params["colors"])
        changed, previous = _nginx.switch(routes, content, lambda: docker_exec("nginx", "-t"), reload, module.check_mode)
    except _nginx.RoutesError as exc:
        module.fail_json(msg="%s: %s" % (params["service"], exc))
    result = dict(changed=changed, content=content, previous=previous, retired=[])
    if "workers" in before:
        if before["workers"] is None:
            module.warn("could not list nginx's worker processes in %s, so the retired containers are stopped right "
                        "after the reload" % params["container"])
        elif not _nginx.wait_reloaded(lambda: list_workers() or {}, before["workers"], timeout=params["retire_timeout"]):
            module.warn("nginx's old worker processes were still finishing requests %s s after the reload; %s stopped "
                        "anyway" % (params["retire_timeout"], ", ".join(params["retire"])))
        for name in params["retire"]:
            rc, _out, err = cli.run("stop", name, check=False)
            if rc != 0 and "No such container" not in (err or ""):
                module.fail_json(msg="%s: the routes switched, but %s did not stop: %s" % (params["service"], name, (err or "").strip()),
                                 **result)
            if rc == 0:
                result["retired"].append(name)
    if module._diff:
        result["diff"] = dict(before=previous or "", after=content, before_header=routes.path, after_header=routes.path)
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
