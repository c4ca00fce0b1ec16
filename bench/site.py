"""Benchmark: wall time of a first and of a no-op ``site.yml`` against the local server, 3 services.

One run prepares a demo of its own (``scripts/demo prepare`` under the prefix sertantai-bench-site:
the registries, Pebble and its DNS, a new server with tmpfs storage, the stand-in apps built and
pushed), then runs ``ansible-playbook -i inventories/local playbooks/site.yml`` once on the new
server (first run: PostgreSQL, nginx, certificates from Pebble, the three services of
inventories/local with Electric) and --noop-runs times more (nothing to change). For each run it
reports the wall time, the PLAY RECAP's changed count, the time per role (ansible.posix.profile_roles)
and the number of SSH sessions Ansible opened (every ssh invocation, counted by a wrapper given as
ansible_ssh_executable; one per module run, file transfer or fetch over the shared control
connection). Goal for the no-op: 30 s or less.

Times are wall-clock seconds that grow with the machine's load: the load average is recorded.
Prints the tables and appends a dated row to bench/results/site.tsv. Everything the bench started
is removed at the end (``scripts/demo down``; tmpfs storage, no volume), unless --keep.

Usage: .venv/bin/python bench/site.py [--noop-runs 3] [--keep]
Needs the test images (scripts/build-images).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _common import REPO, append_result, print_table  # first: it also puts the collection on the import path

from tests.support.demo import demo_env, remove_demo_tags

PREFIX = "sertantai-bench-site"
NET = "10.213.93"
ROLE_LINE = re.compile(r"^(\S+) -+ (\d+\.\d+)s$")
RECAP_LINE = re.compile(r"^(\S+)\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")

SSH_WRAPPER = """#!/bin/sh
echo x >> "$SERTANTAI_BENCH_SSH_COUNT"
exec ssh "$@"
"""


def bench_env():
    env = demo_env(PREFIX, NET)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), PATH=str(REPO / ".venv" / "bin") + os.pathsep + env.get("PATH", ""))
    return env


def demo(env, *args):
    proc = subprocess.run([str(REPO / "scripts" / "demo"), *args], cwd=str(REPO), env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.exit("scripts/demo %s failed:\n%s" % (" ".join(args), (proc.stdout + proc.stderr)[-4000:]))


def site(env, tmp, name):
    """One site.yml run: (seconds, changed, {role: seconds}, ssh sessions, log path)."""
    counter = os.path.join(tmp, name + ".ssh")
    open(counter, "w", encoding="utf-8").close()
    run_env = dict(env, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_roles",
                   ANSIBLE_SSH_EXECUTABLE=os.path.join(tmp, "ssh"), SERTANTAI_BENCH_SSH_COUNT=counter)
    log = REPO / ".state" / "bench" / ("site-%s.log" % name)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/local",
                           "playbooks/site.yml"], cwd=str(REPO), env=run_env, capture_output=True, text=True,
                          check=False)
    seconds = time.monotonic() - start
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        sys.exit("site.yml (%s) failed, log: %s\n%s" % (name, log, proc.stdout[-3000:]))
    roles, changed = {}, None
    for line in proc.stdout.splitlines():
        role = ROLE_LINE.match(line.strip())
        if role and role.group(1) != "total":
            roles[role.group(1).replace("sertantai.deploy.", "")] = float(role.group(2))
        recap = RECAP_LINE.match(line.strip())
        if recap:
            changed = int(recap.group(3))
    with open(counter, encoding="utf-8") as handle:
        sessions = len(handle.readlines())
    return seconds, changed, roles, sessions, log


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the demo of the bench running")
    args = parser.parse_args()

    env = bench_env()
    tmp = tempfile.mkdtemp(prefix="bench-site-")
    wrapper = os.path.join(tmp, "ssh")
    with open(wrapper, "w", encoding="utf-8") as handle:
        handle.write(SSH_WRAPPER)
    os.chmod(wrapper, 0o755)
    load_start = os.getloadavg()[0]
    try:
        demo(env, "down")
        print("preparing the bench's demo (registries, Pebble, a new server, images built and pushed) ...", flush=True)
        demo(env, "prepare")
        print("site.yml, first run ...", flush=True)
        first = site(env, tmp, "first")
        noops = []
        for run in range(args.noop_runs):
            print("site.yml, no-op run %d ..." % (run + 1), flush=True)
            noops.append(site(env, tmp, "noop-%d" % (run + 1)))
    finally:
        if not args.keep:
            demo(env, "down")
            remove_demo_tags(env)
        shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()[0]

    median = sorted(noops, key=lambda r: r[0])[len(noops) // 2]
    print()
    print_table(["run", "wall s", "changed", "ssh sessions", "log"],
                [["first", "%.1f" % first[0], first[1], first[3], first[4].relative_to(REPO)]]
                + [["no-op %d" % (i + 1), "%.1f" % r[0], r[1], r[3], r[4].relative_to(REPO)] for i, r in enumerate(noops)])
    print()
    roles = sorted(set(first[2]) | set(median[2]), key=lambda r: -first[2].get(r, 0))
    print_table(["role", "first s", "no-op s (median run)"],
                [[role, "%.1f" % first[2].get(role, 0), "%.1f" % median[2].get(role, 0)] for role in roles])
    noop_median = statistics.median(r[0] for r in noops)
    print()
    print("no-op site.yml: median %.1f s (goal: <= 30 s); load average %.2f at the start, %.2f at the end, %d cores"
          % (noop_median, load_start, load_end, os.cpu_count()))
    path = append_result("site", {
        "load_1m": "%.2f" % load_start, "cpus": os.cpu_count(), "services": 3,
        "first_s": "%.1f" % first[0], "first_changed": first[1], "first_ssh": first[3],
        "noop_runs": len(noops), "noop_median_s": "%.1f" % noop_median, "noop_changed_max": max(r[1] for r in noops),
        "noop_ssh": median[3],
        "noop_roles": " ".join("%s=%.1f" % (role, s) for role, s in sorted(median[2].items(), key=lambda i: -i[1])),
        "load_1m_end": "%.2f" % load_end,
    })
    print("appended to %s" % path.relative_to(REPO))


if __name__ == "__main__":
    main()
