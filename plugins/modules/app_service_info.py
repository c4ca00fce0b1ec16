#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_service_info
short_description: The containers of one service as a deploy sees them, in one call
description:
  - Each component of a service (V(backend), V(frontend), V(electric)) runs as C(<name>-blue) or C(<name>-green);
    the service's nginx routes file names the live one. A deploy starts the other colour beside it, waits until it is
    healthy, switches the route, and stops the old one.
  - This module reads, with C(docker ps) and C(docker inspect), every container labelled C(org.sertantai.service=<service>) and the
    wanted images, and the routes file, and says per component which container is live, whether it is up to date
    (same image id, same settings, running and healthy), which colour a deploy would start, and which containers are
    left over from an interrupted deploy. It also reads the engine's API version (C(docker version)).
  - It changes nothing.
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
  - sertantai.deploy.docker
options:
  service:
    description: The service name (C(sertantai_services[].name)).
    type: str
    required: true
  components:
    description:
      - What should run, per component to look at. Components not listed are not judged.
    type: dict
    required: true
    suboptions:
      backend:
        description: What the backend should run.
        type: dict
        suboptions: &component
          image:
            description: The image reference (C(name:tag)).
            type: str
            required: true
          spec:
            description: A hash of the settings (the C(spec) of the C(sertantai.deploy.app_containers) filter).
            type: str
          settings:
            description:
              - A hash of the settings without the image reference (the C(settings) of the
                C(sertantai.deploy.app_containers) filter). With a new image reference, a live container whose
                C(org.sertantai.settings) label differs has new settings too; one without the label is judged by
                O(components.backend.spec) alone.
            type: str
      frontend:
        description: What the frontend should run.
        type: dict
        suboptions: *component
      electric:
        description: What Electric should run.
        type: dict
        suboptions: *component
  newer_images:
    description:
      - Image references for which the registry holds another image than the local one (in check mode, the images of
        M(sertantai.deploy.image_pull) whose RV(sertantai.deploy.image_pull#module:images[].remote) is V(newer)). A
        component whose live container runs the local image of such a reference is not up to date, since a run would
        pull the newer one and deploy it.
    type: list
    elements: str
    default: []
  routes_file:
    description: The nginx routes file of the service; missing means no route yet.
    type: path
    required: true
  site_file:
    description:
      - The service's nginx site (C(conf.d/<domain>.conf)). When set, RV(site) says whether it exists (read with the routes
        file, in one command); a service without one is not provisioned on the host yet.
    type: path
  shared_containers:
    description:
      - Containers the service needs, by what they are to it (such as C(nginx) and C(postgres)). RV(shared) says
        whether each runs, read in the same C(docker inspect) call, so that a deploy can refuse before it starts
        anything.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Read the containers of legal
  sertantai.deploy.app_service_info:
    service: legal
    routes_file: /opt/sertantai/nginx/routes/legal.conf
    components:
      backend: {image: "ghcr.io/shotleybuilder/sertantai-legal-backend:latest", spec: "{{ backend_spec }}"}
  register: legal
"""

RETURN = r"""
components:
  description: Per component asked for, its state and what a deploy must do.
  returned: success
  type: dict
  contains:
    live:
      description: "The live container (name, id, color, spec, settings, image, image_id, state, running, health, restarts,
        started_at), or null."
      type: dict
    live_color:
      description: Colour of the live container, or null.
      type: str
    next_color:
      description: The colour a deploy starts.
      type: str
    leftovers:
      description: Other containers of the component (an interrupted deploy's candidate, or an old one not yet removed).
      type: list
      elements: str
    routed:
      description: The colour the routes file names, or null.
      type: str
    wanted_image_id:
      description: Id of the wanted image on this host, or null when it is not there.
      type: str
    up_to_date:
      description: The live container runs the wanted image with the wanted settings and is healthy.
      type: bool
    reasons:
      description: Why it is not up to date.
      type: list
      elements: str
routes:
  description: "What the routes file says: C({component: colour})."
  returned: success
  type: dict
containers:
  description: Every container of the service, summarized.
  returned: success
  type: list
  elements: dict
site:
  description: The nginx site of the service, when O(site_file) is set.
  returned: when O(site_file) is set
  type: dict
  contains:
    path:
      description: O(site_file).
      type: str
    exists:
      description: Whether the file exists.
      type: bool
  sample: {path: /opt/sertantai/nginx/conf.d/legal.sertantai.com.conf, exists: true}
shared:
  description: Per key of O(shared_containers), the container's V(name), V(state) (Docker's, such as C(running) or
    C(exited), or C(absent) when there is no such container) and whether it is V(running).
  returned: success
  type: dict
  sample: {nginx: {name: nginx, state: running, running: true}, postgres: {name: shared_postgres, state: exited, running: false}}
