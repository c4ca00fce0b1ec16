#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_health
short_description: Wait until containers are healthy, judged from inside Docker
version_added: 0.1.0
description:
  - Polls all O(containers) together, one C(docker inspect) per round, until every one is ready, one of them
    fails in a way that waiting cannot fix, or O(timeout) runs out.
  - A container is ready when it is C(running) and Docker reports its healthcheck C(healthy) (or, with
    O(require_healthcheck=false) and no healthcheck, when it stays up between two rounds), and, where O(expect)
    applies, when an HTTP GET run B(inside) the container with C(docker exec) (C(wget) or C(curl), whichever the image
    has) answers the expected body. Health is never judged through C(localhost) on the host,
    because the services publish no ports.
  - Fails at once, without waiting for O(timeout), when a container does not exist, crash-loops (restarts
    O(max_restarts) times, or is restarting/exited with that many restarts), has exited for good, has no
    healthcheck while O(require_healthcheck=true), or its healthcheck runs a program the image does not have
    (a C(curl) healthcheck in an image that only has C(wget) never passes); the message then names the tool the
    image does have.
  - On failure the message and the result carry, per container, the state, the last health check results and the
    last log lines. A crash loop is reported with the last B(failed) exit code and when it happened (Docker itself
    shows exit code 0 while the restarted container runs), as seen in an earlier round, or else as read from the
    daemon's recent C(die) events (C(docker events)).
  - Times in messages and results are ISO 8601 in UTC with their zone, for example C(2026-11-27T09:55:19Z).
  - Read-only; it never changes anything and returns RV(ignore:changed=false).
  - Its action plugin runs the module's logic on the controller and sends only the C(docker) commands over the task's
    connection (one C(docker inspect) per round), which is faster than sending the module.
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.docker
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  containers:
    description:
      - Names (or ids) of the containers to wait for. They are polled together in every round.
    type: list
    elements: str
    required: true
  timeout:
    description:
      - Seconds to wait for all containers to become ready. V(0) checks once and does not wait.
      - Backends run their migrations before they listen (5 to 10 seconds); Electric waits for its replication lock.
    type: int
    default: 120
  interval:
    description:
      - Seconds between two rounds of polling.
    type: float
    default: 1.0
  require_healthcheck:
    description:
      - Fail at once when a container has no healthcheck, because Docker cannot then tell when it is ready.
      - With V(false), such a container is ready when it is running and still running with the same start time in the
        next round. Containers that do have a healthcheck are always judged by it.
    type: bool
    default: true
  expect:
    description:
      - Also require an HTTP answer from inside the container, for services whose healthcheck says healthy too early.
        ElectricSQL's C(/v1/health) answers 202 C({"status":"waiting"}) while it waits for its replication lock, and its
        image healthcheck (C(curl --fail)) already calls that healthy; the gate must wait for C("status":"active").
      - A string applies to every container in O(containers) - the body of the URL that the container's own
        healthcheck calls (environment variables such as C(${PORT}) expanded) must contain it.
      - 'A string that reads as JSON - an object, or its members without the braces such as C("status":"active") -
        is compared with the B(parsed) body: the body must be JSON and contain those members with those values
        (extra members are fine), however it is spaced. Electric writes C({"status": "active"}), with a space, and
        C("status":"active") matches it. Any other string must appear in the body as written.'
      - 'A dict with the keys C(contains) (text, as above) or C(json) (a dict of the members the JSON body must
        contain, for example C({status: active}); nested dicts are compared the same way), C(url) (optional, the URL as
        seen from inside the container; default the URL in its healthcheck) and C(containers) (optional, the containers
        it applies to; default all). Give C(contains) or C(json), not both.'
      - A list of such dicts, one per group of containers.
      - While the body does not match, the reason names each member that differs, with the value found and the value
        expected, as JSON (C(status is "waiting", expected "active")).
      - The GET uses C(wget) if the image has it, else C(curl); it must exit 0 (an HTTP 2xx answer, 202 included).
    type: raw
  max_restarts:
    description:
      - A container that restarts this many times while the module waits, or that is restarting or exited with at
        least this many restarts, is crash-looping, so the module fails at once with its restart count and last log lines.
    type: int
    default: 2
  probe_timeout:
    description:
      - Seconds one in-container HTTP GET for O(expect) may take.
    type: int
    default: 5
  log_lines:
    description:
      - How many of the last log lines of each container that is not ready to return (and show) on failure.
    type: int
    default: 30
