"""playbooks/restore_data.yml end to end, over SSH, on a Hetzner-like server (scripts/local_server/create.yml).

The server runs what site.yml provisions for one service (shared_postgres 16, nginx, the backend and Electric
stand-ins). The source is "the developer's database on the laptop": a PostgreSQL 16 container on this machine's
Docker, published on 127.0.0.1 only. Both databases get their schema from the same SQL, as migrations would give
it; each case derives its own source database from that (a drifted copy, an enum label the target lacks, ...).

The tests run in the order written, each on the state the previous one left.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_IMAGE, PG15_IMAGE
from tests.support.docker import docker, published_port, remove_containers, wait_until

pytestmark = pytest.mark.minutes(6)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVER = "sertantai-test-restore-server"
SOURCE = "sertantai-test-restore-source"
PG15 = "sertantai-test-restore-pg15"
TARGET_DB = "sertantai_legal_prod"
DEV_DB = "sertantai_legal_dev"
BACKUPS = "/opt/sertantai/backups/legal"
TABLES = ["audit_log", "enforcement_notes", "schema_migrations", "uk_lrt", "uk_lrt_amendments", "uk_lrt_tags"]
KEEP = ["schema_migrations", "audit_log"]
IMAGES = [PG_IMAGE, "sertantai-test/nginx:latest", "sertantai-test/backend:latest", "sertantai-test/electric:latest"]

# The schema, as the backend's migrations create it on both sides. audit_log (no key, no default) is kept as the
# target's own (restore_keep_tables); reading its schema takes no lock on it, counting skips it, and pg_dump locks
# it: so a session that holds it blocks pg_dump alone (test_a_source_connection_dropped_during_the_dump...).
SCHEMA_SQL = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE law_status AS ENUM ('draft', 'in_force', 'repealed');
CREATE TABLE schema_migrations (version bigint PRIMARY KEY, inserted_at timestamp(0) without time zone);
CREATE TABLE uk_lrt (
    id bigserial PRIMARY KEY,
    family varchar(255),
    name text NOT NULL,
    year integer CHECK (year > 1800),
    status law_status NOT NULL DEFAULT 'in_force',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uk_lrt_family_idx ON uk_lrt (family);
CREATE TABLE uk_lrt_amendments (
    id bigserial PRIMARY KEY,
    lrt_id bigint NOT NULL REFERENCES uk_lrt (id) ON DELETE CASCADE,
    amended_by text,
    at date
);
CREATE TABLE uk_lrt_tags (lrt_id bigint NOT NULL REFERENCES uk_lrt (id), tag citext NOT NULL, PRIMARY KEY (lrt_id, tag));
CREATE TABLE enforcement_notes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lrt_id bigint REFERENCES uk_lrt (id),
    body text
);
CREATE TABLE audit_log (at timestamptz NOT NULL, entry text);
"""

# The developer's data: one table of 19,318 rows, the others with foreign keys to it.
DEV_DATA_SQL = """
INSERT INTO schema_migrations VALUES (20240101000000, now()), (20240201000000, now()), (20241224000000, now());
INSERT INTO uk_lrt (family, name, year, status)
  SELECT 'family ' || (g % 40), 'law ' || g, 1900 + g % 120, (ARRAY['draft', 'in_force', 'repealed'])[1 + g % 3]::law_status
  FROM generate_series(1, 19318) AS g;
INSERT INTO uk_lrt_amendments (lrt_id, amended_by, at)
  SELECT 1 + (g * 7) % 19318, 'SI ' || g, date '2000-01-01' + g % 9000 FROM generate_series(1, 25000) AS g;
INSERT INTO uk_lrt_tags SELECT id, tag FROM uk_lrt, unnest(ARRAY['Safety', 'food']) AS tag WHERE id % 4 = 0;
INSERT INTO enforcement_notes (lrt_id, body) SELECT 1 + g * 31, 'note ' || g FROM generate_series(1, 500) AS g;
INSERT INTO audit_log VALUES (now(), 'dev 1'), (now(), 'dev 2');
"""

