"""Benchmark: the app deploy (site.yml, deploy.yml) against the runbook's way, on a Hetzner-like server.

One run starts its own local server (sertantai-test-benchdeploy: a container with sshd and its own
dockerd, tmpfs storage, removed afterwards), a registry with htpasswd auth on it holding the stand-in
images (molecule/app_service/prepare.yml), and a fleet of one service: backend (migrates for
--migration-seconds before it listens), frontend and the Electric stand-in. Then it measures:

- wall time of the first ``site.yml``; of a no-op ``deploy.yml -e service=legal`` (median of
  --noop-runs); of a backend-only deploy (an environment variable of the backend changes, which
  forces a new container), with the slowest tasks from ansible.posix.profile_tasks (also of a no-op);
  of a deploy of the default components, frontend and backend, both changed;
- a backend deploy under load, side by side with the runbook's way. A load generator ON the server
  (bench/files/load.py) sends --rate requests per second to nginx on 127.0.0.1:443 (the service's
  domain as SNI and Host, kept-alive connections as browsers hold them) for at least --requests
  requests, and records each request's start, end and status. During it runs either a backend-only
  ``deploy.yml`` (blue/green), or the baseline: the live backend container recreated in place by
  ``docker compose pull && docker compose up -d --force-recreate`` of an equivalent compose file
  (same name, image, environment, healthcheck, network), then ``docker inspect --format
  '{{.State.Health.Status}}'`` polled up to 6 times every 5 s, over one SSH session as the runbook's
  deploy-prod.sh runs it. Reported: failed requests
  (status other than 200, or no answer), the failure window (start of the first failed request to the
  end of the last), the deploy's wall time, and ratios;
- the Electric handover, for both stand-in behaviours (ELECTRIC_STANDIN_READ_ONLY_MODE true: serves
  stored shapes read-only while it waits for the replication lock, as releases since
  electric-sql/electric#4075 do; false: older releases). Shape clients through nginx (offset=-1, then
  follow-up reads with the handle and offset, using the service's ELECTRIC_SECRET, which the load
  script reads on the server) and a /electric/v1/health poll every 50 ms run while either
  ``deploy.yml -e '{"components": ["electric"]}'`` (forced by an environment change) or the baseline
  ``docker stop`` then ``docker start`` of the live Electric container runs. Reported: the gap with no
  active Electric behind nginx (from the last "active" health answer before the first other answer to
  the first "active" after the last other one; see gap()), failed shape requests (not 200, or no
  answer within 30 s), and the slowest.

The load generator runs on the same machine as everything else: times are wall-clock seconds that
grow with the machine's load. Compare the rows of one run, not runs.
Prints the tables and appends a dated row to bench/results/deploy.tsv.

Usage: .venv/bin/python bench/deploy.py [--rate 50] [--requests 3000] [--migration-seconds 6]
       [--noop-runs 3] [--keep]   (--keep leaves the server running, for a look at what went wrong)
Needs the test images (scripts/build-images): server, postgres, nginx, registry, backend, frontend, electric.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import append_result, print_table  # first: it also puts the collection on the import path

from tests.support.ansible import BIN, REPO, ansible_env
from tests.support.docker import docker, remove_containers

SERVER = "sertantai-test-benchdeploy"
SERVICE = "legal"
DOMAIN = "legal.sertantai.test"
DATABASE = "sertantai_legal_prod"
TABLE = "bench_items"
REGISTRY = "localhost:5000"
IMAGES = ["sertantai-test/%s:latest" % name for name in ("postgres", "nginx", "registry", "backend", "frontend", "electric")]
DEPLOY_ROOT = "/opt/sertantai"
LOAD_SCRIPT = "/root/bench-load.py"
STOP_FILE = "/tmp/bench-load-stop"
BASELINE_DIR = "/root/bench-baseline"
BASELINE_PROJECT = "benchbaseline"
SSH_OPTS = ["-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR"]

# The runbook's health wait after `docker compose up -d`: 6 polls of docker inspect, 5 s apart.
BASELINE_SCRIPT = """set -e
cd %(dir)s
docker compose pull --quiet
docker compose up -d --force-recreate --quiet-pull 2>&1
for i in 1 2 3 4 5 6; do
  sleep 5
  status=$(docker inspect --format '{{.State.Health.Status}}' %(name)s)
  echo "poll $i: $status"
  [ "$status" = healthy ] && exit 0
