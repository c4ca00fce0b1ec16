# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: judging container health from ``docker inspect`` documents and in-container probes.

Everything here is free of side effects except ``wait_for_health``, which only calls what it is given
(one inspect of all containers per round, an HTTP probe, the exit history of a container, a clock and a sleep),
so tests drive it with a fake clock. Times in results and messages are ISO 8601 in UTC with their zone (``Z``).
"""

from __future__ import annotations

import calendar
import datetime
import functools
import json
import re
import shlex
import time

READY = "ready"
WAITING = "waiting"
FAILED = "failed"

# Problems that cannot go away by waiting: the gate stops at once and says so.
NO_HEALTHCHECK = "no_healthcheck"
MISSING_TOOL = "missing_tool"
CRASH_LOOP = "crash_loop"
EXITED = "exited"
NOT_FOUND = "not_found"
NO_PROBE_URL = "no_probe_url"
NO_PROBE_TOOL = "no_probe_tool"
TIMEOUT = "timeout"

HEALTH_LOG_ENTRIES = 5
BODY_CHARS = 500
HISTORY_ENTRIES = 20

_EXPECT_KEYS = ("url", "contains", "json", "containers")
_RFC3339_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$")
_URL_RE = re.compile(r"""https?://[^\s'"|;&<>)]+""")
_VAR_RE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")
# Shells (dash, bash, busybox ash) and the container runtime, when the program is not in the image.
_MISSING_RE = (
    re.compile(r'exec: "?([^":\s]+)"?: executable file not found'),
    re.compile(r"(?:^|[\s:])([\w./+-]+): (?:command )?not found\s*$", re.MULTILINE),
    re.compile(r"exec: \"?([^\":\s]+)\"?: (?:stat [^:]+: )?no such file or directory"),
)


class HealthError(Exception):
    """Invalid options: the message says what to write instead."""


# --------------------------------------------------------------------------- options


def json_fragment(text):
    """The object a JSON text stands for, also when written without braces (``"status":"active"``); else None."""
    for candidate in (text, "{%s}" % text):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict) and value:
            return value
    return None


def expectation(contains=None, subset=None, url=None):
    """One container's expectation: ``{url, contains, json}``.

    ``json`` is the object the body must contain (compared as a subset of the parsed body, so that
    ``{"status": "active"}`` and ``{"status":"active"}`` both match); it comes from ``subset``, or from
    ``contains`` when that text parses as a JSON object or fragment. Otherwise ``contains`` is a substring.
    """
    return dict(url=url, contains=contains, json=subset if subset is not None else json_fragment(contains or ""))


def normalize_expect(expect, containers):
    """Turn the ``expect`` option into ``{container: {"url": str or None, "contains": str or None, "json": dict or None}}``.

    Accepted forms: a string (the body of the URL the container's own healthcheck calls must contain it,
    for every container); a dict ``{contains or json, url?, containers?}``; a list of such dicts.
    ``url`` None means "the URL in the container's healthcheck".
    """
    if expect is None or expect == "" or expect == [] or expect == {}:
        return {}
    if isinstance(expect, str):
        return dict((name, expectation(expect)) for name in containers)
    items = [expect] if isinstance(expect, dict) else expect
    if not isinstance(items, list):
        raise HealthError("expect must be a string, a dict {contains or json, url, containers} or a list of such dicts, got %s"
                          % type(expect).__name__)
    result = {}
    for index, item in enumerate(items):
        where = "expect" if isinstance(expect, dict) else "expect[%d]" % index
        if not isinstance(item, dict):
            raise HealthError("%s must be a dict {contains or json, url, containers}, got %s" % (where, type(item).__name__))
        unknown = sorted(set(item) - set(_EXPECT_KEYS))
        if unknown:
            raise HealthError("%s has unknown key(s) %s; allowed: %s" % (where, ", ".join(unknown), ", ".join(_EXPECT_KEYS)))
        contains, subset = item.get("contains"), item.get("json")
        if contains is not None and subset is not None:
            raise HealthError("%s has both contains and json: give one, e.g. json: {status: active}" % where)
        if subset is not None and (not isinstance(subset, dict) or not subset):
            raise HealthError("%s.json must be a non-empty dict of the fields the JSON body must have, e.g. {status: active}, got %r"
                              % (where, subset))
        if subset is None and (not isinstance(contains, str) or not contains):
            raise HealthError('%s needs contains (text the body must contain, e.g. \'"status":"active"\') '
                              "or json (fields the JSON body must have, e.g. {status: active})" % where)
        url = item.get("url")
        if url is not None and (not isinstance(url, str) or not _URL_RE.match(url)):
            raise HealthError("%s.url must be an http:// or https:// URL as seen from inside the container, got %r" % (where, url))
        targets = item.get("containers", list(containers))
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not targets:
            raise HealthError("%s.containers must be a non-empty list of container names" % where)
        for name in targets:
            if name not in containers:
                raise HealthError("%s.containers names %r, which is not in containers (%s)" % (where, name, ", ".join(containers)))
            if name in result:
                raise HealthError("%s: container %r already has an expect entry; give one entry per container" % (where, name))
            result[name] = expectation(contains, subset, url)
    return result