notes:
  - Needs C(docker inspect) and C(docker exec) rights on the engine that runs the containers, nothing else.
seealso:
  - module: sertantai.deploy.image_commands
    description: Prove before a deploy that the programs a healthcheck calls exist in the image.
"""

EXAMPLES = r"""
- name: Wait until the legal backend and frontend are healthy
  sertantai.deploy.container_health:
    containers:
      - sertantai-legal
      - sertantai-legal-frontend
    timeout: 60

- name: Wait until Electric holds its replication lock, not just until Docker calls it healthy
  sertantai.deploy.container_health:
    containers:
      - sertantai-legal
      - sertantai-legal-electric
    expect:
      containers: [sertantai-legal-electric]
      url: http://localhost:3000/v1/health
      json:
        status: active

- name: Accept a running container that has no healthcheck (a one-off worker)
  sertantai.deploy.container_health:
    containers: [sertantai-legal-worker]
    require_healthcheck: false
    timeout: 20

- name: Fail the deploy with the health log and last log lines when the gate fails
  block:
    - name: Gate the new backend
      sertantai.deploy.container_health:
        containers: [sertantai-legal]
      register: legal_health
  rescue:
    - name: Show why the backend is not healthy
      ansible.builtin.debug:
        var: ansible_failed_result.containers
"""

RETURN = r"""
elapsed:
  description: Seconds from the first round until the module decided.
  returned: always
  type: float
  sample: 6.4
rounds:
  description: Rounds of polling (each one C(docker inspect) of all containers).
  returned: always
  type: int
  sample: 7
unhealthy:
  description: The containers that are not ready (empty on success).
  returned: always
  type: list
  elements: str
  sample: [sertantai-legal-electric]
containers:
  description: Per container, as last observed, keyed by the name given in O(containers).
  returned: always
  type: dict
  contains:
    state:
      description: C(State.Status) (V(running), V(restarting), V(exited), ...), or V(missing).
      type: str
      sample: running
    health:
      description: C(State.Health.Status) (V(starting), V(healthy), V(unhealthy)), or V(none) without a healthcheck.
      type: str
      sample: healthy
    restarts:
      description: C(RestartCount).
      type: int
      sample: 0
    exit_code:
      description: C(State.ExitCode) as Docker shows it; V(0) while a restarted container runs again.
      type: int
      sample: 0
    last_failure:
      description: The last failed exit (non-zero code) known while waiting, seen in a round or read from the
        daemon's C(die) events for a crash loop - C(exit_code), C(at) (UTC), C(oom_killed) - or null.
      type: dict
      sample: {exit_code: 1, at: "2026-11-27T09:55:18Z", oom_killed: false}
    started_at:
      description: When the current (or last) run started, UTC (C(State.StartedAt)).
      type: str
      sample: "2026-11-27T09:55:19Z"
    finished_at:
      description: When the last run ended, UTC (C(State.FinishedAt)), or null when it never ended.
      type: str
      sample: "2026-11-27T09:55:18Z"
    healthcheck:
      description: The healthcheck command, or null when there is none.
      type: str
      sample: wget --no-verbose --tries=1 --spider http://localhost:4000/health
    healthcheck_url:
      description: The first http(s) URL in the healthcheck, environment variables expanded, or null.
      type: str
      sample: http://localhost:4000/health
    health_log:
      description: The last (up to 5) healthcheck results, oldest first, with C(at) the time the check started (UTC).
      type: list
      elements: dict
      sample: [{exit_code: 0, output: "URL: http://localhost:4000/health 200 OK", at: "2026-11-27T09:55:21Z"}]
    probe:
      description: The last in-container GET for O(expect) (null when none ran) - C(url), C(tool) (V(wget) or V(curl)),
        C(ok), C(body) (first 500 characters), C(error).
      type: dict
      sample: {url: "http://localhost:3000/v1/health", tool: curl, ok: true, body: '{"status":"active"}', error: null}
    verdict:
      description: V(ready), V(waiting) (was still not ready at the end) or V(failed).
      type: str
      sample: ready
    problem:
      description: Why it is not ready - V(not_found), V(crash_loop), V(exited), V(no_healthcheck), V(missing_tool),
        V(no_probe_url), V(no_probe_tool), V(timeout) - or null.
      type: str
      sample: null
    reason:
      description: The verdict as a sentence.
      type: str
      sample: healthy and http://localhost:3000/v1/health answers JSON with status = "active"
    history:
      description: Each distinct observation with the seconds since the start (up to the last 20).
      type: list
      elements: dict
      sample: [{elapsed: 0.0, observed: "running, health starting, restarts 0"}, {elapsed: 5.1, observed: "running, health healthy, restarts 0"}]
    logs:
      description: The last O(log_lines) log lines of a container that is not ready.
      type: list
      elements: str
      returned: on failure
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils import _health
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import (
    DockerCli,
    DockerError,
    docker_argument_spec,
    has_executable,
    http_get_in_container,
    inspect_failed,
)

