"""A real registry (tests/images/registry: Debian's docker-registry with htpasswd auth) on 127.0.0.1."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from tests.support.docker import docker, published_port, remove_containers, wait_until

IMAGE = os.environ.get("SERTANTAI_TEST_REGISTRY_IMAGE", "sertantai-test/registry:latest")


def answers_401(url, context=None):
    """True once the registry asks for credentials at ``url`` (it is up and its auth is on)."""
    try:
        urllib.request.urlopen(url, timeout=2, context=context)
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except (urllib.error.URLError, OSError):
        return False
    return False


def start_registry(name, user, password, *extra, scheme="http", context=None):
    """Start the registry container ``name`` (removed first) with one user; wait until it answers 401.

    Returns its host port on 127.0.0.1. ``extra`` goes to ``docker run`` (e.g. TLS volumes and env).
    """
    remove_containers(name)
    # The storage on a tmpfs: the image declares it a volume, and an anonymous volume (70-100 MB of pushed test
    # images) would be left behind by every run, since tests never remove volumes.
    docker("run", "-d", "--name", name, "-e", "REGISTRY_USER=" + user, "-e", "REGISTRY_PASSWORD=" + password,
           "-p", "127.0.0.1::5000", "--tmpfs", "/var/lib/docker-registry", *extra, IMAGE)
    port = published_port(name, 5000)
    wait_until(lambda: answers_401("%s://127.0.0.1:%d/v2/" % (scheme, port), context), timeout=60,
               what="the registry %s to answer 401" % name)
    return port


def remove_pushed_images(prefix):
    """Remove the local images of the repositories ``127.0.0.1:<any port>/<prefix>...``: what a test run that was
    killed before its cleanup left behind (each run's registry has another port, so its images have other names
    than the next run's)."""
    listed = docker("image", "ls", "--no-trunc", "--format", "{{.Repository}}\t{{.ID}}", check=False).stdout.splitlines()
    ids = sorted(set(line.split("\t")[1] for line in listed
                     if "\t" in line and line.startswith("127.0.0.1:") and line.split("/", 1)[-1].startswith(prefix)))
    if ids:
        docker("rmi", "-f", *ids, check=False)
