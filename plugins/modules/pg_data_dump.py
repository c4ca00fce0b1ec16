#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_data_dump
short_description: Dump the data of a database in custom format, with the exact row count of every table
version_added: 0.1.0
description:
  - Writes C(pg_dump --format=custom --data-only --no-owner --no-acl) of O(database) to O(dest) on the host
    that runs the module, never SQL text, which breaks through C(docker exec) (C(\restrict) lines, C(COPY FROM
    STDIN) blocks). The data of O(keep_tables) (the migrations table) is left out of the dump.
  - Counts the rows of every dumped table exactly (C(count(*))) before and after the dump and fails when they
    differ, because then the dump holds none of the two states for sure (stop what writes to the source and run
    again). The counts it returns are what a restore of the dump must produce; pass them to
    M(sertantai.deploy.pg_data_restore).
  - B(Which pg_dump.) With O(pg_container), the container's own C(pg_dump) over its local socket (no password).
    For a direct connection (O(pg_host) or O(pg_dsn)), the C(pg_dump) of O(dump_image), run in a throwaway
    container on this host's Docker (C(--network host) by default, so a source on this host's loopback is
    reachable), so the laptop needs no PostgreSQL client of the right version; or O(pg_dump_path). The
    connection reaches that C(pg_dump) through C(PG*) environment variables, never on a command line.
  - B(Versions.) The module refuses, before dumping, a C(pg_dump) older than the source server (it would refuse
    the server) or newer than O(pg_restore_major) (the target could not read its archive).
  - The file is written as C(<dest>.partial) and renamed when complete, mode C(0600); a failed dump leaves no file.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.postgres
attributes:
  check_mode:
    support: full
    details:
      - Reads the versions and counts the rows; returns RV(command) and RV(row_counts) without dumping.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run writes a new dump of the database as it is then.
