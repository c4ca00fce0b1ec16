#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_prune
short_description: Remove the old images of a service's repositories, keeping the newest and those in use
version_added: 0.1.0
description:
  - Every deploy pulls new images, and those it replaced stay on the host, untagged but still named by their digest.
    On a host that deploys every day they fill the disk the database shares. This module removes them.
  - For each repository of O(images) it keeps the newest O(keep) images (by their creation time), every image a
    container uses (running or stopped) and every image a reference of O(images) names. Of each other image it
    removes the references in that repository (C(docker rmi repo:tag repo@sha256:...), never C(-f)). Docker deletes
    an image when its last reference goes, so an image another repository also names stays; and Docker refuses to
    remove an image a container uses.
  - Images of other repositories, containers and volumes are never touched.
  - Its action plugin runs the module's logic on the controller and sends only its commands over the task's
    connection (one listing, one C(docker image inspect), one C(docker rmi)).
  - A reference Docker refuses to remove (a container started on it meanwhile) is a warning, not a failure.
    This is housekeeping after a deploy has succeeded.
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode lists what a run would remove and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Another run removes nothing until a newer image arrives.
options:
  images:
    description:
      - The image references a service deploys (C(registry/name:tag)). Their repositories are pruned; the images they
        name are kept.
    type: list
    elements: str
    required: true
  keep:
    description:
      - How many of the newest images of each repository stay, whether or not a container uses them. The live image and
        the ones before it, for a rollback without the registry.
      - Images in use and images O(images) names stay in addition.
    type: int
    default: 3
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Remove the old images of legal, keeping the newest 3 of each repository
  sertantai.deploy.image_prune:
    images:
      - ghcr.io/shotleybuilder/sertantai-legal-backend:latest
      - ghcr.io/shotleybuilder/sertantai-legal-frontend:latest
    keep: 3
"""

RETURN = r"""
removed:
  description: The images whose references in a pruned repository were removed (in check mode, would be).
    The task is changed when one was.
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: The repository pruned.
      type: str
    id:
      description: The image id.
      type: str
    created:
      description: When the image was built.
      type: str
    size:
      description: The image's size in bytes, layers it shares with other images included.
      type: int
    references:
      description: Its references in the repository (tags, then digests).
      type: list
      elements: str
    deleted:
      description: Whether the image is gone from the host (in check mode, would be). False when another repository
        still names it.
      type: bool
    error:
      description: Docker's reason when a reference could not be removed, else null.
      type: str
  sample: [{"repository": "ghcr.io/shotleybuilder/sertantai-legal-backend", "id": "sha256:1a2b...", "deleted": true,
            "references": ["ghcr.io/shotleybuilder/sertantai-legal-backend@sha256:9f8e..."], "error": null}]
freed:
  description: The sizes of the deleted images, in bytes. This is at most what the disk got back, because layers that
    other images share stay.
  returned: always
  type: int
repositories:
  description: Per repository, the images that stay and why (C(in use), C(wanted), C(among the newest N)).
  returned: always
  type: list
  elements: dict
msg:
  description: A summary.
  returned: always
  type: str
  sample: "removed 2 old images (sertantai-legal-backend 1a2b3c4d5e6f, sertantai-legal-backend 7a8b9c0d1e2f), freed up to
    212.4 MB; 4 kept"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _image_prune
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError, docker_argument_spec


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = dict(
        images=dict(type="list", elements="str", required=True),
        keep=dict(type="int", default=3),
    )
    argument_spec.update(docker_argument_spec())
    return dict(argument_spec=argument_spec)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    cli = DockerCli(module.run_command, params["docker_cli"])
    try:
        result = _image_prune.prune(cli, params["images"], params["keep"], module.check_mode)
    except DockerError as exc:
        module.fail_json(msg="could not prune the images of %s: %s" % (", ".join(params["images"]), exc.message))
    result["msg"] = _image_prune.summary(result, params["keep"], module.check_mode)
    for item in result["removed"]:
        if item["error"]:
            module.warn("%s %s was not removed: %s" % (item["repository"], item["id"], item["error"]))
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
