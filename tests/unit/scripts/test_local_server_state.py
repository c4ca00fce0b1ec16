"""scripts/local_server/state.py: what create.yml and demo.yml decide to skip on, read without Docker."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("local_server_state", REPO / "scripts" / "local_server" / "state.py")
state = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(state)


def git(cwd, *argv):
    return subprocess.run(["git", *argv], cwd=str(cwd), capture_output=True, text=True, check=True).stdout.strip()


def test_a_clean_source_is_tagged_with_its_commit_and_a_changed_one_with_its_content(tmp_path):
    app = tmp_path / "backend"
    (app / "lib").mkdir(parents=True)
    (app / "Dockerfile").write_text("FROM scratch\n")
    (app / "lib" / "app.ex").write_text("defmodule App do end\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    first = git(tmp_path, "rev-parse", "--short", "HEAD")
    assert state.source_tag(str(app)) == {"kind": "commit", "tag": first}
    # A commit elsewhere in the repository leaves the source's tag as it was.
    (tmp_path / "README").write_text("elsewhere\n")
    git(tmp_path, "add", "README")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "second")
    assert git(tmp_path, "rev-parse", "--short", "HEAD") != first
    assert state.source_tag(str(app)) == {"kind": "commit", "tag": first}

    (app / "lib" / "app.ex").write_text("defmodule App do def f, do: 1 end\n")
    changed = state.source_tag(str(app))
    assert changed["kind"] == "wip" and changed["tag"].startswith("wip-") and len(changed["tag"]) == 16
    # The same content, the same tag; other content, another.
    assert state.source_tag(str(app)) == changed
    (app / "lib" / "app.ex").write_text("defmodule App do def f, do: 2 end\n")
    assert state.source_tag(str(app))["tag"] != changed["tag"]


def test_files_are_read_by_mode_and_content_hash(tmp_path):
    secret = tmp_path / "build_push.yml"
    secret.write_text("image_build_registry_password: x\n")
    secret.chmod(0o600)
    assert state.file_state(str(secret)) == {"mode": "0600", "sha256": hashlib.sha256(secret.read_bytes()).hexdigest()}
    tmp_path.chmod(0o700)
    assert state.file_state(str(tmp_path)) == {"mode": "0700", "sha256": None}
    assert state.file_state(str(tmp_path / "missing")) is None


def test_the_login_is_known_by_a_hash_of_its_auth_only(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"localhost:5000": {"auth": "dXNlcjpwYXNz"}}}))
    assert state.login(str(config), "localhost:5000") == hashlib.sha256(b"dXNlcjpwYXNz").hexdigest()
    assert state.login(str(config), "localhost:5001") is None
    assert state.login(str(tmp_path / "missing.json"), "localhost:5000") is None