engine:
  description: The host's Docker Engine, as far as a deploy needs it.
  returned: success
  type: dict
  contains:
    api_version:
      description: The newest API version the engine speaks, such as C(1.45).
      type: str
    healthcheck_start_interval:
      description: Whether the engine knows the healthcheck's C(start_interval) (Docker 25, API 1.44, and later).
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _app
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import (
    START_INTERVAL_API,
    DockerCli,
    DockerError,
    docker_argument_spec,
)

# "site" or "no-site" for the site file ($2), then the routes file ($1); cat's status says whether that one exists.
READ_FILES = 'if [ -f "$2" ]; then echo site; else echo no-site; fi; cat -- "$1"'
COMPONENT_SPEC = dict(type="dict", options=dict(image=dict(type="str", required=True), spec=dict(type="str"), settings=dict(type="str")))


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = dict(
        service=dict(type="str", required=True),
        components=dict(type="dict", required=True, options=dict((c, dict(COMPONENT_SPEC)) for c in _app.COMPONENTS)),
        routes_file=dict(type="path", required=True),
        newer_images=dict(type="list", elements="str", default=[]),
        site_file=dict(type="path"),
        shared_containers=dict(type="dict", default={}),
    )
    argument_spec.update(docker_argument_spec())
    return dict(argument_spec=argument_spec)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    wanted = dict((c, v) for c, v in params["components"].items() if v)
    # A shell command, not open(): the action plugin runs this on the controller, its commands on the host.
    rc, out, _err = module.run_command(["sh", "-c", READ_FILES, "sh", params["routes_file"], params["site_file"] or ""])
    site_line, _sep, routes_out = (out or "").partition("\n")
    routes_text = routes_out if rc == 0 else ""
    try:
        cli = DockerCli(module.run_command, params["docker_cli"])
        shared = params["shared_containers"]
        docs, image_ids, shared_docs = _app.read_service(cli, params["service"],
                                                         dict((c, v["image"]) for c, v in wanted.items()),
                                                         sorted(set(shared.values())))
        api = cli.api_version()
    except DockerError as exc:
        module.fail_json(msg="could not read the containers of %s: %s" % (params["service"], exc.message))
    components = dict((c, dict(image=v["image"], image_id=image_ids.get(c), spec=v.get("spec"), settings=v.get("settings"),
                               newer=v["image"] in params["newer_images"]))
                      for c, v in wanted.items())
    plan, routes = _app.plan_service(params["service"], docs, routes_text, components)
    states = dict((name, (shared_docs.get(name) or {}).get("State") or {}) for name in shared.values())
    result = dict(changed=False, components=plan, routes=routes,
                  containers=sorted((_app.summarize(d) for d in docs), key=lambda c: c["name"]),
                  shared=dict((key, dict(name=name, state=states[name].get("Status") or "absent",
                                         running=bool(states[name].get("Running"))))
                              for key, name in shared.items()),
                  engine=dict(api_version="%d.%d" % api, healthcheck_start_interval=api >= START_INTERVAL_API))
    if params["site_file"]:
        result["site"] = dict(path=params["site_file"], exists=site_line == "site")
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
