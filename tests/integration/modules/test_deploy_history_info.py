"""deploy_history_info driven through ansible on this machine, on history files the test writes as deploy_history
does: what a rollback goes back to, and what it refuses."""

from __future__ import annotations

import json

from ansible_collections.sertantai.deploy.plugins.module_utils import _history
from tests.support.ansible import run_module

REPO = "ghcr.io/shotleybuilder/sertantai-legal-backend"


def build(name, digit):
    return dict(container="sertantai-legal-blue", image=REPO + ":latest", build=name, image_id="sha256:" + digit * 64)


def write(path, *deploys):
    """deploys: (time, run_id, {component: (now, before)})."""
    lines = [_history.make_record(time, "legal", dict(owner="alice", controller="laptop", run_id=run_id, purpose="test"),
                                  dict((c, pair[0]) for c, pair in components.items()),
                                  dict((c, pair[1]) for c, pair in components.items()))
             for time, run_id, components in deploys]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def test_a_rollback_goes_back_past_a_restart_to_the_build_before_the_last_change(tmp_path):
    b1, b2 = build("b1", "1"), build("b2", "2")
    path = write(tmp_path / "legal.jsonl",
                 ("t1", "r1", {"backend": (b1, None)}),
                 ("t2", "r2", {"backend": (b2, b1)}),
                 ("t3", "r3", {"backend": (dict(b2, container="sertantai-legal-green"), b2)}))   # a change of environment
    named = run_module("deploy_history_info", dict(path=path, service="legal", rollback=["backend"], last=1))
    assert not named.get("failed"), named.get("msg")
    assert named["rollback"] == {"backend": "b1"}
    assert named["rolled_back_from"]["backend"].startswith("t2 by alice@laptop: backend latest (b2), before: latest (b1)")
    assert [deploy["time"] for deploy in named["deploys"]] == ["t3"]

    # without components: the last deploy changed no build, it only restarted the backend
    last = run_module("deploy_history_info", dict(path=path, service="legal", rollback_last=True))
    assert last.get("failed") is True and "rollback" not in last
    assert last["msg"] == ("cannot roll back legal: its last deploy (t3) changed no build, it restarted backend on the image "
                           "that ran before (an environment comes from the fleet description). Nothing was changed; name "
                           "the components to roll back, or deploy a tag by hand (-e tag=...)")


def test_without_a_history_a_rollback_is_refused(tmp_path):
    result = run_module("deploy_history_info", dict(path=str(tmp_path / "none.jsonl"), service="legal", rollback_last=True))
    assert result.get("failed") is True
    assert result["msg"].startswith("cannot roll back legal: it has no deploy in the history on this host")
