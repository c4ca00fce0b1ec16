"""ansible-doc renders every module of the collection (DOCUMENTATION, EXAMPLES and RETURN parse)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.ansible import ansible_env

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))


def test_every_module_renders():
    names = ["sertantai.deploy." + m for m in MODULES]
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "--json", *names],
                          capture_output=True, text=True, env=ansible_env(), cwd=str(REPO), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(docs) == names
    for name, doc in docs.items():
        assert doc["doc"]["short_description"], name
        assert doc["examples"] and name in doc["examples"], "%s: EXAMPLES must call the module by FQCN" % name
        assert doc["return"] is not None, "%s: RETURN is missing" % name
