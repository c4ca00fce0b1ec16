"""The PostgreSQL test images: each is the major it claims, server and client tools alike, and keeps
the official image's entrypoint contract the roles rely on. postgres (16, production's major) and
postgres15 (the developer's database on another major in restore tests), each in its own container."""

from __future__ import annotations

import os
import re
import secrets

import psycopg
import pytest

from tests.conftest import PG15_IMAGE, PG_IMAGE
from tests.support.docker import PREFIX, docker, published_port, remove_containers, wait_until

pytestmark = pytest.mark.docker

AREA = PREFIX + "pgimage-" + str(os.getpid())
IMAGES = [pytest.param((PG_IMAGE, 16), id="postgres"), pytest.param((PG15_IMAGE, 15), id="postgres15")]
# The roles' container healthcheck, as they write it.
HEALTHCHECK = ("pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", "5432", "-q")


def psql(container, sql, user="postgres", database="postgres"):
    """SQL over the local socket (trusted), as modules run it with docker exec."""
    return docker("exec", "-i", container, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1",
                  "-U", user, "-d", database, input=sql).stdout


def wait_healthy(container):
    wait_until(lambda: docker("exec", container, *HEALTHCHECK, check=False).returncode == 0,
               timeout=60, what="the healthcheck of %s to pass" % container)


@pytest.fixture(scope="module", params=IMAGES)
def server(request, docker_engine):
    """(container, major) started the way the tests' pg_server is: tmpfs data, settings as arguments."""
    image, major = request.param
    name = "%s-%d" % (AREA, major)
    remove_containers(name)
    docker("run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=" + secrets.token_hex(12),
           "--tmpfs", "/var/lib/postgresql/data", image,
           "-c", "wal_level=logical", "-c", "max_replication_slots=4", "-c", "max_wal_senders=4")
    wait_healthy(name)
    yield name, major
    remove_containers(name)


def test_server_is_the_claimed_major(server):
    name, major = server
    assert int(psql(name, "SHOW server_version_num")) // 10000 == major


@pytest.mark.parametrize("tool", ["psql", "pg_dump", "pg_restore", "pg_isready"])
def test_client_tool_is_the_claimed_major(server, tool):
    """pg_restore must read what pg_dump of the same major writes: the tools follow the server's major."""
    name, major = server
    out = docker("exec", name, tool, "--version").stdout
    found = re.match(r"%s \(PostgreSQL\) (\d+)\.\d+" % re.escape(tool), out)
    assert found, out
    assert int(found.group(1)) == major, out


def test_extensions_the_services_use(server, request):
    name, _major = server
    database = "ext_" + secrets.token_hex(4)
    psql(name, 'CREATE DATABASE "%s"' % database)
    request.addfinalizer(lambda: psql(name, 'DROP DATABASE "%s" WITH (FORCE)' % database))
    out = psql(name, 'CREATE EXTENSION "uuid-ossp"; CREATE EXTENSION citext;'
                     " SELECT uuid_generate_v4()::text ~ '^[0-9a-f-]{36}$', 'Legal'::citext = 'LEGAL'::citext", database=database)
    assert out.split() == ["t|t"]


