"""postgres role on a Hetzner-like server, after converge, idempotence, check and side_effect."""

import json

import pytest


def psql(host, sql, database="postgres"):
    out = host.run("docker exec shared_postgres psql -XAtq -v ON_ERROR_STOP=1 -U postgres -d %s -c %s",
                   database, sql)
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def inspect(host, name="shared_postgres"):
    out = host.run("docker inspect %s", name)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)[0]


@pytest.mark.parametrize("database, extensions", [
    ("sertantai_legal_prod", {"uuid-ossp", "citext"}),
    ("sertantai_auth_prod", {"citext"}),
    # Added by side_effect.yml after the cluster had been initialised (runbook pitfall 8).
    ("sertantai_enforcement_prod", {"citext", "uuid-ossp"}),
])
def test_databases_and_extensions_exist(host, database, extensions):
    assert psql(host, "SELECT datname FROM pg_database WHERE datname = '%s'" % database) == database
    installed = set(psql(host, "SELECT extname FROM pg_extension", database).split())
    assert extensions <= installed


def test_wal_level_is_logical(host):
    assert psql(host, "SHOW wal_level") == "logical"


def test_settings_are_applied(host):
    assert psql(host, "SHOW max_slot_wal_keep_size") == "3GB"
    assert psql(host, "SHOW max_wal_senders") == "12"
    assert psql(host, "SHOW max_replication_slots") == "10"


def test_no_host_port_is_published(host):
    info = inspect(host)
    assert not info["HostConfig"]["PortBindings"]
    assert all(not bindings for bindings in (info["NetworkSettings"]["Ports"] or {}).values())


def test_on_infra_network_with_named_volume(host):
    info = inspect(host)
    assert "infra_network" in info["NetworkSettings"]["Networks"]
    data = [m for m in info["Mounts"] if m["Destination"] == "/var/lib/postgresql/data"]
    assert data and data[0]["Type"] == "volume" and data[0]["Name"] == "shared_postgres_data"


def test_data_survives_recreating_the_container(host):
    note = psql(host, "SELECT note FROM survivor WHERE id = 1", "sertantai_legal_prod")
    assert note == "written before the container was recreated"


def test_password_is_not_in_the_container_environment(host):
    info = inspect(host)
    env = info["Config"]["Env"]
    assert not any(e.startswith("POSTGRES_PASSWORD=") for e in env)
    assert "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_superuser_password" in env
    secret = host.file("/opt/sertantai/secrets/postgres_superuser_password")
    assert secret.exists and secret.user == "root"
    assert len(secret.content_string.strip()) == 40
    assert host.file("/opt/sertantai/secrets").mode == 0o700


def test_password_authenticates_over_the_network(host):
    """The generated password is the one the cluster was initialised with."""
    out = host.run("docker exec -e PGPASSWORD=\"$(cat /opt/sertantai/secrets/postgres_superuser_password)\" "
                   "shared_postgres psql -XAtq -h 127.0.0.1 -U postgres -c 'SELECT 42'")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "42"


def test_restart_only_when_a_setting_needs_it(host):
    starts = json.loads(host.file("/root/side_effect_starts.json").content_string)
    assert starts["after_reload"] == starts["before_reload"], "a reload-only change restarted PostgreSQL"
    assert starts["after_restart"] != starts["after_reload"], "max_wal_senders changed without a restart"


def test_healthy(host):
    assert inspect(host)["State"]["Health"]["Status"] == "healthy"