# --------------------------------------------------------------------------- comparing a body


def json_differences(expected, actual, path=""):
    """How ``actual`` falls short of containing ``expected`` (objects compared as subsets), one line per field."""
    where = path or "the body"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return ["%s is %s, expected an object with %s" % (where, _dumps(actual), _dumps(expected))]
        lines = []
        for key, value in expected.items():
            inner = "%s.%s" % (path, key) if path else str(key)
            if key not in actual:
                lines.append("%s is missing, expected %s" % (inner, _dumps(value)))
            else:
                lines.extend(json_differences(value, actual[key], inner))
        return lines
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return ["%s is %s, expected %s" % (where, _dumps(actual), _dumps(expected))]
    return []


def _dumps(value):
    return json.dumps(value, sort_keys=True)


def body_matches(expect, body):
    """``(matched, why_not)`` for a probe body: a subset of the parsed JSON, or a substring of the text.

    A JSON expectation written as text (``contains``) still matches a body that is not JSON but holds that text.
    """
    body = body or ""
    if expect.get("json") is None:
        return expect["contains"] in body, None
    try:
        parsed = json.loads(body)
    except ValueError:
        if expect.get("contains") and expect["contains"] in body:
            return True, None
        return False, "which is not JSON"
    lines = json_differences(expect["json"], parsed)
    return not lines, "; ".join(lines) or None


def describe_expect(expect):
    """The expectation for a message: ``JSON with status = "active"`` or ``text <h1>...``."""
    if expect.get("json") is not None:
        return "JSON with %s" % ", ".join("%s = %s" % (path, _dumps(value)) for path, value in _leaves(expect["json"]))
    return expect["contains"]


def _leaves(value, path=""):
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _leaves(inner, "%s.%s" % (path, key) if path else str(key))
    else:
        yield path, value


# --------------------------------------------------------------------------- times and exits


def events_until(started_at):
    """``docker events --until`` for the exits before a container's current run (``started_at``, a Docker time).

    Docker counts ``--until`` in whole seconds, so "now" leaves out the exit a restart just followed when both fell
    in the current second. The whole second after the start includes it; it may be up to a second ahead of the
    daemon's clock, which then waits until it has passed. "0s" (now) when the start is unknown.
    """
    moment = utc_time(started_at)
    if not moment or not moment.endswith("Z"):
        return "0s"
    return str(calendar.timegm(time.strptime(moment, "%Y-%m-%dT%H:%M:%SZ")) + 1)


def utc_time(value):
    """A Docker time (RFC 3339 text, or seconds since the epoch) as ISO 8601 in UTC with its zone, to the second.

    ``2026-11-27T10:00:01.123456789+01:00`` -> ``2026-11-27T09:00:01Z``. None for no time and for Docker's zero time
    (``0001-01-01T00:00:00Z``: never started or never finished).
    """
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    else:
        match = _RFC3339_RE.match(str(value).strip())
        if not match:
            return str(value)
        moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
        if match.group(2) != "Z":
            sign = 1 if match.group(2)[0] == "+" else -1
            hours, minutes = match.group(2)[1:].split(":")
            moment -= sign * datetime.timedelta(hours=int(hours), minutes=int(minutes))
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    if moment.year <= 1:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def observed_exit(st):
    """The run that ended, as ``{exit_code, at, oom_killed}``, when a state shows a failed one; else None.

    While a restarted container runs again Docker reports ``ExitCode`` 0, so only a container seen restarting,
    exited or dead tells how its last run ended.
    """
    if st["state"] in ("restarting", "exited", "dead") and st["exit_code"] not in (0, None):
        return dict(exit_code=st["exit_code"], at=utc_time(st["finished_at"]), oom_killed=st["oom_killed"])
    return None