# What production held before: its own migrations, a few old rows, its audit log.
TARGET_DATA_SQL = """
INSERT INTO schema_migrations VALUES (20240101000000, '2026-01-01'), (20240201000000, '2026-01-01'), (20240301000000, '2026-02-01');
INSERT INTO uk_lrt (family, name, year) SELECT 'old', 'old law ' || g, 1999 FROM generate_series(1, 5) AS g;
INSERT INTO uk_lrt_amendments (lrt_id, amended_by) VALUES (1, 'old');
INSERT INTO audit_log SELECT now(), 'prod ' || g FROM generate_series(1, 7) AS g;
"""


# ------------------------------------------------------------------ helpers


def ansible_env():
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_DEPRECATION_WARNINGS="0", PATH=str(BIN) + os.pathsep + env.get("PATH", ""),
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")  # task times in the logs under .state/
    env.pop("ANSIBLE_PYTHON_INTERPRETER", None)  # the server has its own python3; localhost uses this one
    return env


def server(*argv, check=True, input=None, timeout=300):
    return docker("exec", "-i", SERVER, *argv, check=check, input=input, timeout=timeout)


def target_psql(sql, container="shared_postgres", database=TARGET_DB):
    return server("docker", "exec", "-i", container, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres",
                  "-d", database, input=sql).stdout


def source_psql(sql, database=DEV_DB):
    return docker("exec", "-i", SOURCE, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", database,
                  input=sql).stdout


def counts(psql, **kwargs):
    sql = " UNION ALL ".join("SELECT '%s', count(*) FROM %s" % (t, t) for t in TABLES)
    return dict((line.split("|")[0], int(line.split("|")[1])) for line in psql(sql, **kwargs).split())


def fingerprint(psql, **kwargs):
    """Every row of every table (md5 of the sorted rows), and the sequences' values: the exact state."""
    sql = " UNION ALL ".join("SELECT '%s', coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM %s t"
                             % (t, t) for t in TABLES)
    sql += " UNION ALL SELECT sequencename, last_value::text FROM pg_sequences"
    # a restored backup recreates the sequences: the same values, in another catalog order
    return sorted(psql(sql, **kwargs).splitlines())


def app_containers():
    """name -> (id, state, health) of the service's containers on the server."""
    out = server("docker", "ps", "-a", "--filter", "name=sertantai-legal", "--format",
                 "{{.Names}}\t{{.ID}}\t{{.State}}\t{{.Status}}").stdout
    found = {}
    for line in out.splitlines():
        name, cid, state, status = line.split("\t")
        found[name] = (cid, state, "healthy" if "(healthy)" in status else status)
    return found


def running(containers):
    return sorted(name for name, (_cid, state, _health) in containers.items() if state == "running")


def backups():
    return sorted(server("sh", "-c", "ls %s 2>/dev/null || true" % BACKUPS).stdout.split())


class Stack:
    def __init__(self, workdir):
        self.workdir = workdir
        self.inventory = workdir / "inventory"
        self.source_password = secrets.token_hex(12)
        self.source_port = None
        # The laptop's copy of the dump goes here (restore_work_dir), not to the shared /tmp: what a run leaves
        # behind is then this run's alone, and a run killed earlier cannot make these checks fail.
        self.dumps = workdir / "dumps"
        self.dumps.mkdir(parents=True, exist_ok=True)
        self.runs = 0
        self.pg15_load = None

    def play(self, playbook, extra=None, check=False, popen=False, inventory=True):
        """ansible-playbook over SSH; extra vars go through a file (the source password is never on a command line)."""
        self.runs += 1
        vars_file = self.workdir / ("vars-%d.json" % self.runs)
        vars_file.write_text(json.dumps(extra or {}))
        argv = [str(BIN / "ansible-playbook"), str(REPO / playbook), "-e", "@" + str(vars_file)]
        if inventory:
            argv.extend(["-i", str(self.inventory)])
        if check:
            argv.append("--check")
        log = REPO / ".state" / ("restore-e2e-%02d-%s.log" % (self.runs, Path(playbook).stem))
        if popen:
            handle = open(log, "w", encoding="utf-8")
            return subprocess.Popen(argv, cwd=str(REPO), env=ansible_env(), stdout=handle, stderr=subprocess.STDOUT,
                                    text=True), log, handle
        proc = subprocess.run(argv, cwd=str(REPO), env=ansible_env(), capture_output=True, text=True, timeout=900,
                              check=False)
        log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
        proc.output = proc.stdout + proc.stderr
        proc.log = log
        return proc

    def restore(self, database=DEV_DB, check=False, popen=False, **extra):
        source = dict(host="127.0.0.1", port=self.source_port, password=self.source_password, database=database)
        values = dict(service="legal", restore_source=source, restore_keep_tables=KEEP, restore_work_dir=str(self.dumps))
        values.update(extra)
        return self.play("playbooks/restore_data.yml", values, check=check, popen=popen)


