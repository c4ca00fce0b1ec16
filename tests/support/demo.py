"""scripts/demo (make demo) under names of its own: for the end-to-end test and bench/site.py."""

from __future__ import annotations

import os
import socket

from tests.support.docker import docker


def free_port():
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_env(prefix, net):
    """The environment of a demo named ``prefix`` on ``net``.0/24 (docs/demo.md): free loopback ports,
    tmpfs storage (nothing outlives its containers), nginx not published on this machine, plain output."""
    env = dict(os.environ)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    env.update(
        SERTANTAI_DEMO_PREFIX=prefix,
        SERTANTAI_DEMO_NET=net,
        SERTANTAI_DEMO_STORAGE="tmpfs",
        SERTANTAI_DEMO_REGISTRY_PORT=str(free_port()),
        SERTANTAI_DEMO_HUB_PORT=str(free_port()),
        SERTANTAI_LOCAL_SSH_PORT=str(free_port()),
        SERTANTAI_LOCAL_SSH_PORT_2=str(free_port()),
        SERTANTAI_DEMO_HTTPS_PORT="",
        SERTANTAI_DEMO_HTTPS_PORT_2="",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    return env


def remove_demo_tags(env):
    """Untag the images that the demo of ``env`` tagged on this machine for its registries (localhost:<port>/...).

    Each demo of a test or bench run has registry ports of its own, so its tags would pile up here run after run.
    Only those tags go: an image that another tag still names stays, and no volume is touched.
    """
    prefixes = tuple("%s:%s/" % (host, env[key]) for key in ("SERTANTAI_DEMO_REGISTRY_PORT", "SERTANTAI_DEMO_HUB_PORT")
                     for host in ("localhost", "127.0.0.1"))
    listed = docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    tags = [tag for tag in listed if tag.startswith(prefixes)]
    if tags:
        docker("rmi", *tags, check=False)
