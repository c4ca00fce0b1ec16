"""Benchmark: the data restore, against bare pg_restore of the same dump, and its schema gate through ansible-playbook.

Starts its own PostgreSQL 16 container (sertantai-test-restore-bench, removed afterwards) and measures, in one
invocation:

- throughput (rows/s) of pg_data_restore's work (module_utils ``restore_data``: read the dump's list, one
  TRUNCATE, ``pg_restore --data-only --disable-triggers``, exact ``count(*)`` of every table, COPY times from the
  server log) with one job and with parallel jobs, beside bare ``pg_restore --data-only --disable-triggers`` of
  the same dump into empty tables (the runbook's command) with one job and with the same parallel jobs. The
  dataset has several large tables (foreign keys to the first), so that parallel jobs have something to share.
- the schema gate on a 1,000-table schema through ``ansible-playbook``: one ``schema_gate`` task (source over a
  direct connection, as the laptop's database; target through docker exec), beside the playbook shape it
  replaces (two ``pg_schema_info`` results registered and passed to ``schema_parity``).

Prints a table and appends a dated row to bench/results/restore.tsv.

Usage: .venv/bin/python bench/restore.py [--tables 4] [--rows 250000] [--jobs 2] [--repeat 3]
                                         [--gate-tables 1000] [--skip-gate] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import _common  # noqa: F401  (sets sys.path for the collection and tests.support)
from _common import append_result, print_table
from schema_parity import schema_sql as gate_schema_sql

from ansible_collections.sertantai.deploy.plugins.module_utils import _docker, _pg, _restore
from tests.support.ansible import BIN, REPO, ansible_env
from tests.support.docker import docker, published_port, remove_containers, wait_until

CONTAINER = "sertantai-test-restore-bench"
IMAGE = os.environ.get("SERTANTAI_TEST_PG_IMAGE", "sertantai-test/postgres:latest")
PASSWORD = "bench-restore-only-on-loopback"
DUMP = "/tmp/bench-restore.dump"


def psql(database, sql, timeout=1800):
    return docker("exec", "-i", CONTAINER, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", database,
                  input=sql, timeout=timeout).stdout


def run_command(args, data=None, binary_data=False, **_kwargs):
    """subprocess_run_command with a timeout that fits a large restore."""
    proc = subprocess.run(args, input=data, capture_output=True, text=True, timeout=3600, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def start_server():
    remove_containers(CONTAINER)
    docker("run", "-d", "--name", CONTAINER, "-e", "POSTGRES_PASSWORD=" + PASSWORD, "-p", "127.0.0.1::5432",
           "--tmpfs", "/var/lib/postgresql/data", "--shm-size", "256m", IMAGE, "-c", "fsync=off",
           "-c", "max_locks_per_transaction=256")
    wait_until(lambda: docker("exec", CONTAINER, "pg_isready", "-U", "postgres", "-h", "127.0.0.1", check=False).returncode == 0,
               timeout=90, what="PostgreSQL in " + CONTAINER)
    return published_port(CONTAINER, 5432)


# ------------------------------------------------------------------ throughput


def throughput_schema(tables):
    """Table 1 and N-1 tables with a foreign key to it; a primary key and one more index each."""
    out = ["CREATE TABLE schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp(0));"]
    for i in range(1, tables + 1):
        ref = "" if i == 1 else " REFERENCES t1 (id)"
        out.append("CREATE TABLE t%d (id bigint PRIMARY KEY, ref bigint%s, name text NOT NULL, amount numeric(12,2), "
                   "created_at timestamptz NOT NULL DEFAULT now());" % (i, ref))
        out.append("CREATE INDEX t%d_name_idx ON t%d (name);" % (i, i))
    return "\n".join(out)


def throughput_data(tables, rows):
    out = ["INSERT INTO schema_migrations VALUES (1, now()), (2, now());"]
    for i in range(1, tables + 1):
        out.append("INSERT INTO t%d (id, ref, name, amount) SELECT g, %s, md5(g::text), g %% 10000 / 100.0 "
                   "FROM generate_series(1, %d) AS g;" % (i, "NULL" if i == 1 else "1 + g %% %d" % rows, rows))
    return "\n".join(out)


def empty_target(tables):
    psql("tp_target", "TRUNCATE %s RESTART IDENTITY;" % ", ".join("t%d" % i for i in range(1, tables + 1)))


def bare_restore(jobs):
    start = time.perf_counter()
    docker("exec", CONTAINER, "pg_restore", "--username=postgres", "--dbname=tp_target", "--data-only",
           "--disable-triggers", "--exit-on-error", "--jobs=%d" % jobs, DUMP, timeout=3600)
    return time.perf_counter() - start


def our_restore(jobs, expected):
    runner = _pg.DockerExecRunner(run_command, CONTAINER, database="tp_target")
    cli = _docker.DockerCli(run_command)
    start = time.perf_counter()
    result = _restore.restore_data(runner, cli, CONTAINER, "tp_target", DUMP, jobs=jobs, expected_row_counts=expected,
                                   cpus=os.cpu_count())
    return time.perf_counter() - start, result


def measure_throughput(args):
    psql("postgres", "CREATE DATABASE tp_source; CREATE DATABASE tp_target;")
    psql("tp_source", throughput_schema(args.tables) + throughput_data(args.tables, args.rows))
    psql("tp_target", throughput_schema(args.tables) + "INSERT INTO schema_migrations VALUES (1, now());")
    psql("tp_source", "VACUUM ANALYZE;")
    docker("exec", CONTAINER, "pg_dump", "--username=postgres", "--format=custom", "--data-only", "--dbname=tp_source",
           "--exclude-table-data=schema_migrations", "--file=" + DUMP, timeout=3600)
    expected = dict(("public.t%d" % i, args.rows) for i in range(1, args.tables + 1))
    total = args.rows * args.tables

    times = dict(bare_1=[], bare_n=[], ours_1=[], ours_n=[])
    jobs_used = None
    for _run in range(args.repeat):
        # interleaved, so that a busy moment of the machine does not fall on one way only
        empty_target(args.tables)
        times["bare_1"].append(bare_restore(1))
        seconds, _result = our_restore(1, expected)
        times["ours_1"].append(seconds)
        empty_target(args.tables)
        times["bare_n"].append(bare_restore(args.jobs))
        seconds, result = our_restore(args.jobs if args.jobs_fixed else 0, expected)
        jobs_used = result["jobs"]
        times["ours_n"].append(seconds)
    medians = dict((k, statistics.median(v)) for k, v in times.items())
    migrations = psql("tp_target", "SELECT count(*) FROM schema_migrations").strip()
    if migrations != "1":
        sys.exit("schema_migrations of the target changed (%s rows): that is a bug in restore_data" % migrations)
    return dict(medians=medians, total=total, jobs=jobs_used, summary=result["summary"])


# ------------------------------------------------------------------ the gate through ansible-playbook


GATE_PLAYBOOK = """
- name: The restore's gate, one task
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Stop here unless the target's schema and pg_restore fit the source
      sertantai.deploy.schema_gate:
        pg_container: %(container)s
        database: gate_target
        source: {host: 127.0.0.1, port: %(port)d, password: %(password)s, database: gate_source}
      register: gate
    - name: Show the result
      ansible.builtin.debug:
        msg: "gate_differences={{ gate.differences }} tables={{ gate.tables_compared }}"