def write_inventory(stack, ssh_port, key):
    stack.inventory.mkdir(parents=True, exist_ok=True)
    (stack.inventory / "hosts.yml").write_text(json.dumps({"all": {"children": {"sertantai": {"hosts": {SERVER: {
        "ansible_host": "127.0.0.1", "ansible_port": ssh_port, "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR",
    }}}}}}))
    group_vars = stack.inventory / "group_vars"
    group_vars.mkdir(exist_ok=True)
    (group_vars / "sertantai.yml").write_text(json.dumps(dict(
        postgres_image=PG_IMAGE, postgres_image_pull="never",
        nginx_image="sertantai-test/nginx:latest", nginx_image_pull="never", nginx_http2=False,
        sertantai_issue_certificates=False, app_service_pull="never", app_service_health_timeout=60,
        sertantai_services=[dict(
            name="legal", domain="legal.sertantai.test", database=TARGET_DB, extensions=["citext"],
            backend=dict(image="sertantai-test/backend", tag="latest", port=4000, env=dict(MIGRATION_SECONDS="1")),
            electric=dict(enabled=True, stream_id="legal", image="sertantai-test/electric", tag="latest"),
        )],
    )))


def cleanup():
    remove_containers(SERVER, SOURCE)


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory):
    for image in IMAGES + [PG15_IMAGE, "sertantai-test/server:latest"]:
        if docker("image", "inspect", image, check=False).returncode != 0:
            pytest.fail("test image %s is missing: run scripts/build-images" % image)
    cleanup()
    workdir = tmp_path_factory.mktemp("restore")
    stack = Stack(workdir)
    key = workdir / "id_ed25519"
    try:
        create = stack.play("scripts/local_server/create.yml", dict(
            local_servers=[dict(name=SERVER, storage="tmpfs", preload_images=IMAGES)], local_server_key=str(key)),
            inventory=False)
        assert create.returncode == 0, create.output[-4000:]
        write_inventory(stack, published_port(SERVER, 22), key)
        # Only the version case needs PostgreSQL 15 on the server: it loads while the first cases run.
        stack.pg15_load = subprocess.Popen(["sh", "-c", "docker save %s | docker exec -i %s docker load -q" % (PG15_IMAGE, SERVER)],
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        # The laptop's developer database, reachable on this machine's loopback only.
        docker("run", "-d", "--name", SOURCE, "-e", "POSTGRES_PASSWORD=" + stack.source_password,
               "-p", "127.0.0.1::5432", "--tmpfs", "/var/lib/postgresql/data", PG_IMAGE)
        wait_until(lambda: docker("exec", SOURCE, "pg_isready", "-U", "postgres", "-h", "127.0.0.1",
                                  check=False).returncode == 0, timeout=90, what="the source PostgreSQL")
        stack.source_port = published_port(SOURCE, 5432)
        source_psql("CREATE DATABASE %s" % DEV_DB, database="postgres")
        source_psql(SCHEMA_SQL + DEV_DATA_SQL)

        site = stack.play("playbooks/site.yml")
        assert site.returncode == 0, site.output[-6000:]
        target_psql(SCHEMA_SQL + TARGET_DATA_SQL)
        yield stack
    finally:
        if stack.pg15_load is not None and stack.pg15_load.poll() is None:
            stack.pg15_load.kill()
        cleanup()


def assert_unchanged(before_counts, before_containers, before_backups):
    assert counts(target_psql) == before_counts
    assert backups() == before_backups
    after = app_containers()
    assert running(after) == running(before_containers)
    assert {n: c[0] for n, c in after.items()} == {n: c[0] for n, c in before_containers.items()}


# ------------------------------------------------------------------ the cases


@pytest.mark.docker
def test_check_mode_changes_nothing_and_says_what_it_would_do(stack):
    before, containers, files = counts(target_psql), app_containers(), backups()
    result = stack.restore(check=True)
    assert result.returncode == 0, result.output[-6000:]
    assert "Check mode: nothing was dumped, backed up or changed" in result.output
    assert "TRUNCATE TABLE" in result.output and "pg_restore" in result.output
    assert "source and target schemas are identical" in result.output
    # the room it would need, the dump counted at the source's size (check mode takes none)
    assert "- find room on the server (each write reckoned from the databases' sizes, the dump at the source's):" in result.output
    assert re.search(r"^ +/\S*: \d+% used, .* to write there \(the dump .*\): \d+% after$", result.output, re.M), result.output[-3000:]
    assert stack.source_password not in result.output
    assert_unchanged(before, containers, files)


@pytest.mark.docker
def test_a_server_without_room_for_the_restore_stops_it_before_anything_is_written(stack):
    before, containers, files = counts(target_psql), app_containers(), backups()
    for check in (True, False):
        result = stack.restore(check=check, restore_disk_max_percent=0)
        assert result.returncode != 0
        folded = " ".join(result.output.split())
        assert "Stop here unless the server has room for the dump, the backup and the restored data" in folded
        # every write of the restore, on the filesystems of the server it lands on, and what to do
        assert "No room: " in folded and "more than max_percent=0 allows. Nothing was written." in folded, folded[-4000:]
        failure = folded[folded.index("No room: "):folded.index("more than max_percent=0 allows")]
        assert re.match(r"No room: /\S*: \d+% used, [0-9.]+ [kMGT]B free; [0-9.]+ [kMGT]?B to write there \(", failure), failure
        assert sorted(re.findall(r"[(,] ?(the dump|its copy in shared_postgres|the backup of \w+|the data|its WAL) [0-9.]+ [a-zA-Z]+",
                                 failure)) == sorted(["the dump", "its copy in shared_postgres", "the backup of " + TARGET_DB,
                                                      "the data", "its WAL"]), failure
        sizes = dict(re.findall(r"[(,] ?(the dump|its copy in shared_postgres|its WAL) ([0-9.]+ [a-zA-Z]+)", failure))
        assert sizes["the dump"] == sizes["its copy in shared_postgres"], sizes
        if check:  # the dump is counted at the source's size, and so is its WAL (far below the WAL the server keeps)
            assert sizes["its WAL"] == sizes["the dump"], sizes
        assert "or raise restore_disk_max_percent (0)" in folded
        assert "Back up the target database first" not in folded and "Send the dump to the server" not in folded
        assert stack.source_password not in result.output
        assert_unchanged(before, containers, files)
        # nothing of the dump is left behind, on the server (whose restore directory check mode does not make) or here
        assert server("sh", "-c", "ls /opt/sertantai/restore/ 2>/dev/null || true").stdout.strip() == ""
        assert not list(stack.dumps.iterdir())


@pytest.mark.docker
def test_restore_gives_the_source_rows_keeps_the_migrations_and_resets_electric(stack):
    source = counts(source_psql)
    migrations = target_psql("SELECT version FROM schema_migrations ORDER BY 1")
    audit = target_psql("SELECT entry FROM audit_log ORDER BY 1")
    live_before = running(app_containers())

    result = stack.restore()
    assert result.returncode == 0, result.output[-8000:]
    after = counts(target_psql)
    for table in ("uk_lrt", "uk_lrt_amendments", "uk_lrt_tags", "enforcement_notes"):
        assert after[table] == source[table], table
    assert after["uk_lrt"] == 19318
    # the target's own: untouched
    assert target_psql("SELECT version FROM schema_migrations ORDER BY 1") == migrations
    assert target_psql("SELECT entry FROM audit_log ORDER BY 1") == audit
    # rows equal, not only counts; sequences carry the source's values
    data = "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM uk_lrt t"
    assert target_psql(data) == source_psql(data)
    assert target_psql("SELECT last_value FROM uk_lrt_id_seq") == source_psql("SELECT last_value FROM uk_lrt_id_seq")

    # a backup of the state before, and the per-table summary
    assert len(backups()) == 1 and re.match(r"^%s-\d{8}T\d{6}Z\.dump$" % TARGET_DB, backups()[0])
    assert "docker exec -i shared_postgres pg_restore" in result.output
    assert re.search(r"uk_lrt\s+19318\s+(\d+\.\d{3})", result.output), result.output[-3000:]
    assert re.search(r"schema_migrations\s+3\s+kept", result.output)
    start = result.output.index("room, when the restore began (each write reckoned from the databases' sizes):")
    block = result.output[start:result.output.index("backup: ", start)]
    lines = [line.strip() for line in block.splitlines()[1:] if line.strip()]
    assert lines and all(re.match(r"^/\S*: \d+% used, .* to write there \(.*\): \d+% after$", line) for line in lines), block
    sizes = dict(re.findall(r"[(,] ?(the dump|its copy in shared_postgres) ([0-9.]+ [a-zA-Z]+)", block))
    dump_size = re.search(r"^\s*dump: (\d+) bytes", result.output, re.M)
    assert dump_size and sizes["the dump"] == sizes["its copy in shared_postgres"]  # the dump's size, as written
    assert sizes["the dump"].split()[0] in (dump_size.group(1), "%.1f" % (int(dump_size.group(1)) / 1024.0),
                                            "%.1f" % (int(dump_size.group(1)) / 1024.0 ** 2)), (sizes, dump_size.group(0))
    assert stack.source_password not in result.output

    # services healthy on new containers, Electric active on a fresh slot
    containers = app_containers()
    live = running(containers)
    assert len(live) == 2 and live != live_before, containers
    assert all(containers[name][2] == "healthy" for name in live), containers
    electric = [name for name in live if "electric" in name][0]
    health = server("docker", "exec", electric, "curl", "-s", "localhost:3000/v1/health").stdout
    assert '"status":"active"' in health
    assert target_psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'electric_slot_legal'",
                       database="postgres") == "t\n"
    # nothing of the dump is left behind
    assert server("sh", "-c", "ls /opt/sertantai/restore/").stdout.strip() == ""
    assert not list(stack.dumps.iterdir())


@pytest.mark.docker
def test_schema_drift_stops_the_play_with_a_report_and_changes_nothing(stack):
    # a legacy import on the laptop: an extra column, a type and a nullability that production does not have
    source_psql("CREATE DATABASE legal_legacy TEMPLATE %s" % DEV_DB, database="postgres")
    source_psql("""
        ALTER TABLE uk_lrt ADD COLUMN airtable_id text;
        ALTER TABLE uk_lrt_amendments ALTER COLUMN amended_by TYPE varchar(100);
        UPDATE enforcement_notes SET body = '' WHERE body IS NULL;
        ALTER TABLE enforcement_notes ALTER COLUMN body SET NOT NULL;
    """, database="legal_legacy")
    before, containers, files = counts(target_psql), app_containers(), backups()

    result = stack.restore(database="legal_legacy")
    assert result.returncode != 0
    assert "source and target schemas differ: 3 differences" in result.output
    assert "uk_lrt.airtable_id: column missing in target (text NULL in source)" in result.output
    assert "uk_lrt_amendments.amended_by: type character varying(100) in source, text in target" in result.output
    assert "enforcement_notes.body: NOT NULL in source, NULL allowed in target" in result.output
    assert "Stop here unless the target's schema and pg_restore fit the source" in result.output
    assert_unchanged(before, containers, files)