done
echo "not healthy after 6 polls"
exit 1
"""


class Bench:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = Path(tmp)
        self.key = self.tmp / "id_ed25519"
        self.inventory = self.tmp / "inventory"
        self.fleet_file = self.tmp / "fleet.json"
        self.ssh_port = None
        self.logs = []
        self.registry_password = secrets.token_urlsafe(18)

    # ------------------------------------------------------------------ running things

    def playbook(self, playbook, *extra, name, fleet=None):
        """Run ansible-playbook; return its wall time in seconds (and keep its output in the temp dir)."""
        if fleet is not None:
            # Extra vars: they beat the group_vars next to molecule/app_service/prepare.yml, which would
            # otherwise set the registry password from a lookup for that scenario.
            self.fleet_file.write_text(json.dumps(dict(fleet, app_service_registry_username="sertantai",
                                                       app_service_registry_password=self.registry_password)))
        argv = [str(BIN / "ansible-playbook"), str(REPO / playbook)]
        if self.ssh_port:
            argv += ["-i", str(self.inventory), "-e", "@" + str(self.fleet_file)]
        argv += list(extra)
        env = ansible_env(ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="yaml",
                          ANSIBLE_FORCE_COLOR="0")
        # Its per-task timestamps also place the failures of a loaded run.
        env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="10")
        log = self.tmp / ("%02d-%s.log" % (len(self.logs), re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")))
        self.logs.append(log)
        print("  %-44s" % name, end="", flush=True)
        start = time.monotonic()
        with log.open("w") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO), check=False)
        seconds = time.monotonic() - start
        print("%6.1f s" % seconds, flush=True)
        if proc.returncode != 0:
            sys.exit("%s failed (rc=%d); the end of its output:\n%s" % (name, proc.returncode, log.read_text()[-5000:]))
        return seconds, log.read_text()

    def inner(self, *argv, check=True, input=None, timeout=300):
        """A command on the server (docker exec into its container)."""
        return docker("exec", "-i", SERVER, *argv, check=check, input=input, timeout=timeout)

    def ssh(self, script):
        """A shell script over SSH, as the runbook's deploy script runs its commands on the server."""
        return subprocess.run(["ssh", "-i", str(self.key), "-p", str(self.ssh_port)] + SSH_OPTS + ["root@127.0.0.1", "sh -s"],
                              input=script, capture_output=True, text=True, timeout=300, check=False)

    # ------------------------------------------------------------------ set-up

    def start_server(self):
        servers = [dict(name=SERVER, storage="tmpfs", preload_images=IMAGES)]
        self.playbook("scripts/local_server/create.yml", "-e", json.dumps(dict(local_servers=servers, local_server_key=str(self.key))),
                      name="start the server (and preload images)")
        self.ssh_port = int(docker("port", SERVER, "22").stdout.strip().splitlines()[0].rsplit(":", 1)[1])
        self.inventory.mkdir()
        (self.inventory / "group_vars").mkdir()
        (self.inventory / "hosts.yml").write_text(json.dumps({"all": {"children": {"sertantai": {"hosts": {SERVER: dict(
            ansible_host="127.0.0.1", ansible_port=self.ssh_port, ansible_user="root",
            ansible_ssh_private_key_file=str(self.key), ansible_python_interpreter="/usr/bin/python3",
            ansible_ssh_common_args=" ".join(SSH_OPTS))}}}}}))
        # The settings of molecule/app_service (whose prepare.yml pushes the images), minus its fleet.
        (self.inventory / "group_vars" / "sertantai.yml").write_text(json.dumps(dict(
            __test_registry=REGISTRY, postgres_image="sertantai-test/postgres:latest", postgres_image_pull="never",
            nginx_image="sertantai-test/nginx:latest", nginx_image_pull="never", nginx_http2=False,
            sertantai_issue_certificates=False, app_service_health_timeout=60)))
        self.playbook("molecule/app_service/prepare.yml", name="registry on the server, images pushed",
                      fleet=fleet(self.args.migration_seconds))
        docker("cp", str(REPO / "bench" / "files" / "load.py"), "%s:%s" % (SERVER, LOAD_SCRIPT))

    # ------------------------------------------------------------------ load

    def start_load(self, mode, *options):
        self.inner("rm", "-f", STOP_FILE)
        out = (self.tmp / ("load-%d.jsonl" % time.monotonic_ns())).open("w+")
        proc = subprocess.Popen(["docker", "exec", SERVER, "python3", LOAD_SCRIPT, mode, "--host", DOMAIN,
                                 "--stop-file", STOP_FILE] + list(options), stdout=out, stderr=subprocess.PIPE, text=True)
        return proc, out

    def stop_load(self, load):
        proc, out = load
        self.inner("touch", STOP_FILE)
        _stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            sys.exit("the load generator failed (rc=%d): %s" % (proc.returncode, stderr[-2000:]))
        with out:
            out.seek(0)
            return [json.loads(line) for line in out if line.strip()]

    def under_load(self, mode, options, action, lead=5.0, tail=3.0):
        """Start the load, let it run `lead` s, run action (timed), let it run `tail` s more, stop it."""
        load = self.start_load(mode, *options)
        try:
            time.sleep(lead)
            d0 = time.time()
            result = action()
            d1 = time.time()
            time.sleep(tail)
        except BaseException:
            load[0].kill()
            raise
        return self.stop_load(load), d0, d1, result

    # ------------------------------------------------------------------ the backend under load

    def backend_get_load(self, action):
        options = ["--path", "/api/bench", "--rate", str(self.args.rate), "--min-count", str(self.args.requests)]
        rows, d0, d1, result = self.under_load("get", options, action)
        return summarize_get(rows, d0, d1), result

    def live(self, component):
        out = self.inner("docker", "ps", "--filter", "label=org.sertantai.service=" + SERVICE,
                         "--filter", "label=org.sertantai.component=" + component, "--format", "{{.Names}}").stdout.split()
        if len(out) != 1:
            sys.exit("expected one running %s container of %s, found %s" % (component, SERVICE, out or "none"))
        return out[0]

    def baseline_compose(self):
        """The live backend as a compose service (same name and settings), brought up once before the load."""
        name = self.live("backend")
        doc = json.loads(self.inner("docker", "inspect", name).stdout)[0]
        text = json.dumps(compose_file(doc, name))
        # The file holds the backend's secrets, as the runbook's .env does: 0600, on the server only.
        self.inner("sh", "-c", "umask 077 && mkdir -p %s && cat > %s/compose.yml" % (BASELINE_DIR, BASELINE_DIR), input=text)
        self.inner("docker", "rm", "-f", name)
        self.inner("docker", "compose", "-f", BASELINE_DIR + "/compose.yml", "up", "-d", "--quiet-pull")
        deadline = time.monotonic() + 120
        while self.inner("docker", "inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip() != "healthy":
            if time.monotonic() > deadline:
                sys.exit("the baseline's compose backend %s did not become healthy" % name)
            time.sleep(0.5)
        return name

    def baseline_backend(self, name):
        start = time.monotonic()
        proc = self.ssh(BASELINE_SCRIPT % dict(dir=BASELINE_DIR, name=name))
        seconds = time.monotonic() - start
        polls = len(re.findall(r"^poll \d+:", proc.stdout, re.M))
        if not polls:
            sys.exit("the baseline's compose pull/up failed on the server:\n" + (proc.stdout + proc.stderr)[-2000:])
        return dict(seconds=seconds, ok=proc.returncode == 0, polls=polls, output=proc.stdout + proc.stderr)

    # ------------------------------------------------------------------ Electric

    def electric_load(self, action):
        options = ["--table", TABLE, "--secret-file", "%s/secrets/%s/electric_secret" % (DEPLOY_ROOT, SERVICE),
                   "--clients", "4", "--client-rate", "5", "--health-interval", "0.05", "--health-timeout", "3"]
        rows, d0, d1, result = self.under_load("electric", options, action, lead=3.0, tail=3.0)
        return summarize_electric(rows, d0, d1), result

    def baseline_electric(self):
        name = self.live("electric")
        start = time.monotonic()
        proc = self.ssh("set -e\ndocker stop %s >/dev/null\ndocker start %s >/dev/null\n" % (name, name))
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            sys.exit("the baseline's stop-then-start of %s failed: %s" % (name, proc.stderr))
        # The load runs until Electric is active again (the tail of under_load covers the rest).
        deadline = time.monotonic() + 60
        while '"active"' not in self.inner("curl", "-sk", "--max-time", "2", "--resolve", DOMAIN + ":443:127.0.0.1",
                                           "https://%s/electric/v1/health" % DOMAIN, check=False).stdout:
            if time.monotonic() > deadline:
                sys.exit("Electric did not become active after the baseline's restart")
            time.sleep(0.2)
        return dict(seconds=seconds)

    def create_table(self):
        sql = ("CREATE TABLE IF NOT EXISTS %s (id bigint PRIMARY KEY, title text NOT NULL);"
               "INSERT INTO %s SELECT i, 'item ' || i FROM generate_series(1, 100) i ON CONFLICT DO NOTHING;" % (TABLE, TABLE))
        self.inner("docker", "exec", "-i", "shared_postgres", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres",
                   "-d", DATABASE, input=sql)


# ---------------------------------------------------------------------- pure helpers


def fleet(migration_seconds, backend_env=None, frontend_env=None, electric_env=None):
    """The fleet of one service; env changes force a new container of that component."""
    return dict(sertantai_services=[dict(
        name=SERVICE, domain=DOMAIN, database=DATABASE, extensions=["uuid-ossp", "citext"],
        backend=dict(image=REGISTRY + "/sertantai-legal-backend", tag="v1", port=4000,
                     env=dict(dict(MIGRATION_SECONDS=str(migration_seconds)), **(backend_env or {}))),
        frontend=dict(image=REGISTRY + "/sertantai-legal-frontend", tag="v1", port=3000, env=dict(frontend_env or {})),
        electric=dict(enabled=True, stream_id="legal", image=REGISTRY + "/electric", tag="v1",
                      env=dict(dict(ELECTRIC_STANDIN_READ_ONLY_MODE="true"), **(electric_env or {}))),
    )])


def _duration(ns):
    return "%dms" % (int(ns or 0) // 1000000)


def compose_file(doc, name):
    """An equivalent compose file of one running container (docker inspect document)."""
    cfg, host = doc["Config"], doc["HostConfig"]
    env = dict(item.split("=", 1) for item in cfg.get("Env") or [])
    health = cfg.get("Healthcheck") or {}
    service = dict(
        image=cfg["Image"],
        container_name=name,
        environment=dict((k, v.replace("$", "$$")) for k, v in env.items()),
        labels=dict((k, v) for k, v in (cfg.get("Labels") or {}).items() if not k.startswith("com.docker.compose.")),
        restart=(host.get("RestartPolicy") or {}).get("Name") or "no",
        stop_grace_period="%ds" % int(cfg.get("StopTimeout") or 10),
        networks=list((doc.get("NetworkSettings") or {}).get("Networks") or {}),
    )
    if health.get("Test"):
        service["healthcheck"] = dict(test=health["Test"], interval=_duration(health.get("Interval")),
                                      timeout=_duration(health.get("Timeout")), retries=int(health.get("Retries") or 3),
                                      start_period=_duration(health.get("StartPeriod")))
        if health.get("StartInterval"):
            service["healthcheck"]["start_interval"] = _duration(health["StartInterval"])
    return dict(name=BASELINE_PROJECT, services=dict(backend=service),
                networks=dict((net, dict(external=True)) for net in service["networks"]))


def summarize_get(rows, d0, d1):
    failed = [r for r in rows if r["s"] != 200]
    statuses = {}
    for r in failed:
        key = str(r["s"]) if r["s"] else "no answer"
        statuses[key] = statuses.get(key, 0) + 1
    span = (max(r["t1"] for r in rows) - min(r["t0"] for r in rows)) if rows else 0
    return dict(
        requests=len(rows),
        rps=len(rows) / span if span else 0,
        failed=len(failed),
        failed_pct=100.0 * len(failed) / len(rows) if rows else 0,
        window=(max(r["t1"] for r in failed) - min(r["t0"] for r in failed)) if failed else 0.0,
        statuses=", ".join("%s x%d" % kv for kv in sorted(statuses.items())) or "-",
        in_deploy=sum(1 for r in rows if d0 <= r["t0"] <= d1),
        resent=sum(1 for r in rows if r.get("r")),
        p99=percentile([r["t1"] - r["t0"] for r in rows], 99),
    )


def percentile(values, pct):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(pct / 100.0 * (len(values) - 1))))]