options:
  database:
    description:
      - The database to dump.
    type: str
    required: true
  dest:
    description:
      - The dump file to write on the host that runs the module. An existing file is replaced.
    type: path
    required: true
  schemas:
    description:
      - The schemas whose data is dumped.
    type: list
    elements: str
    default: [public]
  keep_tables:
    description:
      - Tables whose data is left out of the dump, V(table) (in any of O(schemas)) or V(schema.table); they stay the
        target's own. The migrations table's rows on the target came from its backend's migrations.
    type: list
    elements: str
    default: [schema_migrations]
  dump_image:
    description:
      - The image whose C(pg_dump) dumps a direct connection, in a throwaway container on this host's Docker (the
        target's PostgreSQL image is the safe choice, its C(pg_dump) writes what the target's C(pg_restore) reads).
      - For a direct connection, one of O(dump_image) and O(pg_dump_path) is required; ignored with O(pg_container).
    type: str
  dump_network:
    description:
      - The network of the throwaway container of O(dump_image). V(host) reaches a source on this host's loopback
        (Linux; Docker Desktop needs its host networking turned on).
    type: str
    default: host
  pg_dump_path:
    description:
      - A C(pg_dump) executable on this host, for a direct connection, instead of O(dump_image).
    type: path
  pg_restore_major:
    description:
      - The major version of the C(pg_restore) that will read the dump (RV(sertantai.deploy.schema_gate#module:versions.target_pg_restore.major)).
        A newer C(pg_dump) is refused. Not checked when empty.
    type: str
notes:
  - A direct connection needs psycopg 3 on the host that runs the module (for the row counts).
seealso:
  - module: sertantai.deploy.schema_gate
  - module: sertantai.deploy.pg_data_restore
  - module: sertantai.deploy.pg_backup
"""

EXAMPLES = r"""
- name: Dump the developer's database on this laptop with the target's pg_dump
  sertantai.deploy.pg_data_dump:
    pg_host: localhost
    pg_port: 5436
    pg_password: "{{ dev_db_password }}"
    database: sertantai_legal_dev
    dest: /tmp/sertantai_legal_data.dump
    dump_image: postgres:16-alpine
    pg_restore_major: "16"
  delegate_to: localhost
  register: dump

- name: Dump a database in a container with its own pg_dump
  sertantai.deploy.pg_data_dump:
    pg_container: sertantai-legal-dev-db
    database: sertantai_legal_dev
    dest: /tmp/sertantai_legal_data.dump
"""

RETURN = r"""
path:
  description: The dump file.
  returned: success
  type: str
  sample: /tmp/sertantai_legal_data.dump
size:
  description: Its size in bytes (0 in check mode).
  returned: success
  type: int
  sample: 2304512
row_counts:
  description: Exact row count of every dumped table (C(schema.table)), the same before and after the dump.
  returned: success
  type: dict
  sample: {public.uk_lrt: 19318, public.uk_lrt_family: 40210}
kept:
  description: Tables of O(schemas) whose data was left out (O(keep_tables)).
  returned: success
  type: list
  elements: str
  sample: [public.schema_migrations]
source_version:
  description: The source server's version.
  returned: success
  type: str
  sample: "16.4"
pg_dump_version:
  description: The version of the C(pg_dump) that made the dump.
  returned: success
  type: str
  sample: "16.2"
command:
  description: The C(pg_dump) command line (no secret is on it).
  returned: success
  type: list
  elements: str
  sample: [docker, run, --rm, --network, host, "...", pg_dump, --format=custom, --data-only]
seconds:
  description: Time of the dump itself.
  returned: success
  type: float
  sample: 1.9
"""

import os
import time
import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    PG_REQUIRED_ONE_OF,
    PgError,
    pg_argument_spec,
    read_server_version,
    runner_from_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._restore import (
    RestoreError,
    count_rows,
    direct_conninfo,
    dump_version_problems,
    is_kept,
    libpq_environment,
    parse_major,
    parse_tool_version,
    pg_dump_arguments,
    read_tables,
    restored_tables,
    tool_failure,
    validate_keep_tables,
)


class Dumper:
    """How pg_dump runs for these options: ``version()`` and ``dump(partial_path)``."""

    def __init__(self, module, params, keep_tables):
        self.module = module
        self.params = params
        self.keep_tables = keep_tables
        self.cli = DockerCli(module.run_command, params["pg_docker_cli"])
        self.env = {}
        if params["pg_container"]:
            self.kind = "container"
        elif params["pg_dump_path"]:
            self.kind = "local"
            self.env = libpq_environment(direct_conninfo(params))
        elif params["dump_image"]:
            self.kind = "image"
            self.env = libpq_environment(direct_conninfo(params))
        else:
            raise RestoreError("a direct connection (pg_host or pg_dsn) needs dump_image (a PostgreSQL image whose "
                               "pg_dump runs in a throwaway container, best the target's) or pg_dump_path")

    def _run(self, argv):
        return self.module.run_command(argv, environ_update=self.env)

    def version_argv(self):
        if self.kind == "container":
            return [self.cli.cli, "exec", self.params["pg_container"], "pg_dump", "--version"]
        if self.kind == "local":
            return [self.params["pg_dump_path"], "--version"]
        return [self.cli.cli, "run", "--rm", "--network", "none", "--entrypoint", "pg_dump", self.params["dump_image"], "--version"]

    def version(self):
        rc, out, err = self._run(self.version_argv())
        if rc != 0:
            raise RestoreError(tool_failure("pg_dump --version (%s)" % self.name(), rc, out, err))
        return parse_tool_version(out)

    def name(self):
        if self.kind == "container":
            return "pg_dump in container %s" % self.params["pg_container"]
        if self.kind == "local":
            return self.params["pg_dump_path"]
        return "pg_dump of image %s" % self.params["dump_image"]

    def dump_argv(self, partial):
        params = self.params
        if self.kind == "container":
            inside = "/tmp/sertantai-dump-%s.partial" % uuid.uuid4().hex
            args = pg_dump_arguments(params["database"], params["schemas"], self.keep_tables, inside)
            return [self.cli.cli, "exec", params["pg_container"], "pg_dump", "--username=" + params["pg_user"]] + args, inside
        if self.kind == "local":
            return [params["pg_dump_path"]] + pg_dump_arguments(params["database"], params["schemas"], self.keep_tables, partial), None
        argv = [self.cli.cli, "run", "--rm", "--network", params["dump_network"], "--user", "%d:%d" % (os.getuid(), os.getgid()),
                "--volume", "%s:/dump" % os.path.dirname(partial)]
        for name in sorted(self.env):
            argv.extend(["--env", name])  # the value comes from the environment of the docker CLI, not argv
        argv.extend(["--entrypoint", "pg_dump", params["dump_image"]])
        return argv + pg_dump_arguments(params["database"], params["schemas"], self.keep_tables,
                                        "/dump/" + os.path.basename(partial)), None

    def dump(self, partial):
        argv, inside = self.dump_argv(partial)
        try:
            rc, out, err = self._run(argv)
            if rc != 0:
                raise RestoreError(tool_failure(self.name(), rc, out, err))
            if inside:
                self.cli.run("cp", "%s:%s" % (self.params["pg_container"], inside), partial)
        finally:
            if inside:
                self.cli.run("exec", self.params["pg_container"], "rm", "-f", inside, check=False)


def remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def main():
    argument_spec = pg_argument_spec()
    argument_spec.update(
        database=dict(type="str", required=True),
        dest=dict(type="path", required=True),
        schemas=dict(type="list", elements="str", default=["public"]),
        keep_tables=dict(type="list", elements="str", default=["schema_migrations"]),
        dump_image=dict(type="str"),
        dump_network=dict(type="str", default="host"),
        pg_dump_path=dict(type="path"),
        pg_restore_major=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=PG_MUTUALLY_EXCLUSIVE + [("dump_image", "pg_dump_path")],
        required_one_of=PG_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    params = module.params
    dest = params["dest"]
    partial = dest + ".partial"
    result = dict(changed=True, path=dest, size=0, row_counts={}, kept=[], command=[])
    runner = None
    try:
        if not params["schemas"]:
            raise RestoreError("schemas is empty: list at least one schema, for example [public]")
        keep_tables = validate_keep_tables(params["keep_tables"])
        restore_major = parse_major(params["pg_restore_major"])
        dumper = Dumper(module, params, keep_tables)
        runner = runner_from_params(params, module.run_command, database=params["database"])
        server = read_server_version(runner, params["database"])
        result["source_version"] = server["text"]
        tool = dumper.version()
        result["pg_dump_version"] = tool["version"] if tool else None
        problems = dump_version_problems(server["num"], tool, restore_major, tool_name=dumper.name())
        if problems:
            raise RestoreError(" ".join(problems))
        tables = read_tables(runner, params["database"], params["schemas"])
        counted = restored_tables(tables, keep_tables)
        result["kept"] = [key for key in tables if is_kept(key, keep_tables)]
        before = count_rows(runner, params["database"], counted)
        result["row_counts"] = before
        result["command"] = dumper.dump_argv(partial)[0]
        if module.check_mode:
            module.exit_json(**result)

        if not os.path.isdir(os.path.dirname(dest)):
            raise RestoreError("the directory of dest %s does not exist: create it first" % dest)
        remove_quietly(partial)
        start = time.monotonic()
        dumper.dump(partial)
        result["seconds"] = round(time.monotonic() - start, 3)
        after = count_rows(runner, params["database"], counted)
        changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
        if changed:
            raise RestoreError("the source changed while it was being dumped (%s): the dump holds neither state for sure. "
                               "Stop what writes to %s and run again." % (
                                   ", ".join("%s %s -> %s rows" % (k, before.get(k), after.get(k)) for k in changed[:10]),
                                   params["database"]))
        os.chmod(partial, 0o600)
        os.rename(partial, dest)
        result["size"] = os.path.getsize(dest)
    except (RestoreError, PgError) as exc:
        remove_quietly(partial)
        module.fail_json(msg="no dump of '%s' was made: %s" % (params["database"], exc.message), **result)
    finally:
        if runner is not None:
            runner.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
