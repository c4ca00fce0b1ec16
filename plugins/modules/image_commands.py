#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_commands
short_description: Prove that the executables a healthcheck or script needs exist in an image
version_added: 0.1.0
description:
  - Checks inside an image that commands exist, with C(docker run --rm --network none --entrypoint sh <image> -c 'command -v ...').
    In an image without C(sh) it looks for the files along the image's C(PATH) instead (C(docker create) and C(docker cp)),
    and reports C(sh) itself as missing (a C(CMD-SHELL) healthcheck needs it).
  - Either O(image) with O(commands) (or, without O(commands), the image's own C(HEALTHCHECK)), or a compose file;
    for each service in O(services) it reads C(healthcheck.test) (C(["CMD", ...]), C(["CMD-SHELL", "..."]) or a plain
    string) and C(image). A service without a healthcheck in the compose file is checked against its image's own C(HEALTHCHECK).
  - For shell lines, the executables are read as far as a static reading can tell (split on C(&&), C(||), C(;), C(|);
    builtins, variable assignments and C($VAR) commands are skipped).
  - A healthcheck that calls C(curl) in an image that only has C(wget) leaves the container unhealthy forever; the
    failure names the service and the tool, and suggests the tool the image has.
  - Images are never pulled unless O(pull=true). A pull that brings a new image (or the first copy of it) is reported
    as a change; the module changes nothing else.
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - With O(pull=true) check mode pulls nothing; an image that is not present locally counts as a change (it would
        be pulled) and its commands are not checked.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Another O(pull=true) reports no change unless the registry holds a new image for the tag.
options:
  image:
    description:
      - The image to check. Mutually exclusive with O(compose_file).
    type: str
  commands:
    description:
      - Commands to look for in O(image) (names looked up in C(PATH), or paths).
      - Without it, the commands of the image's own C(HEALTHCHECK) are checked.
    type: list
    elements: str
  compose_file:
    description:
      - A compose file whose services' healthchecks are checked.
      - "Variables (C($TAG), C(${TAG:-latest})) are interpolated from the environment of the module and the C(.env) file
        next to the compose file, as C(docker compose) does."
    type: path
  services:
    description:
      - Services of O(compose_file) to check; default all.
    type: list
    elements: str
  pull:
    description:
      - Pull each image before checking it. By default only local images are used.
      - The task reports RV(ignore:changed=true) when a pull brought an image that was not present locally, or a new
        image id for the same tag (RV(pulled) lists them).
      - In check mode nothing is pulled. An image that is not present locally is reported as a change (it would be
        pulled) and its commands are not checked (RV(services[].unchecked) says so); whether the registry holds a
        newer image for a tag that is present is not asked.
    type: bool
    default: false
  fail_on_missing:
    description:
      - Fail when a command is missing or an image cannot be checked. With V(false) the result is only returned.
    type: bool
    default: true
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Ensure every healthcheck tool exists in its image
  sertantai.deploy.image_commands:
    compose_file: "{{ deploy_root }}/docker/docker-compose.yml"
    services: [sertantai-legal, sertantai-legal-electric]

- name: Ensure the release image has what the migration script runs
  sertantai.deploy.image_commands:
    image: ghcr.io/shotleybuilder/sertantai-legal:{{ git_sha }}
    commands: [sh, wget, bin/sertantai_legal]
"""

RETURN = r"""
missing:
  description: Commands some healthcheck or O(commands) needs that their image does not have.
  returned: always
  type: list
  elements: str
  sample: [curl]
services:
  description: One entry per checked service (or one entry for O(image), with a null service).
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The compose service, or null for O(image).
      type: str
    image:
      description: The image checked.
      type: str
    healthcheck:
      description: The healthcheck test that was read (null when O(commands) was given or there is none).
      type: raw
      sample: ["CMD", "curl", "-f", "http://localhost:4000/health"]
    healthcheck_from:
      description: Where the healthcheck came from, V(compose), V(image) or V(option) (O(commands)).
      type: str
    kind:
      description: V(exec) (C(CMD) or O(commands)), V(shell) (C(CMD-SHELL) or a string) or V(none).
      type: str
    commands:
      description: The commands found in the healthcheck (or O(commands)).
      type: list
      elements: str
    missing:
      description: Those of them the image does not have (C(sh) included for a shell healthcheck in an image without it).
      type: list
      elements: str
    suggestions:
      description: For each missing tool, an alternative the image has (key the missing tool, value the alternative).
      sample: {"curl": "wget"}
      type: dict
    error:
      description: Why the service could not be checked (only when it could not).
      type: str
      returned: on error
    unchecked:
      description: Why the service was not checked in check mode (its image is absent and would be pulled).
      type: str
      returned: in check mode, with O(pull=true), for an image that is not present locally
images:
  description: One entry per image probed.
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The image.
      type: str
    pulled:
      description: Whether a pull brought a new image (in check mode, whether the image would be pulled).
      type: bool
    checked_with:
      description: V(sh) (C(command -v) inside the image) or V(filesystem) (no C(sh) in the image); null when not checked.
      type: str
    found:
      description: Probed commands (needed ones and their alternatives) the image has.
      type: list
      elements: str
    missing:
      description: Probed commands the image lacks.
      type: list
      elements: str
pulled:
  description: Images that O(pull) changed locally (new, or a new image id for the tag); in check mode the absent
    images that would be pulled. The task is changed when this is not empty.
  returned: always
  type: list
  elements: str
  sample: [ghcr.io/shotleybuilder/sertantai-legal:latest]
msg:
  description: A summary; on failure one sentence per problem, naming service, image and tool.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.yaml import HAS_YAML, yaml_load

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import docker_argument_spec
from ansible_collections.sertantai.deploy.plugins.module_utils._image import (
    ImageCommandsError,
    check,
    compose_targets,
    read_env_file,
    summary,
)


def load_targets(module):
    path = module.params["compose_file"]
    if not HAS_YAML:
        module.fail_json(msg="reading a compose file needs PyYAML on the host that runs the module (pip install pyyaml)")
    try:
        with open(path) as handle:
            compose = yaml_load(handle)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read the compose file %s: %s" % (path, exc))
    except Exception as exc:  # yaml errors: the class depends on the yaml implementation
        module.fail_json(msg="the compose file %s is not valid YAML: %s" % (path, exc))
    env = read_env_file(os.path.join(os.path.dirname(os.path.abspath(path)), ".env"))
    env.update(os.environ)
    return compose_targets(compose, module.params["services"], env)


def main():
    argument_spec = docker_argument_spec()
    argument_spec.update(
        image=dict(type="str"),
        commands=dict(type="list", elements="str"),
        compose_file=dict(type="path"),
        services=dict(type="list", elements="str"),
        pull=dict(type="bool", default=False),
        fail_on_missing=dict(type="bool", default=True),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("image", "compose_file"), ("commands", "compose_file"), ("image", "services")],
        required_one_of=[("image", "compose_file")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        targets = load_targets(module) if params["compose_file"] else None
        result = check(module.run_command, params["docker_cli"], image=params["image"], commands=params["commands"],
                       targets=targets, pull=params["pull"], check_mode=module.check_mode)
    except ImageCommandsError as exc:
        module.fail_json(msg=exc.message, missing=[], services=[], images=[], pulled=[])

    problems = result.pop("problems")
    result["changed"] = bool(result["pulled"])
    result["msg"] = summary(result, problems)
    if problems and params["fail_on_missing"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