def gap(health, since):
    """(seconds without an active Electric behind nginx, non-active answers), from health probes.

    Probes are taken in the order they ended, a probe without an answer (timed out, or hanging on a
    stopped container) in the order it started: it is time a client was not served, so it counts as
    "other". The gap runs from the last "active" answer before the first other one (202
    starting/waiting, 502, no answer, ...) after ``since`` to the first "active" answer after the
    last other one: while nginx reloads, requests on connections kept alive by its old workers still
    reach the old instance, and answers overtake each other on a busy machine, so single "active"
    answers inside the gap do not end it. None: not active again.
    """
    probes = sorted(health, key=lambda r: r["t1"] if r["s"] else r["t0"])
    active = [r["s"] == 200 and r.get("b") == "active" for r in probes]
    other = [i for i, r in enumerate(probes) if not active[i] and r["t0"] >= since]
    if not other:
        return 0.0, 0
    before = [probes[i]["t1"] for i in range(other[0]) if active[i]]
    after = [probes[i]["t1"] for i in range(other[-1] + 1, len(probes)) if active[i]]
    if not after:
        return None, len(other)
    return after[0] - (before[-1] if before else probes[0]["t1"]), len(other)


def summarize_electric(rows, d0, d1):
    health = [r for r in rows if r["k"] == "health"]
    shapes = [r for r in rows if r["k"] == "shape"]
    seconds, others = gap(health, d0)
    failed = [r for r in shapes if r["s"] != 200]
    statuses = {}
    for r in failed:
        key = str(r["s"]) if r["s"] else "no answer"
        statuses[key] = statuses.get(key, 0) + 1
    seen = sorted(set(r.get("b") or str(r["s"] or "no answer") for r in health
                      if r["t0"] >= d0 and not (r["s"] == 200 and r.get("b") == "active")))
    return dict(
        gap=seconds,
        others=others,
        seen=",".join(seen) or "-",
        polls=len(health),
        shapes=len(shapes),
        shapes_failed=len(failed),
        statuses=", ".join("%s x%d" % kv for kv in sorted(statuses.items())) or "-",
        slowest=max((r["t1"] - r["t0"] for r in shapes), default=0.0),
    )


