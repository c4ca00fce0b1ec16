"""Drive the real Docker Engine from tests. Every test names what it starts
(prefix ``sertantai-test-``) and removes exactly those names, before and after."""

from __future__ import annotations

import json
import subprocess
import time

PREFIX = "sertantai-test-"


def sh(*argv, check=True, input=None, timeout=300):
    """Run a command, return CompletedProcess with text output."""
    proc = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("command failed (%d): %s\n%s%s" % (proc.returncode, " ".join(argv), proc.stdout, proc.stderr))
    return proc


def docker(*args, check=True, input=None, timeout=300):
    return sh("docker", *args, check=check, input=input, timeout=timeout)


def remove_containers(*names):
    """Remove the named containers (never their volumes: tests remove named volumes explicitly)."""
    if names:
        docker("rm", "-f", *names, check=False)


def inspect(name):
    proc = docker("inspect", name, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


def local_image_id(ref):
    """The id of a local image (a reference, id or digest), None when the engine does not have it."""
    proc = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def wait_until(predicate, timeout=60, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def published_port(name, container_port):
    """Host port that Docker published for container_port (tests publish on 127.0.0.1 only)."""
    out = docker("port", name, str(container_port)).stdout.strip().splitlines()[0]
    return int(out.rsplit(":", 1)[1])


def subprocess_run_command(args, data=None, binary_data=False, **_kwargs):
    """Same contract as AnsibleModule.run_command, for module_utils tested without Ansible."""
    proc = subprocess.run(args, input=data, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr
