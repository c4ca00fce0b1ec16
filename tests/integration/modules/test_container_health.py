"""container_health against real containers of the backend/frontend/electric test images (scripts/build-images),
and the Electric stand-in against a real PostgreSQL."""

from __future__ import annotations

import re
import threading

import pytest

from tests.support.ansible import run_module
from tests.support.docker import PREFIX, docker, inspect, remove_containers, wait_until
from tests.support.electric import ElectricArea

pytestmark = pytest.mark.docker

BACKEND = "sertantai-test/backend:latest"
FRONTEND = "sertantai-test/frontend:latest"
NAME = PREFIX + "health-"
ACTIVE = '"status":"active"'
UTC_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture(scope="module")
def images(docker_engine):
    for image in (BACKEND, FRONTEND):
        if docker("image", "inspect", image, check=False).returncode != 0:
            pytest.fail("test image %s is missing: run scripts/build-images backend frontend" % image)


@pytest.fixture
def start(images):
    """start(suffix, *docker_run_args, image=BACKEND, command=()) -> name; removes exactly those containers before and after."""
    started = []

    def _start(suffix, *args, image=BACKEND, command=()):
        name = NAME + suffix
        remove_containers(name)
        started.append(name)
        docker("run", "-d", "--name", name, *args, image, *command)
        return name

    yield _start
    remove_containers(*started)


def health(args, **kwargs):
    args.setdefault("interval", 0.5)
    return run_module("container_health", args, **kwargs)


def observed(result, name):
    return [entry["observed"] for entry in result["containers"][name]["history"]]


@pytest.fixture
def traced_docker(tmp_path):
    """A docker_cli that logs every call as it starts and again once it has finished: the test sees what the
    module ran and when it has looked. Returns (cli, started calls, finished calls)."""
    started, finished = tmp_path / "docker-calls.log", tmp_path / "docker-done.log"
    cli = tmp_path / "docker"
    cli.write_text('#!/bin/sh\necho "$*" >> %s\ndocker "$@"\nrc=$?\necho "$*" >> %s\nexit $rc\n' % (started, finished))
    cli.chmod(0o755)
    started.write_text("")
    finished.write_text("")
    return (str(cli), lambda: [line.split() for line in started.read_text().splitlines()],
            lambda: [line.split() for line in finished.read_text().splitlines()])


def test_waits_until_migrations_are_done_and_polls_all_containers_in_one_inspect(start, traced_docker):
    cli, calls, _finished = traced_docker
    backend = start("api", "-e", "MIGRATION_SECONDS=600", "-e", "SERVICE_NAME=legal")
    frontend = start("web", "-e", "SERVICE_NAME=legal", image=FRONTEND)

    def inspects():
        return [call for call in calls() if call[0] == "inspect"]

    results = []
    gate = threading.Thread(target=lambda: results.append(
        health(dict(containers=[backend, frontend], timeout=60, docker_cli=cli), check=True)))
    gate.start()
    try:
        # Migrations end only once the module has looked at least once, so it must have seen them running.
        wait_until(inspects, timeout=60, what="the module's first docker inspect")
        docker("exec", backend, "touch", "/tmp/migrated")
    finally:
        gate.join(90)
    result = results[0]

    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["unhealthy"] == []
    assert isinstance(result["elapsed"], float) and result["elapsed"] > 0
    for name in (backend, frontend):
        status = result["containers"][name]
        assert (status["state"], status["health"], status["verdict"]) == ("running", "healthy", "ready")
    assert observed(result, backend)[0] == "running, health starting, restarts 0"
    assert observed(result, backend)[-1] == "running, health healthy, restarts 0"
    assert "wget" in result["containers"][backend]["healthcheck"]
    # every round is ONE docker inspect naming both containers
    assert inspects() == [["inspect", "--type", "container", backend, frontend]] * result["rounds"]
    assert result["rounds"] >= 2


def test_healthcheck_calling_a_binary_the_image_lacks_fails_with_the_health_log_and_a_hint(start):
    # Runbook pitfall 9: the backend image has wget, not curl. The image's 60 s start period would hide
    # the failing checks as "starting"; the module must not wait for that.
    backend = start("nocurl", "-e", "MIGRATION_SECONDS=0", "--health-cmd", "curl -f http://localhost:4000/health",
                    "--health-interval", "1s")

    result = health(dict(containers=[backend], timeout=60))

    assert result.get("failed")
    status = result["containers"][backend]
    assert status["problem"] == "missing_tool"
    assert status["health"] == "starting"  # Docker itself has not given up yet
    assert "curl: not found" in status["health_log"][-1]["output"]
    msg = result["msg"]
    assert msg.startswith(backend + " not healthy after")
    assert "its healthcheck runs curl, which the image does not have (health log: /bin/sh: 1: curl: not found)" in msg
    assert "wget is available, e.g. test: wget --no-verbose --tries=1 --spider http://localhost:4000/health" in msg
    assert "timed out" not in msg