@pytest.mark.docker
def test_a_source_newer_than_the_targets_pg_restore_is_refused_before_any_change(stack):
    out, _err = stack.pg15_load.communicate(timeout=600)
    assert stack.pg15_load.returncode == 0, out
    server("docker", "rm", "-f", PG15, check=False)
    server("docker", "run", "-d", "--name", PG15, "-e", "POSTGRES_PASSWORD=" + secrets.token_hex(8), PG15_IMAGE)
    wait_until(lambda: server("docker", "exec", PG15, "pg_isready", "-U", "postgres", "-h", "127.0.0.1",
                              check=False).returncode == 0, timeout=90, what="PostgreSQL 15 on the server")
    target_psql("CREATE DATABASE %s" % TARGET_DB, container=PG15, database="postgres")
    target_psql(SCHEMA_SQL + TARGET_DATA_SQL, container=PG15)
    before15 = counts(target_psql, container=PG15)
    before, containers, files = counts(target_psql), app_containers(), backups()
    try:
        result = stack.restore(postgres_container_name=PG15)
        assert result.returncode != 0
        assert re.search(r"the source server runs PostgreSQL 16\.\d+ and the target's pg_restore is 15\.\d+", result.output)
        assert "Nothing was changed" in result.output and "upgrade the target's PostgreSQL to 16" in result.output
        assert counts(target_psql, container=PG15) == before15
        assert_unchanged(before, containers, files)
    finally:
        server("docker", "rm", "-f", PG15, check=False)


