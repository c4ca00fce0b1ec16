# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of sertantai.deploy.schema_gate: read the source on the controller, the target on its host.

The developer's database is reachable from the laptop that runs Ansible, the production database only on
its server. This plugin reads the source's snapshot here, with the controller's Python (the same
module_utils the module uses), in a thread, while the target is read on its host over the task's own
connection: for a target container (pg_container) with the module's own reads (read_image(),
read_target()) sent as commands, their output gzip-compressed (some 100 kB for 1,000 tables); for a direct
target connection by the module, which returns the catalog compressed as it read it. The plugin builds
the target's snapshot, compares the two here and returns only the comparison. No snapshot is ever a task
argument or a task result, so none goes through Ansible's templating, and no file is sent.
"""

from __future__ import annotations

import functools
import gc
import subprocess
import threading
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, runner_from_params
from ansible_collections.sertantai.deploy.plugins.module_utils._restore import (
    GATE_MUTUALLY_EXCLUSIVE,
    GATE_REQUIRED_IF,
    GATE_REQUIRED_ONE_OF,
    RestoreError,
    decode_catalog_text,
    document_from_catalog_text,
    gate_argument_spec,
    gate_fails,
    gate_message,
    gate_result,
    read_document,
    read_image,
    read_target,
    source_params,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._schema import failure_message
from ansible_collections.sertantai.deploy.plugins.plugin_utils._on_controller import TransportError
from ansible_collections.sertantai.deploy.plugins.plugin_utils._on_controller import run_command as remote_command

MODULE = "sertantai.deploy.schema_gate"

display = Display()


def controller_run_command(args, data=None, binary_data=False, **_kwargs):
    """AnsibleModule.run_command's contract on the controller (docker exec into a source container here)."""
    try:
        proc = subprocess.run(args, input=data, capture_output=True, text=True, timeout=600, check=False)
    except OSError as exc:
        return 127, "", "%s: %s" % (args[0], exc)
    return proc.returncode, proc.stdout, proc.stderr


class SourceReader(threading.Thread):
    """read_document() of the source, on the controller, beside the module's run on the target.

    Most of the time goes to waiting (the server builds the catalog's JSON; a docker exec), so the two
    sides overlap even under the GIL.
    """

    def __init__(self, source, schemas):
        super().__init__(name="schema_gate source", daemon=True)
        self.source = source
        self.schemas = schemas
        self.document = None
        self.error = None

    def run(self):
        runner = None
        try:
            runner = runner_from_params(source_params(self.source), controller_run_command,
                                        database=self.source["database"])
            self.document = read_document(runner, self.source["database"], self.schemas)
        except PgError as exc:
            self.error = exc.message
        except Exception as exc:  # pylint: disable=broad-exception-caught  # reported as the task's failure
            self.error = "%s: %s" % (type(exc).__name__, exc)
        finally:
            if runner is not None:
                runner.close()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _reader = None

    def _configure_module(self, *args, **kwargs):
        """Start the source's read once the module is built: building it is controller CPU the read would slow."""
        configured = super()._configure_module(*args, **kwargs)
        if self._reader is not None and self._reader.ident is None:
            self._reader.start()
        return configured

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        source = args.get("source")
        if not isinstance(source, dict) or (source.get("read_on") or "controller") != "controller":
            try:
                result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            finally:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        # The worker process holds Ansible's heap: with the collector on, building the module (the syntax trees of
        # its module_utils) and the two catalogs (some 100,000 objects each) sets off collections that scan all of
        # it, more than the work itself (0.1 s of the 0.12 s to parse the target's 1,000 tables, 0.2 s of building
        # the module). Nothing here makes reference cycles worth collecting within the task.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run_on_controller(result, args, task_vars)
        finally:
            if collecting:
                gc.enable()

    def _run_on_controller(self, result, args, task_vars):
        """Read the source here while the module reads the target; compare here."""
        _validation, params = self.validate_argument_spec(
            gate_argument_spec(), mutually_exclusive=GATE_MUTUALLY_EXCLUSIVE, required_one_of=GATE_REQUIRED_ONE_OF,
            required_if=GATE_REQUIRED_IF)
        if not params["schemas"]:
            raise AnsibleActionFail("schemas is empty: list at least one schema, for example [public]")
        start = time.monotonic()
        reader = self._reader = SourceReader(params["source"], params["schemas"])
        # The source's connection details stay on the controller: the module gets none of them.
        del args["source"]
        target = None
        if params["pg_container"]:
            reader.start()
            try:
                target = self._read_target_over_connection(params)
            except TransportError as exc:
                display.vvv("schema_gate: reading the target without a module failed (%s); running the module" % exc)
        if target is None:
            target = self._read_target_with_module(args, task_vars)
        if reader.ident is None:  # not started (by _configure_module): read the source now
            reader.run()
        else:
            reader.join()

        if reader.error is not None:
            result.update(failed=True, changed=False, msg="cannot read the source database '%s' on the controller: %s"
                          % (params["source"]["database"], reader.error))
            return result
        if target.get("failed"):
            result.update(target)
            return result
        try:
            if "target_catalog" in target:
                target_document = document_from_catalog_text(target.pop("target_catalog"), params["database"],
                                                             params["schemas"])
            else:
                target_document = decode_catalog_text(target.pop("target_snapshot", None), params["database"],
                                                      params["schemas"], "the target's snapshot from %s" % MODULE)
        except RestoreError as exc:
            result.update(failed=True, changed=False, msg=exc.message)
            return result

        gate = gate_result(reader.document, target_document, target.get("target_pg_restore"), ignore=params["ignore"],
                           checks=params["compare"], check_versions=params["check_versions"])
        gate.update(target_image=target.get("target_image"), seconds=round(time.monotonic() - start, 3))
        result.update(gate, changed=False)
        if "invocation" in target:
            result["invocation"] = target["invocation"]
        if gate_fails(gate, params["fail_on_difference"], params["check_versions"]):
            result.update(failed=True, msg=gate_message(gate, failure_message))
        return result

    def _read_target_with_module(self, args, task_vars):
        """The module's run on the target's host (return_target_snapshot): a direct target connection, or a
        host whose shell lacks what the read over the connection needs."""
        args["return_target_snapshot"] = True
        try:
            return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _read_target_over_connection(self, params):
        """The module's reads of a target container (read_image(), read_target()), as commands over the task's
        connection: no module is built, sent or started (some 0.5 s of the gate). What each command prints comes
        back gzip-compressed (the catalog of 1,000 tables is some 1 MB of JSON). Returns the module's result,
        with the catalog's text as target_catalog; the errors are the module's."""
        run_command = functools.partial(remote_command, self, compress=True)
        try:
            image = read_image(run_command, params)
            text, restore_tool = read_target(run_command, params, params["check_versions"])
        except RestoreError as exc:
            return dict(failed=True, changed=False, msg=exc.message)
        return dict(target_catalog=text, target_pg_restore=restore_tool, target_image=image)
