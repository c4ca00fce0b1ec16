"""plugin_utils/_on_controller.py: commands over an action plugin's connection, a module's logic run here."""

from __future__ import annotations

import base64
import gzip
import subprocess
from types import SimpleNamespace

import pytest

from ansible_collections.sertantai.deploy.plugins.plugin_utils._on_controller import (
    ControllerModule,
    ModuleExit,
    TransportError,
    host_python,
    run_command,
)


class ShellAction:
    """An action plugin's _low_level_execute_command, run by this machine's /bin/sh (as the local connection)."""

    def __init__(self, check_mode=False, diff=False):
        self.commands = []
        self._play_context = SimpleNamespace(check_mode=check_mode, diff=diff)
        self._connection = SimpleNamespace(_play_context=SimpleNamespace(no_log=False))
        self._templar = SimpleNamespace(template=lambda value: value.replace("{{ py }}", "/opt/py/bin/python3"))

    def _low_level_execute_command(self, cmd, in_data=None):
        # what the ssh connection would show at -vvv is censored; it always gets stdin (else it asks for a tty)
        assert self._connection._play_context.no_log is True and in_data
        self.commands.append(cmd)
        proc = subprocess.run(["/bin/sh", "-c", cmd], input=in_data, capture_output=True, check=False)
        return dict(rc=proc.returncode, stdout=proc.stdout.decode(), stderr=proc.stderr.decode())


def test_a_command_gets_its_arguments_quoted_its_stdin_and_its_status():
    action = ShellAction()
    rc, out, err = run_command(action, ["sh", "-c", "cat; echo \"$1\" >&2; exit 3", "x", "it's a ; b"], data="in put\n")
    assert (rc, out, err) == (3, "in put\n", "it's a ; b\n")
    # the task's own no_log is back once the command ran
    assert action._connection._play_context.no_log is False


def test_compressed_output_comes_back_exact_with_its_status():
    action = ShellAction()
    text = "".join('{"table": "t%d", "columns": ["a", "b"]}\n' % i for i in range(2000))
    rc, out, err = run_command(action, ["sh", "-c", "cat; echo warned >&2; exit 2"], data=text, compress=True)
    assert (rc, out, err) == (2, text, "warned\n")
    assert "| gzip -1 | base64" in action.commands[-1]


def test_compressed_output_without_a_trailing_newline_and_empty_output():
    action = ShellAction()
    assert run_command(action, ["printf", "no newline"], compress=True)[:2] == (0, "no newline")
    assert run_command(action, ["true"], compress=True)[:2] == (0, "")


def test_a_host_without_gzip_is_a_transport_error():
    class NoGzip(ShellAction):
        def _low_level_execute_command(self, cmd, in_data=None):
            del cmd, in_data
            return dict(rc=127, stdout="", stderr="sh: 1: gzip: not found\n")

    with pytest.raises(TransportError, match="gzip: not found"):
        run_command(NoGzip(), ["true"], compress=True)


def test_unreadable_base64_is_a_transport_error():
    class Garbled(ShellAction):
        def _low_level_execute_command(self, cmd, in_data=None):
            del cmd, in_data
            return dict(rc=0, stdout=base64.b64encode(gzip.compress(b"output without a status")).decode(), stderr="")

    with pytest.raises(TransportError, match="exit status"):
        run_command(Garbled(), ["true"], compress=True)


def test_the_controller_module_runs_commands_and_ends_as_a_task_result():
    module = ControllerModule(ShellAction(check_mode=True, diff=True), dict(name="x"))
    assert module.check_mode and module._diff and module.params == dict(name="x")
    assert module.run_command(["echo", "hi"]) == (0, "hi\n", "")
    module.warn("careful")
    assert module.warnings == ["careful"]
    with pytest.raises(ModuleExit) as done:
        module.exit_json(answer=42)
    assert done.value.result == dict(answer=42, changed=False)
    with pytest.raises(ModuleExit) as failed:
        module.fail_json(msg="no", detail=1)
    assert failed.value.result == dict(failed=True, msg="no", detail=1, changed=False)


@pytest.mark.parametrize("task_vars, expected", [
    # discovery (the default, auto): what it found on the host, once a module ran there
    ({"ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3.11"}}, "/usr/bin/python3.11"),
    # before any module ran on the host
    ({}, "python3"),
    # set in the inventory, templated
    ({"ansible_python_interpreter": "{{ py }}", "ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3"}},
     "/opt/py/bin/python3"),
    ({"ansible_python_interpreter": "auto_silent", "ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3"}},
     "/usr/bin/python3"),
])
def test_host_python_is_the_one_ansible_runs_modules_with(task_vars, expected):
    assert host_python(ShellAction(), task_vars) == expected
    assert ControllerModule(ShellAction(), {}, task_vars).python == expected
