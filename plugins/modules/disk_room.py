#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: disk_room
short_description: Stop a job before it writes when the filesystems it writes to would be too full
version_added: 0.1.0
description:
  - Finds the filesystem each of O(writes) lands on, adds up per filesystem what the job will write there, and
    fails before anything is written when a filesystem would then be used more than O(max_percent), naming it,
    its use now and after, and each write. PostgreSQL stops on a full disk, and every service with it.
  - A path inside a container (O(writes[].container)) lands on the source of the mount it is under (a named
    volume, a bind mount), else on the container's writable layer, under the Docker data root.
  - Use is counted as C(df) shows it (Use%, used / (used + available), rounded up), so the blocks a filesystem
    keeps for root count as full.
  - One command over the task's connection (C(docker info), one C(docker inspect) of the containers named, C(df)
    per path); the module runs on the controller (an action plugin).
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  writes:
    description:
      - What the job will write, each with where and how much.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Where it is written, on the host, or inside O(writes[].container). A path that does not exist yet
            counts on the filesystem of its nearest existing parent.
        type: str
        required: true
      container:
        description:
          - The container O(writes[].path) is in.
        type: str
      bytes:
        description:
          - How much is written there, in bytes. Reckon high, as what is written beyond it is not counted.
        type: int
        required: true
      what:
        description:
          - What is written, as the report and the refusal name it, for example V(the backup).
        type: str
        required: true
  max_percent:
    description:
      - The use, in percent, no filesystem may pass once the writes are done.
    type: int
    default: 90
  hint:
    description:
      - What to do when the module refuses, appended to its message (for example which variable raises the limit).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Stop here unless the server has room for the dump, the backup and the restored data
  sertantai.deploy.disk_room:
    writes:
      - {path: /opt/sertantai/restore/legal-data.dump, bytes: "{{ dump.size }}", what: the dump}
      - {path: /opt/sertantai/backups/legal, bytes: 2000000000, what: the backup}
      - {container: shared_postgres, path: /var/lib/postgresql/data, bytes: 6000000000, what: the restored data}
    max_percent: 90
  register: room
"""

RETURN = r"""
filesystems:
  description: Each filesystem written to, in the order of O(writes).
  returned: always
  type: list
  elements: dict
  contains:
    mount:
      description: Where it is mounted on the host.
      type: str
      sample: /
    size:
      description: Its size in bytes.
      type: int
    used:
      description: Bytes used now.
      type: int
    available:
      description: Bytes available now (to users other than root).
      type: int
    percent:
      description: The use now, in percent, as C(df) shows it.
      type: int
      sample: 41
    bytes:
      description: What the writes there add up to.
      type: int
    percent_after:
      description: The use once they are written (over 100 when they do not fit).
      type: int
      sample: 47
    ok:
      description: Whether RV(filesystems[].percent_after) is within O(max_percent).
      type: bool
    writes:
      description: The writes that land there (what, bytes, path, container).
      type: list
      elements: dict
lines:
  description: One line per filesystem, as the message shows it.
  returned: always
  type: list
  elements: str
  sample: ["/: 41% used, 73.7 GB free; 4.4 GB to write there (the dump 1.0 GB, the backup 300.0 MB): 47% after"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _disk
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, docker_argument_spec


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = docker_argument_spec()
    argument_spec.update(
        writes=dict(type="list", elements="dict", required=True, options=dict(
            path=dict(type="str", required=True),
            container=dict(type="str"),
            bytes=dict(type="int", required=True),
            what=dict(type="str", required=True),
        )),
        max_percent=dict(type="int", default=90),
        hint=dict(type="str", default=""),
    )
    return dict(argument_spec=argument_spec)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    if not 0 <= params["max_percent"] <= 100:
        module.fail_json(msg="max_percent must be between 0 and 100, not %d" % params["max_percent"])
    negative = [write["what"] for write in params["writes"] if write["bytes"] < 0]
    if negative:
        module.fail_json(msg="bytes must be 0 or more: %s" % ", ".join(negative))
    try:
        rows = _disk.room(DockerCli(module.run_command, params["docker_cli"]), params["writes"], params["max_percent"])
    except _disk.RoomError as exc:
        module.fail_json(msg="could not read the filesystems to write to: %s" % exc.message)
    lines = [_disk.room_line(row) for row in rows]
    full = [line for line, row in zip(lines, rows) if not row["ok"]]
    if full:
        module.fail_json(
            msg="No room: %s, more than max_percent=%d allows. Nothing was written. %s"
            % ("; ".join(full), params["max_percent"], params["hint"] or "Free space there first, or raise max_percent."),
            filesystems=rows, lines=lines)
    module.exit_json(changed=False, filesystems=rows, lines=lines)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
