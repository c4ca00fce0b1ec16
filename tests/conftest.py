"""Fixtures shared by every suite. Real PostgreSQL and Docker; names start with sertantai-test-."""

from __future__ import annotations

import os
import secrets
import shutil

import pytest

from tests.support.docker import PREFIX, docker, published_port, remove_containers, sh, wait_until
from tests.support.schedule import FileDurations, LongestFileFirst, sort_by_minutes

# PostgreSQL 16, production's major (tests/images/postgres).
PG_IMAGE = os.environ.get("SERTANTAI_TEST_PG_IMAGE", "sertantai-test/postgres:latest")
# PostgreSQL 15 with the same entrypoint (tests/images/postgres15): a server on another major.
PG15_IMAGE = os.environ.get("SERTANTAI_TEST_PG15_IMAGE", "sertantai-test/postgres15:latest")


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(FileDurations(), "sertantai-file-durations")


def pytest_collection_modifyitems(items):
    sort_by_minutes(items)


def pytest_xdist_make_scheduler(config, log):
    """make test's --dist loadfile: the longest files first (tests/support/schedule.py)."""
    if config.getvalue("dist") == "loadfile":
        return LongestFileFirst(config, log)
    return None


def _docker_available():
    return shutil.which("docker") and sh("docker", "info", check=False).returncode == 0


@pytest.fixture(scope="session")
def docker_engine():
    """Fail (never skip) when the engine is missing: make test installs and starts it."""
    if not _docker_available():
        pytest.fail("Docker Engine is not reachable: run scripts/setup (make test does) first")
    return True


class PgServer:
    """A real PostgreSQL container, reachable both by docker exec and on a loopback port."""

    def __init__(self, name, password, port):
        self.container = name
        self.password = password
        self.host = "127.0.0.1"
        self.port = port
        self.user = "postgres"

    @property
    def dsn(self):
        return "host=%s port=%d user=postgres password=%s" % (self.host, self.port, self.password)

    def psql(self, sql, database="postgres"):
        """Run SQL as superuser by docker exec, independent of the code under test."""
        return docker("exec", "-i", self.container, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1",
                      "-U", "postgres", "-d", database, input=sql).stdout


def start_pg(name, *extra_args):
    remove_containers(name)
    password = secrets.token_hex(12)
    docker("run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=" + password, "-p", "127.0.0.1::5432",
           "--tmpfs", "/var/lib/postgresql/data", PG_IMAGE,
           "-c", "wal_level=logical", "-c", "max_replication_slots=10", "-c", "max_wal_senders=10", *extra_args)
    wait_until(lambda: docker("exec", name, "pg_isready", "-U", "postgres", "-h", "127.0.0.1", check=False).returncode == 0,
               timeout=60, what="PostgreSQL in %s to accept connections" % name)
    return PgServer(name, password, published_port(name, 5432))


@pytest.fixture(scope="session")
def pg_server(docker_engine):
    """One PostgreSQL 16 (PG_IMAGE, wal_level=logical) per test session; tests create their own databases."""
    name = PREFIX + "pg-" + str(os.getpid())
    server = start_pg(name)
    yield server
    remove_containers(name)


@pytest.fixture
def pg_database(pg_server, request):
    """A fresh database for one test, dropped afterwards."""
    db = "t_" + secrets.token_hex(6)
    pg_server.psql('CREATE DATABASE "%s"' % db)
    yield db
    pg_server.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
