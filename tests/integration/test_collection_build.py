"""The built collection tarball holds what it must (and nothing local), its checksums are right,
and it installs and works from the install location alone."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# What a user of the collection runs: every file of these folders must be in the tarball.
SHIPPED = ("plugins", "roles", "playbooks", "meta")
# Local state, caches and results that must never be shipped.
NEVER = (".venv/", ".state/", ".ansible/", ".pytest_cache/", "tests/output/", "bench/results/", ".git/")


def run(argv, env=None, cwd=None):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(map(str, argv)), proc.stdout, proc.stderr)
    return proc.stdout


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def shipped_files():
    """The files of SHIPPED as the working tree has them (tracked, or new and not ignored)."""
    out = run(["git", "ls-files", "-co", "--exclude-standard", "--", *SHIPPED], cwd=str(REPO))
    return sorted(path for path in out.splitlines() if (REPO / path).is_file())


def test_built_tarball_ships_every_file_with_right_checksums_and_works_installed(tmp_path):
    install = tmp_path / "collections"
    # Only the installed copy is on the collections path: run from an empty directory, no scan of sys.path.
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(install), ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    dist = tmp_path / "dist"
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", dist, REPO], env=env, cwd=tmp_path)
    tarball = next(dist.glob("sertantai-deploy-*.tar.gz"))

    with tarfile.open(tarball) as tar:
        # A symbolic link (the group_vars inventories/local-two-servers shares with inventories/local)
        # reads as the file it points to.
        contents = dict((m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile() or m.issym())
    names = sorted(contents)

    # Everything a user runs is there, byte for byte as in the checkout.
    missing = [path for path in shipped_files() if path not in contents]
    assert not missing, "not in the tarball: %s" % missing
    changed = [path for path in shipped_files() if contents[path] != (REPO / path).read_bytes()]
    assert not changed, "differs from the checkout: %s" % changed
    # Nothing local: no virtualenv, state, caches, test output, benchmark results or byte code.
    leaked = [name for name in names if name.startswith(NEVER) or "__pycache__/" in name or name.endswith(".pyc")]
    assert not leaked, "local files in the tarball: %s" % leaked[:20]

    # MANIFEST.json vouches for FILES.json, and FILES.json for every other file, by sha256.
    manifest = json.loads(contents["MANIFEST.json"])
    assert (manifest["collection_info"]["namespace"], manifest["collection_info"]["name"]) == ("sertantai", "deploy")
    assert manifest["file_manifest_file"]["chksum_sha256"] == sha256(contents["FILES.json"])
    listed = dict((f["name"], f["chksum_sha256"]) for f in json.loads(contents["FILES.json"])["files"] if f["ftype"] == "file")
    assert sorted(listed) == sorted(set(names) - {"MANIFEST.json", "FILES.json"})
    wrong = [name for name, digest in listed.items() if digest != sha256(contents[name])]
    assert not wrong, "FILES.json checksum does not match: %s" % wrong

    run([BIN / "ansible-galaxy", "collection", "install", "--no-deps", "-p", install, tarball], env=env, cwd=tmp_path)
    root = install / "ansible_collections" / "sertantai" / "deploy"

    # The docs and the module come from the installed copy.
    doc = json.loads(run([BIN / "ansible-doc", "--json", "sertantai.deploy.schema_parity"], env=env, cwd=tmp_path))
    assert Path(doc["sertantai.deploy.schema_parity"]["doc"]["filename"]).resolve() == (root / "plugins" / "modules" / "schema_parity.py").resolve()
    column = dict(type="integer", nullable=False, default=None, identity=None, generated=None, position=1)
    source = {"public.t": dict(schema="public", name="t", kind="table", columns={"id": column}, constraints={}, indexes={})}
    target = {"public.t": dict(source["public.t"], columns={"id": dict(column, type="bigint")})}
    out = run([BIN / "ansible", "localhost", "-i", "localhost,", "-c", "local", "-m", "sertantai.deploy.schema_parity",
               "-a", json.dumps(dict(source=source, target=target, fail_on_difference=False))], env=env, cwd=tmp_path)
    result = json.loads(out.split("=>", 1)[1])
    assert (result["identical"], result["differences"], result["changed"]) == (False, 1, False)
    assert result["report"][1] == "t.id: type integer in source, bigint in target"

    # A role of the installed copy derives the fleet; the play's assert fails the run when it does not.
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
    run([BIN / "ansible-playbook", "-i", "localhost,", "-c", "local", playbook], env=env, cwd=tmp_path)
