#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_pull
short_description: Pull several images in one task, in parallel
version_added: 0.1.0
description:
  - Pulls every image of O(images) with C(docker pull), side by side, in one module run. A deploy pulls the
    images of a service (backend, frontend, Electric) in one task instead of one task per image.
  - The module runs on the controller (an action plugin), and only its commands go over the task's connection, each
    in one round trip (one C(docker inspect) before, the login, all the pulls in one shell command, one
    C(docker inspect) after). The host needs C(sh), C(mktemp) and C(cksum) besides the Docker CLI (20.10 or later
    for check mode, which uses C(docker manifest inspect)).
  - One C(docker inspect) before and one after the pulls tell which images changed. An image is changed when its
    local image id differs from before (it was not present, or the tag now names another image), as
    M(community.docker.docker_image_pull) reports it.
  - The module fails when any pull failed, after all pulls have ended; the message names each image that could not
    be pulled with Docker's reason (for example C(denied), C(unauthorized) or C(manifest unknown)).
  - With O(username) and O(password), the host logs in to O(registry) first (C(docker login), the password on
    stdin), in the same run; a login the registry refuses fails the module before anything is pulled. Without them
    the pulls use the credentials the Docker CLI's configuration already holds.
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode pulls nothing, and asks the registry instead (C(docker manifest inspect), side by side, one
        command for all) about each image a run would pull. An image that is not present locally is a change (it
        would be pulled); so is a tag whose image in the registry differs from the local one (RV(images[].remote)).
        A reference the registry does not answer for (a mistyped tag, a denied repository) fails the module with
        the registry's reason, as the run's pull would. Each question fetches the reference's manifest, as a pull
        does first; Docker Hub counts it against its pull rate limit as it counts a pull.
      - A login is still tried in check mode, so that refused credentials show, but with a throwaway Docker
        configuration, which the registry questions use too; the host's stored credentials are not changed.
      - A registry the daemon reaches over plain HTTP (configured as insecure by name, or an address in its
        insecure ranges, as a registry on localhost is) is asked over plain HTTP too; one known only by a name
        that resolves into such a range is asked over HTTPS.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Another run reports no change unless the registry holds a new image for one of the tags.
options:
  images:
    description:
      - The image references to pull (C(registry/name:tag) or C(registry/name@sha256:...)). A reference given twice
        is pulled once.
    type: list
    elements: str
    required: true
  pull:
    description:
      - V(always) pulls every image (a tag such as C(latest) may have moved); V(not_present) pulls only the images
        that are not present locally.
      - To use only the images that are present, skip the task.
    type: str
    choices: [always, not_present]
    default: always
  disk_max_percent:
    description:
      - Pull nothing when the filesystem under the Docker data root (the C(DockerRootDir) of C(docker info)) is used more
        than this, in percent as C(df) shows it (Use%); the module then fails, naming the use and the free space,
        and RV(disk) holds them. A pull that fills that disk stops every container that writes to it, PostgreSQL
        first when its volume lives there.
      - The use is read in the same command as the pulls, before them, and only when an image is to be pulled. In
        check mode a run's refusal fails the module in the same way.
      - Unset, the disk is not looked at. V(100) never refuses.
    type: int
  failure_hint:
    description:
      - What the operator can do, appended to the message when the login or a pull fails (for example where the
        token comes from). The message itself already says what failed and Docker's reason.
    type: str
  registry:
    description:
      - The registry to log in to (V(ghcr.io), V(registry.example.com:5000)); required with O(username).
    type: str
  username:
    description:
      - The user to log in as before pulling. Requires O(registry) and O(password).
    type: str
  password:
    description:
      - The password or token of O(username) (a GHCR personal access token with C(read:packages)). It is handed to
        C(docker login) on stdin, never on a command line, and never returned.
    type: str
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Pull the images to deploy
  sertantai.deploy.image_pull:
    images:
      - ghcr.io/shotleybuilder/sertantai-legal:{{ git_sha }}
      - ghcr.io/shotleybuilder/sertantai-legal-frontend:{{ git_sha }}
      - electricsql/electric:1.0.0

- name: Log in to GHCR and pull the images of a release
  sertantai.deploy.image_pull:
    registry: ghcr.io
    username: shotleybuilder
    password: "{{ ghcr_token }}"
    images:
      - ghcr.io/shotleybuilder/sertantai-legal:{{ git_sha }}

- name: Pull the images that are not on the server yet
  sertantai.deploy.image_pull:
    images: "{{ service_images }}"
    pull: not_present
  register: pulled

- name: Pull the images of a release, unless the disk Docker keeps them on is more than 90% full
  sertantai.deploy.image_pull:
    images: "{{ service_images }}"
    disk_max_percent: 90