def test_crash_loop_fails_early_with_restart_count_and_last_log_lines(start):
    backend = start("crash", "--restart", "always", "-e", "FAIL_ON_START=1", "-e", "SERVICE_NAME=legal")

    result = health(dict(containers=[backend], timeout=300, log_lines=10))

    assert result.get("failed")
    status = result["containers"][backend]
    assert status["problem"] == "crash_loop"
    assert status["restarts"] >= 2
    assert status["last_failure"]["exit_code"] == 1 and re.match(UTC_TIME + "$", status["last_failure"]["at"])
    assert "legal could not start: FAIL_ON_START=1" in status["logs"][-1]
    assert len(status["logs"]) <= 10
    msg = result["msg"]
    assert "crash loop: restarted %d time(s)" % status["restarts"] in msg
    assert re.search(r"exit code 1 at %s" % UTC_TIME, msg), msg
    assert "last log lines: ** (Ecto.MigrationError) legal could not start: FAIL_ON_START=1" in msg
    assert "timed out" not in msg


def test_a_crash_loop_caught_while_running_again_reports_the_last_failed_exit(start):
    # Each run lives two seconds, then exits 3; Docker restarts it after 0.1 s and shows exit code 0 while it runs,
    # which is how the module (polling every second) nearly always finds it when the first restart counts.
    looping = start("crash-running", "--restart", "always", "--entrypoint", "sh", command=("-c", "sleep 2; exit 3"))

    result = health(dict(containers=[looping], timeout=120, interval=1, max_restarts=1))

    assert result.get("failed")
    status = result["containers"][looping]
    assert status["problem"] == "crash_loop"
    assert status["last_failure"]["exit_code"] == 3 and re.match(UTC_TIME + "$", status["last_failure"]["at"])
    assert re.search(r"exit code 3 at %s" % UTC_TIME, result["msg"]), result["msg"]
    assert "last exit code 0" not in result["msg"]
    if status["state"] == "running":
        assert status["exit_code"] == 0  # what Docker shows, and why the module must not print it alone
        assert "now running; last non-zero exit code 3 at " in result["msg"]


def test_several_containers_are_polled_together(start):
    # The slow one is listed first and needs 120 s; a one-after-another wait would sit on it and never
    # see the second crash-looping. Polled together, the crash is found while the first still migrates.
    slow = start("slow", "-e", "MIGRATION_SECONDS=120")
    crash = start("crash2", "--restart", "on-failure", "-e", "FAIL_ON_START=1")

    result = health(dict(containers=[slow, crash], timeout=300))

    assert result.get("failed")
    assert result["containers"][crash]["problem"] == "crash_loop"
    assert result["containers"][slow]["verdict"] == "waiting"
    assert result["containers"][slow]["health"] == "starting"
    assert result["unhealthy"] == [slow, crash]
    assert result["msg"].startswith(crash + " not healthy after")


def test_no_healthcheck_fails_unless_allowed(start):
    backend = start("nohc", "--no-healthcheck", "-e", "MIGRATION_SECONDS=0")

    refused = health(dict(containers=[backend], timeout=30))
    allowed = health(dict(containers=[backend], timeout=30, require_healthcheck=False))

    assert refused.get("failed")
    assert refused["containers"][backend]["problem"] == "no_healthcheck"
    assert "has no healthcheck" in refused["msg"] and "require_healthcheck: false" in refused["msg"]
    assert not allowed.get("failed"), allowed.get("msg")
    status = allowed["containers"][backend]
    assert (status["state"], status["health"], status["healthcheck"]) == ("running", "none", None)
    assert allowed["rounds"] >= 2  # running in two rounds with the same start, not a glimpse between crashes


