#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_database
short_description: Ensure a PostgreSQL database exists with its extensions, also on a running cluster
version_added: 0.1.0
description:
  - Creates the database O(name) when it does not exist, then creates every extension of O(extensions) in it that
    is not there yet. A database created earlier gets extensions added later.
  - With O(databases) instead, one run ensures several databases, one per service of a host. The server is asked
    once which of them exist and which extensions it can provide, and nothing is created before every database has
    passed these checks.
  - The entrypoint's C(/docker-entrypoint-initdb.d) SQL only runs when the cluster is first created; a service added
    to a running server needs C(CREATE DATABASE) and C(CREATE EXTENSION) on that running cluster. This module does both,
    idempotently, on a new or an existing cluster.
  - Before creating an extension the module checks C(pg_available_extensions) and fails, naming the extension and the
    container's image, when the server cannot provide it.
  - This module never drops a database or an extension, and never changes the encoding of an existing database
    (it warns when it differs). The collection does not remove data.
extends_documentation_fragment:
  - sertantai.deploy.postgres
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.change_with_diff
attributes:
  check_mode:
    details:
      - Reports what would be created and the SQL that would run; creates nothing.
  diff_mode:
    details:
      - The database's owner and extensions before and after.
options:
  name:
    description:
      - Name of the database. It must be a plain identifier (letters, digits, C(_), C($), starting with a letter or
        C(_), at most 63 characters), for example V(sertantai_legal_prod).
      - Exactly one of O(name) and O(databases) is required.
    type: str
    aliases: [db]
  databases:
    description:
      - Several databases in one run, each with the options O(name), O(extensions), O(owner), O(encoding) and
        O(template) have for one.
      - Exactly one of O(name) and O(databases) is required.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the database, as O(name).
        type: str
        required: true
      extensions:
        description: Extensions to create in it, as O(extensions).
        type: list
        elements: str
        default: []
      owner:
        description: Role that owns it, as O(owner).
        type: str
      encoding:
        description: Encoding of a new database, as O(encoding).
        type: str
        default: UTF8
      template:
        description: Template of a new database, as O(template).
        type: str
        default: template0
  extensions:
    description:
      - Extensions to create in the database (C(CREATE EXTENSION IF NOT EXISTS ... CASCADE)), for example
        V(uuid-ossp) and V(citext).
      - Extensions that are installed but not listed are left alone.
    type: list
    elements: str
    default: []
  owner:
    description:
      - Role that owns the database. The role must exist. When set and the database exists with another owner, the
        owner is changed with C(ALTER DATABASE ... OWNER TO).
      - When unset a new database is owned by O(pg_user).
    type: str
  encoding:
    description:
      - Encoding of a new database.
    type: str
    default: UTF8
  template:
    description:
      - Template of a new database. V(template0) is the pristine template; it accepts any encoding and carries nothing
        an administrator may have added to V(template1), so every server creates the same database.
    type: str
    default: template0
  state:
    description:
      - Only V(present). There is no V(absent) on purpose; drop a database by hand if you really mean it.
    type: str
    choices: [present]
    default: present
notes:
  - In check mode a database that does not exist yet is reported with every listed extension as to be created.
seealso:
  - module: sertantai.deploy.pg_cluster_info
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Ensure the legal service database exists with its extensions
  sertantai.deploy.pg_database:
    pg_container: shared_postgres
    name: sertantai_legal_prod
    extensions:
      - uuid-ossp
      - citext

- name: Ensure a developer database over a direct connection
  sertantai.deploy.pg_database:
    pg_host: 127.0.0.1
    pg_port: 5432
    pg_password: "{{ postgres_password }}"
    name: sertantai_legal_dev
    owner: postgres
    extensions: [citext]

- name: Ensure the database of every service of the host in one run
  sertantai.deploy.pg_database:
    pg_container: shared_postgres
    databases:
      - name: sertantai_legal_prod
        extensions: [uuid-ossp, citext]
      - name: sertantai_auth_prod
