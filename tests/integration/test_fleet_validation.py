"""Bad fleet input stops site.yml before any change, naming the service and the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ansible import ansible_env

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

GOOD = {"name": "legal", "domain": "legal.example.com", "database": "legal_db",
        "backend": {"image": "example/legal", "port": 4000}}


@pytest.mark.parametrize("bad, message", [
    ({"name": "auth", "domain": "auth.example.com", "database": "auth-db", "backend": {"image": "example/auth", "port": 4001}},
     "service 'auth' field 'database': 'auth-db' is not a valid PostgreSQL identifier"),
    ({"name": "legal", "domain": "other.example.com", "database": "other_db", "backend": {"image": "example/o", "port": 4001}},
     "service 'legal' (entry #2) field 'name': 'legal' is already used by service 'legal' (entry #1)"),
    ({"name": "auth", "domain": "auth.example.com", "database": "auth_db", "extensions": "citext",
      "backend": {"image": "example/auth", "port": 4001}},
     "service 'auth' field 'extensions': must be a list of extension names"),
])
def test_site_fails_before_any_change(tmp_path, bad, message):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"sertantai": {"hosts": {"target": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        # Nothing may reach this host's Docker or apt: any task after validation would fail here.
        "sertantai_deploy_root": str(tmp_path / "must-not-exist"),
        "sertantai_services": [GOOD, bad]}}}}}}))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "site.yml")],
                          capture_output=True, text=True, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"),
                          cwd=str(REPO), timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out, out
    assert "changed=0" in out, out
    assert not (tmp_path / "must-not-exist").exists()
    # The failing task is the validation itself, the first task of the play.
    assert "Validate the fleet description before anything changes" in out


@pytest.mark.parametrize("playbook, extra, message", [
    ("deploy.yml", {"service": "lgeal"}, "'lgeal' is not a service of the fleet: sertantai_services has legal, auth."),
    ("deploy.yml", {"service": "auth", "check_only": True},
     "'auth' runs on none of the hosts of this play (target): see sertantai_host_services in the inventory, and --limit."),
    ("restore_data.yml", {"service": "lgeal", "restore_source": {"database": "legal_db", "container": "old_postgres"}},
     "'lgeal' is not a service of the fleet: sertantai_services has legal, auth."),
])
def test_a_play_on_a_service_no_host_runs_fails_instead_of_doing_nothing(tmp_path, playbook, extra, message):
    auth = {"name": "auth", "domain": "auth.example.com", "database": "auth_db", "backend": {"image": "example/auth", "port": 4001}}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"sertantai": {"hosts": {"target": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "sertantai_deploy_root": str(tmp_path / "must-not-exist"),
        "sertantai_services": [GOOD, auth], "sertantai_host_services": ["legal"]}}}}}}))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / playbook),
                           "-e", json.dumps(extra)],
                          capture_output=True, text=True, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"),
                          cwd=str(REPO), timeout=300, check=False)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0
    assert message in out, out
    assert "changed=0" in out, out
    assert not (tmp_path / "must-not-exist").exists()