def test_logical_replication_with_pgoutput(server, request):
    """What Electric needs: wal_level=logical from the command line, a pgoutput slot that decodes a publication."""
    name, _major = server
    suffix = secrets.token_hex(4)
    table, slot, publication = "pgimage_t_" + suffix, "pgimage_slot_" + suffix, "pgimage_pub_" + suffix
    assert psql(name, "SHOW wal_level").strip() == "logical"
    psql(name, "CREATE TABLE %s (id int PRIMARY KEY, note text); CREATE PUBLICATION %s FOR TABLE %s"
         % (table, publication, table))
    psql(name, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')" % slot)
    request.addfinalizer(lambda: psql(name, "SELECT pg_drop_replication_slot('%s'); DROP PUBLICATION %s; DROP TABLE %s"
                                      % (slot, publication, table)))
    psql(name, "INSERT INTO %s VALUES (1, 'one'), (2, 'two')" % table)
    # pgoutput's binary messages: 'B'egin, 'R'elation, 'I'nsert per row, 'C'ommit.
    kinds = psql(name, "SELECT chr(get_byte(data, 0)) FROM pg_logical_slot_peek_binary_changes("
                       "'%s', NULL, NULL, 'proto_version', '1', 'publication_names', '%s')" % (slot, publication)).split()
    assert kinds == ["B", "R", "I", "I", "C"]


def test_custom_dump_restores_with_parallel_jobs(server, request):
    """The data-restore path inside the container: pg_dump --format=custom, then pg_restore --jobs 2."""
    name, _major = server
    source, target = "src_" + secrets.token_hex(4), "dst_" + secrets.token_hex(4)
    for database in (source, target):
        psql(name, 'CREATE DATABASE "%s"' % database)
        request.addfinalizer(lambda database=database: psql(name, 'DROP DATABASE "%s" WITH (FORCE)' % database))
    dump = "/tmp/%s.dump" % source
    request.addfinalizer(lambda: docker("exec", name, "rm", "-f", dump, check=False))
    psql(name, """
        CREATE EXTENSION "uuid-ossp"; CREATE EXTENSION citext;
        CREATE TABLE law (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), title citext NOT NULL UNIQUE);
        CREATE TABLE duty (id bigserial PRIMARY KEY, law_id uuid NOT NULL REFERENCES law (id), text text NOT NULL);
        CREATE INDEX duty_text ON duty (text);
        INSERT INTO law (title) SELECT 'Act ' || g FROM generate_series(1, 3000) g;
        INSERT INTO duty (law_id, text) SELECT id, 'duty of ' || title FROM law, generate_series(1, 3);
    """, database=source)
    docker("exec", name, "pg_dump", "-U", "postgres", "--format=custom", "--file", dump, source)
    docker("exec", name, "pg_restore", "-U", "postgres", "--jobs", "2", "--exit-on-error", "--dbname", target, dump)
    counts = "SELECT (SELECT count(*) FROM law), (SELECT count(*) FROM duty), (SELECT count(*) FROM law WHERE title = 'ACT 42')"
    assert psql(name, counts, database=target).split() == ["3000|9000|1"]
    indexes = "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
    assert psql(name, indexes, database=target) == psql(name, indexes, database=source)


@pytest.mark.parametrize("image_major", IMAGES)
def test_entrypoint_contract(image_major, tmp_path, docker_engine):
    """POSTGRES_PASSWORD_FILE / _USER / _DB, initdb.d on the first boot only (not after a restart),
    local socket trusted, TCP with the password (scram-sha-256)."""
    image, major = image_major
    password = secrets.token_hex(12)
    secret = tmp_path / "password"
    secret.write_text(password)  # no newline, like a docker secret
    secret.chmod(0o644)
    initdb = tmp_path / "initdb.d"
    initdb.mkdir(mode=0o755)
    (initdb / "01-schema.sql").write_text("CREATE TABLE boot (n serial PRIMARY KEY); INSERT INTO boot DEFAULT VALUES;\n")
    (initdb / "02-note.sh").write_text('echo "initdb.d script ran for $POSTGRES_DB"\n')
    for script in initdb.iterdir():
        script.chmod(0o644)
    name = "%s-contract-%d" % (AREA, major)
    remove_containers(name)
    try:
        # Data in the image's anonymous volume, so that it survives the restart below.
        docker("run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/pg_password",
               "-e", "POSTGRES_USER=app", "-e", "POSTGRES_DB=appdb", "-p", "127.0.0.1::5432",
               "-v", "%s:/run/secrets/pg_password:ro" % secret, "-v", "%s:/docker-entrypoint-initdb.d:ro" % initdb, image)
        wait_healthy(name)
        assert psql(name, "SELECT count(*) FROM boot", user="app", database="appdb").strip() == "1"

        port = published_port(name, 5432)
        with psycopg.connect(host="127.0.0.1", port=port, user="app", password=password, dbname="appdb") as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app", "appdb")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(host="127.0.0.1", port=port, user="app", password="not-" + password, dbname="appdb")
        hba = docker("exec", name, "sh", "-c", 'grep -v "^#" "$PGDATA/pg_hba.conf"').stdout
        assert "host all all all scram-sha-256" in hba

        docker("restart", name)
        wait_healthy(name)
        assert psql(name, "SELECT count(*) FROM boot", user="app", database="appdb").strip() == "1"
        logged = docker("logs", name)
        logs = logged.stdout + logged.stderr
        assert logs.count("running /docker-entrypoint-initdb.d/01-schema.sql") == 1
        assert logs.count("initdb.d script ran for appdb") == 1
    finally:
        docker("rm", "-f", "-v", name, check=False)  # -v: the anonymous data volume of this container only
