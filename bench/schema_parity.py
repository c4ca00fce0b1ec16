"""Benchmark: schema snapshot + parity on a 1,000-table schema, against the runbook's way.

The runbook (pitfall 6) compares schemas by counting columns per table, one
``docker exec shared_postgres psql -c "SELECT count(*) FROM information_schema.columns WHERE table_name = ..."``
per table and database. This benchmark starts its own PostgreSQL container (sertantai-test-bench-schema,
removed afterwards), builds a source database of N tables (10 columns each, a primary key, an index,
some check and foreign key constraints) and a target copy with a few injected differences, then times:

- baseline: the runbook's per-table column counts on both databases (a sample of tables, extrapolated);
- pg_schema_info's snapshot through docker exec psql and through a direct connection (module_utils
  called directly, both databases) plus schema_parity's comparison;
- one ``ansible-playbook`` run of the same workflow as a restore play has it: both snapshots registered,
  then schema_parity (Ansible start-up, templating and result handling included).

It also reports how many of the injected differences each way finds. Prints a table, appends a dated row
to bench/results/schema_parity.tsv.

Usage: .venv/bin/python bench/schema_parity.py [--tables 1000] [--sample 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile

import _common  # noqa: F401  (sets sys.path for the collection and tests.support)
from _common import append_result, print_table, timed

from ansible_collections.sertantai.deploy.plugins.module_utils import _pg, _schema
from tests.support.ansible import BIN, REPO, ansible_env
from tests.support.docker import docker, published_port, remove_containers, subprocess_run_command, wait_until

CONTAINER = "sertantai-test-bench-schema"
IMAGE = os.environ.get("SERTANTAI_TEST_PG_IMAGE", "sertantai-test/postgres:latest")
PASSWORD = "bench-schema-only-on-loopback"
SOURCE, TARGET = "bench_source", "bench_target"


PLAYBOOK = """
- name: Compare the schemas of two databases, as a restore play does first
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Snapshot the source
      sertantai.deploy.pg_schema_info: {pg_container: %(container)s, database: %(source)s}
      register: source_schema
    - name: Snapshot the target
      sertantai.deploy.pg_schema_info: {pg_container: %(container)s, database: %(target)s}
      register: target_schema
    - name: Compare them
      sertantai.deploy.schema_parity:
        source: "{{ source_schema }}"
        target: "{{ target_schema }}"
        fail_on_difference: false
      register: parity
    - name: Show the count
      ansible.builtin.debug:
        msg: "schema_differences={{ parity.differences }}"
"""


def run_playbook(text):
    with tempfile.NamedTemporaryFile("w", prefix="sertantai-bench-schema-", suffix=".yml") as handle:
        handle.write(text)
        handle.flush()
        return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", handle.name], capture_output=True, text=True,
                              env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"), cwd=str(REPO), check=False)


def table_name(i):
    return "t%04d" % i


def schema_sql(tables):
    """N tables of 10 columns; an index on each, a check on every 10th, a foreign key on every 5th."""
    out = ["BEGIN;"]
    for i in range(1, tables + 1):
        name = table_name(i)
        out.append(
            "CREATE TABLE %s (id bigserial PRIMARY KEY, code varchar(255) NOT NULL, title text, amount numeric(12,2), "
            "qty integer DEFAULT 0, active boolean NOT NULL DEFAULT true, created_at timestamp(0) without time zone "
            "DEFAULT now(), ref uuid, payload jsonb, parent_id bigint%s%s);" % (
                name,
                ", CHECK (qty >= 0)" if i % 10 == 0 else "",
                ", FOREIGN KEY (parent_id) REFERENCES %s (id)" % table_name(i - 1) if i % 5 == 0 and i > 1 else ""))
        out.append("CREATE INDEX %s_code_idx ON %s (code);" % (name, name))
    out.append("COMMIT;")
    return "\n".join(out)


def drift_sql(tables):
    """Injected differences; the runbook's column count sees only those that change the count."""
    picks = random.Random(6).sample(range(1, tables + 1), 5)
    a, b, c, d, e = (table_name(i) for i in picks)
    sql = ";\n".join([
        "ALTER TABLE %s ALTER COLUMN code TYPE text" % a,          # type varchar(255) -> text (count unchanged)
        "ALTER TABLE %s ALTER COLUMN title SET NOT NULL" % b,      # nullability (count unchanged)
        "ALTER TABLE %s ALTER COLUMN qty DROP DEFAULT" % c,        # default (count unchanged)
        "ALTER TABLE %s DROP COLUMN payload" % d,                  # missing column (count changes)
        "ALTER TABLE %s ADD COLUMN legacy_flag boolean" % e,       # extra column (count changes)
    ]) + ";"
    return sql, [a, b, c, d, e]


def psql(database, sql):
    return docker("exec", "-i", CONTAINER, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", database,
                  input=sql, timeout=900).stdout


def runbook_column_count(database, table):
    """One call of the runbook's check, as an operator types it."""
    out = subprocess.run(
        ["docker", "exec", CONTAINER, "psql", "-U", "postgres", "-d", database, "-Atc",
         "SELECT count(*) FROM information_schema.columns WHERE table_name = '%s';" % table],
        capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def start_server():
    remove_containers(CONTAINER)
    docker("run", "-d", "--name", CONTAINER, "-e", "POSTGRES_PASSWORD=" + PASSWORD, "-p", "127.0.0.1::5432",
           "--tmpfs", "/var/lib/postgresql/data", IMAGE, "-c", "fsync=off")
    wait_until(lambda: docker("exec", CONTAINER, "pg_isready", "-U", "postgres", "-h", "127.0.0.1", check=False).returncode == 0,
               timeout=90, what="PostgreSQL in " + CONTAINER)
    return published_port(CONTAINER, 5432)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=100, help="tables per database timed for the baseline (0 = all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measured step (median)")
    args = parser.parse_args()
    sample = args.tables if args.sample <= 0 else min(args.sample, args.tables)

    try:
        port = start_server()
        print("building %d tables in %s (and a drifted copy %s) ..." % (args.tables, SOURCE, TARGET), flush=True)
        psql("postgres", "CREATE DATABASE %s;" % SOURCE)
        psql(SOURCE, schema_sql(args.tables))
        psql("postgres", "CREATE DATABASE %s TEMPLATE %s;" % (TARGET, SOURCE))
        sql, drifted = drift_sql(args.tables)
        psql(TARGET, sql)

        def by_exec():
            return _pg.DockerExecRunner(subprocess_run_command, CONTAINER)

        def by_direct():
            return _pg.DirectRunner(host="127.0.0.1", port=port, password=PASSWORD)

        def snapshots(new_runner):
            # a fresh runner per run, as a module run has: connection set-up is part of the cost
            runner = new_runner()
            try:
                return (_schema.read_snapshot(runner, SOURCE, ["public"])[0],
                        _schema.read_snapshot(runner, TARGET, ["public"])[0])
            finally:
                runner.close()

        exec_s, (src, tgt) = timed(lambda: snapshots(by_exec), args.repeat)
        direct_s, (src_d, tgt_d) = timed(lambda: snapshots(by_direct), args.repeat)
        if (src, tgt) != (src_d, tgt_d):
            sys.exit("the two transports returned different snapshots: that is a bug in pg_schema_info")
        parity_s, parity = timed(lambda: _schema.compare_snapshots(src, tgt, ignore=["schema_migrations"]), args.repeat)
        columns = sum(len(t["columns"]) for t in src.values())
        count_s, (_snap, counts) = timed(lambda: _schema.read_snapshot(by_exec(), SOURCE, ["public"], count_rows=True), 1)

        play_s, play = timed(lambda: run_playbook(PLAYBOOK % dict(container=CONTAINER, source=SOURCE, target=TARGET)), 1)
        if play.returncode != 0 or "schema_differences=%d" % parity["differences"] not in play.stdout:
            sys.exit("the ansible-playbook run failed (rc=%d):\n%s\n%s" % (play.returncode, play.stdout[-3000:], play.stderr[-3000:]))

        # Baseline: the runbook's per-table column count on both databases, over a sample of tables.
        sampled = random.Random(1).sample(range(1, args.tables + 1), sample)
        sample_s, _counts = timed(lambda: [runbook_column_count(db, table_name(i)) for db in (SOURCE, TARGET) for i in sampled], 1)
        baseline_s = sample_s * args.tables / sample
        found_by_counts = sum(1 for t in drifted if runbook_column_count(SOURCE, t) != runbook_column_count(TARGET, t))
        found_by_parity = len(set("public." + t for t in drifted) & set(
            [m["table"] for m in parity["mismatched"]]
            + [c.rsplit(".", 1)[0] for c in parity["missing_in_target"]["columns"] + parity["extra_in_target"]["columns"]]))
    finally:
        remove_containers(CONTAINER)

    extrapolated = "" if sample == args.tables else " (%d of %d tables timed, extrapolated)" % (sample, args.tables)
    print()
    print("schema snapshot + parity of two databases of %d tables, %d columns each" % (args.tables, columns))
    print_table(["way", "seconds", "speed-up vs baseline", "differences found (of injected)"], [
        ["runbook: per-table column count, docker exec psql" + extrapolated, "%.2f" % baseline_s, "1.0x",
         "%d of %d" % (found_by_counts, len(drifted))],
        ["pg_schema_info docker exec (module_utils) + schema_parity", "%.2f" % (exec_s + parity_s),
         "%.1fx" % (baseline_s / (exec_s + parity_s)), "%d of %d" % (found_by_parity, len(drifted))],
        ["pg_schema_info direct (module_utils) + schema_parity", "%.2f" % (direct_s + parity_s),
         "%.1fx" % (baseline_s / (direct_s + parity_s)), "%d of %d" % (found_by_parity, len(drifted))],
        ["  of which schema_parity (compare only)", "%.3f" % parity_s, "", ""],
        ["ansible-playbook: pg_schema_info x2 + schema_parity (incl. Ansible start-up)", "%.2f" % play_s,
         "%.1fx" % (baseline_s / play_s), "%d of %d" % (found_by_parity, len(drifted))],
        ["pg_schema_info count_rows=true, one database (docker exec)", "%.2f" % count_s, "", "%d tables counted" % len(counts)],
    ])
    print("median of %d runs for module_utils steps; the playbook, count_rows and the baseline ran once." % args.repeat)
    path = append_result("schema_parity", dict(
        tables=args.tables, columns=columns, baseline_sample=sample, baseline_s="%.3f" % baseline_s,
        exec_snapshot_parity_s="%.3f" % (exec_s + parity_s), direct_snapshot_parity_s="%.3f" % (direct_s + parity_s),
        parity_s="%.4f" % parity_s, ansible_playbook_s="%.3f" % play_s, count_rows_s="%.3f" % count_s,
        speedup_exec="%.1f" % (baseline_s / (exec_s + parity_s)), speedup_direct="%.1f" % (baseline_s / (direct_s + parity_s)),
        found_parity="%d/%d" % (found_by_parity, len(drifted)), found_baseline="%d/%d" % (found_by_counts, len(drifted)),
    ))
    print("appended to %s" % path.relative_to(_common.REPO))


if __name__ == "__main__":
    main()