@pytest.mark.docker
def test_a_source_connection_dropped_during_the_dump_changes_nothing(stack):
    before, containers, files = counts(target_psql), app_containers(), backups()
    # A session on the source holds audit_log (kept: not counted, but pg_dump locks every table it dumps) ...
    holder = subprocess.Popen(["docker", "exec", "-i", SOURCE, "psql", "-XAtq", "-U", "postgres", "-d", DEV_DB],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    holder.stdin.write("BEGIN; LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
    holder.stdin.flush()
    wait_until(lambda: source_psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                   "WHERE c.relname = 'audit_log' AND l.granted AND l.mode = 'AccessExclusiveLock'").strip() == "1",
               timeout=30, what="the lock on audit_log")
    proc, log, handle = stack.restore(popen=True)
    try:
        # ... so pg_dump waits for it; then its connection drops.
        waiting = "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'"
        pid = wait_until(lambda: source_psql(waiting).strip(), timeout=240, what="pg_dump waiting on the source")
        source_psql("SELECT pg_terminate_backend(%s)" % pid)
        proc.wait(timeout=300)
    finally:
        handle.close()
        holder.stdin.write("ROLLBACK;\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    output = log.read_text(encoding="utf-8")
    assert proc.returncode != 0
    assert "no dump of '%s' was made" % DEV_DB in output
    assert "terminating connection due to administrator command" in output
    assert_unchanged(before, containers, files)
    assert not list(stack.dumps.iterdir())


@pytest.mark.docker
def test_a_restore_that_fails_midway_is_undone_by_the_printed_command(stack):
    # The laptop's enum has a label production's migrations never added: the gate cannot see enum labels, the
    # dump is fine, and pg_restore fails on uk_lrt after the tables were emptied.
    source_psql("CREATE DATABASE legal_enum TEMPLATE %s" % DEV_DB, database="postgres")
    source_psql("ALTER TYPE law_status ADD VALUE 'revoked'", database="legal_enum")
    source_psql("UPDATE uk_lrt SET status = 'revoked' WHERE id % 1000 = 0", database="legal_enum")
    before_state = fingerprint(target_psql)
    # an old backup beyond restore_keep_backups, and a file that is no backup
    server("sh", "-c", "touch %s/notes.txt %s/%s-20200101T000000Z.dump" % (BACKUPS, BACKUPS, TARGET_DB))
    files = backups()

    result = stack.restore(database="legal_enum", restore_keep_backups=2)
    assert result.returncode != 0
    assert 'invalid input value for enum public.law_status: "revoked"' in result.output
    assert "were emptied and are partly restored" in result.output
    new = sorted(set(backups()) - set(files))
    assert len(new) == 1
    # rotation: the newest 2 backups of the database stay, the oldest goes, nothing else is touched
    dumps = [f for f in backups() if f.endswith(".dump")]
    assert len(dumps) == 2 and new[0] in dumps and "%s-20200101T000000Z.dump" % TARGET_DB not in dumps
    assert "notes.txt" in backups()
    match = re.search(r"^\s+(docker exec -i shared_postgres pg_restore .*< \S+)$", result.output, re.MULTILINE)
    assert match, result.output[-4000:]
    command = match.group(1)
    assert new[0] in command
    assert fingerprint(target_psql) != before_state  # the failure did change the target
    assert "sertantai-legal" not in " ".join(running(app_containers()))  # backend and Electric stay stopped

    # The one printed command brings the exact previous state back, migrations and sequences included.
    server("sh", "-c", command, timeout=300)
    assert fingerprint(target_psql) == before_state

    # And the printed way to start the services works.
    start = re.search(r"Then start the services.*: (ansible-playbook playbooks/deploy\.yml .*)$", result.output, re.MULTILINE)
    assert start, result.output[-3000:]
    assert "electric_clear_cache=true" in start.group(1)
    deploy = stack.play("playbooks/deploy.yml", dict(service="legal", components=["backend", "electric"], electric_clear_cache=True))
    assert deploy.returncode == 0, deploy.output[-6000:]
    containers = app_containers()
    assert len(running(containers)) == 2 and all(containers[n][2] == "healthy" for n in running(containers))
    assert fingerprint(target_psql) == before_state
