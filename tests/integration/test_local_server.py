"""scripts/local_server/create.yml with storage volume (make demo's default): the server keeps its disk.

`scripts/demo down` removes the servers and keeps their volumes, so that the next `make demo` finds its
images and data. The engine's data alone is not enough: shared_postgres's data was made with the
password in the deploy root's secrets, and a restarted container whose bind-mounted file is gone gets
a directory in its place (make demo then failed in the postgres role). The server is started, given a
secret, a certificate and an inner volume, removed as `scripts/demo down` removes it, and started again.

Names: sertantai-test-keepdisk (container, removed by name before and after) and its volumes
sertantai-test-keepdisk-{docker,opt,letsencrypt}, which are kept, as the demo keeps its own (nothing removes a
volume); the next run of this test uses them again and writes what it checks anew.

A server container that restarts (the machine's dockerd restarted, or the machine rebooted) keeps its
/run, which a real server's boot empties: its engine must start again although the pid files of the last
start name a pid another process has now. And like a boot, the restart starts the services enabled for
boot (cron, which runs the certificate renewal) and not one that was disabled.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.ansible import BIN, REPO, ansible_env
from tests.support.docker import docker, remove_containers, wait_until

SERVER = "sertantai-test-keepdisk"

pytestmark = [pytest.mark.docker]


def create(key_dir):
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOAD_CALLBACK_PLUGINS="0")
    servers = [{"name": SERVER, "storage": "volume"}]
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(REPO / "scripts/local_server/create.yml"), "-e",
                           json.dumps({"local_server_key": str(key_dir / "id_ed25519"), "local_servers": servers})],
                          cwd=str(REPO), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


@pytest.fixture
def server_key(tmp_path, docker_engine):
    remove_containers(SERVER)
    yield tmp_path
    remove_containers(SERVER)


def test_a_server_started_again_finds_its_secrets_certificates_and_engine_data(server_key):
    create(server_key)
    docker("exec", SERVER, "sh", "-c",
           "mkdir -p /opt/sertantai/secrets /etc/letsencrypt/live/legal.sertantai.test"
           " && echo kept > /opt/sertantai/secrets/postgres_superuser_password"
           " && echo kept > /etc/letsencrypt/live/legal.sertantai.test/fullchain.pem"
           " && docker volume create shared_postgres_data >/dev/null")
    # Written in this run (over what an earlier run of this test left in the kept volumes).
    remove_containers(SERVER)  # as scripts/demo down: the container goes, its volumes stay

    create(server_key)
    kept = docker("exec", SERVER, "sh", "-c",
                  "cat /opt/sertantai/secrets/postgres_superuser_password /etc/letsencrypt/live/legal.sertantai.test/fullchain.pem"
                  " && docker volume ls -q").stdout.split()
    assert kept == ["kept", "kept", "shared_postgres_data"]


def test_a_restarted_server_starts_its_engine_over_the_pid_files_of_the_last_start(server_key):
    create(server_key)
    # PID 1 runs at every start (the entrypoint, then sshd): a pid file naming it is one that names a live process.
    docker("exec", SERVER, "sh", "-c", "docker volume create shared_postgres_data >/dev/null"
           " && echo 1 > /var/run/docker.pid && echo 1 > /var/run/docker/containerd/containerd.pid")
    docker("restart", SERVER)
    try:
        volumes = wait_until(engine_volumes, timeout=60, interval=1, what="the server's engine after a restart")
    except AssertionError:
        log = docker("exec", SERVER, "tail", "-5", "/var/log/dockerd.log", check=False).stdout
        raise AssertionError("the engine did not start after a restart:\n%s" % log) from None
    assert "shared_postgres_data" in volumes


def engine_volumes():
    """The volumes of the server's engine, or None while it does not answer."""
    proc = docker("exec", SERVER, "docker", "volume", "ls", "-q", check=False)
    return proc.stdout.split() if proc.returncode == 0 else None


def test_a_restarted_server_starts_the_services_enabled_for_boot_and_not_the_disabled(server_key):
    create(server_key)
    wait_until(booted, timeout=60, interval=1, what="the server's first start")
    assert cron_runs(), "cron, enabled by its package, does not run after the first start"
    docker("exec", SERVER, "sh", "-c", "service cron stop >/dev/null && update-rc.d cron disable")
    docker("restart", SERVER)
    wait_until(booted, timeout=60, interval=1, what="the server's start after a restart")
    assert not cron_runs(), "cron was disabled for boot, and the restart started it"
    docker("exec", SERVER, "update-rc.d", "cron", "enable")
    docker("restart", SERVER)
    wait_until(booted, timeout=60, interval=1, what="the server's start after a restart")
    assert cron_runs(), "cron, enabled again, does not run after the restart"


def booted():
    """True once the entrypoint is done: it ends by replacing itself with sshd, after the boot's services."""
    return docker("exec", SERVER, "cat", "/proc/1/comm", check=False).stdout.strip() == "sshd"


def cron_runs():
    return docker("exec", SERVER, "sh", "-c", "grep -qsx cron /proc/[0-9]*/comm", check=False).returncode == 0
