"""_health: judging inspect documents and probe results, and the polling loop driven by a fake clock."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _docker, _health
from ansible_collections.sertantai.deploy.plugins.module_utils._health import FAILED, READY, WAITING

WGET_CHECK = ("CMD-SHELL", 'wget --no-verbose --tries=1 --spider "http://localhost:${PORT}/health" || exit 1')
CURL_CHECK = ["CMD", "curl", "-f", "http://localhost:3000/v1/health"]
ACTIVE = '"status":"active"'
ACTIVE_JSON = {"status": "active"}


def text(contains, url=None):
    return dict(url=url, contains=contains, json=None)


def active(url=None):
    return dict(url=url, contains=ACTIVE, json=ACTIVE_JSON)


def doc(state="running", health="healthy", restarts=0, exit_code=0, test=WGET_CHECK, log=(), policy="no",
        max_retries=0, cid="c1", started="2026-01-01T00:00:00Z", env=("PORT=4000",), oom=False,
        finished="0001-01-01T00:00:00Z"):
    """A ``docker inspect`` document with just the fields the module reads."""
    state_doc = dict(Status=state, ExitCode=exit_code, StartedAt=started, FinishedAt=finished, OOMKilled=oom)
    test = list(test) if test is not None else None
    if test and test != ["NONE"]:
        state_doc["Health"] = dict(Status=health, Log=[dict(ExitCode=code, Output=out, Start="2026-01-01T00:00:0%d.5+01:00" % i)
                                                       for i, (code, out) in enumerate(log)])
    return dict(
        Id=cid, Name="/x", RestartCount=restarts, State=state_doc,
        Config=dict(Env=list(env), Healthcheck=dict(Test=test) if test else None),
        HostConfig=dict(RestartPolicy=dict(Name=policy, MaximumRetryCount=max_retries)),
    )


# ----------------------------------------------------------------- expect option


@pytest.mark.parametrize("expect, wanted", [
    (None, {}),
    ("", {}),
    (ACTIVE, {"a": active(), "b": active()}),
    ({"contains": ACTIVE, "containers": ["b"], "url": "http://localhost:3000/v1/health"},
     {"b": active("http://localhost:3000/v1/health")}),
    ({"contains": "ok", "containers": "a"}, {"a": text("ok")}),
    ([{"contains": "ok", "containers": ["a"]}, {"contains": ACTIVE, "containers": ["b"]}],
     {"a": text("ok"), "b": active()}),
    ({"json": {"status": "active"}, "containers": ["a"]}, {"a": dict(url=None, contains=None, json=ACTIVE_JSON)}),
    ('{"status": "active"}', {"a": dict(url=None, contains='{"status": "active"}', json=ACTIVE_JSON),
                              "b": dict(url=None, contains='{"status": "active"}', json=ACTIVE_JSON)}),
])
def test_normalize_expect(expect, wanted):
    assert _health.normalize_expect(expect, ["a", "b"]) == wanted


@pytest.mark.parametrize("expect, message", [
    (42, "must be a string, a dict"),
    ([ACTIVE], "expect[0] must be a dict"),
    ({"url": "http://localhost/"}, "expect needs contains (text the body must contain"),
    ({"contains": ""}, "expect needs contains"),
    ({"contains": ACTIVE, "json": {"status": "active"}}, "expect has both contains and json: give one"),
    ({"json": "status: active"}, "expect.json must be a non-empty dict of the fields the JSON body must have"),
    ({"json": {}}, "expect.json must be a non-empty dict"),
    ({"contains": "x", "body": "y"}, "unknown key(s) body"),
    ({"contains": "x", "url": "localhost:3000/v1/health"}, "must be an http:// or https:// URL"),
    ({"contains": "x", "containers": ["c"]}, "names 'c', which is not in containers (a, b)"),
    ({"contains": "x", "containers": []}, "non-empty list"),
    ([{"contains": "x"}, {"contains": "y", "containers": ["a"]}], "expect[1]: container 'a' already has an expect entry"),
])
def test_normalize_expect_rejects(expect, message):
    with pytest.raises(_health.HealthError) as exc:
        _health.normalize_expect(expect, ["a", "b"])
    assert message in str(exc.value)


# ----------------------------------------------------------------- reading inspect documents


@pytest.mark.parametrize("test, command", [
    (WGET_CHECK, 'wget --no-verbose --tries=1 --spider "http://localhost:${PORT}/health" || exit 1'),
    (CURL_CHECK, "curl -f http://localhost:3000/v1/health"),
    (["CMD", "sh", "-c", "echo a b"], "sh -c 'echo a b'"),
    (None, None),
])
def test_healthcheck_command(test, command):
    assert _health.healthcheck_command(test) == command


@pytest.mark.parametrize("test, has", [(["NONE"], False), (None, False), ([], False), (CURL_CHECK, True)])
def test_healthcheck_test_none(test, has):
    assert (_health.healthcheck_test(doc(test=test)) is not None) is has


@pytest.mark.parametrize("text, env, expanded", [
    ("http://localhost:${PORT}/health", {"PORT": "4001"}, "http://localhost:4001/health"),
    ("http://localhost:$PORT/health", {"PORT": "4002"}, "http://localhost:4002/health"),
    ("http://localhost:${PORT:-4000}/health", {}, "http://localhost:4000/health"),
    ("http://localhost:${PORT:-4000}/health", {"PORT": ""}, "http://localhost:4000/health"),
    ("http://localhost:${PORT:-4000}/health", {"PORT": "4003"}, "http://localhost:4003/health"),
    ("http://localhost:${PORT}/health", {}, "http://localhost:/health"),
])
def test_expand_vars(text, env, expanded):
    assert _health.expand_vars(text, env) == expanded


@pytest.mark.parametrize("test, env, url", [
    (WGET_CHECK, ("PORT=4001",), "http://localhost:4001/health"),
    (CURL_CHECK, (), "http://localhost:3000/v1/health"),
    (["CMD-SHELL", "curl -f 'http://localhost:3000/v1/health' || exit 1"], (), "http://localhost:3000/v1/health"),
    (["CMD-SHELL", "pg_isready -U postgres"], (), None),
    (None, (), None),
])
def test_healthcheck_url(test, env, url):
    assert _health.healthcheck_url(doc(test=test, env=env)) == url


@pytest.mark.parametrize("output, program", [
    ("/bin/sh: 1: curl: not found\n", "curl"),                   # dash (Debian)
    ("/bin/sh: curl: not found", "curl"),                         # busybox ash (Alpine)
    ("bash: line 1: curl: command not found", "curl"),            # bash
    ('OCI runtime exec failed: exec failed: unable to start container process: exec: "curl": '
     "executable file not found in $PATH: unknown", "curl"),      # exec form, runc
    ('exec: "/usr/bin/curl": stat /usr/bin/curl: no such file or directory', "curl"),
    ("wget: server returned error: HTTP/1.1 404 Not Found", None),
    ("Connecting to localhost:4000 (127.0.0.1:4000)\nwget: can't connect to remote host: Connection refused", None),
    ("2026-01-01 10:00:00 ERROR 404: Not Found.", None),
    ("", None),
])
def test_missing_program(output, program):
    assert _health.missing_program(output) == program


def test_health_log_keeps_the_last_entries_oldest_first():
    log = [(1, "first"), (1, "second"), (0, "third ok\n")]
    assert _health.health_log(doc(log=log), entries=2) == [dict(exit_code=1, output="second", at="2025-12-31T23:00:01Z"),
                                                           dict(exit_code=0, output="third ok", at="2025-12-31T23:00:02Z")]


@pytest.mark.parametrize("policy, exit_code, restarts, max_retries, restarts_again", [
    ("no", 1, 0, 0, False),
    ("always", 0, 0, 0, True),
    ("unless-stopped", 1, 3, 0, True),
    ("on-failure", 0, 0, 0, False),
    ("on-failure", 1, 1, 0, True),
    ("on-failure", 1, 3, 3, False),
])
def test_will_restart(policy, exit_code, restarts, max_retries, restarts_again):
    st = _health.state_of(doc(state="exited", policy=policy, exit_code=exit_code, restarts=restarts, max_retries=max_retries))
    assert _health.will_restart(st) is restarts_again


# ----------------------------------------------------------------- judging one observation


def judge(current, baseline=None, previous=None, probe=None, expect=None, require_healthcheck=True, max_restarts=2, failure=None):
    base = _health.state_of(baseline or current)
    prev = _health.state_of(previous) if previous else None
    return _health.judge(current, base, prev, probe, expect, require_healthcheck, max_restarts, failure)


@pytest.mark.parametrize("current, kwargs, verdict, problem, words", [
    (doc(), {}, READY, None, "healthy"),
    (doc(health="starting"), {}, WAITING, None, "health is starting"),
    (doc(health="unhealthy", log=[(1, "wget: can't connect to remote host: Connection refused")]), {},
     WAITING, None, "last check: wget: can't connect"),
    (doc(state="created", health="starting"), {}, WAITING, None, "is created"),
    (doc(health="starting", log=[(127, "/bin/sh: 1: curl: not found")]), {}, FAILED, _health.MISSING_TOOL,
     "runs curl, which the image does not have"),
    (doc(health="healthy", log=[(127, "/bin/sh: 1: curl: not found"), (0, "ok")]), {}, READY, None, "healthy"),
    (doc(test=None), {}, FAILED, _health.NO_HEALTHCHECK, "require_healthcheck: false"),
    (doc(test=["NONE"]), {}, FAILED, _health.NO_HEALTHCHECK, "has no healthcheck"),
    (doc(test=None), dict(require_healthcheck=False), WAITING, None, "confirming it stays up"),
    (doc(test=None), dict(require_healthcheck=False, previous=doc(test=None)), READY, None, "running (no healthcheck)"),
    (doc(test=None), dict(require_healthcheck=False, previous=doc(test=None, started="earlier")), WAITING, None, "stays up"),
    (doc(state="restarting", health="unhealthy", restarts=5, policy="always", exit_code=1), {}, FAILED, _health.CRASH_LOOP,
     "restarted 5 time(s) (0 while waiting), now restarting; last exit code 1"),
    (doc(state="restarting", restarts=5, policy="always", exit_code=2, finished="2026-03-01T10:00:00.99Z"), {}, FAILED,
     _health.CRASH_LOOP, "now restarting; last exit code 2 at 2026-03-01T10:00:00Z"),
    # running again: Docker's ExitCode is 0 then, so the last failure known from earlier rounds is reported
    (doc(state="running", health="starting", restarts=4, policy="always", finished="2026-03-01T10:00:05Z"),
     dict(baseline=doc(restarts=2, policy="always"), failure=dict(exit_code=3, at="2026-03-01T10:00:01Z")),
     FAILED, _health.CRASH_LOOP, "now running; last non-zero exit code 3 at 2026-03-01T10:00:01Z"),
    (doc(state="running", health="starting", restarts=4, policy="always", finished="2026-03-01T10:00:05Z"),
     dict(baseline=doc(restarts=2, policy="always")), FAILED, _health.CRASH_LOOP,
     "now running; no failed exit seen (Docker reports exit code 0 while the restarted container runs); "
     "its last run ended at 2026-03-01T10:00:05Z"),
    (doc(state="running", health="starting", restarts=4, policy="always"), dict(baseline=doc(restarts=2, policy="always")),
     FAILED, _health.CRASH_LOOP, "(2 while waiting)"),
    (doc(state="running", health="starting", restarts=3, policy="always"), dict(baseline=doc(restarts=2, policy="always")),
     WAITING, None, "health is starting"),
    (doc(state="running", health="healthy", restarts=7, policy="always"), {}, READY, None, "healthy"),
    (doc(state="running", health="starting", restarts=9), dict(baseline=doc(restarts=0, cid="old")), WAITING, None, "starting"),
    (doc(state="exited", exit_code=1, policy="no"), {}, FAILED, _health.EXITED, "exited with code 1 after 0 restart(s)"),
    (doc(state="exited", exit_code=1, policy="no", finished="2026-03-01T12:30:00-02:00"), {}, FAILED, _health.EXITED,
     "exited with code 1 at 2026-03-01T14:30:00Z after 0 restart(s)"),
    (doc(state="exited", exit_code=137, oom=True, policy="no"), {}, FAILED, _health.EXITED, "out of memory"),
    (doc(state="exited", exit_code=1, restarts=3, max_retries=3, policy="on-failure"), {}, FAILED, _health.EXITED,
     "policy (on-failure) will not start it again"),
    (doc(state="exited", exit_code=1, restarts=1, policy="always"), {}, WAITING, None, "is exited"),
    (doc(state="dead"), {}, FAILED, _health.EXITED, "will not start it again"),
])
def test_judge(current, kwargs, verdict, problem, words):
    got = judge(current, **kwargs)
    assert got[:2] == (verdict, problem)
    assert words in got[2]


ELECTRIC = doc(test=CURL_CHECK, env=())


@pytest.mark.parametrize("probe, expect, verdict, problem, words", [
    (None, active(), WAITING, None, "Docker says healthy; checking http://localhost:3000/v1/health"),
    (dict(tool="curl", ok=True, body='{"status":"waiting"}'), active(), WAITING, None,
     'Docker says healthy but http://localhost:3000/v1/health answers {"status":"waiting"}, status is "waiting", expected '
     '"active" (waiting for JSON with status = "active")'),
    # Electric's body as Python's json.dumps writes it, with a space after the colon
    (dict(tool="curl", ok=True, body='{"status": "waiting"}'), active(), WAITING, None,
     'answers {"status": "waiting"}, status is "waiting", expected "active" (waiting for JSON with status = "active")'),
    (dict(tool="curl", ok=True, body='{"status":"active"}'), active(), READY, None,
     'healthy and http://localhost:3000/v1/health answers JSON with status = "active"'),
    (dict(tool="curl", ok=True, body='{"status": "active"}\n'), active(), READY, None,
     'healthy and http://localhost:3000/v1/health answers JSON with status = "active"'),
    (dict(tool="curl", ok=True, body="<html>busy</html>"), active(), WAITING, None,
     'answers <html>busy</html>, which is not JSON (waiting for JSON with status = "active")'),
    (dict(tool="curl", ok=True, body="status=waiting"), text("status=active"), WAITING, None,
     "answers status=waiting (waiting for status=active)"),
    (dict(tool="curl", ok=False, body="", error="curl: (7) Failed to connect"), active(), WAITING, None,
     "GET http://localhost:3000/v1/health failed: curl: (7)"),
    (dict(tool=None, ok=False, body="", error="none"), active(), FAILED, _health.NO_PROBE_TOOL,
     "neither wget nor curl"),
    (dict(tool="wget", ok=True, body="ok"), text("ok", "http://localhost:3000/ready"), READY, None,
     "http://localhost:3000/ready contains ok"),
])
def test_judge_expect(probe, expect, verdict, problem, words):
    got = judge(ELECTRIC, probe=probe, expect=expect)
    assert got[:2] == (verdict, problem)
    assert words in got[2]


@pytest.mark.parametrize("contains, parsed", [
    ('"status":"active"', {"status": "active"}),
    ('"status": "active"', {"status": "active"}),
    ('{"status": "active", "n": 1}', {"status": "active", "n": 1}),
    ('"ready": true', {"ready": True}),
    ('"active"', None),
    ("<h1>legal frontend</h1>", None),
    ("ok", None),
    ("{}", None),
])
def test_json_fragment(contains, parsed):
    assert _health.json_fragment(contains) == parsed


@pytest.mark.parametrize("expect, body, matched, why_not", [
    (active(), '{"status":"active"}', True, None),
    (active(), '{"status": "active", "handle": "x"}', True, None),
    (active(), '{"status": "waiting"}', False, 'status is "waiting", expected "active"'),
    (active(), '{"state": "active"}', False, 'status is missing, expected "active"'),
    (active(), '["active"]', False, 'the body is ["active"], expected an object with {"status": "active"}'),
    (active(), '', False, "which is not JSON"),
    # text that holds the fragment, in a body that is not JSON: still a match
    (active(), 'log: "status":"active" reached', True, None),
    (dict(url=None, contains=None, json={"db": {"ok": True}}), '{"db": {"ok": true, "ms": 3}}', True, None),
    (dict(url=None, contains=None, json={"db": {"ok": True}}), '{"db": {"ok": 1}}', False, "db.ok is 1, expected true"),
    (dict(url=None, contains=None, json={"n": 1}), '{"n": 1.0}', True, None),
    (text("<h1>legal</h1>"), "<html><h1>legal</h1></html>", True, None),
    (text("<h1>legal</h1>"), "<html></html>", False, None),
])
def test_body_matches(expect, body, matched, why_not):
    assert _health.body_matches(expect, body) == (matched, why_not)


@pytest.mark.parametrize("value, iso", [
    ("2026-11-27T09:55:19.680043978Z", "2026-11-27T09:55:19Z"),
    ("2026-11-27T10:55:19+01:00", "2026-11-27T09:55:19Z"),
    ("2026-11-27T07:25:19.5-02:30", "2026-11-27T09:55:19Z"),
    ("0001-01-01T00:00:00Z", None),
    (1795773315, "2026-11-27T09:55:15Z"),
    (None, None),
    ("", None),
])
def test_utc_time(value, iso):
    assert _health.utc_time(value) == iso


@pytest.mark.parametrize("started_at, until", [
    # 2026-11-27T09:55:15Z is 1795773315: the whole second after the start, which Docker's --until includes
    ("2026-11-27T09:55:15.680043978Z", "1795773316"),
    ("2026-11-27T10:55:15+01:00", "1795773316"),
    ("0001-01-01T00:00:00Z", "0s"),
    (None, "0s"),
])
def test_events_until_includes_the_second_of_the_start(started_at, until):
    assert _health.events_until(started_at) == until


@pytest.mark.parametrize("current, seen", [
    (doc(state="restarting", exit_code=3, finished="2026-03-01T10:00:00Z"), dict(exit_code=3, at="2026-03-01T10:00:00Z", oom_killed=False)),
    (doc(state="exited", exit_code=137, oom=True, finished="2026-03-01T10:00:00Z"),
     dict(exit_code=137, at="2026-03-01T10:00:00Z", oom_killed=True)),
    (doc(state="running", exit_code=0, finished="2026-03-01T10:00:00Z"), None),
    (doc(state="exited", exit_code=0, finished="2026-03-01T10:00:00Z"), None),
])
def test_observed_exit(current, seen):
    assert _health.observed_exit(_health.state_of(current)) == seen


def test_last_failure_is_the_latest():
    early, late = dict(exit_code=1, at="2026-03-01T10:00:00Z"), dict(exit_code=2, at="2026-03-01T10:00:09Z")
    assert _health.last_failure(None, late, early) == late
    assert _health.last_failure(None, None) is None


def test_judge_expect_without_any_url_says_how_to_give_one():
    verdict, problem, reason = judge(doc(test=["CMD-SHELL", "pg_isready"]), expect=text("x"))
    assert (verdict, problem) == (FAILED, _health.NO_PROBE_URL)
    assert "pg_isready" in reason and "{url: http://localhost:<port>/..., contains: ...}" in reason


@pytest.mark.parametrize("current, verdict, expect, probes", [
    (doc(), WAITING, text("x"), True),
    (doc(), WAITING, None, False),
    (doc(health="starting"), WAITING, text("x"), False),
    (doc(test=None), WAITING, text("x", "http://localhost/"), True),
    (doc(state="restarting"), WAITING, text("x"), False),
    (doc(), READY, text("x"), False),
])
def test_needs_probe(current, verdict, expect, probes):
    assert _health.needs_probe(current, verdict, expect) is probes


# ----------------------------------------------------------------- the polling loop


class FakeDocker:
    """Scripted rounds: ``timeline[name]`` is the list of inspect documents of the successive rounds
    (the last one repeats); ``bodies[name]`` the successive probe bodies. Records every call."""

    def __init__(self, timeline, bodies=None):
        self.timeline = timeline
        self.bodies = bodies or {}
        self.inspect_calls = []
        self.probe_calls = []

    def inspect(self, names):
        self.inspect_calls.append(list(names))
        rnd = len(self.inspect_calls) - 1
        found = {}
        for name in names:
            docs = self.timeline.get(name)
            if docs:
                found[name] = docs[min(rnd, len(docs) - 1)]
        return found, [name for name in names if name not in found]

    def probe(self, name, url):
        bodies = self.bodies[name]
        body = bodies[min(len([c for c in self.probe_calls if c[0] == name]), len(bodies) - 1)]
        self.probe_calls.append((name, url))
        return dict(tool="curl", ok=True, rc=0, body=body, error=None)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.now += seconds


def run(fake, names, **kwargs):
    clock = FakeClock()
    kwargs.setdefault("interval", 1.0)
    kwargs.setdefault("timeout", 60)
    return _health.wait_for_health(names, fake.inspect, fake.probe, clock, clock.sleep, **kwargs)


def test_wait_succeeds_when_the_container_turns_healthy():
    fake = FakeDocker({"api": [doc(health="starting")] * 3 + [doc()]})
    outcome = run(fake, ["api"])
    assert outcome["ok"] and outcome["problem"] is None
    assert outcome["rounds"] == 4 and outcome["elapsed"] == 3.0
    assert [h["observed"] for h in outcome["statuses"]["api"]["history"]] == [
        "running, health starting, restarts 0", "running, health healthy, restarts 0"]


def test_every_round_inspects_all_containers_in_one_call():
    fake = FakeDocker({"a": [doc(health="starting")] * 2 + [doc()], "b": [doc(health="starting")] * 4 + [doc()], "c": [doc()]})
    outcome = run(fake, ["a", "b", "c"])
    assert outcome["ok"]
    assert fake.inspect_calls == [["a", "b", "c"]] * 5


def test_a_crash_loop_is_reported_while_another_container_still_starts():
    slow = doc(health="starting")
    looping = [doc(state="running", health="starting", restarts=n, policy="always", cid="loop") for n in (0, 1, 2)]
    fake = FakeDocker({"slow": [slow], "loop": looping})
    outcome = run(fake, ["slow", "loop"], timeout=600)
    assert not outcome["ok"] and outcome["problem"] == _health.CRASH_LOOP
    assert outcome["rounds"] == 3
    assert outcome["statuses"]["slow"]["verdict"] == WAITING
    assert outcome["statuses"]["loop"]["restarts"] == 2


def looping(state, restarts, exit_code=0, finished="2026-03-01T10:00:00Z"):
    return doc(state=state, health="starting", restarts=restarts, policy="always", cid="loop", exit_code=exit_code, finished=finished)


def test_a_crash_loop_seen_running_again_reports_the_last_failed_exit_seen_in_an_earlier_round():
    timeline = [looping("running", 0), looping("restarting", 1, exit_code=3, finished="2026-03-01T10:00:02.5Z"),
                looping("running", 1, finished="2026-03-01T10:00:02.5Z"), looping("running", 2, finished="2026-03-01T10:00:04Z")]
    asked = []
    outcome = run(FakeDocker({"loop": timeline}), ["loop"], exit_history=lambda d: asked.append(d["Id"]) or [])
    status = outcome["statuses"]["loop"]
    assert (outcome["problem"], status["exit_code"]) == (_health.CRASH_LOOP, 0)  # what Docker shows now
    assert status["last_failure"] == dict(exit_code=3, at="2026-03-01T10:00:02Z", oom_killed=False)
    assert status["reason"] == "crash loop: restarted 2 time(s) (2 while waiting), now running; last non-zero exit code 3 at 2026-03-01T10:00:02Z"
    assert (status["finished_at"], status["started_at"]) == ("2026-03-01T10:00:04Z", "2026-01-01T00:00:00Z")
    assert asked == ["loop"]  # the exit history is asked too: it may know a later failure


def test_a_crash_loop_never_seen_down_asks_the_exit_history():
    timeline = [looping("running", n, finished="2026-03-01T10:00:0%dZ" % n) for n in (0, 1, 2)]
    history = [dict(exit_code=1, time=1772359200), dict(exit_code=0, time=1772359201), dict(exit_code=4, time=1772359202)]
    outcome = run(FakeDocker({"loop": timeline}), ["loop"], exit_history=lambda d: history)
    assert outcome["statuses"]["loop"]["reason"].endswith("now running; last non-zero exit code 4 at 2026-03-01T10:00:02Z")

    unknown = run(FakeDocker({"loop": timeline}), ["loop"], exit_history=lambda d: [])
    assert unknown["statuses"]["loop"]["reason"].endswith(
        "now running; no failed exit seen (Docker reports exit code 0 while the restarted container runs); "
        "its last run ended at 2026-03-01T10:00:02Z")


def test_the_exit_history_is_not_asked_while_all_is_well():
    asked = []
    outcome = run(FakeDocker({"api": [doc(health="starting"), doc()]}), ["api"], exit_history=asked.append)
    assert outcome["ok"] and asked == []


def test_a_json_expectation_matches_electrics_body_with_a_space_after_the_colon():
    electric = doc(test=CURL_CHECK, env=())
    fake = FakeDocker({"electric": [electric]}, bodies={"electric": ['{"status": "waiting"}', '{"status": "active"}']})
    outcome = run(fake, ["electric"], expect=_health.normalize_expect(ACTIVE, ["electric"]))
    assert outcome["ok"] and len(fake.probe_calls) == 2
    assert outcome["statuses"]["electric"]["reason"] == 'healthy and http://localhost:3000/v1/health answers JSON with status = "active"'


def test_timeout_reports_how_long_and_the_last_state():
    fake = FakeDocker({"api": [doc(health="starting", log=[(1, "wget: can't connect to remote host: Connection refused")])]})
    outcome = run(fake, ["api"], timeout=5, interval=2)
    assert not outcome["ok"] and outcome["problem"] == _health.TIMEOUT
    assert outcome["elapsed"] == 5.0 and outcome["rounds"] == 4  # at 0, 2, 4 and the deadline
    assert outcome["statuses"]["api"]["problem"] == _health.TIMEOUT
    message = _health.failure_message(outcome)
    assert message.startswith("timed out after 5.0 s (timeout 5 s) waiting for api to become healthy.")
    assert "last observed: running, health starting, restarts 0" in message
    assert "last health check (2025-12-31T23:00:00Z) exited 1: wget: can't connect to remote host: Connection refused" in message


def test_timeout_zero_checks_once():
    fake = FakeDocker({"api": [doc(health="starting")]})
    outcome = run(fake, ["api"], timeout=0)
    assert outcome["problem"] == _health.TIMEOUT and outcome["rounds"] == 1


def test_expect_keeps_waiting_while_docker_says_healthy_and_the_body_says_waiting():
    electric = doc(test=CURL_CHECK, env=())
    fake = FakeDocker({"electric": [doc(test=CURL_CHECK, health="starting")] * 2 + [electric]},
                      bodies={"electric": ['{"status":"waiting"}'] * 3 + ['{"status":"active"}']})
    outcome = run(fake, ["electric"], expect={"electric": active()})
    assert outcome["ok"]
    # no probe while Docker itself still says starting; then four probes, the last one active
    assert fake.probe_calls == [("electric", "http://localhost:3000/v1/health")] * 4
    observed = [h["observed"] for h in outcome["statuses"]["electric"]["history"]]
    assert observed == ["running, health starting, restarts 0",
                        'running, health healthy, restarts 0, http://localhost:3000/v1/health -> {"status":"waiting"}',
                        'running, health healthy, restarts 0, http://localhost:3000/v1/health -> {"status":"active"}']
    assert outcome["statuses"]["electric"]["probe"]["body"] == '{"status":"active"}'


def test_a_matched_probe_is_not_repeated_but_a_restart_forgets_it():
    first = doc(test=CURL_CHECK, started="t1")
    fake = FakeDocker({"electric": [first, first, doc(test=CURL_CHECK, started="t2", restarts=1, policy="always")],
                       "api": [doc(health="starting")] * 3 + [doc()]},
                      bodies={"electric": ['{"status":"active"}']})
    outcome = run(fake, ["electric", "api"], expect={"electric": active()})
    assert outcome["ok"]
    assert len(fake.probe_calls) == 2  # round 1, then again after the restart in round 3


def test_a_missing_container_fails_at_once():
    fake = FakeDocker({"api": [doc(health="starting")]})
    outcome = run(fake, ["api", "typo"])
    assert outcome["problem"] == _health.NOT_FOUND and outcome["rounds"] == 1
    assert outcome["statuses"]["typo"]["state"] == "missing"
    assert "typo: does not exist" in _health.failure_message(outcome)


def test_no_healthcheck_is_enough_when_running_twice_if_allowed():
    fake = FakeDocker({"worker": [doc(test=None)]})
    outcome = run(fake, ["worker"], require_healthcheck=False)
    assert outcome["ok"] and outcome["rounds"] == 2
    assert outcome["statuses"]["worker"]["health"] == "none"


# ----------------------------------------------------------------- messages


@pytest.mark.parametrize("program, available, url, words", [
    ("curl", ["wget"], "http://localhost:4000/health", "wget is available, e.g. test: wget --no-verbose --tries=1 --spider http://localhost:4000/health"),
    ("wget", ["curl"], None, "curl is available, e.g. test: curl --fail --silent --show-error http://localhost:<port>/health"),
    ("curl", [], "http://localhost:4000/health", "the image has neither wget nor curl"),
    ("curl", None, "http://localhost:4000/health",
     "instead of curl, e.g. test: wget --no-verbose --tries=1 --spider http://localhost:4000/health (sertantai.deploy.image_commands"),
])
def test_tool_hint(program, available, url, words):
    assert words in _health.tool_hint(program, available, url)


def test_failure_message_names_container_health_log_hint_and_logs():
    broken = doc(health="starting", log=[(127, "/bin/sh: 1: curl: not found")], test=["CMD-SHELL", "curl -f http://localhost:4000/health"])
    outcome = run(FakeDocker({"api": [broken], "web": [doc()]}), ["api", "web"])
    assert outcome["problem"] == _health.MISSING_TOOL
    message = _health.failure_message(outcome, hints={"api": "use a tool the image has: wget"},
                                      logs={"api": ["booting", "listening on 4000"]})
    assert message.startswith("api not healthy after 0.0 s.")
    assert "api: its healthcheck runs curl, which the image does not have (health log: /bin/sh: 1: curl: not found)" in message
    assert "use a tool the image has: wget" in message
    assert "last log lines: booting | listening on 4000" in message
    assert "web" not in message


# ----------------------------------------------------------------- _docker helpers container_health appended


@pytest.mark.parametrize("rc, stderr, missing", [
    (126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "curl": '
          "executable file not found in $PATH: unknown", True),
    (127, 'exec: "/usr/bin/curl": stat /usr/bin/curl: no such file or directory', True),
    (1, "Error response from daemon: Container 0f3a is not running", False),
    (8, "ERROR 404: Not Found.", False),
    (0, "", False),
])
def test_executable_missing(rc, stderr, missing):
    assert _docker.executable_missing(rc, stderr) is missing
