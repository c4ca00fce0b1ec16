"""_history: the deploy history file (written and read by real shell commands on a temporary file), the records,
and the builds a rollback goes back to."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _history
from tests.support.docker import subprocess_run_command

REPO = "ghcr.io/shotleybuilder/sertantai-legal-backend"
WHO = dict(owner="alice", controller="laptop", run_id="run1", purpose="playbooks/deploy.yml service=legal components=backend")


def entry(tag, build=None, container="sertantai-legal-blue", image_id="sha256:" + "a" * 64):
    return dict(container=container, image="%s:%s" % (REPO, tag), build=build, image_id=image_id)


def deploy(time, run_id="run1", **components):
    """A record: ``components`` maps each component to (what runs now, what ran before or None)."""
    now = dict((component, pair[0]) for component, pair in components.items())
    before = dict((component, pair[1]) for component, pair in components.items())
    return _history.make_record(time, "legal", dict(WHO, run_id=run_id), now, before)


def test_inspect_documents_become_what_the_history_keeps():
    doc = {"Name": "/sertantai-legal-green", "Image": "sha256:" + "b" * 64,
           "Config": {"Image": REPO + ":latest", "Labels": {"org.opencontainers.image.version": "061c576"}}}
    assert _history.running(doc) == dict(container="sertantai-legal-green", image=REPO + ":latest", build="061c576",
                                         image_id="sha256:" + "b" * 64)
    # a label equal to the reference's tag says nothing more (as status shows it)
    doc["Config"]["Image"] = REPO + ":061c576"
    assert _history.running(doc)["build"] is None
    # app_service_info's summary of the container a deploy replaced
    assert _history.ran_before(dict(name="sertantai-legal-blue", image=REPO + ":latest", build="5f1252d", image_id="sha256:c",
                                    health="healthy")) == dict(container="sertantai-legal-blue", image=REPO + ":latest",
                                                               build="5f1252d", image_id="sha256:c")


def test_records_are_appended_read_back_oldest_first_and_the_file_keeps_the_last(tmp_path):
    path = str(tmp_path / "history" / "legal.jsonl")
    records, unreadable = _history.read(subprocess_run_command, path)
    assert (records, unreadable) == ([], 0), "no file yet is an empty history"
    written = [deploy("2026-11-29T10:0%d:00Z" % i, backend=(entry("latest", "b%d" % i), entry("latest", "b%d" % (i - 1))))
               for i in range(1, 6)]
    for record in written:
        _history.append(subprocess_run_command, path, record, keep=3)
    records, unreadable = _history.read(subprocess_run_command, path)
    assert records == written[-3:] and unreadable == 0
    assert oct((tmp_path / "history").stat().st_mode & 0o777) == "0o750"
    assert oct((tmp_path / "history" / "legal.jsonl").stat().st_mode & 0o777) == "0o640"
    # a line cut short (a disk full, an editor) is counted and left out; the others stay readable
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"time": "2026-11-29T11:00:00Z", "compo\n["not", "a", "record"]\n')
    _history.append(subprocess_run_command, path, written[0], keep=10)
    records, unreadable = _history.read(subprocess_run_command, path)
    assert records == written[-3:] + [written[0]] and unreadable == 2
    assert _history.read(subprocess_run_command, path, last=1)[0] == [written[0]]


def test_the_containers_that_run_are_read_with_the_hosts_clock_and_a_missing_one_is_an_error(tmp_path):
    docker = tmp_path / "docker"
    docs = [{"Name": "/sertantai-legal-green", "Image": "sha256:new", "Config": {"Image": REPO + ":latest", "Labels": {}}}]
    docker.write_text("#!/bin/sh\n[ \"$1 $2 $3\" = 'inspect --type container' ] || exit 3\necho '%s'\n" % json.dumps(docs))
    docker.chmod(0o755)
    now, running = _history.inspect_running(subprocess_run_command, str(docker), {"backend": "sertantai-legal-green"})
    assert len(now) == 20 and now.endswith("Z") and now[10] == "T"
    assert running == {"backend": dict(container="sertantai-legal-green", image=REPO + ":latest", build=None, image_id="sha256:new")}
    with pytest.raises(_history.HistoryError, match="no container sertantai-legal-frontend-green on the host"):
        _history.inspect_running(subprocess_run_command, str(docker), {"backend": "sertantai-legal-green",
                                                                       "frontend": "sertantai-legal-frontend-green"})


def test_a_rollback_goes_back_to_the_build_that_ran_before_each_components_last_deploy():
    records = [
        deploy("t1", backend=(entry("latest", "b1"), None), frontend=(entry("latest", "f1"), None)),
        deploy("t2", backend=(entry("latest", "b2"), entry("latest", "b1")), frontend=(entry("latest", "f2"), entry("latest", "f1"))),
        deploy("t3", run_id="run3", backend=(entry("latest", "b3"), entry("latest", "b2"))),
    ]
    assert _history.rollback(records, "legal", ["backend", "frontend"]) == {"backend": "b2", "frontend": "f1"}
    assert _history.last_components(records) == ["backend"]
    # a fleet tag that is not latest, built as itself (no build label beyond it): its own tag names it
    records.append(deploy("t4", run_id="run4", backend=(entry("v3"), entry("v2"))))
    assert _history.rollback(records, "legal", ["backend"]) == {"backend": "v2"}


def test_a_rollback_looks_past_deploys_that_restarted_the_same_image():
    # t2 changed the backend's build; t3 changed only its environment (the same image, recreated); t4 was the
    # health-gated restart of a restore: a rollback goes back to what ran before t2, the deploy that changed it
    b1, b2 = entry("latest", "b1", image_id="sha256:" + "1" * 64), entry("latest", "b2", image_id="sha256:" + "2" * 64)
    records = [
        deploy("t1", run_id="r1", backend=(b1, None)),
        deploy("t2", run_id="r2", backend=(b2, b1)),
        deploy("t3", run_id="r3", backend=(dict(b2, container="sertantai-legal-green"), b2)),
        deploy("t4", run_id="r4", backend=(b2, dict(b2, container="sertantai-legal-green"))),
    ]
    assert _history.restarted(records[2]["components"]["backend"]) and not _history.restarted(records[1]["components"]["backend"])
    assert _history.rollback(records, "legal", ["backend"]) == {"backend": "b1"}
    assert _history.last_deploys(records, ["backend"])["backend"]["time"] == "t2"
    # the last deploy changed nothing but restarted the backend: it names no component to roll back
    assert _history.last_components(records) == []
    # the same tag and build but another image id is a change (a rebuild pushed under the same tag)
    rebuilt = dict(b2, image_id="sha256:" + "3" * 64)
    assert not _history.restarted(dict(rebuilt, before=b2))
    # only restarts in the history kept (the change that started it was trimmed away): refused, saying so
    with pytest.raises(_history.HistoryError) as raised:
        _history.rollback(records[2:], "legal", ["backend"])
    assert raised.value.message.startswith("cannot roll back legal: backend: every deploy of it in the history of legal on "
                                           "this host restarted the same image"), raised.value.message


def test_the_components_of_the_last_deploy_are_those_of_every_line_of_its_run():
    # a deploy records its backend and frontend in one line and its Electric in the next, with the same run id
    records = [deploy("t1", run_id="a", backend=(entry("latest", "b1"), None)),
               deploy("t2", run_id="b", backend=(entry("latest", "b2"), entry("latest", "b1"))),
               deploy("t2", run_id="b", electric=(entry("1.0"), entry("0.9")))]
    assert _history.last_components(records) == ["backend", "electric"]
    assert _history.last_components(records[:1]) == ["backend"]
    assert _history.last_components([]) == []


@pytest.mark.parametrize("records, components, problem", [
    ([], ["backend"], "backend has no deploy in the history of legal on this host"),
    ([deploy("t1", backend=(entry("latest", "b1"), None))], ["backend"], "backend: the last deploy that changed it (t1) was its first"),
    # an image without a version label under latest, replaced under latest: latest names the new image now
    ([deploy("t1", backend=(entry("latest", "b2"), entry("latest")))], ["backend"],
     "backend: what ran before the last deploy that changed it (t1, image aaaaaaaaaaaa) has no version label, and its tag latest now"),
])
def test_a_rollback_that_cannot_name_the_earlier_build_is_refused_and_says_why(records, components, problem):
    with pytest.raises(_history.HistoryError) as raised:
        _history.rollback(records, "legal", components)
    assert raised.value.message.startswith("cannot roll back legal: " + problem), raised.value.message
    assert raised.value.message.endswith("Nothing was changed; deploy a tag by hand (-e tag=...)")


def test_each_deploy_reads_in_one_line():
    record = deploy("2026-11-29T15:10:02Z", backend=(entry("latest", "061c576"), entry("latest", "5f1252d")),
                    frontend=(entry("v2"), None))
    assert _history.summary(record) == ("2026-11-29T15:10:02Z by alice@laptop: backend latest (061c576), before: latest "
                                        "(5f1252d); frontend v2, the first")
