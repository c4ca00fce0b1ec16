# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the Docker CLI as the modules use it (inspect, logs, exec, run).

Modules pass ``module.run_command``; tests pass a subprocess wrapper with the same contract:
``run_command(argv, data=None, binary_data=False) -> (rc, stdout, stderr)``.
"""

from __future__ import annotations

import json


class DockerError(Exception):
    def __init__(self, message, argv=None, stderr=None):
        super().__init__(message)
        self.message = message
        self.argv = argv
        self.stderr = stderr


def docker_argument_spec():
    """The option every Docker-using module shares (doc fragment ``docker``)."""
    return dict(docker_cli=dict(type="str", default="docker"))


class DockerCli:
    def __init__(self, run_command, cli="docker"):
        self.run_command = run_command
        self.cli = cli

    def run(self, *args, data=None, check=True):
        argv = [self.cli] + list(args)
        rc, out, err = self.run_command(argv, data=data, binary_data=False)
        if check and rc != 0:
            raise DockerError(first_error_line(err) or "%s failed with rc=%d" % (" ".join(argv[:3]), rc), argv, err)
        return rc, out, err

    def inspect(self, *names, kind="container"):
        """``docker inspect`` of existing objects; missing names are simply absent from the result.

        Returns a dict name -> inspect document (names as asked, not as Docker prints them).
        """
        found = {}
        for name in names:
            rc, out, err = self.run("inspect", "--type", kind, name, check=False)
            if rc == 0:
                found[name] = json.loads(out)[0]
            elif "No such" not in (err or ""):
                raise DockerError(first_error_line(err) or "docker inspect %s failed" % name, stderr=err)
        return found

    def logs_tail(self, name, lines=30):
        """Last lines of a container's stdout+stderr, as one text (Docker interleaves them)."""
        rc, out, err = self.run("logs", "--tail", str(lines), name, check=False)
        text = (out or "") + (err or "")
        return text.rstrip("\n").splitlines()[-lines:] if rc == 0 else []

    def exec(self, name, argv, data=None, check=False):
        return self.run("exec", "-i", name, *argv, data=data, check=check)


def first_error_line(stderr):
    for line in (stderr or "").splitlines():
        line = line.strip()
        if line:
            return line.replace("Error response from daemon: ", "")
    return ""