"""

SNAPSHOTS_PLAYBOOK = """
- name: Two snapshots registered and compared (what the gate replaces)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Snapshot the source
      sertantai.deploy.pg_schema_info: {pg_host: 127.0.0.1, pg_port: %(port)d, pg_password: %(password)s, database: gate_source}
      register: source_schema
    - name: Snapshot the target
      sertantai.deploy.pg_schema_info: {pg_container: %(container)s, database: gate_target}
      register: target_schema
    - name: Compare them
      sertantai.deploy.schema_parity:
        source: "{{ source_schema }}"
        target: "{{ target_schema }}"
      register: parity
    - name: Show the result
      ansible.builtin.debug:
        msg: "gate_differences={{ parity.differences }} tables={{ parity.tables_compared }}"
"""

EMPTY_PLAYBOOK = """
- name: Ansible's start-up alone
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Show the result
      ansible.builtin.debug:
        msg: "gate_differences=0 tables=0"
"""


def run_playbook(text):
    with tempfile.NamedTemporaryFile("w", prefix="sertantai-bench-restore-", suffix=".yml") as handle:
        handle.write(text)
        handle.flush()
        start = time.perf_counter()
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", handle.name], capture_output=True,
                              text=True, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"), cwd=str(REPO), check=False)
        seconds = time.perf_counter() - start
    if proc.returncode != 0 or "gate_differences=0" not in proc.stdout:
        sys.exit("the ansible-playbook run failed (rc=%d):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return seconds


def measure_gate(args, port):
    psql("postgres", "CREATE DATABASE gate_source;")
    psql("gate_source", gate_schema_sql(args.gate_tables))
    psql("postgres", "CREATE DATABASE gate_target TEMPLATE gate_source;")
    values = dict(container=CONTAINER, port=port, password=PASSWORD)
    times = dict(empty=[], gate=[], snapshots=[])
    for _run in range(args.repeat):
        times["empty"].append(run_playbook(EMPTY_PLAYBOOK))
        times["gate"].append(run_playbook(GATE_PLAYBOOK % values))
        times["snapshots"].append(run_playbook(SNAPSHOTS_PLAYBOOK % values))
    return dict((k, statistics.median(v)) for k, v in times.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=4, help="large tables in the throughput dataset")
    parser.add_argument("--rows", type=int, default=250000, help="rows per table")
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs for bare pg_restore (ours: its own choice)")
    parser.add_argument("--jobs-fixed", action="store_true", help="give restore_data --jobs too instead of its auto choice")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gate-tables", type=int, default=1000)
    parser.add_argument("--skip-gate", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    try:
        port = start_server()
        tp = None if args.skip_throughput else measure_throughput(args)
        gate = None if args.skip_gate else measure_gate(args, port)
    finally:
        remove_containers(CONTAINER)

    # every key in every row (empty when a part was skipped): the TSV header is the first row's keys
    row = dict.fromkeys(["load_1m", "cpus", "repeat", "tables", "rows", "jobs", "bare_1_rows_s", "bare_n_rows_s",
                         "ours_1_rows_s", "ours_n_rows_s", "ours_vs_bare_1", "ours_vs_bare_n", "ours_parallel_vs_single",
                         "gate_tables", "startup_s", "gate_s", "snapshots_parity_s"], "")
    row.update(load_1m="%.2f" % load, cpus=os.cpu_count(), repeat=args.repeat)
    print()
    if tp:
        m, total = tp["medians"], tp["total"]
        rate = dict((k, total / v) for k, v in m.items())
        print("restore of %d tables x %d rows (%d rows), median of %d runs; load average %.2f on %d CPUs"
              % (args.tables, args.rows, total, args.repeat, load, os.cpu_count()))
        print_table(["way", "jobs", "seconds", "rows/s", "vs bare, same jobs", "vs one job"], [
            ["bare pg_restore --data-only --disable-triggers", 1, "%.2f" % m["bare_1"], "%.0f" % rate["bare_1"], "1.00x", "1.00x"],
            ["bare pg_restore --data-only --disable-triggers", args.jobs, "%.2f" % m["bare_n"], "%.0f" % rate["bare_n"], "1.00x",
             "%.2fx" % (m["bare_1"] / m["bare_n"])],
            ["pg_data_restore (list, TRUNCATE, restore, count)", 1, "%.2f" % m["ours_1"], "%.0f" % rate["ours_1"],
             "%.2fx" % (m["bare_1"] / m["ours_1"]), "1.00x"],
            ["pg_data_restore (list, TRUNCATE, restore, count)", tp["jobs"], "%.2f" % m["ours_n"], "%.0f" % rate["ours_n"],
             "%.2fx" % (m["bare_n"] / m["ours_n"]), "%.2fx" % (m["ours_1"] / m["ours_n"])],
        ])
        print("last summary of pg_data_restore:")
        for line in tp["summary"]:
            print("  " + line)
        print()
        row.update(tables=args.tables, rows=total, jobs=tp["jobs"],
                   bare_1_rows_s="%.0f" % rate["bare_1"], bare_n_rows_s="%.0f" % rate["bare_n"],
                   ours_1_rows_s="%.0f" % rate["ours_1"], ours_n_rows_s="%.0f" % rate["ours_n"],
                   ours_vs_bare_1="%.2f" % (m["bare_1"] / m["ours_1"]), ours_vs_bare_n="%.2f" % (m["bare_n"] / m["ours_n"]),
                   ours_parallel_vs_single="%.2f" % (m["ours_1"] / m["ours_n"]))
    if gate:
        print("schema gate on %d tables through ansible-playbook (connection local), median of %d runs"
              % (args.gate_tables, args.repeat))
        print_table(["playbook", "seconds", "minus Ansible start-up"], [
            ["one debug task (Ansible start-up)", "%.2f" % gate["empty"], ""],
            ["schema_gate, one task (source direct, target docker exec)", "%.2f" % gate["gate"],
             "%.2f" % (gate["gate"] - gate["empty"])],
            ["pg_schema_info x2 registered + schema_parity", "%.2f" % gate["snapshots"],
             "%.2f" % (gate["snapshots"] - gate["empty"])],
        ])
        print("speed-up of the gate: %.1fx" % (gate["snapshots"] / gate["gate"]))
        row.update(gate_tables=args.gate_tables, startup_s="%.2f" % gate["empty"], gate_s="%.2f" % gate["gate"],
                   snapshots_parity_s="%.2f" % gate["snapshots"])
    row["load_1m_end"] = "%.2f" % os.getloadavg()[0]
    path = append_result("restore", row)
    print("load average %.2f at the start, %s at the end; appended to %s"
          % (load, row["load_1m_end"], path.relative_to(_common.REPO)))


if __name__ == "__main__":
    main()
