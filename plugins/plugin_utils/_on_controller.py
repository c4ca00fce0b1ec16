# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A module's logic run on the controller, its commands sent over the task's connection.

Several of the collection's modules only run commands on their host (docker, psql through docker exec) and
judge what those print. Sent as a module, each run builds the module, sends it and starts Python on the host,
which compiles the module's module_utils from source: some 0.5 to 1 s a task, most of a no-op run's time.
Run here, the same code (the module's run_module()) sends only its commands, each one a round trip over the
connection that is already open.

- run_command(): AnsibleModule.run_command's contract (argv, data) over an action plugin's connection, with
  become as the task has it; optionally with the command's stdout gzip-compressed on the way (large output).
- ControllerModule: what the modules use of AnsibleModule (params, check_mode, _diff, run_command, warn,
  exit_json, fail_json), and ``python``: the host's Python, for a module that runs a script there.
- ControllerModuleAction: the base of such an action plugin; it validates the task's arguments against the
  module's own argument spec, and runs the module on its host instead where the module must run there
  (HERE_ONLY_WITH).
"""

from __future__ import annotations

import base64
import functools
import gzip
import shlex
import zlib

from ansible import constants as C
from ansible.plugins.action import ActionBase

# What run_command(compress=True) prints after a command's stdout: its exit status follows.
_STATUS_MARK = "\nsertantai-exit-status="


class TransportError(Exception):
    """A command's output did not come back readable (no gzip or base64 on the host)."""


def run_command(action, args, data=None, binary_data=False, compress=False):
    """Run ``args`` on the task's host over ``action``'s connection; (rc, stdout, stderr) as text, as
    AnsibleModule.run_command returns them (``binary_data`` is accepted for its signature; stdin is text).

    ``data``: the command's stdin. ``compress``: the command's stdout and exit status travel gzip-compressed in
    base64 (its stderr as it is); raises TransportError when that did not work.
    """
    del binary_data
    command = shlex.join(args)
    if compress:
        mark = _STATUS_MARK.replace("\n", "\\n")
        command = "{ %s; printf '%s%%s' \"$?\"; } | gzip -1 | base64" % (command, mark)
    # The connection shows each command's output at -vvv unless the task is no_log. What these commands print is
    # the module's input, not its result, and can hold secrets (docker inspect: a container's environment).
    play_context = action._connection._play_context  # the connection's own copy, which it reads
    no_log = play_context.no_log
    play_context.no_log = True
    try:
        # Some stdin always: without any, the ssh connection asks for a terminal (-tt), which merges stderr into
        # stdout and ends lines with CRLF.
        res = action._low_level_execute_command(command, in_data=(data or "\n").encode("utf-8"))
    finally:
        play_context.no_log = no_log
    err = res.get("stderr") or ""
    if not compress:
        return res["rc"], res.get("stdout") or "", err
    try:
        out = gzip.decompress(base64.b64decode(res.get("stdout") or "")).decode("utf-8", "replace")
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        raise TransportError("rc=%s, %s: %s; %s" % (res.get("rc"), type(exc).__name__, exc, err.strip()[:200]))
    out, found, status = out.rpartition(_STATUS_MARK)
    if not found or not status.isdigit():
        raise TransportError("the exit status of %s is missing (rc=%s); %s" % (args[0], res.get("rc"), err.strip()[:200]))
    return int(status), out, err


_DISCOVERY_MODES = ("auto", "auto_legacy", "auto_silent", "auto_legacy_silent")


def host_python(action, task_vars):
    """The Python Ansible runs modules with on the task's host: ansible_python_interpreter (or its setting), else
    the one interpreter discovery found there (a fact once a module ran on the host), else ``python3``."""
    value = C.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars)
    value = action._templar.template(value) if value else value
    if value and value not in _DISCOVERY_MODES:
        return value
    return (task_vars.get("ansible_facts") or {}).get("discovered_interpreter_python") or "python3"


class ModuleExit(Exception):
    """exit_json() or fail_json() of a ControllerModule: the task's result."""

    def __init__(self, result):
        super().__init__(result.get("msg", ""))
        self.result = result


class ControllerModule:
    """The part of AnsibleModule the collection's command-only modules use, for their run_module() here."""

    def __init__(self, action, params, task_vars=None):
        self.params = params
        self.check_mode = bool(action._play_context.check_mode)
        self._diff = bool(action._play_context.diff)
        self.run_command = functools.partial(run_command, action)
        self._action, self._task_vars = action, task_vars or {}
        self.warnings = []

    @property
    def python(self):
        """The host's Python (host_python), worked out only for a module that asks."""
        return host_python(self._action, self._task_vars)

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        raise ModuleExit(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs.update(failed=True, msg=msg)
        kwargs.setdefault("changed", False)
        raise ModuleExit(kwargs)


class ControllerModuleAction(ActionBase):
    """An action plugin that runs its module's run_module() here, the module's commands over the connection.

    A subclass names the module (MODULE: the FQCN, run on the host without HERE_ONLY_WITH) and gives
    module_spec() (the keyword arguments of the module's AnsibleModule but supports_check_mode) and
    run_module(module).
    """

    TRANSFERS_FILES = False
    MODULE = None
    # The option without which the module runs on its host (pg_container: a direct PostgreSQL connection,
    # pg_host or pg_dsn, is made from the host, not from here); None: always here.
    HERE_ONLY_WITH = None

    @staticmethod
    def module_spec():
        raise NotImplementedError

    @staticmethod
    def run_module(module):
        raise NotImplementedError

    def on_host(self, params):
        """Whether the module must run on its host (HERE_ONLY_WITH not given)."""
        return self.HERE_ONLY_WITH is not None and not params.get(self.HERE_ONLY_WITH)

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        del tmp
        _validation, params = self.validate_argument_spec(**self.module_spec())
        if self.on_host(params):
            try:
                result.update(self._execute_module(module_name=self.MODULE, module_args=self._task.args,
                                                   task_vars=task_vars))
            finally:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        module = ControllerModule(self, params, task_vars)
        try:
            self.run_module(module)
        except ModuleExit as exc:
            result.update(exc.result)
        else:
            result.update(failed=True, msg="%s ended without a result" % self.MODULE)
        if module.warnings:
            result["warnings"] = list(result.get("warnings") or []) + module.warnings
        return result
