# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: create and start containers from full specs, replacing any container of the same
name, through the Docker Engine API in one command on the host (container_create).

The Docker CLI cannot do it in one call: ``docker create`` writes a healthcheck only in shell form
(``CMD-SHELL``), and the environment would be on its command line. So the host runs HOST_SCRIPT with the
Python that Ansible uses there, the request (with the environment) on its stdin: for each container, stop and
remove the one of that name (never its volumes), create, start. It answers one JSON document.
"""

from __future__ import annotations

import json
import re

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerError

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_DURATION_NS = {"ns": 1, "us": 10 ** 3, "ms": 10 ** 6, "s": 10 ** 9, "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$", re.IGNORECASE)
_HEALTHCHECK_FIELDS = (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                       ("start_interval", "StartInterval"))


class SpecError(Exception):
    """A container spec Docker would not take; the message names the container and the option."""


def duration_ns(value, what):
    """Nanoseconds of a duration as Docker and compose write it (``5s``, ``1m30s``, ``500ms``; a number: seconds)."""
    if isinstance(value, bool):
        raise SpecError("%s: %r is not a duration" % (what, value))
    if isinstance(value, (int, float)):
        return int(round(value * 10 ** 9))
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return int(round(float(text) * 10 ** 9))
    parts = _DURATION_RE.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise SpecError("%s: %r is not a duration such as 5s, 1m30s or 500ms" % (what, value))
    return int(round(sum(float(number) * _DURATION_NS[unit] for number, unit in parts)))


def size_bytes(value, what):
    """Bytes of a size as the Docker CLI reads it (``512m``, ``1g``, ``1.5GiB``; a number: bytes), in powers of 1024."""
    match = _SIZE_RE.match(str(value).strip())
    if isinstance(value, bool) or not match:
        raise SpecError("%s: %r is not a size such as 512m or 1g" % (what, value))
    return int(float(match.group(1)) * 1024 ** " kmgtp".index(match.group(2).lower() or " "))


def restart_policy(value, what):
    """The API's RestartPolicy of ``no``, ``always``, ``unless-stopped``, ``on-failure`` or ``on-failure:N``."""
    name, _colon, retries = str(value).partition(":")
    if name not in RESTART_POLICIES or (retries and (name != "on-failure" or not retries.isdigit())):
        raise SpecError("%s: restart policy %r is not one of %s (on-failure may end in :N)"
                        % (what, value, ", ".join(RESTART_POLICIES)))
    policy = {"Name": "" if name == "no" else name}
    if retries:
        policy["MaximumRetryCount"] = int(retries)
    return policy


def create_body(spec, network):
    """The body of ``POST /containers/create`` for one container spec (the module's O(containers) item)."""
    what = spec["name"]
    # No host port: the containers are reached on the network (nginx), never from outside.
    host_config = {"RestartPolicy": restart_policy(spec.get("restart_policy") or "no", what),
                   "Binds": list(spec.get("volumes") or []), "NetworkMode": network, "PortBindings": {}}
    if spec.get("memory"):
        host_config["Memory"] = size_bytes(spec["memory"], what + ": memory")
    if spec.get("cpus"):
        host_config["NanoCpus"] = int(round(float(spec["cpus"]) * 10 ** 9))
    body = {
        "Image": spec["image"],
        "Env": ["%s=%s" % (key, value) for key, value in sorted((spec.get("env") or {}).items())],
        "Labels": dict((key, str(value)) for key, value in (spec.get("labels") or {}).items()),
        "HostConfig": host_config,
        "NetworkingConfig": {"EndpointsConfig": {network: {}}},
    }
    if spec.get("stop_timeout") is not None:
        body["StopTimeout"] = int(spec["stop_timeout"])
    healthcheck = spec.get("healthcheck")
    if healthcheck:
        test = healthcheck.get("test")
        if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise SpecError("%s: healthcheck test must be a list starting with CMD, CMD-SHELL or NONE, not %r" % (what, test))
        check = {"Test": list(test)}
        for option, field in _HEALTHCHECK_FIELDS:
            if healthcheck.get(option) not in (None, ""):
                check[field] = duration_ns(healthcheck[option], "%s: healthcheck %s" % (what, option))
        if healthcheck.get("retries") not in (None, ""):
            check["Retries"] = int(healthcheck["retries"])
        body["Healthcheck"] = check
    return body


