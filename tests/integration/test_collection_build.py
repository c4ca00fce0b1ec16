"""The built collection tarball installs, and its content works from the install location."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(argv, env=None, cwd=None):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(map(str, argv)), proc.stdout, proc.stderr)
    return proc.stdout


def test_built_tarball_installs_and_works(tmp_path):
    install = tmp_path / "collections"
    # Only the installed copy is on the collections path: run from an empty directory.
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(install), ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    dist = tmp_path / "dist"
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", dist, REPO], env=env, cwd=tmp_path)
    tarball = next(dist.glob("sertantai-deploy-*.tar.gz"))
    run([BIN / "ansible-galaxy", "collection", "install", "--no-deps", "-p", install, tarball], env=env, cwd=tmp_path)
    root = install / "ansible_collections" / "sertantai" / "deploy"
    assert (root / "plugins" / "modules" / "container_health.py").is_file()
    assert (root / "roles" / "postgres" / "meta" / "argument_specs.yml").is_file()
    assert not (root / ".venv").exists() and not (root / ".state").exists()

    doc = json.loads(run([BIN / "ansible-doc", "--json", "sertantai.deploy.fleet_info"], env=env, cwd=tmp_path))
    assert doc["sertantai.deploy.fleet_info"]["doc"]["module"] == "fleet_info"

    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- hosts: localhost
  gather_facts: false
  vars:
    sertantai_services:
      - {name: legal, domain: legal.example.com, database: legal_db, backend: {image: example/legal, port: 4000}}
  roles:
    - sertantai.deploy.fleet
  tasks:
    - ansible.builtin.assert:
        that: sertantai_fleet[0].containers.backend == 'sertantai-legal'
""")
    out = run([BIN / "ansible-playbook", "-i", "localhost,", "-c", "local", playbook], env=env, cwd=tmp_path)
    assert "failed=0" in out
