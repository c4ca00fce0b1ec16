"""scripts/deploy keeps the runbook's deploy-prod.sh flags: each maps onto deploy.yml's variables.

The script runs the real ansible-playbook with --syntax-check passed through, and its trace shows the
command it ran.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.ansible import REPO, ansible_env

CASES = [
    ([], '{"components": ["frontend","backend"]}', []),
    (["--frontend"], '{"components": ["frontend"]}', []),
    (["--backend"], '{"components": ["backend"]}', []),
    (["--frontend", "--backend"], '{"components": ["frontend","backend"]}', []),
    (["--electric"], '{"components": ["electric"]}', []),
    (["--with-electric"], '{"components": ["backend","electric"]}', []),
    (["--electric-clear-cache"], '{"components": ["electric"]}', ["electric_clear_cache=true"]),
    (["--backend", "--migrate"], '{"components": ["backend"]}', ["migrate=true"]),
    (["--check-only"], '{"components": ["frontend","backend"]}', ["check_only=true"]),
    (["--logs"], '{"components": ["frontend","backend"]}', ["logs=true"]),
    (["--release-lock"], '{"components": ["frontend","backend"]}', ["docker_host_lock_release=true"]),
    (["--backend", "--tag", "061c576"], '{"components": ["backend"]}', ["tag=061c576"]),
    (["--tag=061c576"], '{"components": ["frontend","backend"]}', ["tag=061c576"]),
    (["--backend", "--rollback"], '{"components": ["backend"]}', ["rollback=true"]),
    # no component flag: what the last deploy replaced (deploy.yml reads it from the history), no components
    (["--rollback"], None, ["rollback=true"]),
]


def run(*args, env=None):
    return subprocess.run([str(REPO / "scripts" / "deploy"), *args], cwd=str(REPO), env=env or ansible_env(),
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("flags, components, extra", CASES)
def test_flags_map_onto_deploy_yml(flags, components, extra):
    proc = run("--service", "legal", "-i", "inventories/local", *flags, "--", "--syntax-check")
    assert proc.returncode == 0, proc.stderr
    trace = [line for line in proc.stderr.splitlines() if line.startswith("+ exec ")][0]
    if components:
        assert "playbooks/deploy.yml -e service=legal -e '%s'" % components in trace
    else:
        assert "components" not in trace
    for item in extra:
        assert "-e %s" % item in trace
    assert trace.count(" -e ") == (2 if components else 1) + len(extra)
    assert "playbook: playbooks/deploy.yml" in proc.stdout


def test_help_names_every_runbook_flag():
    proc = run("--help")
    assert proc.returncode == 0
    for flag in ("--frontend", "--backend", "--electric", "--with-electric", "--electric-clear-cache",
                 "--migrate", "--check-only", "--logs"):
        assert flag in proc.stdout


def test_a_service_is_required_and_unknown_flags_refused():
    env = ansible_env()
    env.pop("SERTANTAI_SERVICE", None)
    missing = run("--backend", env=env)
    assert missing.returncode == 2 and "name the service" in missing.stderr
    unknown = run("--service", "legal", "--bakend")
    assert unknown.returncode == 2 and "unknown option --bakend" in unknown.stderr
