#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_backup
short_description: Back up a database of a PostgreSQL container to a timestamped file, keeping the last few
version_added: 0.1.0
description:
  - Runs C(pg_dump --format=custom) of O(database) (schema and data) inside O(pg_container) and copies the dump
    to C(<dir>/<database>-<UTC timestamp>.dump) on the host, mode C(0600), in a C(0700) directory. The file
    appears only when complete.
  - Keeps the newest O(keep) backups of O(database) in O(dir) and removes older ones; files that do not have
    the name of a backup of O(database) are never touched.
  - Returns RV(restore_command), the one command that brings the database back to this backup, C(pg_restore
    --clean --if-exists --single-transaction). Every object of the dump is dropped and recreated with its rows,
    or nothing changes. Run it on the server with the services that use the database stopped.
  - One transaction holds a lock on every object it drops and creates; a database of many hundreds of tables
    may need a larger C(max_locks_per_transaction) (the error says so, and nothing is changed).
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Returns the RV(path) it would write and the backups it would remove, and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run writes a new backup.
options:
  pg_container:
    description:
      - The PostgreSQL container; C(pg_dump) runs in it as O(pg_user) over its local socket.
    type: str
    required: true
  pg_user:
    description:
      - Role that runs C(pg_dump) (and C(pg_restore) in RV(restore_command)).
    type: str
    default: postgres
  pg_docker_cli:
    description:
      - The Docker CLI.
    type: str
    default: docker
  database:
    description:
      - The database to back up.
    type: str
    required: true
  dir:
    description:
      - Directory on the host for the backups of O(database); created C(0700) when missing.
    type: path
    required: true
  keep:
    description:
      - How many backups of O(database) to keep in O(dir), the one just made included.
    type: int
    default: 5
seealso:
  - module: sertantai.deploy.pg_data_restore
"""

EXAMPLES = r"""
- name: Back up the target before a restore
  sertantai.deploy.pg_backup:
    pg_container: shared_postgres
    database: sertantai_legal_prod
    dir: /opt/sertantai/backups/legal
    keep: 5
  register: backup

- name: Say how to go back
  ansible.builtin.debug:
    msg: "To restore the backup, run on the server: {{ backup.restore_command }}"
"""

RETURN = r"""
path:
  description: The backup file (the one it would write, in check mode).
  returned: success
  type: str
  sample: /opt/sertantai/backups/legal/sertantai_legal_prod-20261127T104512Z.dump
size:
  description: Its size in bytes (0 in check mode).
  returned: success
  type: int
  sample: 1830400
removed:
  description: Older backups removed to keep O(keep) (would be removed, in check mode).
  returned: success
  type: list
  elements: str
  sample: [/opt/sertantai/backups/legal/sertantai_legal_prod-20261101T090000Z.dump]
kept:
  description: The backups of O(database) in O(dir) afterwards, oldest first.
  returned: success
  type: list
  elements: str
restore_command:
  description: The one shell command, run on the server, that restores this backup into O(database).
  returned: success
  type: str
  sample: >-
    docker exec -i shared_postgres pg_restore --username=postgres --dbname=sertantai_legal_prod --clean --if-exists
    --single-transaction --exit-on-error < /opt/sertantai/backups/legal/sertantai_legal_prod-20261127T104512Z.dump
seconds:
  description: Time of the backup.
  returned: success
  type: float
  sample: 0.8
"""

import os
import time
import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError
from ansible_collections.sertantai.deploy.plugins.module_utils._restore import (
    RestoreError,
    backup_name,
    backup_pattern,
    backup_restore_command,
    backups_to_remove,
    tool_failure,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pg_container=dict(type="str", required=True),
            pg_user=dict(type="str", default="postgres"),
            pg_docker_cli=dict(type="str", default="docker"),
            database=dict(type="str", required=True),
            dir=dict(type="path", required=True),
            keep=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    params = module.params
    directory, database = params["dir"], params["database"]
    cli = DockerCli(module.run_command, params["pg_docker_cli"])
    existing = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    name = backup_name(database, taken=existing)
    path = os.path.join(directory, name)
    result = dict(changed=True, path=path, size=0, removed=[], kept=[],
                  restore_command=backup_restore_command(params["pg_container"], params["pg_user"], database, path, cli.cli))
    try:
        removed = backups_to_remove(existing + [name], database, params["keep"])
    except RestoreError as exc:
        module.fail_json(msg=exc.message, **result)
    pattern = backup_pattern(database)
    if module.check_mode:
        result["removed"] = [os.path.join(directory, n) for n in removed]
        result["kept"] = [os.path.join(directory, n) for n in sorted(existing + [name]) if pattern.match(n) and n not in removed]
        module.exit_json(**result)

    inside = "/tmp/sertantai-backup-%s.dump" % uuid.uuid4().hex
    partial = path + ".partial"
    start = time.monotonic()
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        rc, out, err = cli.exec(params["pg_container"], ["pg_dump", "--username=" + params["pg_user"], "--format=custom",
                                                         "--dbname=" + database, "--file=" + inside])
        if rc != 0:
            raise RestoreError(tool_failure("pg_dump of %s in %s" % (database, params["pg_container"]), rc, out, err))
        cli.run("cp", "%s:%s" % (params["pg_container"], inside), partial)
        os.chmod(partial, 0o600)
        os.rename(partial, path)
    except (RestoreError, DockerError, OSError) as exc:
        if os.path.exists(partial):
            os.remove(partial)
        module.fail_json(msg="no backup of '%s' was made: %s" % (database, getattr(exc, "message", exc)), changed=False,
                         path=path, removed=[], kept=[])
    finally:
        cli.run("exec", params["pg_container"], "rm", "-f", inside, check=False)
    result["seconds"] = round(time.monotonic() - start, 3)
    result["size"] = os.path.getsize(path)

    for old in backups_to_remove(sorted(os.listdir(directory)), database, params["keep"]):
        os.remove(os.path.join(directory, old))
        result["removed"].append(os.path.join(directory, old))
    result["kept"] = [os.path.join(directory, n) for n in sorted(os.listdir(directory)) if pattern.match(n)]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
