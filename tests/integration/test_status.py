"""playbooks/status.yml for real, on a Hetzner-like server (scripts/local_server/create.yml) that
playbooks/site.yml provisioned with a one-service fleet (backend + Electric; the stand-in images
loaded into the server's engine and tagged there under the fleet's names, app_service_pull: never).

A healthy host: the table names the service, its containers, Electric active, the certificate's days
and PostgreSQL 16; exit 0, nothing changed, also with --check. Then the backend is stopped, a
session waits for Electric's replication lock, and the fleet names a service that was never deployed:
the table is still printed, the play exits non-zero naming each problem, and no secret is created.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.ansible import ansible_env
from tests.support.docker import docker, published_port, remove_containers

pytestmark = [pytest.mark.docker, pytest.mark.minutes(3)]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVER = "sertantai-test-status-srv"
PG_IMAGE = os.environ.get("SERTANTAI_TEST_PG_IMAGE", "sertantai-test/postgres:latest")
# stand-in image -> the name the fleet deploys
IMAGES = {
    "sertantai-test/backend:latest": "ghcr.io/shotleybuilder/sertantai-legal-backend:v1",
    "sertantai-test/electric:latest": "electricsql/electric:v1",
    PG_IMAGE: PG_IMAGE,
    "sertantai-test/nginx:latest": "sertantai-test/nginx:latest",
}
GROUP_VARS = """---
postgres_image: %(pg_image)s
postgres_image_pull: never
nginx_image: sertantai-test/nginx:latest
nginx_image_pull: never
nginx_http2: false
# No ACME server can reach the server: nginx keeps its self-signed bootstrap certificate.
sertantai_issue_certificates: false
app_service_pull: never
app_service_health_timeout: 90
sertantai_services:
  - name: legal
    domain: legal.sertantai.test
    database: sertantai_legal_prod
    extensions: [citext]
    backend: {image: ghcr.io/shotleybuilder/sertantai-legal-backend, tag: v1, port: 4000, env: {MIGRATION_SECONDS: "1"}}
    electric: {enabled: true, stream_id: legal, image: electricsql/electric, tag: v1}
"""


def playbook(name, inventory, *args, timeout=900):
    """ansible-playbook with the repository's settings (the default output); None: the default inventory."""
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOAD_CALLBACK_PLUGINS="0")
    if inventory is not None:
        # The server has its own Python: discover it (the controller's venv path does not exist there).
        env["ANSIBLE_PYTHON_INTERPRETER"] = "auto_silent"
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), *(["-i", str(inventory)] if inventory is not None else []),
                           str(REPO / name), *args],
                          cwd=str(REPO), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    print("%s %s: rc=%d in %.1f s" % (name, " ".join(args), proc.returncode, time.monotonic() - start))
    return proc


def on_server(*argv, check=True):
    return docker("exec", SERVER, *argv, check=check)


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_engine):
    """The server, provisioned and deployed by site.yml; its inventory path. Removed afterwards."""
    tmp = tmp_path_factory.mktemp("status")
    remove_containers(SERVER)
    created = playbook("scripts/local_server/create.yml", None, "-e", (
        '{"local_server_key": "%s/id_ed25519", "local_servers": [{"name": "%s", "storage": "tmpfs"}]}' % (tmp, SERVER)))
    try:
        assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-2000:]
        # One stream for all images: their shared base layers travel once.
        save = subprocess.Popen(["docker", "save", *IMAGES], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "exec", "-i", SERVER, "docker", "load", "-q"], stdin=save.stdout,
                              capture_output=True, text=True, timeout=600, check=False)
        save.stdout.close()
        assert save.wait(timeout=60) == 0 and load.returncode == 0, load.stderr
        for source, target in IMAGES.items():
            if source != target:
                on_server("docker", "tag", source, target)
        inventory = tmp / "inventory"
        (inventory / "group_vars").mkdir(parents=True)
        (inventory / "hosts.yml").write_text(
            "all:\n  children:\n    sertantai:\n      hosts:\n        status-srv:\n"
            "          ansible_host: 127.0.0.1\n          ansible_port: %d\n          ansible_user: root\n"
            "          ansible_ssh_private_key_file: %s/id_ed25519\n"
            "          ansible_ssh_common_args: -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR\n"
            % (published_port(SERVER, 22), tmp))
        (inventory / "group_vars" / "sertantai.yml").write_text(GROUP_VARS % dict(pg_image=PG_IMAGE))
        site = playbook("playbooks/site.yml", inventory)
        assert site.returncode == 0, site.stdout[-5000:] + site.stderr[-2000:]
        yield inventory
    finally:
        remove_containers(SERVER)


def table(stdout):
    """The status message, as printed: the literal block under `msg: |-`."""
    assert "msg: |-" in stdout, stdout[-4000:]
    return stdout.split("msg: |-", 1)[1].split("\n\nTASK [", 1)[0]


