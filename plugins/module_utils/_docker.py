# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the Docker CLI as the modules use it (inspect, logs, exec, run).

Modules pass ``module.run_command``; tests pass a subprocess wrapper with the same contract:
``run_command(argv, data=None, binary_data=False) -> (rc, stdout, stderr)``.
"""

from __future__ import annotations

import json
import re

# How the CLI names an object it does not know, across Docker versions:
#   "Error response from daemon: No such container: web"
#   "Error response from daemon: no such image: web: No such image: web:latest"
#   "Error: No such object: web"
_NO_SUCH_RE = re.compile(r"no such \w+: (\S+?)(?=:\s|\s*$)", re.IGNORECASE | re.MULTILINE)


class DockerError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def docker_argument_spec():
    """The option every Docker-using module shares (doc fragment ``docker``)."""
    return dict(docker_cli=dict(type="str", default="docker"))


class DockerCli:
    def __init__(self, run_command, cli="docker"):
        self.run_command = run_command
        self.cli = cli

    def run(self, *args, data=None, check=True):
        argv = [self.cli] + list(args)
        return self._call(argv, data, check, " ".join(argv[:3]))

    def script(self, script, *args, data=None, check=True):
        """``sh -c script`` on the host with the Docker CLI as ``$1`` and ``args`` after it, checked as run() is: a
        script of several docker calls costs one round trip when the module runs on the controller."""
        return self._call(["sh", "-c", script, "sh", self.cli] + list(args), data, check,
                          "sh -c '%s...'" % script.strip().splitlines()[0])

    def _call(self, argv, data, check, what):
        rc, out, err = self.run_command(argv, data=data, binary_data=False)
        if check and rc != 0:
            raise DockerError(first_error_line(err) or "%s failed with rc=%d" % (what, rc))
        return rc, out, err

    def inspect(self, *names, kind="container"):
        """``docker inspect`` of any number of objects in ONE call (one round of polling, not one call per name).

        Returns ``(found, missing)``: a dict name -> inspect document, keyed by the names as asked (also when
        asked by id, id prefix or an image reference without a tag), and the list of names Docker does not know.
        """
        names = list(dict.fromkeys(names))
        if not names:
            return {}, []
        rc, out, err = self.run("inspect", "--type", kind, *names, check=False)
        docs = json.loads(out) if (out or "").strip().startswith("[") else []
        unknown = no_such(err)
        missing = [name for name in names if name in unknown]
        present = [name for name in names if name not in unknown]
        if (rc != 0 and not missing) or len(docs) != len(present):
            raise DockerError(first_error_line(err) or "docker inspect %s failed with rc=%d" % (" ".join(names), rc))
        # Docker answers in the order asked, leaving out what it does not know.
        return dict(zip(present, docs)), missing

    def logs_tail(self, name, lines=30):
        """Last lines of a container's stdout+stderr, as one text (Docker interleaves them)."""
        rc, out, err = self.run("logs", "--tail", str(lines), name, check=False)
        text = (out or "") + (err or "")
        return text.rstrip("\n").splitlines()[-lines:] if rc == 0 else []

    def exec(self, name, argv, data=None, check=False):
        return self.run("exec", "-i", name, *argv, data=data, check=check)

    def api_version(self):
        """The engine's API version as ``(major, minor)``, the newest it speaks (``docker version``)."""
        _rc, out, _err = self.run("version", "--format", "{{.Server.APIVersion}}")
        return parse_api_version(out)

    def exits(self, container, since, until="0s"):
        """How the container's runs ended from ``since`` to ``until`` (``docker events`` times), as far as the
        daemon's recent events remember.

        Docker counts ``--until`` in whole seconds: the default, now, leaves out what happened in the current second
        (``_health.events_until`` gives the one that includes an exit before a restart). An ``until`` still ahead
        of the daemon's clock makes the call wait until then.
        Returns ``[{exit_code, time}]`` oldest first (``time`` in seconds since the epoch); empty when unknown.
        """
        rc, out, _err = self.run("events", "--since", since, "--until", str(until), "--filter", "container=" + container,
                                 "--filter", "event=die", "--format", "{{json .}}", check=False)
        return die_events(out) if rc == 0 else []


# Docker 25 (API 1.44) brought healthcheck start_interval: the checks while a container starts.
START_INTERVAL_API = (1, 44)


def parse_api_version(text):
    """``(major, minor)`` from an API version such as ``1.45``."""
    match = re.fullmatch(r"(\d+)\.(\d+)", (text or "").strip())
    if not match:
        raise DockerError("the engine gave no API version (docker version: %r)" % (text or "").strip()[:80])
    return int(match.group(1)), int(match.group(2))


def die_events(text):
    """``[{exit_code, time}]`` from ``docker events --format '{{json .}}'`` lines of ``die`` events."""
    exits = []
    for line in (text or "").splitlines():
        try:
            event = json.loads(line)
            code = int(((event.get("Actor") or {}).get("Attributes") or {})["exitCode"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        exits.append(dict(exit_code=code, time=event.get("time")))
    return exits


def error_lines(stderr):
    """The non-empty lines of a Docker CLI call's stderr, without the daemon's "Error response from daemon: "."""
    return [line.strip().replace("Error response from daemon: ", "") for line in (stderr or "").splitlines() if line.strip()]


def no_such(stderr):
    """The names a Docker CLI call's stderr says Docker does not know ("No such container: x")."""
    return set(_NO_SUCH_RE.findall(stderr or ""))


def first_error_line(stderr):
    return (error_lines(stderr) or [""])[0]


def inspect_failed(exc, docker_cli):
    """The message of a module whose ``docker inspect`` failed (DockerError ``exc``)."""
    return "docker inspect failed: %s. Check that the Docker daemon is reachable with %s." % (exc.message, docker_cli)


def executable_missing(rc, output):
    """True when ``docker exec`` could not start the program because the image does not have it.

    ``output``: stdout and stderr together; with ``exec -i`` Docker prints the runtime's error on stdout.
    """
    text = output or ""
    return rc in (126, 127) and ("executable file not found" in text or "no such file or directory" in text)


def has_executable(cli, container, program):
    """Whether ``program`` can be executed in a running container (run as ``program --version``)."""
    rc, out, err = cli.exec(container, [program, "--version"])
    return not executable_missing(rc, (out or "") + (err or ""))


HTTP_GET_TOOLS = {
    # Both work with GNU wget and busybox wget (busybox ignores --no-verbose and --tries).
    "wget": lambda url, timeout: ["wget", "--no-verbose", "--tries=1", "-T", str(timeout), "-O", "-", url],
    "curl": lambda url, timeout: ["curl", "-sS", "--fail", "--max-time", str(timeout), url],
}


def http_get_in_container(cli, container, url, timeout=5, tools=("wget", "curl")):
    """GET ``url`` from inside ``container`` (docker exec), with the first of ``tools`` the image has.

    Returns a dict: ``tool`` (None when the image has none of them), ``ok`` (exit status 0),
    ``rc``, ``body`` (stdout) and ``error`` (last stderr line when not ok).
    """
    for tool in tools:
        rc, out, err = cli.exec(container, HTTP_GET_TOOLS[tool](url, timeout))
        if executable_missing(rc, (out or "") + (err or "")):
            continue
        lines = [line.strip() for line in (err or "").splitlines() if line.strip()]
        return dict(tool=tool, ok=rc == 0, rc=rc, body=out or "",
                    error=None if rc == 0 else (lines[-1] if lines else "%s exited with %d" % (tool, rc)))
    return dict(tool=None, ok=False, rc=None, body="", error="the container has none of: %s" % ", ".join(tools))
