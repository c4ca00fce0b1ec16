"""End to end: `make demo`'s own script, run under names of its own, then everything it promises.

Three runs of scripts/demo (the script `make demo` runs), each over SSH against Hetzner-like servers:

1. inventories/local/hosts.yml on a new server: the registries, Pebble and its DNS start, build_push.yml
   builds and pushes the stand-in apps, site.yml deploys PostgreSQL, nginx, certificates from Pebble
   and the three services with Electric, status.yml shows them. Then, from a container on the
   demo network, HTTPS with Pebble's root to /, /api/, /health and /electric/v1/health of each.
   Before run 2, site.yml --check with run 2's fourth service: it passes and changes nothing.
2. inventories/local-two-servers with a fourth service added to the fleet (one item more in the
   fleet file of an inventory source given after the demo's),
   in one run with Ansible's forks on two servers: the first server (the one of run 1) runs every
   service but enforcement, so the new service comes up there (database in the running cluster,
   nginx site, certificate, containers) while every container already there keeps its id; the
   second server is handed over without Docker (tests/images/server-bare): docker_host installs
   Docker Engine and compose v2 from Debian's packages, then it gets its own PostgreSQL, nginx,
   certificate and enforcement. Both serve over HTTPS.
3. run 2 again: nothing is built or pushed, site.yml changes nothing, every container stays.
4. cron stopped on the first server (as after a crash, or an operator's `service cron stop`): status.yml
   names the certificate renewal that would never run there, and the second server (whose cron the
   certbot role installed) stays healthy.
5. The second server's engine restarted with the init script docker_host installed (`service docker
   restart`, as an upgrade of Docker's package does): every container comes back by its restart
   policy, with its id, healthy, Electric active again, and the service serves HTTPS.

Names: sertantai-test-demo-* (containers, network), loopback ports picked free, everything on tmpfs;
removed by `scripts/demo down` before and after. The developer's own demo (sertantai-hz-local*) is
never touched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.demo import demo_env, remove_demo_tags
from tests.support.docker import docker, remove_containers, wait_until

REPO = Path(__file__).resolve().parents[2]
PREFIX = "sertantai-test-demo"
NET = "10.213.91"
SERVER, SERVER_2 = PREFIX, PREFIX + "-2"
ADDRESS, ADDRESS_2 = NET + ".20", NET + ".21"
CURL = PREFIX + "-curl"
STATE = REPO / ".state" / "demo" / PREFIX
LOGS = REPO / ".state" / "e2e"
PATHS = ("/", "/api/", "/health", "/electric/v1/health")
FLEET = ("legal", "auth", "enforcement")
ADDED = {
    "name": "reports",
    "domain": "reports.sertantai.test",
    "database": "sertantai_reports_prod",
    "extensions": ["citext"],
    "backend": {"image": "{{ demo_registry }}/sertantai-reports-backend", "tag": "latest", "port": 4003},
    "frontend": {"image": "{{ demo_registry }}/sertantai-reports-frontend", "tag": "latest", "port": 3000},
    "electric": {"enabled": True, "stream_id": "reports", "image": "{{ demo_electric_image }}", "tag": "latest"},
}

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.minutes(21)]


def run_logged(env, name, argv):
    """(rc, output) of ``argv`` run in the checkout; the output goes to .state/e2e/<name>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / (name + ".log")
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(argv, cwd=str(REPO), env=env, stdout=out, stderr=subprocess.STDOUT, timeout=3600, check=False)
    print("%s: rc=%d in %.0f s (log: %s)" % (" ".join(argv), proc.returncode, time.monotonic() - start, log))
    return proc.returncode, log.read_text(encoding="utf-8", errors="replace")