def test_expect_waits_for_active_although_docker_already_says_healthy(start):
    # Electric-style: /v1/health answers 202 {"status":"waiting"} until /tmp/health-active exists, and the
    # Docker healthcheck accepts 202, so Docker says healthy while Electric still waits for its lock.
    electric = start("electric", "-e", "MIGRATION_SECONDS=0", "-e", "HEALTH_WAITING_SECONDS=3600",
                     "--health-cmd", "wget -q -O /dev/null http://localhost:${PORT}/v1/health", "--health-interval", "1s")
    wait_until(lambda: ((inspect(electric) or {}).get("State") or {}).get("Health", {}).get("Status") == "healthy",
               timeout=30, what="Docker to call %s healthy" % electric)

    # 1. A string: the body of the URL the healthcheck calls must contain it. Docker's "healthy" is not enough.
    short = health(dict(containers=[electric], timeout=2, expect=ACTIVE))
    assert short.get("failed")
    status = short["containers"][electric]
    assert (status["health"], status["problem"]) == ("healthy", "timeout")
    assert status["probe"]["url"] == "http://localhost:4000/v1/health"
    assert status["probe"]["tool"] == "wget"
    assert status["probe"]["body"] == '{"status":"waiting"}'
    assert short["msg"].startswith("timed out after")
    assert ('Docker says healthy but http://localhost:4000/v1/health answers {"status":"waiting"}, status is "waiting", '
            'expected "active" (waiting for JSON with status = "active")') in short["msg"]

    # 2. The gate keeps waiting and passes once the body says active. The switch is flipped only after the
    #    module's own probe (marked by its query string) has been answered 202, so the order is certain.
    url = "http://localhost:4000/v1/health?probe=gate"
    results = []
    gate = threading.Thread(target=lambda: results.append(
        health(dict(containers=[electric], timeout=60, expect=dict(url=url, contains=ACTIVE, containers=[electric])))))
    gate.start()
    try:
        wait_until(lambda: '"GET /v1/health?probe=gate HTTP/1.1" 202' in docker("logs", electric).stdout,
                   timeout=60, what="the module to probe %s" % url)
        docker("exec", electric, "touch", "/tmp/health-active")
    finally:
        gate.join(90)
    result = results[0]
    assert not result.get("failed"), result.get("msg")
    status = result["containers"][electric]
    assert status["verdict"] == "ready" and status["probe"]["body"] == '{"status":"active"}'
    assert observed(result, electric) == [
        'running, health healthy, restarts 0, %s -> {"status":"waiting"}' % url,
        'running, health healthy, restarts 0, %s -> {"status":"active"}' % url,
    ]


def test_timeout_is_respected_and_says_how_long_and_what_it_saw(start):
    backend = start("migrating", "-e", "MIGRATION_SECONDS=120")

    result = health(dict(containers=[backend], timeout=2))

    assert result.get("failed")
    assert result["containers"][backend]["problem"] == "timeout"
    assert result["elapsed"] >= 2
    msg = result["msg"]
    assert msg.startswith("timed out after %.1f s (timeout 2 s) waiting for %s to become healthy." % (result["elapsed"], backend))
    assert "last observed: running, health starting, restarts 0" in msg
    assert "last log lines:" in msg and "running migrations" in msg


def test_missing_container_and_bad_options_fail_with_what_to_do(images):
    missing = NAME + "does-not-exist"
    remove_containers(missing)

    result = health(dict(containers=[missing], timeout=30))
    assert result.get("failed")
    assert result["containers"][missing]["problem"] == "not_found"
    assert "%s: does not exist: check the name (docker ps -a)" % missing in result["msg"]

    bad = health(dict(containers=[missing], expect={"contains": ACTIVE, "containers": ["electric"]}))
    assert bad.get("failed")
    assert bad["msg"] == "expect.containers names 'electric', which is not in containers (%s)" % missing


def test_expect_string_checks_the_url_of_the_healthcheck_with_its_variables_expanded(start):
    frontend = start("web2", "-e", "SERVICE_NAME=legal", "-e", "PORT=3005", image=FRONTEND)

    result = health(dict(containers=[frontend], timeout=30, expect="<h1>legal frontend</h1>"))

    assert not result.get("failed"), result.get("msg")
    probe = result["containers"][frontend]["probe"]
    assert probe["url"] == "http://localhost:3005/"
    assert "<h1>legal frontend</h1>" in probe["body"]


