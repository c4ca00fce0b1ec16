# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of sertantai.deploy.schema_gate: read the source on the controller, compare on the target.

The developer's database is reachable from the laptop that runs Ansible, the production database only on
its server. This plugin reads the source's snapshot here, with the controller's Python (the same
module_utils the module uses), sends it to the managed host as one compressed file over the task's own
connection, and runs the module there with O(source_snapshot). The snapshot is never a module argument
or result, so it never goes through Ansible's templating.
"""

from __future__ import annotations

import subprocess

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, runner_from_params
from ansible_collections.sertantai.deploy.plugins.module_utils._restore import (
    GATE_MUTUALLY_EXCLUSIVE,
    GATE_REQUIRED_ONE_OF,
    encode_document,
    gate_argument_spec,
    read_source_document,
    source_params,
)

MODULE = "sertantai.deploy.schema_gate"


def controller_run_command(args, data=None, binary_data=False, **_kwargs):
    """AnsibleModule.run_command's contract on the controller (docker exec into a source container here)."""
    try:
        proc = subprocess.run(args, input=data, capture_output=True, text=True, timeout=600, check=False)
    except OSError as exc:
        return 127, "", "%s: %s" % (args[0], exc)
    return proc.returncode, proc.stdout, proc.stderr


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        source = args.get("source")
        if not isinstance(source, dict) or (source.get("read_on") or "controller") != "controller":
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result

        _validation, validated = self.validate_argument_spec(
            gate_argument_spec(), mutually_exclusive=GATE_MUTUALLY_EXCLUSIVE, required_one_of=GATE_REQUIRED_ONE_OF)
        source = validated["source"]
        schemas = validated["schemas"]
        if not schemas:
            raise AnsibleActionFail("schemas is empty: list at least one schema, for example [public]")
        runner = None
        try:
            runner = runner_from_params(source_params(source), controller_run_command, database=source["database"])
            document = read_source_document(runner, source["database"], schemas)
        except PgError as exc:
            result.update(failed=True, changed=False, msg="cannot read the source database '%s' on the controller: %s"
                          % (source["database"], exc.message))
            return result
        finally:
            if runner is not None:
                runner.close()

        try:
            tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
            remote = self._connection._shell.join_path(tmpdir, "source-snapshot.json.gz")
            self._transfer_data(remote, encode_document(document))
            self._fixup_perms2((tmpdir, remote), execute=False)
            del args["source"]
            args["source_snapshot"] = remote
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