def run_demo(env, name, *args):
    """scripts/demo with the test's names; its output goes to .state/e2e/<name>.log."""
    rc, text = run_logged(env, name, [str(REPO / "scripts" / "demo"), *args])
    assert rc == 0, "scripts/demo %s failed; last lines of %s:\n%s" % (
        " ".join(args), LOGS / (name + ".log"), "\n".join(text.splitlines()[-60:]))
    return text


def recaps(text, playbook_marker):
    """{host: {ok: n, changed: n, failed: n, ...}} of the PLAY RECAP that follows playbook_marker."""
    section = text.split(playbook_marker, 1)[1].split("PLAY RECAP", 1)[1].split("\n\n", 1)[0]
    result = {}
    for line in section.splitlines()[1:]:
        if ":" in line:
            host, counts = line.split(":", 1)
            result[host.strip()] = {k: int(v) for k, v in (item.split("=") for item in counts.split())}
    return result


def down(env):
    subprocess.run([str(REPO / "scripts" / "demo"), "down"], cwd=str(REPO), env=env, capture_output=True, check=False)
    remove_containers(CURL)
    remove_demo_tags(env)


def pebble_root():
    """The root Pebble issues under, read from Pebble itself (not from what the demo saved)."""
    return docker("exec", PREFIX + "-pebble", "curl", "-sf", "--cacert", "/etc/pebble/ca.pem",
                  "https://localhost:15000/roots/0").stdout


def https(targets):
    """{(domain, path): (status, body)} for HTTPS requests from a throwaway container on the demo
    network, trusting only Pebble's root, each domain resolved to the given server address."""
    script = ["printf '%s' \"$CA\" > /tmp/ca.pem"]
    for domain, address in targets:
        for path in PATHS:
            script.append(
                "code=$(curl -s -o /tmp/body -w '%%{http_code}' --max-time 20 --cacert /tmp/ca.pem "
                "--resolve %s:443:%s https://%s%s); printf '%s %s %%s %%s\\n' \"$code\" \"$(head -c 300 /tmp/body | tr '\\n' ' ')\""
                % (domain, address, domain, path, domain, path))
    remove_containers(CURL)
    out = docker("run", "--rm", "--name", CURL, "--network", PREFIX + "-net", "-e", "CA=" + pebble_root(),
                 "sertantai-test/electric:latest", "sh", "-c", "\n".join(script)).stdout
    answers = {}
    for line in out.splitlines():
        domain, path, code, body = (line.split(" ", 3) + [""])[:4]
        answers[(domain, path)] = (code, body)
    return answers


def assert_served(answers, domain):
    for path in PATHS:
        code, body = answers[(domain, path)]
        assert code == "200", "https://%s%s answered %s: %s" % (domain, path, code, body)
    assert '"status":"active"' in answers[(domain, "/electric/v1/health")][1]
    assert '"service":"%s"' % domain.split(".")[0] in answers[(domain, "/api/")][1]


def container_ids(server, healthy=False):
    """{name: (id, state)} of the server's containers. With ``healthy``: None unless every one of them is
    healthy (also while the server's engine does not answer)."""
    proc = docker("exec", server, "docker", "ps", "-a", "--format", "{{.Names}} {{.ID}} {{.State}} {{.Status}}",
                  check=not healthy)
    rows = [line.split(" ", 3) for line in proc.stdout.splitlines()]
    if healthy and (proc.returncode != 0 or not rows or not all(row[3].endswith("(healthy)") for row in rows)):
        return None
    return {name: (cid, state) for name, cid, state, _status in rows}


def databases(server):
    return docker("exec", server, "docker", "exec", "shared_postgres", "psql", "-XAtq", "-U", "postgres", "-c",
                  "SELECT datname FROM pg_database").stdout.split()


@pytest.fixture(scope="module")
def env(docker_engine):
    # Requests go from a container on the demo network; nothing is published on this machine.
    env = demo_env(PREFIX, NET)
    down(env)
    shutil.rmtree(STATE, ignore_errors=True)
    yield env
    down(env)


