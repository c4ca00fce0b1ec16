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
        attributes = doc["doc"].get("attributes") or {}
        for attribute in ("check_mode", "diff_mode"):
            assert attributes.get(attribute, {}).get("description"), "%s: attribute %s has no description" % (name, attribute)
            assert attributes[attribute].get("support") in ("full", "partial", "none", "N/A"), (
                "%s: attribute %s says no support level (extend sertantai.deploy.attributes.info_module or "
                "change_with_diff, or set it)" % (name, attribute))


def test_the_shared_attributes_fragment_is_what_ansible_doc_shows():
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "--json", "sertantai.deploy.dns_info",
                           "sertantai.deploy.pg_database"],
                          capture_output=True, text=True, env=ansible_env(), cwd=str(REPO), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    info = docs["sertantai.deploy.dns_info"]["doc"]["attributes"]
    assert (info["check_mode"]["support"], info["diff_mode"]["support"], info["idempotent"]["support"]) == ("full", "N/A", "full")
    assert info["check_mode"]["description"].startswith("Can run in check mode")
    writer = docs["sertantai.deploy.pg_database"]["doc"]["attributes"]
    assert (writer["check_mode"]["support"], writer["diff_mode"]["support"]) == ("full", "full")
    # the module's own details win over the fragment's, the fragment's description stays
    assert writer["diff_mode"]["details"] == ["The database's owner and extensions before and after."]
    assert writer["diff_mode"]["description"] == info["diff_mode"]["description"]