# Run on the host by its Python (3.6 or newer) with ``request`` set: {"containers": [{"name", "body"}]}. Prints
# [{"name", "id", "replaced", "error"}]. The socket: DOCKER_HOST's when it names a unix socket, else
# /var/run/docker.sock.
HOST_SCRIPT = r'''
import http.client, json, os, socket, sys
from urllib.parse import quote

class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=300)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)

def call(method, url, body=None):
    connection = UnixConnection(path)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, url, None if body is None else json.dumps(body), headers)
        response = connection.getresponse()
        data = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    try:
        document = json.loads(data) if data.strip() else {}
    except ValueError:
        document = {"message": data.strip()}
    return response.status, document

def failed(status, document, doing):
    return "%s: %s (HTTP %d)" % (doing, document.get("message") or "no message", status)

host = os.environ.get("DOCKER_HOST", "")
path = host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"
results = []
for item in request["containers"]:
    name = quote(item["name"], safe="")
    result = {"name": item["name"], "id": None, "replaced": False}
    results.append(result)
    try:
        status, document = call("POST", "/containers/%s/stop" % name)
        if status not in (204, 304, 404):
            result["error"] = failed(status, document, "could not stop the container of that name")
            continue
        status, document = call("DELETE", "/containers/%s" % name)
        if status not in (204, 404):
            result["error"] = failed(status, document, "could not remove the container of that name")
            continue
        result["replaced"] = status == 204
        status, document = call("POST", "/containers/create?name=%s" % name, item["body"])
        if status != 201:
            result["error"] = failed(status, document, "could not create it")
            continue
        result["id"] = document.get("Id")
        status, document = call("POST", "/containers/%s/start" % result["id"])
        if status not in (204, 304):
            result["error"] = failed(status, document, "created, but could not start it")
    except (OSError, socket.error) as exc:
        result["error"] = "could not talk to the Docker daemon at %s: %s" % (path, exc)
json.dump(results, sys.stdout)
'''


# The command line: the script and the request come on stdin, so that only this line shows at -vvv.
BOOTSTRAP = 'import json, sys; stdin = json.load(sys.stdin); exec(stdin["script"], {"request": stdin["request"]})'


def create(run_command, python, containers, network, check_mode=False):
    """Create and start ``containers`` (module O(containers) items) on ``network``, replacing any of the same name.

    Returns ``[{name, id, replaced, error?}]`` in the order given; in check mode changes nothing and returns
    ``[{name, id: None, replaced: None}]``. Raises SpecError for a spec Docker would not take (before anything is
    changed) and DockerError when the host could not run the request.
    """
    request = dict(containers=[dict(name=spec["name"], body=create_body(spec, network)) for spec in containers])
    if check_mode:
        return [dict(name=spec["name"], id=None, replaced=None) for spec in containers]
    rc, out, err = run_command([python, "-c", BOOTSTRAP], data=json.dumps(dict(script=HOST_SCRIPT, request=request)),
                               binary_data=False)
    try:
        results = json.loads(out)
    except ValueError:
        results = None
    if rc != 0 or not isinstance(results, list) or len(results) != len(containers):
        lines = [line for line in (err or out or "").strip().splitlines() if line.strip()]
        raise DockerError("%s on the host failed (rc=%d): %s" % (python, rc, lines[-1] if lines else "no output"))
    return results


def summary(results, check_mode=False):
    """The task message: what could not be created or started, else what was."""
    failed = [result for result in results if result.get("error")]
    if failed:
        return "; ".join("%s: %s" % (result["name"], result["error"]) for result in failed)
    names = ", ".join(result["name"] for result in results)
    if check_mode:
        return "Check mode changes nothing: %s would be created and started." % names
    return "Created and started %s." % names