@pytest.fixture(scope="module")
def first_run(env):
    """scripts/demo on one new server (inventories/local/hosts.yml)."""
    text = run_demo(env, "1-one-server")
    return {"log": text, "ids": container_ids(SERVER)}


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """An inventory source with a fourth service added to the fleet."""
    # As an operator adds a service: one item in the inventory's fleet file, here in an inventory
    # source given after the demo's own, whose group variables override the demo's fleet.
    fleet = yaml.safe_load((REPO / "inventories/local/group_vars/sertantai/fleet.yml").read_text())["sertantai_services"]
    added = tmp_path_factory.mktemp("inventory-with-reports")
    (added / "group_vars" / "sertantai").mkdir(parents=True)
    (added / "hosts.yml").write_text("all:\n  children:\n    sertantai:\n")
    (added / "group_vars" / "sertantai" / "fleet.yml").write_text(yaml.safe_dump({"sertantai_services": fleet + [ADDED]}))
    return added


@pytest.fixture(scope="module")
def check_run(env, first_run, added):
    """site.yml --check on the server of run 1 with the fourth service added, as an operator looks first
    (its images are not built yet, so the check ends at the pull a run would make). The output is checked
    by the test, not here."""
    rc, text = run_logged(dict(env, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")), "1b-check-added",
                          [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/local", "-i", str(added),
                           "playbooks/site.yml", "--check"])
    return {"rc": rc, "log": text, "ids": container_ids(SERVER)}


@pytest.fixture(scope="module")
def second_run(env, first_run, check_run, added):
    """scripts/demo on two servers with a fourth service added to the fleet (after the check run)."""
    text = run_demo(env, "2-two-servers", "--inventory", "inventories/local-two-servers", "-i", str(added))
    return {"log": text, "ids": container_ids(SERVER), "args": ("--inventory", "inventories/local-two-servers", "-i", str(added))}


@pytest.fixture(scope="module")
def third_run(env, second_run):
    """The same scripts/demo again: everything is in place."""
    text = run_demo(env, "3-again", *second_run["args"])
    return {"log": text, "ids": container_ids(SERVER), "ids_2": container_ids(SERVER_2)}


def test_site_deploys_the_whole_stack_over_ssh(first_run):
    recap = recaps(first_run["log"], "deploying: ansible-playbook")
    assert list(recap) == ["sertantai-hz-local"] and recap["sertantai-hz-local"]["failed"] == 0
    assert recap["sertantai-hz-local"]["changed"] > 0
    # build_push.yml built and pushed each service's images (the registry started empty).
    for service in FLEET:
        assert "build_push.yml -e service=%s" % service in first_run["log"]
    for service in FLEET:
        for suffix in ("blue", "electric-blue"):
            assert first_run["ids"]["sertantai-%s-%s" % (service, suffix)][1] == "running"
    assert first_run["ids"]["shared_postgres"][1] == "running" and first_run["ids"]["nginx"][1] == "running"


def test_status_shows_every_service_healthy(first_run):
    status = first_run["log"].split("==> status", 1)[1]
    assert recaps(first_run["log"], "==> status")["sertantai-hz-local"]["failed"] == 0
    lines = [line.split() for line in status.splitlines()]
    assert ["sertantai-hz-local:", "healthy;", "3", "services"] in lines
    for service in FLEET:
        assert "sertantai_%s_prod" % service in status
        # The Electric table: the service's instance holds its slot's lock.
        assert any(words[:2] == [service, "active"] for words in lines), "%s: Electric not active" % service
        # The same table: the last deploy of the service, from its deploy history (site.yml deployed it).
        assert re.search(r"^ *%s +active .* \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by \S+@\S+ +https://" % service, status, re.M), status
    # The component table: SERVICE COMPONENT LIVE-CONTAINER TAG HEALTH ...; 7 containers in all.
    rows = re.findall(r"^ *(\S+) +(backend|frontend|electric) +(sertantai-\S+) +(\S+(?: \(\S+\))?) +(\S+) ", status, re.M)
    assert len(rows) == 7 and all(row[4] == "healthy" for row in rows), rows
    # What build_push.yml built runs under latest, and the tag column names the build it is.
    built = dict(((service, component), tag) for service, component, tag in
                 re.findall(r"==> build_push.yml -e service=(\S+) -e components=(\S+) \(tag (\S+)\)", first_run["log"]))
    assert len(built) == 4, built
    assert dict(((row[0], row[1]), row[3]) for row in rows if row[1] != "electric") == dict(
        (key, "latest (%s)" % tag) for key, tag in built.items())


def test_each_service_answers_https_with_a_certificate_from_pebble(first_run):
    answers = https([(s + ".sertantai.test", ADDRESS) for s in FLEET])
    for service in FLEET:
        assert_served(answers, service + ".sertantai.test")
    # / is the frontend where the service has one, else the API's root.
    assert "legal frontend" in answers[("legal.sertantai.test", "/")][1]
    assert '"service":"auth"' in answers[("auth.sertantai.test", "/")][1]


def test_a_check_run_with_an_added_service_names_its_missing_images_and_changes_nothing(env, first_run, check_run):
    text = check_run["log"]
    folded = " ".join(text.split())
    recap = recaps(text, "PLAY [")
    assert check_run["rc"] != 0 and recap["sertantai-hz-local"]["failed"] == 1, "\n".join(text.splitlines()[-60:])
    # What a run would do before it deploys: the new site's bootstrap certificate, its certificate from Pebble.
    assert "Ensure the self-signed bootstrap certificate exists for reports.sertantai.test] ***\nchanged:" in text
    assert "reports.sertantai.test (new)" in text
    # Then the pull a run would make: the registry has no image of the new service yet, and says so.
    assert "Check mode pulls nothing, and a run would fail:" in folded
    for component in ("backend", "frontend"):
        ref = "localhost:%s/sertantai-reports-%s:latest" % (env["SERTANTAI_DEMO_REGISTRY_PORT"], component)
        assert "%s could not be pulled (no such manifest: %s)" % (ref, ref) in folded
    # Nothing of it happened.
    assert check_run["ids"] == first_run["ids"]
    assert "sertantai_reports_prod" not in databases(SERVER)
    live = docker("exec", SERVER, "ls", "/opt/sertantai/nginx/conf.d", "/opt/sertantai/nginx/certs").stdout
    assert "reports" not in live


def test_one_run_deploys_two_servers_in_parallel(second_run):
    recap = recaps(second_run["log"], "deploying: ansible-playbook")
    assert sorted(recap) == ["sertantai-hz-local", "sertantai-hz-local-2"]
    assert all(counts["failed"] == 0 for counts in recap.values())
    status = recaps(second_run["log"], "==> status")
    assert sorted(status) == sorted(recap) and all(counts["failed"] == 0 for counts in status.values())


def test_an_added_service_comes_up_and_the_others_keep_their_containers(first_run, second_run):
    before, after = first_run["ids"], second_run["ids"]
    kept = {name: after.get(name) for name in before}
    assert kept == before, "containers replaced or gone: %s" % {n: (before[n], kept[n]) for n in before if kept[n] != before[n]}
    assert {"sertantai-reports-blue", "sertantai-reports-frontend-blue", "sertantai-reports-electric-blue"} <= set(after)
    assert "sertantai_reports_prod" in databases(SERVER)
    answers = https([("reports.sertantai.test", ADDRESS), ("legal.sertantai.test", ADDRESS), ("auth.sertantai.test", ADDRESS)])
    for service in ("reports", "legal", "auth"):
        assert_served(answers, service + ".sertantai.test")


def test_a_bare_server_gets_docker_from_the_role_and_serves(second_run):
    # The image had no Docker: these packages are what docker_host installed (Debian 13's).
    packages = docker("exec", SERVER_2, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n",
                      "docker.io", "docker-compose").stdout
    assert sorted(packages.splitlines()) == ["docker-compose installed", "docker.io installed"], packages
    assert docker("exec", SERVER_2, "docker", "compose", "version", "--short").stdout.strip()[:1] == "2"
    ids = container_ids(SERVER_2)
    assert {"shared_postgres", "nginx", "sertantai-enforcement-blue", "sertantai-enforcement-electric-blue"} <= set(ids)
    assert "sertantai-legal-blue" not in ids
    assert "sertantai_enforcement_prod" in databases(SERVER_2)
    assert_served(https([("enforcement.sertantai.test", ADDRESS_2)]), "enforcement.sertantai.test")


def test_a_second_run_builds_nothing_and_changes_nothing(second_run, third_run):
    assert "build_push.yml -e" not in third_run["log"]
    recap = recaps(third_run["log"], "deploying: ansible-playbook")
    assert sorted(recap) == ["sertantai-hz-local", "sertantai-hz-local-2"]
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap.values()), recap
    assert third_run["ids"] == second_run["ids"]


