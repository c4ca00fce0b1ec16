"""How long after a container turns healthy does the health gate let the deploy go on?

container_health (through ansible, as a playbook runs it) against the runbook's deploy script: a
sleep-poll loop of `docker inspect --format {{.State.Health.Status}}` every 5 s. Each trial starts a
backend test container that migrates for a few seconds (the same seeded sequence for both methods),
starts the waiter at once, and measures from the end of the first passing health check (Docker's own
timestamp in State.Health.Log) to the moment the waiter returned. The module's figure includes ansible
ending its process; "its polling loop alone" is the same loop called in-process.

Usage: .venv/bin/python bench/container_health_latency.py [--trials 5]
Needs the backend test image (scripts/build-images backend). Appends rows to
bench/results/container_health_latency.tsv.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import time

from _common import append_result, print_table  # first: it also puts the collection on the import path

from ansible_collections.sertantai.deploy.plugins.module_utils import _health
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli
from tests.support.ansible import run_module
from tests.support.docker import docker, remove_containers, subprocess_run_command

NAME = "sertantai-test-health-bench"
IMAGE = "sertantai-test/backend:latest"
BASELINE_SLEEP = 5


def wait_baseline(name, retries=60):
    """The runbook's loop: ask Docker, sleep 5 s, ask again."""
    for _attempt in range(retries):
        status = docker("inspect", "--format", "{{.State.Health.Status}}", name, check=False).stdout.strip()
        if status == "healthy":
            return True
        time.sleep(BASELINE_SLEEP)
    return False


def wait_module(name, interval):
    result = run_module("container_health", dict(containers=[name], timeout=120, interval=interval))
    return not result.get("failed")


def wait_direct(name, interval):
    """The module's own loop without ansible around it: what polling alone costs."""
    cli = DockerCli(subprocess_run_command)
    outcome = _health.wait_for_health(
        [name], lambda names: cli.inspect(*names), lambda *_: {}, time.monotonic, time.sleep, timeout=120, interval=interval)
    return outcome["ok"]


def docker_time(text):
    """Docker's RFC 3339 timestamp with nanoseconds -> epoch seconds."""
    head, _dot, frac = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
    return stamp + float("0." + (frac or "0")[:6])


def turned_healthy_at(name):
    """End of the first passing health check: when Docker's status turned healthy (Retries=1 success suffices)."""
    doc = json.loads(docker("inspect", name).stdout)[0]
    for entry in doc["State"]["Health"]["Log"]:
        if entry["ExitCode"] == 0:
            return docker_time(entry["End"])
    raise RuntimeError("%s has no passing health check in its (last 5) health log entries" % name)


def trial(waiter, migration_seconds):
    remove_containers(NAME)
    docker("run", "-d", "--name", NAME, "-e", "MIGRATION_SECONDS=%s" % migration_seconds, IMAGE)
    try:
        ok = waiter(NAME)
        returned = time.time()
        if not ok:
            raise RuntimeError("waiter did not see %s healthy" % NAME)
        return returned - turned_healthy_at(NAME)
    finally:
        remove_containers(NAME)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)

    # Spread evenly over one 5 s baseline period (plus a seeded jitter), so that no method gets a lucky phase.
    jitter = random.Random(args.seed)
    delays = [round(6 + BASELINE_SLEEP * (i + jitter.uniform(0.25, 0.75)) / args.trials, 1) for i in range(args.trials)]
    methods = [
        ("baseline: inspect + sleep %d s" % BASELINE_SLEEP, wait_baseline),
        ("container_health interval 1", lambda name: wait_module(name, 1.0)),
        ("container_health interval 0.5", lambda name: wait_module(name, 0.5)),
        ("its polling loop alone, interval 1", lambda name: wait_direct(name, 1.0)),
    ]
    measured = {}
    for label, waiter in methods:
        measured[label] = [trial(waiter, delay) for delay in delays]
        print("%s: %s" % (label, ", ".join("%.2f" % value for value in measured[label])), file=sys.stderr)

    base = statistics.median(measured[methods[0][0]])
    rows = []
    for label, _waiter in methods:
        values = measured[label]
        median = statistics.median(values)
        rows.append([label, len(values), "%.2f" % median, "%.2f" % max(values), "%.2f" % (base / median if median else float("inf"))])
        append_result("container_health_latency", dict(
            method=label, trials=len(values), migration_s=",".join(str(d) for d in delays),
            median_latency_s="%.2f" % median, max_latency_s="%.2f" % max(values),
            baseline_over_this="%.2f" % (base / median if median else float("inf"))))
    print()
    print("Latency from 'Docker says healthy' to 'the gate returned' (backend migrating %s s)" % ", ".join(str(d) for d in delays))
    print_table(["method", "trials", "median s", "max s", "baseline/this"], rows)


if __name__ == "__main__":
    main()