def recap(stdout):
    return re.search(r"status-srv\s+: (ok=.*)", stdout).group(1)


def test_a_healthy_host_is_one_table_and_exit_0(server):
    proc = playbook("playbooks/status.yml", server)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    text = table(proc.stdout)
    assert "status-srv: healthy; 1 service" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["legal", "backend", "sertantai-legal-blue", "v1", "healthy", "0", "leave", "it"] in rows
    assert ["legal", "electric", "sertantai-legal-electric-blue", "v1", "healthy", "0", "leave", "it"] in rows
    service = [r for r in rows if r[:2] == ["legal", "active"]]
    assert service, text
    # ... and the last deploy, from the deploy history site.yml's deploy wrote: when (the server's clock) and by whom
    assert re.search(r"legal\s+active\s+\d+(\.\d)? (bytes|kB|MB)\s+36[45] days \(self-signed\)\s+sertantai_legal_prod \S+ \S+\s+"
                     r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by \S+@\S+\s+"
                     r"https://legal\.sertantai\.test/  /api/  /electric/$", text, re.M), text
    assert re.search(r"^\s*PostgreSQL\s+shared_postgres\s+healthy, 0 restarts\s+16\.\d+, wal_level=logical", text, re.M), text
    assert re.search(r"^\s*nginx\s+nginx\s+healthy", text, re.M), text
    assert re.search(r"^\s*shared_postgres_data\s+\d", text, re.M), text
    assert re.search(r"^\s*sertantai-legal-electric-storage\s+\d", text, re.M), text
    # Aligned: the columns of the component table start at the same offsets in every row.
    header = [line for line in text.splitlines() if "LIVE CONTAINER" in line][0]
    for line in [line for line in text.splitlines() if "sertantai-legal-" in line and "-blue" in line]:
        assert line.index("sertantai-legal-") == header.index("LIVE CONTAINER")
    assert not [line for line in text.splitlines() if line != line.rstrip()]
    assert "changed=0" in recap(proc.stdout) and "failed=0" in recap(proc.stdout)


def test_check_mode_reads_the_same_and_changes_nothing(server):
    proc = playbook("playbooks/status.yml", server, "--check")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "status-srv: healthy; 1 service" in table(proc.stdout)
    assert "changed=0" in recap(proc.stdout)


def test_something_unhealthy_is_printed_and_exits_non_zero(server, tmp_path):
    on_server("docker", "stop", "sertantai-legal-blue")
    # A second session asks for the replication lock the live Electric holds: it waits, as a second
    # Electric with the same stream id would.
    on_server("docker", "exec", "-d", "shared_postgres", "psql", "-U", "postgres", "-d", "sertantai_legal_prod",
              "-c", "SELECT pg_advisory_lock(hashtext('electric_slot_legal'))")
    # And a service that was never deployed: reading it must not create its secrets.
    fleet = yaml.safe_load(GROUP_VARS % dict(pg_image=PG_IMAGE))["sertantai_services"] + [{
        "name": "auth", "domain": "auth.sertantai.test", "database": "sertantai_auth_prod",
        "backend": {"image": "ghcr.io/shotleybuilder/sertantai-auth-backend", "tag": "v1", "port": 4001}}]
    (tmp_path / "fleet.json").write_text(json.dumps({"sertantai_services": fleet}))
    proc = playbook("playbooks/status.yml", server, "-e", "@%s" % (tmp_path / "fleet.json"))
    assert proc.returncode == 2, proc.stdout[-5000:] + proc.stderr[-2000:]
    text = table(proc.stdout)
    assert "status-srv: UNHEALTHY, 5 problems" in text
    assert re.search(r"legal\s+backend\s+sertantai-legal-blue\s+v1\s+exited", text), text
    assert re.search(r"^\s*legal\s+waiting\s", text, re.M), text
    assert re.search(r"^\s*auth\s+backend\s+-\s+-\s+-\s+-\s+replace it: no backend container runs yet$", text, re.M), text
    # never deployed here: no deploy history, which is no problem of its own
    assert re.search(r"^\s*auth\s.*\snone recorded\s+https://auth\.sertantai\.test/", text, re.M), text
    # The failure is one line naming each problem (the output format may fold it: compare without line breaks).
    failure = " ".join(proc.stdout.split("TASK [Fail when something is unhealthy]", 1)[1].split())
    for problem in ("status-srv: 5 unhealthy: legal backend: sertantai-legal-blue is exited",
                    "legal electric: waits for the replication lock of electric_slot_legal held by pid",
                    "auth backend: no container runs (not provisioned on this host: playbooks/site.yml creates its site and deploys it)",
                    "auth certificate of auth.sertantai.test: missing",
                    "auth database sertantai_auth_prod: missing"):
        assert problem in failure, failure
    assert "changed=0" in recap(proc.stdout)
    assert on_server("test", "-e", "/opt/sertantai/secrets/auth", check=False).returncode == 1