PROBE_TOOLS = ("wget", "curl")


def module_spec():
    """AnsibleModule's keyword arguments but supports_check_mode (the action plugin validates with them too)."""
    argument_spec = dict(
        containers=dict(type="list", elements="str", required=True),
        timeout=dict(type="int", default=120),
        interval=dict(type="float", default=1.0),
        require_healthcheck=dict(type="bool", default=True),
        expect=dict(type="raw"),
        max_restarts=dict(type="int", default=2),
        probe_timeout=dict(type="int", default=5),
        log_lines=dict(type="int", default=30),
    )
    argument_spec.update(docker_argument_spec())
    return dict(argument_spec=argument_spec)


def run_module(module):
    """The module's work; AnsibleModule's or, from the action plugin, a ControllerModule (commands over the
    task's connection)."""
    p = module.params

    names = list(dict.fromkeys(name for name in p["containers"] if name))
    if not names:
        module.fail_json(msg="containers is empty: name at least one container to wait for")
    if p["timeout"] < 0 or p["interval"] <= 0 or p["max_restarts"] < 1 or p["probe_timeout"] < 1 or p["log_lines"] < 0:
        module.fail_json(msg="timeout must be >= 0, interval > 0, max_restarts >= 1, probe_timeout >= 1 and log_lines >= 0")
    try:
        expect = _health.normalize_expect(p["expect"], names)
    except _health.HealthError as exc:
        module.fail_json(msg=str(exc))

    cli = DockerCli(module.run_command, p["docker_cli"])
    tools = {}

    def probe(name, url):
        result = http_get_in_container(cli, name, url, timeout=p["probe_timeout"], tools=tools.get(name, PROBE_TOOLS))
        if result["tool"]:
            tools[name] = (result["tool"],)  # found once, no need to try the other tool again
        return result

    try:
        outcome = _health.wait_for_health(
            names, lambda wanted: cli.inspect(*wanted), probe, time.monotonic, time.sleep,
            timeout=p["timeout"], interval=p["interval"], expect=expect,
            require_healthcheck=p["require_healthcheck"], max_restarts=p["max_restarts"],
            exit_history=lambda doc: cli.exits(doc["Id"], doc["Created"],
                                               until=_health.events_until((doc.get("State") or {}).get("StartedAt"))))
    except DockerError as exc:
        module.fail_json(msg=inspect_failed(exc, p["docker_cli"]))

    statuses = outcome["statuses"]
    result = dict(
        changed=False,
        elapsed=round(outcome["elapsed"], 1),
        rounds=outcome["rounds"],
        unhealthy=[name for name in names if statuses[name]["verdict"] != _health.READY],
        containers=statuses,
    )
    if outcome["ok"]:
        module.exit_json(**result)

    hints, logs = {}, {}
    for name in result["unhealthy"]:
        status = statuses[name]
        if status["problem"] == _health.NOT_FOUND:
            continue
        logs[name] = status["logs"] = cli.logs_tail(name, p["log_lines"]) if p["log_lines"] else []
        if status["problem"] == _health.MISSING_TOOL:
            program = _health.missing_program(status["health_log"][-1]["output"])
            available = None  # docker exec needs a running container
            if status["state"] == "running":
                available = [tool for tool in PROBE_TOOLS if tool != program and has_executable(cli, name, tool)]
            hints[name] = _health.tool_hint(program, available, status.get("healthcheck_url"))
    module.fail_json(msg=_health.failure_message(outcome, hints, logs), **result)


def main():
    run_module(AnsibleModule(supports_check_mode=True, **module_spec()))


if __name__ == "__main__":
    main()
