"""scripts/demo (make demo) under names of its own: for the end-to-end test and bench/site.py."""

from __future__ import annotations

import os
import socket


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