@pytest.fixture(scope="module")
def cron_stopped(env, added, third_run):
    """status.yml on both servers with cron stopped on the first; cron is started again afterwards."""
    docker("exec", SERVER, "service", "cron", "stop")
    try:
        return run_logged(dict(env, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")), "4-status-cron-stopped",
                          [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/local-two-servers",
                           "-i", str(added), "playbooks/status.yml"])
    finally:
        docker("exec", SERVER, "service", "cron", "start")


def test_status_names_a_renewal_that_cron_would_never_run(cron_stopped):
    rc, text = cron_stopped
    folded = " ".join(text.split())
    assert rc == 2, "\n".join(text.splitlines()[-60:])
    recap = recaps(text, "PLAY [")
    assert recap["sertantai-hz-local"]["failed"] == 1 and recap["sertantai-hz-local-2"]["failed"] == 0, recap
    assert ("sertantai-hz-local: 1 unhealthy: certbot renew: cron does not run, so /etc/cron.d/sertantai-certbot-renew "
            "never runs and no certificate renews (playbooks/site.yml starts cron)") in folded, folded[-3000:]
    rows = re.findall(r"^\s*certbot renew\s+-\s+(.+?)\s+cron, /etc/cron.d/sertantai-certbot-renew$", text, re.M)
    # One row per host, in the order the hosts finished (the problem above names the first server's).
    assert sorted(rows) == ["active", "cron not running"], text


@pytest.fixture(scope="module")
def engine_restarted(third_run):
    """After the third run, the second server's engine restarted by its init script; its containers once all are
    healthy again."""
    start = time.monotonic()
    docker("exec", SERVER_2, "service", "docker", "restart")
    ids = wait_until(lambda: container_ids(SERVER_2, healthy=True), timeout=180, interval=2,
                     what="every container of %s healthy after its engine restarted" % SERVER_2)
    print("engine restart: every container healthy again after %.0f s" % (time.monotonic() - start))
    return ids


def test_after_an_engine_restart_every_container_comes_back_and_serves(third_run, engine_restarted):
    # Started again by their restart policy: the same containers, none recreated, none lost.
    assert engine_restarted == third_run["ids_2"]
    # Healthy is not yet active for Electric (its health answers 202 while it waits for its lock).
    answers = wait_until(lambda: answers_once_electric_is_active("enforcement.sertantai.test", ADDRESS_2), timeout=60,
                         interval=2, what="Electric of enforcement.sertantai.test active again")
    assert_served(answers, "enforcement.sertantai.test")


def answers_once_electric_is_active(domain, address):
    """https() for ``domain`` when its Electric answers active, else None."""
    answers = https([(domain, address)])
    return answers if '"status":"active"' in answers[(domain, "/electric/v1/health")][1] else None
