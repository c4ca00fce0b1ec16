"""The inventories shipped with the collection: production (the runbook's fleet) and local (the demo).

Each parses into group sertantai, every playbook passes --syntax-check against it, and its fleet
validates with fleet_info. Production's secrets come from an Ansible Vault file made from
vault.yml.example: without it every secret falls back (no registry login, secrets generated on the
server); with it each vault_* variable reaches the role variable that uses it. Nothing connects to a host.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.ansible import ansible_env, run_module

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORIES = {"production": "sertantai-hz", "local": "sertantai-hz-local"}
PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))
PRODUCTION_VARS = REPO / "inventories" / "production" / "group_vars" / "sertantai"


def run(*argv, timeout=300):
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=str(REPO), env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"),
                          capture_output=True, text=True, timeout=timeout, check=False)


def host_vars(inventory, host):
    proc = run("ansible-inventory", "-i", str(inventory), "--host", host)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def rendered(inventory, host, *names):
    """The values of ``names`` for ``host`` as a play sees them (templated); runs on the controller only."""
    expr = "{{ {%s} }}" % ", ".join("'%s': %s" % (n, n) for n in names)
    proc = subprocess.run([str(BIN / "ansible"), host, "-i", str(inventory), "-m", "ansible.builtin.debug",
                           "-a", json.dumps({"msg": expr}), "-e", "ansible_connection=local"],
                          cwd=str(REPO), env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][host]["msg"]


@pytest.mark.parametrize("name, host", sorted(INVENTORIES.items()))
def test_the_inventory_has_its_host_in_group_sertantai(name, host):
    proc = run("ansible-inventory", "-i", "inventories/" + name, "--graph")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^  \|--@sertantai:\n  \|  \|--%s$" % re.escape(host), proc.stdout, re.M), proc.stdout


@pytest.mark.parametrize("playbook", PLAYBOOKS)
@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_every_playbook_passes_the_syntax_check(name, playbook):
    proc = run("ansible-playbook", "-i", "inventories/" + name, "--syntax-check", "playbooks/" + playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "playbook: playbooks/" + playbook in proc.stdout


@pytest.mark.parametrize("name, host", sorted(INVENTORIES.items()))
def test_the_fleet_validates(name, host):
    # Templated as a play sees it (the local fleet names its registry through demo_registry).
    services = rendered("inventories/" + name, host, "sertantai_services")["sertantai_services"]
    result = run_module("fleet_info", {"services": services})
    assert not result.get("failed"), result.get("msg")
    assert [s["name"] for s in result["services"]] == ["legal", "auth", "enforcement"]


def test_production_is_the_runbooks_fleet():
    fleet = dict((s["name"], s) for s in host_vars("inventories/production", "sertantai-hz")["sertantai_services"])
    for name, port in (("legal", 4000), ("auth", 4001), ("enforcement", 4002)):
        service = fleet[name]
        assert service["domain"] == "%s.sertantai.com" % name
        assert service["database"] == "sertantai_%s_prod" % name
        assert service["backend"] == {"image": "ghcr.io/shotleybuilder/sertantai-%s-backend" % name, "tag": "latest", "port": port}
    assert fleet["legal"]["frontend"]["image"] == "ghcr.io/shotleybuilder/sertantai-legal-frontend"
    assert fleet["legal"]["electric"] == {"enabled": True, "stream_id": "legal"}


SECRETS = ("app_service_registry_username", "app_service_registry_password", "app_service_secrets",
           "postgres_superuser_password", "certbot_email")


def test_without_a_vault_every_secret_falls_back():
    assert not (PRODUCTION_VARS / "vault.yml").exists(), "a vault.yml in the repository would be read by this test"
    assert rendered("inventories/production", "sertantai-hz", *SECRETS) == {
        "app_service_registry_username": "", "app_service_registry_password": "", "app_service_secrets": {},
        "postgres_superuser_password": "", "certbot_email": ""}


def test_the_vault_example_reaches_every_secret(tmp_path):
    inventory = tmp_path / "production"
    shutil.copytree(REPO / "inventories" / "production", inventory)
    example = (PRODUCTION_VARS / "vault.yml.example").read_text()
    (inventory / "group_vars" / "sertantai" / "vault.yml").write_text(example)
    vault = yaml.safe_load(example)
    referenced = set(re.findall(r"\bvault_\w+", (PRODUCTION_VARS / "secrets.yml").read_text()))
    assert set(vault) == referenced, "vault.yml.example and secrets.yml must name the same vault_* variables"
    values = rendered(inventory, "sertantai-hz", *SECRETS)
    assert values == {
        "app_service_registry_username": vault["vault_ghcr_username"],
        "app_service_registry_password": vault["vault_ghcr_token"],
        "app_service_secrets": vault["vault_app_service_secrets"],
        "postgres_superuser_password": vault["vault_postgres_superuser_password"],
        "certbot_email": vault["vault_certbot_email"]}


def test_the_example_is_not_read_as_variables():
    assert not [name for name in host_vars("inventories/production", "sertantai-hz") if name.startswith("vault_")]
