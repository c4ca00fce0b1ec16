"""Run the collection's modules for real through ansible, and read their JSON results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env(**extra):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        # Modules run on localhost with this interpreter: discovery may pick a broken shim.
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        PATH=str(BIN) + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra)
    return env


def run_module(module, args, check=False, diff=False, host="localhost", timeout=600, env=None):
    """Run sertantai.deploy.<module> (or any FQCN) on localhost; return its result dict.

    The result carries ``failed``/``msg`` like a task result; ``_stdout`` holds the raw output. ``env``: more
    environment for ansible (and so for the local connection's commands).
    """
    name = module if "." in module else "sertantai.deploy." + module
    argv = [str(BIN / "ansible"), host, "-i", "localhost,", "-c", "local", "-m", name, "-a", json.dumps(args)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(**(env or {})), timeout=timeout,
                          cwd=str(REPO), check=False)
    try:
        out = json.loads(proc.stdout)
        result = out["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible did not return a JSON result (rc=%d)\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    result["_stdout"] = proc.stdout
    return result
