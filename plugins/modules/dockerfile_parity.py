#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dockerfile_parity
short_description: Check that the builder and runner stages of a Dockerfile use the same OS release
version_added: 0.1.0
description:
  - Parses a multi-stage Dockerfile (global C(ARG) defaults, O(build_args), C(FROM ... AS name), C(COPY --from))
    and resolves the OS release (Alpine x.y, Debian, Ubuntu) of each stage.
  - By default it compares the stages the final stage copies from (C(COPY --from=<stage>)) with the final stage.
    An Erlang release built on Alpine 3.23 (OpenSSL 3.5) does not load its crypto NIF on Alpine 3.19
    (C(Error relocating crypto.so)); this check catches that before the build.
  - With O(resolve=static) releases come from the image tags (V(alpine:3.21), V(hexpm/elixir:...-alpine-3.21.3),
    V(node:20-alpine3.19), V(debian:bookworm-slim), V(elixir:1.18.4-alpine) which is Alpine 3.23, ...).
    A tag that does not name its release (V(elixir:1.17-alpine)) is reported as unresolved.
  - With O(resolve=inspect) releases are read from the local images (C(/etc/alpine-release), C(/etc/os-release))
    by C(docker run --rm --network none); images are never pulled. An image that is not present locally falls
    back to the static table.
  - The module only reads; it never changes anything.
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  path:
    description:
      - The Dockerfile, or a directory that contains a file named C(Dockerfile).
    type: path
    required: true
  resolve:
    description:
      - How to find each stage's OS release.
    type: str
    choices: [static, inspect]
    default: static
  build_args:
    description:
      - Values for C(ARG)s used in C(FROM) lines, as C(docker build --build-arg) would pass them.
        They override the C(ARG) defaults.
    type: dict
    default: {}
  stages:
    description:
      - Stage names (or indexes counted from 0) to compare instead of the default
        (the stages the final stage copies from, plus the final stage).
    type: list
    elements: str
  known_releases:
    description:
      - Extra image references and their release, for tags the built-in table cannot resolve,
        for example C(elixir:1.17-alpine) with the value C(alpine 3.20).
    type: dict
    default: {}
  fail_on_mismatch:
    description:
      - Fail when the compared stages use different releases, or when a compared stage cannot be resolved.
      - A Dockerfile whose final stage copies from no other stage (or O(stages) naming one stage) has nothing to
        compare, so it never fails, whatever its base image; RV(msg) says so.
      - With V(false) the result is only returned.
    type: bool
    default: true
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Ensure the runner stage uses the builder's Alpine release
  sertantai.deploy.dockerfile_parity:
    path: "{{ backend_src }}/Dockerfile"

- name: Read the releases from the local images (after docker pull / build)
  sertantai.deploy.dockerfile_parity:
    path: "{{ backend_src }}"
    resolve: inspect
    build_args:
      ALPINE_VERSION: "3.23"
"""

RETURN = r"""
stages:
  description: Every stage of the Dockerfile, in order.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: Position of the stage, from 0.
      type: int
    name:
      description: The C(AS) name, or null.
      type: str
    line:
      description: Line of the C(FROM) instruction.
      type: int
    image:
      description: The image as written in the C(FROM) line.
      type: str
      sample: alpine:${ALPINE_VERSION}
    resolved_image:
      description: The image after C(ARG) substitution.
      type: str
      sample: alpine:3.19
    os:
      description: OS id (V(alpine), V(debian), V(ubuntu), ...), or null when unresolved.
      type: str
      sample: alpine
    release:
      description: OS release (V(3.23) for Alpine, V(12) for Debian), or null when unresolved.
      type: str
      sample: "3.19"
    openssl:
      description: OpenSSL version the release ships, when known.
      type: str
      sample: "3.1"
    how:
      description: How the release was found, V(static), V(inspect), V(stage) (built on an earlier stage) or V(unresolved).
      type: str
    note:
      description: Why a stage is unresolved, or how a fallback was taken.
      type: str
    compared:
      description: Whether the stage takes part in the comparison.
      type: bool
  sample:
    - index: 0
      name: builder
      line: 1
      image: elixir:1.18.4-alpine
      resolved_image: elixir:1.18.4-alpine
      os: alpine
      release: "3.23"
      openssl: "3.5"
      how: static
      note: null
      compared: true
compared:
  description: Names (or indexes) of the compared stages; empty when there is only one stage to look at.
  returned: always
  type: list
  elements: str
  sample: [builder, "1"]
unresolved:
  description: Compared stages whose release could not be found (a stage that is not compared is never listed).
  returned: always
  type: list
  elements: str
  sample: []
mismatch:
  description: Whether the compared (resolved) stages use different OS releases.
  returned: always
  type: bool
msg:
  description: A readable verdict, with what to change on a mismatch.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import docker_argument_spec
from ansible_collections.sertantai.deploy.plugins.module_utils._dockerfile import DockerfileError, analyse


def main():
    argument_spec = docker_argument_spec()
    argument_spec.update(
        path=dict(type="path", required=True),
        resolve=dict(type="str", choices=["static", "inspect"], default="static"),
        build_args=dict(type="dict", default={}),
        stages=dict(type="list", elements="str"),
        known_releases=dict(type="dict", default={}),
        fail_on_mismatch=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    path = params["path"]
    if os.path.isdir(path):
        path = os.path.join(path, "Dockerfile")
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read the Dockerfile %s: %s; set path to the Dockerfile or its directory" % (path, exc))

    try:
        result = analyse(text, build_args=params["build_args"], resolve=params["resolve"],
                         known_releases=params["known_releases"], compare=params["stages"],
                         run_command=module.run_command, docker_cli=params["docker_cli"])
    except DockerfileError as exc:
        module.fail_json(msg="%s: %s" % (path, exc.message))

    result["changed"] = False
    if params["fail_on_mismatch"] and (result["mismatch"] or result["unresolved"]):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