def top_tasks(output, limit=10):
    """(seconds, task) of profile_tasks' summary, slowest first."""
    summary = output.rsplit("=" * 20, 1)[-1]
    tasks = [(float(m.group(2)), m.group(1).strip()) for m in re.finditer(r"^(.+?) -{2,} (\d+\.\d+)s$", summary, re.M)]
    return sorted(tasks, reverse=True)[:limit]


def ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def fmt_gap(summary):
    return "never active again" if summary["gap"] is None else "%.2f" % summary["gap"]


# ---------------------------------------------------------------------- the run


def run(bench, args):
    print("setting up %s ..." % SERVER, flush=True)
    bench.start_server()
    mig = args.migration_seconds
    deploy = ["-e", "service=" + SERVICE]

    print("deploys:", flush=True)
    first_s, _out = bench.playbook("playbooks/site.yml", name="first deploy: site.yml", fleet=fleet(mig))
    bench.create_table()
    noop_runs = [bench.playbook("playbooks/deploy.yml", *deploy, name="no-op deploy.yml #%d" % (i + 1)) for i in range(args.noop_runs)]
    noop = [seconds for seconds, _out in noop_runs]
    noop_slowest = top_tasks(sorted(noop_runs)[len(noop_runs) // 2][1], 5)
    backend = ["-e", json.dumps(dict(components=["backend"]))]
    backend_s, backend_out = bench.playbook("playbooks/deploy.yml", *(deploy + backend), name="backend-only deploy.yml",
                                            fleet=fleet(mig, backend_env=dict(BENCH_DEPLOY="1")))
    slowest = top_tasks(backend_out)
    default_s, _out = bench.playbook("playbooks/deploy.yml", *deploy, name="frontend + backend deploy.yml",
                                     fleet=fleet(mig, backend_env=dict(BENCH_DEPLOY="1b"), frontend_env=dict(BENCH_DEPLOY="1b")))

    print("backend deploy under load (%d requests at %g/s):" % (args.requests, args.rate), flush=True)
    ours, (ours_s, _out) = bench.backend_get_load(lambda: bench.playbook(
        "playbooks/deploy.yml", *(deploy + backend), name="deploy.yml (blue/green)",
        fleet=fleet(mig, backend_env=dict(BENCH_DEPLOY="2"))))
    name = bench.baseline_compose()
    print("  %-44s" % "runbook: compose up --force-recreate + 6x5 s", end="", flush=True)
    base, base_run = bench.backend_get_load(lambda: bench.baseline_backend(name))
    print("%6.1f s%s" % (base_run["seconds"], "" if base_run["ok"] else "  (never healthy: %s)" % base_run["output"][-300:]),
          flush=True)

    print("Electric redeploy under a shape-request loop:", flush=True)
    electric = ["-e", json.dumps(dict(components=["electric"]))]
    handovers = []
    for n, read_only in enumerate(("true", "false"), start=1):
        env = dict(ELECTRIC_STANDIN_READ_ONLY_MODE=read_only, BENCH_DEPLOY=str(n))
        ho, (ho_s, _out) = bench.electric_load(lambda: bench.playbook(
            "playbooks/deploy.yml", *(deploy + electric), name="deploy.yml handover, read-only mode " + read_only,
            fleet=fleet(mig, electric_env=env)))
        print("  %-44s" % ("runbook: stop then start, read-only mode " + read_only), end="", flush=True)
        st, st_run = bench.electric_load(bench.baseline_electric)
        print("%6.1f s" % st_run["seconds"], flush=True)
        handovers.append((read_only, ho, ho_s, st, st_run["seconds"]))

    return dict(first_s=first_s, noop=noop, noop_slowest=noop_slowest, backend_s=backend_s, default_s=default_s, slowest=slowest,
                ours=ours, ours_s=ours_s,
                base=base, base_s=base_run["seconds"], base_ok=base_run["ok"], base_polls=base_run["polls"],
                handovers=handovers)


def report(args, r):
    noop_s = statistics.median(r["noop"])
    print()
    print("deploy wall times (one service: backend migrating %g s, frontend, Electric)" % args.migration_seconds)
    print_table(["deploy", "seconds", "goal"], [
        ["first deploy: site.yml (provision + 3 components)", "%.1f" % r["first_s"], ""],
        ["no-op deploy.yml -e service=%s (median of %d: %s)" % (SERVICE, len(r["noop"]), ", ".join("%.1f" % s for s in r["noop"])),
         "%.1f" % noop_s, "<= 10 s: %s" % ("met" if noop_s <= 10 else "missed")],
        ["backend-only deploy.yml (env change -> new container)", "%.1f" % r["backend_s"], ""],
        ["deploy.yml of the default components, frontend + backend (both changed)", "%.1f" % r["default_s"], ""],
    ])
    print()
    print("slowest tasks (ansible.posix.profile_tasks) of the backend-only deploy, and of the median no-op deploy")
    print_table(["seconds", "task"], [["%.2f" % s, t] for s, t in r["slowest"]]
                + [["", ""]] + [["%.2f" % s, "no-op: " + t] for s, t in r["noop_slowest"]])
    print()
    ours, base = r["ours"], r["base"]
    print("backend deploy under load through nginx (%g requests/s on kept-alive connections, from the server)" % args.rate)
    print_table(["way", "requests", "of which during the deploy", "failed", "failed %", "failure window s", "failures by status",
                 "deploy s", "p99 latency s", "resent on a closed idle connection"], [
        ["deploy.yml (blue/green)", ours["requests"], ours["in_deploy"], ours["failed"], "%.1f" % ours["failed_pct"], "%.1f" % ours["window"],
         ours["statuses"], "%.1f" % r["ours_s"], "%.2f" % ours["p99"], ours["resent"]],
        ["runbook: recreate + 6x5 s poll" + ("" if r["base_ok"] else " (never healthy)"), base["requests"], base["in_deploy"],
         base["failed"],
         "%.1f" % base["failed_pct"], "%.1f" % base["window"], base["statuses"], "%.1f" % r["base_s"], "%.2f" % base["p99"],
         base["resent"]],
    ])
    print("deploy wall time ours/baseline: %s (goal <= 0.5); failed requests: %d vs %d (goal 0)" % (
        ratio(r["ours_s"], r["base_s"]), ours["failed"], base["failed"]))
    print()
    print("Electric redeploy under 4 shape clients at 5 requests/s each and a health poll every 50 ms, through nginx")
    rows = []
    for read_only, ho, ho_s, st, st_s in r["handovers"]:
        for way, s, secs in (("deploy.yml handover", ho, ho_s), ("runbook: stop then start", st, st_s)):
            rows.append(["%s (read-only mode %s)" % (way, read_only), fmt_gap(s), s["others"], s["seen"], s["shapes"], s["shapes_failed"],
                         s["statuses"], "%.1f" % s["slowest"], "%.1f" % secs])
    print_table(["way", "gap without active Electric s", "other answers", "of kind", "shape requests", "failed",
                 "failures by status", "slowest shape s", "wall s"], rows)
    print("goal: gap <= 2 s for both stand-in behaviours")

    row = dict(
        migration_s=args.migration_seconds, rate=args.rate,
        first_site_s="%.1f" % r["first_s"], noop_deploy_s="%.1f" % noop_s, backend_deploy_s="%.1f" % r["backend_s"],
        load_requests_ours=ours["requests"], failed_ours=ours["failed"], window_ours_s="%.1f" % ours["window"],
        deploy_ours_s="%.1f" % r["ours_s"],
        load_requests_base=base["requests"], failed_base=base["failed"], window_base_s="%.1f" % base["window"],
        deploy_base_s="%.1f" % r["base_s"], deploy_ratio=ratio(r["ours_s"], r["base_s"]),
    )
    for read_only, ho, _ho_s, st, _st_s in r["handovers"]:
        mode = "ro" if read_only == "true" else "noro"
        row.update({"electric_gap_%s_s" % mode: fmt_gap(ho), "electric_failed_%s" % mode: "%d/%d" % (ho["shapes_failed"], ho["shapes"]),
                    "stopstart_gap_%s_s" % mode: fmt_gap(st), "stopstart_failed_%s" % mode: "%d/%d" % (st["shapes_failed"], st["shapes"])})
    row["slowest_task"] = "%.1fs %s" % r["slowest"][0] if r["slowest"] else "-"
    row["default_deploy_s"] = "%.1f" % r["default_s"]
    path = append_result("deploy", row)
    print("appended to %s" % path.relative_to(REPO))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50, help="requests per second through nginx during the backend deploys")
    parser.add_argument("--requests", type=int, default=3000, help="at least this many requests per loaded backend deploy")
    parser.add_argument("--migration-seconds", type=float, default=6, help="the stand-in backend's migration time at start")
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the server running afterwards")
    args = parser.parse_args()

    started = time.monotonic()
    remove_containers(SERVER)
    # Holds the SSH key, the inventory (with the registry password) and each playbook's output.
    tmp = tempfile.mkdtemp(prefix="sertantai-bench-deploy-")
    try:
        results = run(Bench(args, tmp), args)
    finally:
        if args.keep:
            print("kept: server %s, key, inventory and logs in %s" % (SERVER, tmp))
        else:
            remove_containers(SERVER)
            shutil.rmtree(tmp, ignore_errors=True)
    report(args, results)
    print("whole run: %.0f s" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