"""

RETURN = r"""
images:
  description: One entry per distinct image of O(images), in the order given.
  returned: always, unless the module could not run at all (no Docker CLI, an invalid option) or the login was refused
  type: list
  elements: dict
  contains:
    image:
      description: The reference, as given.
      type: str
      sample: ghcr.io/shotleybuilder/sertantai-legal:latest
    id:
      description: The local image id after the pull; null when the image is not present locally (an absent image in
        check mode, or one whose pull failed).
      type: str
      sample: sha256:3f2a0c1d9e8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7
    pulled:
      description: Whether C(docker pull) ran for the image (in check mode, whether it would run).
      type: bool
    changed:
      description: Whether the pull changed the local image (its id differs from before); in check mode, whether a
        run would change it (the image is not present locally, or RV(images[].remote) is V(newer)).
      type: bool
    remote:
      description:
        - In check mode, for an image a run would pull that is present locally, what the registry holds for its
          reference. V(current) is the local image; V(newer) is another image, which a run would pull.
        - V(unknown) is a multi-platform index on a host whose Docker keeps images in the containerd image store
          (it names such an image by the index's digest, which the registry's answer does not hold).
      type: str
      returned: in check mode, for a present image a run would pull
      choices: [current, newer, unknown]
    error:
      description: Docker's reason when the image could not be pulled; in check mode, the registry's reason when it
        did not answer for the reference.
      type: str
      returned: when the pull failed, or in check mode would fail
      sample: "pull access denied for ghcr.io/shotleybuilder/sertantai-legal, repository does not exist or may require
        'docker login': denied: requested access to the resource is denied"
login:
  description:
    - The login made before the pulls. RV(login.changed) tells whether the stored credentials changed.
    - When the registry refused the login, RV(login.error) holds its reason and nothing was pulled.
  returned: when O(username) is set
  type: dict
  sample: {registry: ghcr.io, username: shotleybuilder, changed: false}
  contains:
    registry:
      description: The registry, as given.
      type: str
    username:
      description: The user, as given.
      type: str
    changed:
      description: Whether the stored credentials changed (always false in check mode).
      type: bool
    error:
      description: The registry's reason for refusing the login, with the password masked.
      type: str
      returned: when the login was refused
disk:
  description: The use of the filesystem under the Docker data root, read before the pulls.
  returned: when O(disk_max_percent) is set and an image was to be pulled (also when the module refused for it)
  type: dict
  sample: {path: /var/lib/docker, size: 40945528832, used: 12021211136, available: 26838130688, percent: 31, max_percent: 90}
  contains:
    path:
      description: The Docker data root.
      type: str
    size:
      description: The size of its filesystem, in bytes.
      type: int
    used:
      description: The bytes used on it.
      type: int
    available:
      description: The bytes free for the containers (not counting the blocks reserved for root).
      type: int
    percent:
      description: The use in percent, as C(df) shows it (used / (used + available), rounded up).
      type: int
    max_percent:
      description: O(disk_max_percent).
      type: int
pulled:
  description: The images whose local image id changed; in check mode the images a run would change (absent, or
    newer in the registry).
    The task is changed when this is not empty.
  returned: always, unless the module could not run at all
  type: list
  elements: str
  sample: [ghcr.io/shotleybuilder/sertantai-legal:latest]
msg:
  description: A summary; on failure each image that could not be pulled, with Docker's reason.
  returned: always
  type: str
  sample: "ghcr.io/shotleybuilder/sertantai-legal:abc123 could not be pulled (manifest unknown)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError, docker_argument_spec
from ansible_collections.sertantai.deploy.plugins.module_utils._image import (
    DiskFull, LoginRefused, check_pulls, pull_images, pull_summary, registry_login)


def with_hint(message, hint):
    return "%s. %s" % (message.rstrip("."), hint) if hint else message


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = docker_argument_spec()
    argument_spec.update(
        images=dict(type="list", elements="str", required=True),
        pull=dict(type="str", default="always", choices=["always", "not_present"]),
        registry=dict(type="str"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        disk_max_percent=dict(type="int"),
        failure_hint=dict(type="str"),
    )
    return dict(argument_spec=argument_spec, required_together=[("username", "password")], required_by=dict(username="registry"))


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    docker = DockerCli(module.run_command, params["docker_cli"])
    login = None
    if params["username"]:
        login = dict(registry=params["registry"], username=params["username"], changed=False)
    limit = params["disk_max_percent"]
    if limit is not None and not 0 <= limit <= 100:
        module.fail_json(msg="disk_max_percent must be between 0 and 100, not %d" % limit)
    try:
        if module.check_mode:
            credentials = (params["registry"], params["username"], params["password"]) if login else None
            entries, disk = check_pulls(docker, params["images"], params["pull"], login=credentials, disk_max_percent=limit)
        else:
            if login:
                login["changed"] = registry_login(docker, params["registry"], params["username"], params["password"])
            entries, disk = pull_images(docker, params["images"], params["pull"], disk_max_percent=limit)
    except DiskFull as exc:
        # Not a registry's refusal: the failure hint (where a token comes from) does not apply.
        module.fail_json(msg=exc.message, disk=exc.disk, changed=bool(login and login["changed"]), **(dict(login=login) if login else {}))
    except LoginRefused as exc:
        login["error"] = exc.message.replace(params["password"], "********")
        module.fail_json(msg=with_hint("could not log in to %s as %s: %s" % (params["registry"], params["username"], login["error"]),
                                       params["failure_hint"]), login=login)
    except DockerError as exc:
        module.fail_json(msg=with_hint(exc.message, params["failure_hint"]))

    pulled = [entry["image"] for entry in entries if entry["changed"]]
    result = dict(changed=bool(pulled) or bool(login and login["changed"]), images=entries, pulled=pulled,
                  msg=pull_summary(entries, module.check_mode))
    if login:
        result["login"] = login
    if disk:
        result["disk"] = disk
    if any(entry.get("error") for entry in entries):
        result["msg"] = with_hint(result["msg"], params["failure_hint"])
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