def last_failure(*candidates):
    """The latest of several ``{exit_code, at, ...}`` records (None ones skipped); ISO times in UTC sort as text."""
    known = [c for c in candidates if c]
    return max(known, key=lambda c: c.get("at") or "") if known else None


def exit_summary(st, failure):
    """How the container's runs ended, for a crash-loop message: never Docker's 0 of a running container alone."""
    finished = utc_time(st["finished_at"])
    if st["state"] != "running" and st["exit_code"] is not None:
        text = "last exit code %s%s%s" % (st["exit_code"], " at %s" % finished if finished else "",
                                          " (killed: out of memory)" if st["oom_killed"] else "")
        if st["exit_code"] == 0 and failure:
            text += ", last non-zero exit code %s at %s" % (failure["exit_code"], failure["at"])
        return text
    if failure:
        return "last non-zero exit code %s at %s%s" % (failure["exit_code"], failure["at"],
                                                       " (killed: out of memory)" if failure.get("oom_killed") else "")
    return "no failed exit seen (Docker reports exit code 0 while the restarted container runs)%s" % (
        "; its last run ended at %s" % finished if finished else "")


# --------------------------------------------------------------------------- reading inspect documents


def healthcheck_test(doc):
    """The healthcheck ``Test`` list of an inspect document, or None when the container has none."""
    test = (((doc or {}).get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    return test


def healthcheck_command(test):
    """The healthcheck as an operator would write it in a compose file."""
    if not test:
        return None
    if test[0] == "CMD-SHELL":
        return " ".join(test[1:])
    if test[0] == "CMD":
        return " ".join(shlex.quote(part) for part in test[1:])
    return " ".join(test)


def container_env(doc):
    env = {}
    for item in ((doc or {}).get("Config") or {}).get("Env") or []:
        key, _sep, value = item.partition("=")
        env[key] = value
    return env


def expand_vars(text, env):
    """Expand ``$VAR``, ``${VAR}`` and ``${VAR:-default}`` as the container's shell would."""
    def repl(match):
        name = match.group(1) or match.group(3)
        if name in env and (env[name] or match.group(2) is None):
            return env[name]
        return match.group(2) or ""
    return _VAR_RE.sub(repl, text)


def healthcheck_url(doc):
    """The first http(s) URL in the container's healthcheck, with its environment variables expanded."""
    command = healthcheck_command(healthcheck_test(doc))
    if not command:
        return None
    match = _URL_RE.search(expand_vars(command, container_env(doc)))
    return match.group(0) if match else None


def health_log(doc, entries=HEALTH_LOG_ENTRIES):
    """Last healthcheck results, oldest first: [{exit_code, output, at}] (``at``: when the check started, UTC)."""
    log = ((((doc or {}).get("State") or {}).get("Health") or {}).get("Log")) or []
    return [dict(exit_code=item.get("ExitCode"), output=(item.get("Output") or "").strip(), at=utc_time(item.get("Start")))
            for item in log[-entries:]]


def missing_program(output):
    """The program a healthcheck tried to run but the image lacks, from the check's output; else None."""
    for regex in _MISSING_RE:
        match = regex.search(output or "")
        if match:
            return match.group(1).rsplit("/", 1)[-1]
    return None


def state_of(doc):
    state = (doc or {}).get("State") or {}
    return dict(
        id=(doc or {}).get("Id"),
        state=state.get("Status") or "unknown",
        health=(state.get("Health") or {}).get("Status") or "none",
        restarts=(doc or {}).get("RestartCount") or 0,
        exit_code=state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        started_at=state.get("StartedAt"),
        finished_at=state.get("FinishedAt"),
        restart_policy=((((doc or {}).get("HostConfig") or {}).get("RestartPolicy")) or {}).get("Name") or "no",
        max_retries=((((doc or {}).get("HostConfig") or {}).get("RestartPolicy")) or {}).get("MaximumRetryCount") or 0,
    )


def will_restart(st):
    """Whether Docker will start an exited container again by itself (its restart policy)."""
    policy = st["restart_policy"]
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure":
        return st["exit_code"] not in (0, None) and (not st["max_retries"] or st["restarts"] < st["max_retries"])
    return False


# --------------------------------------------------------------------------- judging one observation


def judge(doc, baseline, previous, probe, expect, require_healthcheck=True, max_restarts=2, failure=None):
    """Verdict on one container from its inspect document.

    ``baseline``: the state seen in the first round (restarts are counted from there);
    ``previous``: the state seen in the previous round or None; ``probe``: the last in-container HTTP
    result for this start of the container, or None; ``expect``: {url, contains, json} or None;
    ``failure``: the last failed exit known from earlier rounds or the exit history ({exit_code, at}), or None.
    Returns (verdict, problem, reason): verdict READY / WAITING / FAILED, problem one of the
    constants above (or None), reason a sentence for the operator.
    """
    st = state_of(doc)
    test = healthcheck_test(doc)
    if baseline and baseline.get("id") != st["id"]:
        baseline = None  # the container was replaced (re-created by compose): count from now
    restarted = st["restarts"] - (baseline["restarts"] if baseline else st["restarts"])
    looping_now = st["state"] in ("restarting", "exited", "dead") and st["restarts"] >= max_restarts
    if restarted >= max_restarts or (looping_now and (st["state"] == "restarting" or will_restart(st))):
        return FAILED, CRASH_LOOP, "crash loop: restarted %d time(s) (%d while waiting), now %s; %s" % (
            st["restarts"], max(restarted, 0), st["state"], exit_summary(st, failure))
    if st["state"] == "dead" or (st["state"] == "exited" and not will_restart(st)):
        finished = utc_time(st["finished_at"])
        return FAILED, EXITED, "exited with code %s%s%s after %d restart(s), and its restart policy (%s) will not start it again" % (
            st["exit_code"], " (killed: out of memory)" if st["oom_killed"] else "", " at %s" % finished if finished else "",
            st["restarts"], st["restart_policy"])
    if test is None and require_healthcheck:
        return FAILED, NO_HEALTHCHECK, (
            "has no healthcheck, so Docker cannot tell when it is ready: add one that uses a tool the image has "
            "(e.g. wget --no-verbose --tries=1 --spider http://localhost:<port>/health), or set require_healthcheck: false "
            "to accept a running container")
    log = health_log(doc)
    if log and log[-1]["exit_code"] != 0:
        program = missing_program(log[-1]["output"])
        if program:
            return FAILED, MISSING_TOOL, "its healthcheck runs %s, which the image does not have (health log: %s)" % (
                program, log[-1]["output"].splitlines()[-1] if log[-1]["output"] else "exit code %s" % log[-1]["exit_code"])
    if st["state"] != "running":
        return WAITING, None, "is %s (restarts: %d)" % (st["state"], st["restarts"])
    if test is not None and st["health"] != "healthy":
        last = log[-1]["output"].splitlines()[-1] if log and log[-1]["output"] else None
        return WAITING, None, "health is %s%s" % (st["health"], "; last check: %s" % last if last else "")
    if test is None and not (previous and previous.get("state") == "running" and previous.get("started_at") == st["started_at"]):
        return WAITING, None, "is running without a healthcheck; confirming it stays up"
    if expect:
        url = expect.get("url") or healthcheck_url(doc)
        if not url:
            return FAILED, NO_PROBE_URL, (
                "expect needs a URL: the healthcheck (%s) names none; give expect as {url: http://localhost:<port>/..., contains: ...}"
                % (healthcheck_command(test) or "none"))
        if probe is None:
            return WAITING, None, "Docker says %s; checking %s" % ("healthy" if test else "running", url)
        if probe.get("tool") is None:
            return FAILED, NO_PROBE_TOOL, "cannot check %s from inside: the image has neither wget nor curl" % url
        if not probe.get("ok"):
            return WAITING, None, "Docker says %s but GET %s failed: %s" % ("healthy" if test else "running", url, probe.get("error"))
        matched, why_not = body_matches(expect, probe.get("body"))
        if not matched:
            if expect.get("json") is None:
                return WAITING, None, "Docker says %s but %s answers %s (waiting for %s)" % (
                    "healthy" if test else "running", url, one_line(probe.get("body")), expect["contains"])
            return WAITING, None, "Docker says %s but %s answers %s, %s (waiting for %s)" % (
                "healthy" if test else "running", url, one_line(probe.get("body")) or "an empty body", why_not,
                describe_expect(expect))
        if expect.get("json") is None:
            return READY, None, "healthy and %s contains %s" % (url, expect["contains"])
        return READY, None, "healthy and %s answers %s" % (url, describe_expect(expect))
    return READY, None, "healthy" if test else "running (no healthcheck)"


def one_line(text, limit=200):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "..."


def needs_probe(doc, verdict, expect):
    """Probe from inside only when Docker's own verdict is already good: it saves a docker exec per round."""
    if not expect or verdict != WAITING:
        return False
    st = state_of(doc)
    return st["state"] == "running" and (healthcheck_test(doc) is None or st["health"] == "healthy")


def summary(status):
    """One line for the history: what changed between rounds."""
    text = "%s, health %s, restarts %d" % (status["state"], status["health"], status["restarts"])
    if status.get("probe"):
        probe = status["probe"]
        text += ", %s -> %s" % (probe["url"], one_line(probe.get("body"), 80) if probe.get("ok") else "error: %s" % probe.get("error"))
    return text


# --------------------------------------------------------------------------- the polling loop


def wait_for_health(names, inspect, probe, clock, sleep, timeout=120, interval=1.0, expect=None,
                    require_healthcheck=True, max_restarts=2, exit_history=None):
    """Poll all containers together, round after round, until all are ready, one fails, or time runs out.

    ``inspect(names) -> (docs by name, missing names)`` is called ONCE per round for all containers;
    ``probe(name, url) -> {tool, ok, body, error}`` runs the HTTP check inside a container;
    ``exit_history(doc) -> [{exit_code, time}]`` (optional; ``time`` in seconds since the epoch) is asked only when
    a crash loop is found while the container runs again, for the exit code Docker no longer shows.
    Returns a dict: ok, problem (of the first failed container, or TIMEOUT), elapsed, rounds, statuses
    (per name: state, health, restarts, exit_code, last_failure, started_at, finished_at, healthcheck,
    health_log, probe, verdict, problem, reason, history).
    """
    expect = expect or {}
    start = clock()
    rounds = 0
    baseline, previous, probes, statuses, failures = {}, {}, {}, {}, {}
    while True:
        rounds += 1
        docs, missing = inspect(names)
        elapsed = clock() - start
        for name in names:
            if name in missing or name not in docs:
                statuses[name] = new_status(name, statuses.get(name), elapsed, None, FAILED, NOT_FOUND,
                                            "does not exist: check the name (docker ps -a) and that the deploy created it")
                continue
            doc = docs[name]
            st = state_of(doc)
            baseline.setdefault(name, st)
            if baseline[name]["id"] != st["id"]:
                baseline[name] = st
                failures.pop(name, None)
            failures[name] = last_failure(failures.get(name), observed_exit(st))
            last_probe = probes.get(name)
            if last_probe and last_probe["started_at"] != st["started_at"]:
                probes.pop(name)  # a restart invalidates what the previous process answered
                last_probe = None
            judged = functools.partial(judge, doc, baseline[name], previous.get(name), expect=expect.get(name),
                                       require_healthcheck=require_healthcheck, max_restarts=max_restarts)
            verdict, problem, reason = judged(probe=last_probe, failure=failures[name])
            if needs_probe(doc, verdict, expect.get(name)) and not _matched(last_probe, expect[name]):
                url = expect[name].get("url") or healthcheck_url(doc)
                if url:
                    last_probe = dict(probe(name, url), url=url, started_at=st["started_at"])
                    probes[name] = last_probe
                    verdict, problem, reason = judged(probe=last_probe, failure=failures[name])
            if problem == CRASH_LOOP and st["state"] == "running" and exit_history is not None:
                failures[name] = last_failure(failures[name], *[
                    dict(exit_code=item["exit_code"], at=utc_time(item.get("time")), oom_killed=False)
                    for item in exit_history(doc) if item.get("exit_code") not in (0, None)])
                verdict, problem, reason = judged(probe=last_probe, failure=failures[name])
            previous[name] = st
            statuses[name] = new_status(name, statuses.get(name), elapsed, doc, verdict, problem, reason, last_probe,
                                        failures[name])
        failed = [name for name in names if statuses[name]["verdict"] == FAILED]
        if failed:
            return dict(ok=False, problem=statuses[failed[0]]["problem"], elapsed=clock() - start, rounds=rounds, statuses=statuses,
                        timeout=timeout)
        if all(statuses[name]["verdict"] == READY for name in names):
            return dict(ok=True, problem=None, elapsed=clock() - start, rounds=rounds, statuses=statuses, timeout=timeout)
        remaining = timeout - (clock() - start)
        if remaining <= 0:
            for name in names:
                if statuses[name]["verdict"] != READY:
                    statuses[name]["problem"] = TIMEOUT
            return dict(ok=False, problem=TIMEOUT, elapsed=clock() - start, rounds=rounds, statuses=statuses, timeout=timeout)
        sleep(min(interval, remaining))


def _matched(probe, expect):
    return bool(probe and probe.get("ok")) and body_matches(expect, probe.get("body"))[0]


def new_status(name, old, elapsed, doc, verdict, problem, reason, probe=None, failure=None):
    st = state_of(doc) if doc else dict(state="missing", health="none", restarts=0, exit_code=None, started_at=None, finished_at=None)
    status = dict(
        name=name,
        state=st["state"],
        health=st["health"],
        restarts=st["restarts"],
        exit_code=st["exit_code"],
        last_failure=failure,
        started_at=utc_time(st["started_at"]),
        finished_at=utc_time(st["finished_at"]),
        healthcheck=healthcheck_command(healthcheck_test(doc)) if doc else None,
        healthcheck_url=healthcheck_url(doc) if doc else None,
        health_log=health_log(doc) if doc else [],
        probe=None,
        verdict=verdict,
        problem=problem,
        reason=reason,
        history=list((old or {}).get("history") or []),
    )
    if probe:
        status["probe"] = dict(url=probe["url"], tool=probe.get("tool"), ok=bool(probe.get("ok")),
                               body=(probe.get("body") or "")[:BODY_CHARS], error=probe.get("error"))
    line = summary(status)
    if not status["history"] or status["history"][-1]["observed"] != line:
        status["history"].append(dict(elapsed=round(elapsed, 1), observed=line))
        del status["history"][:-HISTORY_ENTRIES]
    return status


# --------------------------------------------------------------------------- messages


def tool_hint(program, available, url):
    """What to write instead of a healthcheck that calls a program the image lacks (curl in an image with only wget).

    ``available``: the HTTP tools found in the container, or None when it could not be asked (not running).
    """
    url = url or "http://localhost:<port>/health"
    if available is None:
        other = "wget" if program != "wget" else "curl"
        return ("use a tool the image has instead of %s, e.g. test: %s (sertantai.deploy.image_commands proves it exists)"
                % (program, _EXAMPLE_CHECK[other] % url))
    others = [tool for tool in available if tool != program]
    if not others:
        return ("the image has neither wget nor curl: add one to the image, or write the healthcheck with a program "
                "the image ships (sertantai.deploy.image_commands lists what is missing)")
    return "use a tool the image has: %s is available, e.g. test: %s" % (others[0], _EXAMPLE_CHECK[others[0]] % url)


_EXAMPLE_CHECK = {
    "wget": "wget --no-verbose --tries=1 --spider %s",
    "curl": "curl --fail --silent --show-error %s",
}


def failure_message(outcome, hints=None, logs=None):
    """The fail_json message: which containers, why, what was observed last, what to do."""
    hints = hints or {}
    logs = logs or {}
    statuses = outcome["statuses"]
    if outcome["problem"] == TIMEOUT:
        bad = [name for name, status in statuses.items() if status["verdict"] != READY]
        head = "timed out after %.1f s (timeout %s s) waiting for %s to become healthy" % (
            outcome["elapsed"], outcome["timeout"], ", ".join(bad))
    else:
        bad = [name for name, status in statuses.items() if status["verdict"] == FAILED]
        head = "%s not healthy after %.1f s" % (", ".join(bad), outcome["elapsed"])
    parts = [head + "."]
    for name in bad:
        status = statuses[name]
        text = "%s: %s" % (name, status["reason"])
        if status["problem"] == TIMEOUT:
            text += " (last observed: %s)" % summary(status)
        if status["health_log"] and status["problem"] != MISSING_TOOL:
            last = status["health_log"][-1]
            text += "; last health check%s exited %s: %s" % (" (%s)" % last["at"] if last.get("at") else "", last["exit_code"],
                                                             one_line(last["output"]) or "(no output)")
        if name in hints:
            text += "; %s" % hints[name]
        if logs.get(name):
            text += "; last log lines: %s" % " | ".join(line.strip() for line in logs[name][-5:])
        parts.append(text if text.endswith(".") else text + ".")
    return " ".join(parts)