"""

RETURN = r"""
databases:
  description: With O(databases), the result of each database (the keys below), in the order given.
  returned: when O(databases) is set
  type: list
  elements: dict
  sample:
    - database: sertantai_legal_prod
      created: false
      owner_changed: false
      extensions_created: []
      queries: []
database:
  description: Name of the database.
  returned: when O(name) is set
  type: str
  sample: sertantai_legal_prod
created:
  description: Whether the database was created (or would be, in check mode).
  returned: when O(name) is set
  type: bool
  sample: true
owner_changed:
  description: Whether the owner was changed (or would be, in check mode).
  returned: when O(name) is set
  type: bool
  sample: false
extensions_created:
  description: Extensions created by this run (or that would be, in check mode), in the order of O(extensions).
  returned: when O(name) is set
  type: list
  elements: str
  sample: [uuid-ossp, citext]
queries:
  description:
    - The SQL statements that changed something (or would have, in check mode), in order; with O(databases), those of
      every database.
  returned: always
  type: list
  elements: str
  sample:
    - CREATE DATABASE "sertantai_legal_prod" ENCODING 'UTF8' TEMPLATE "template0"
    - CREATE EXTENSION IF NOT EXISTS "uuid-ossp" CASCADE
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import (
    PG_MUTUALLY_EXCLUSIVE,
    PG_REQUIRED_ONE_OF,
    PgError,
    pg_argument_spec,
    runner_from_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._pg_databases import ensure_databases


def describe_server(module):
    """Name the server for an error message: the container and its image, or the host."""
    params = module.params
    if params["pg_container"]:
        image = "unknown image"
        try:
            found, _missing = DockerCli(module.run_command, params["pg_docker_cli"]).inspect(params["pg_container"])
            image = found[params["pg_container"]]["Config"]["Image"]
        except (DockerError, KeyError):
            pass
        return "container %s (image %s)" % (params["pg_container"], image)
    if params["pg_host"]:
        return "the PostgreSQL server at %s:%s" % (params["pg_host"], params["pg_port"])
    return "the PostgreSQL server of pg_dsn"


DATABASE_OPTIONS = dict(
    extensions=dict(type="list", elements="str", default=[]),
    owner=dict(type="str"),
    encoding=dict(type="str", default="UTF8"),
    template=dict(type="str", default="template0"),
)


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = pg_argument_spec()
    argument_spec.update(
        name=dict(type="str", aliases=["db"]),
        databases=dict(type="list", elements="dict", options=dict(name=dict(type="str", required=True), **DATABASE_OPTIONS)),
        state=dict(type="str", default="present", choices=["present"]),
        **DATABASE_OPTIONS
    )
    return dict(argument_spec=argument_spec, mutually_exclusive=PG_MUTUALLY_EXCLUSIVE + [("name", "databases")],
                required_one_of=PG_REQUIRED_ONE_OF + [("name", "databases")])


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    params = module.params
    single = params["databases"] is None
    specs = [dict((key, params[key]) for key in ("name",) + tuple(DATABASE_OPTIONS))] if single else params["databases"]

    runner = None
    try:
        runner = runner_from_params(params, module.run_command)
        results = ensure_databases(runner, specs, check_mode=module.check_mode, where=lambda: describe_server(module))
    except PgError as exc:
        module.fail_json(msg="cannot ensure database%s %s: %s" % (
            "" if single else "s", ", ".join("'%s'" % spec["name"] for spec in specs), exc.message))
    finally:
        if runner is not None:
            runner.close()

    for result in results:
        for warning in result.pop("warnings"):
            module.warn(warning)
    diffs = [result.pop("diff") for result in results]
    if single:
        result = results[0]
        if module._diff:
            result["diff"] = diffs[0]
    else:
        result = dict(changed=any(r["changed"] for r in results), databases=results,
                      queries=[query for r in results for query in r["queries"]])
        if module._diff:
            result["diff"] = dict(before=dict((d["after"]["name"], d["before"]) for d in diffs if d["before"]),
                                  after=dict((d["after"]["name"], d["after"]) for d in diffs))
    module.exit_json(**result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