def test_inspect_and_http_get_in_container_against_real_containers(start):
    from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, http_get_in_container
    from tests.support.docker import subprocess_run_command

    backend = start("util", "-e", "MIGRATION_SECONDS=0", "-e", "SERVICE_NAME=legal")
    cli = DockerCli(subprocess_run_command)
    short_id = inspect(backend)["Id"][:12]
    missing = NAME + "util-missing"

    found, absent = cli.inspect(backend, missing, short_id)
    assert sorted(found) == sorted([backend, short_id]) and absent == [missing]
    assert found[backend]["Id"] == found[short_id]["Id"]

    wait_until(lambda: http_get_in_container(cli, backend, "http://localhost:4000/health")["ok"], timeout=30, what="backend to listen")
    answer = http_get_in_container(cli, backend, "http://localhost:4000/api/ping")
    assert (answer["tool"], answer["ok"]) == ("wget", True)  # the image has no curl; wget is found
    assert '"service":"legal"' in answer["body"]
    assert http_get_in_container(cli, backend, "http://localhost:4000/api/ping", tools=("curl",))["tool"] is None
    error = http_get_in_container(cli, backend, "http://localhost:4000/nope")
    assert (error["ok"], error["rc"]) == (False, 8) and "404" in error["error"]


# ---------------------------------------------------------------- the Electric stand-in against PostgreSQL

ELECTRIC_HOLDER = PREFIX + "hygiene-electric-1"
ELECTRIC_WAITER = PREFIX + "hygiene-electric-2"


@pytest.fixture
def electric(docker_engine):
    """PostgreSQL with database legal, on a network where Electric stand-ins share stream id legal."""
    area = ElectricArea(PREFIX + "hygiene-")
    area.started.extend([ELECTRIC_HOLDER, ELECTRIC_WAITER])  # removed before, as well as after
    area.up()
    yield area
    area.down()


def test_electric_body_is_compared_as_json_not_as_text(electric, traced_docker):
    """The stand-in writes {"status":"active"} as Electric does (no space); an expectation written the
    other way, '{"status": "active"}' (json.dumps, a space after the colon), must match it all the same,
    and a waiting instance must be reported with the parsed difference."""
    electric.start(ELECTRIC_HOLDER, "legal")
    holder = health(dict(containers=[ELECTRIC_HOLDER], timeout=90, expect='{"status": "active"}'))
    assert not holder.get("failed"), holder.get("msg")
    status = holder["containers"][ELECTRIC_HOLDER]
    assert status["probe"]["body"] == '{"status":"active"}'  # as the stand-in writes it: no space
    assert status["reason"] == 'healthy and http://localhost:3000/v1/health answers JSON with status = "active"'

    # A second instance on the same stream id waits for the holder's lock; Docker calls it healthy all the same.
    electric.start(ELECTRIC_WAITER, "legal")
    wait_until(lambda: ((inspect(ELECTRIC_WAITER) or {}).get("State") or {}).get("Health", {}).get("Status") == "healthy",
               timeout=60, what="Docker to call the waiting %s healthy" % ELECTRIC_WAITER)
    short = health(dict(containers=[ELECTRIC_WAITER], timeout=2, expect={"json": {"status": "active"}}))
    assert short.get("failed") and short["containers"][ELECTRIC_WAITER]["problem"] == "timeout"
    assert short["containers"][ELECTRIC_WAITER]["probe"]["body"] == '{"status":"waiting"}'
    assert ('Docker says healthy but http://localhost:3000/v1/health answers {"status":"waiting"}, status is "waiting", '
            'expected "active" (waiting for JSON with status = "active")') in short["msg"]

    # The gate keeps waiting; once it has probed, the holder stops, the waiter takes the lock and the gate passes.
    cli, _calls, finished = traced_docker
    results = []
    gate = threading.Thread(target=lambda: results.append(
        health(dict(containers=[ELECTRIC_WAITER], timeout=90, expect=ACTIVE, docker_cli=cli))))
    gate.start()
    try:
        # the holder stops only after the module's first probe has been answered (while the waiter still waits);
        # the image has curl and no wget, so the probe that answers is curl's
        wait_until(lambda: any(call[:4] == ["exec", "-i", ELECTRIC_WAITER, "curl"] for call in finished()), timeout=60,
                   what="the module's probe of %s to finish" % ELECTRIC_WAITER)
        docker("stop", "-t", "5", ELECTRIC_HOLDER)
    finally:
        gate.join(120)
    result = results[0]
    assert not result.get("failed"), result.get("msg")
    assert result["containers"][ELECTRIC_WAITER]["probe"]["body"] == '{"status":"active"}'
    probed = [line.split(" -> ", 1)[1] for line in observed(result, ELECTRIC_WAITER) if " -> " in line]
    assert probed[0] == '{"status":"waiting"}' and probed[-1] == '{"status":"active"}'
