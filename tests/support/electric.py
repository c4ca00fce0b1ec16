"""Electric stand-ins (tests/images/electric) against a real PostgreSQL, on a Docker network of their own."""

from __future__ import annotations

import os

from tests.conftest import start_pg
from tests.support.docker import docker, remove_containers

ELECTRIC_IMAGE = os.environ.get("SERTANTAI_TEST_ELECTRIC_IMAGE", "sertantai-test/electric:latest")


class ElectricArea:
    """A network ``<prefix>net``, PostgreSQL ``<prefix>pg`` on it with one database, and the Electric stand-ins
    started there. ``up()`` and ``down()`` remove exactly these names, before and after."""

    def __init__(self, prefix, database="legal", image=ELECTRIC_IMAGE):
        self.network = prefix + "net"
        self.pg_name = prefix + "pg"
        self.database = database
        self.image = image
        self.pg = None
        self.started = []

    def up(self):
        if docker("image", "inspect", self.image, check=False).returncode != 0:
            raise AssertionError("test image %s is missing: run scripts/build-images electric" % self.image)
        self.down()
        docker("network", "create", self.network)
        self.pg = start_pg(self.pg_name)
        docker("network", "connect", self.network, self.pg_name)
        self.pg.psql('CREATE DATABASE "%s"' % self.database)
        return self.pg

    def start(self, name, stream_id):
        """An Electric stand-in on ``stream_id``: it waits for the slot's lock while another instance holds it."""
        self.started.append(name)
        docker("run", "-d", "--name", name, "--network", self.network,
               "-e", "DATABASE_URL=postgresql://postgres:%s@%s:5432/%s" % (self.pg.password, self.pg_name, self.database),
               "-e", "ELECTRIC_REPLICATION_STREAM_ID=" + stream_id,
               # These tests read health and locks, no shapes: no secret to keep (as Electric allows).
               "-e", "ELECTRIC_INSECURE=true", self.image)
        return name

    def down(self):
        remove_containers(*(self.started + [self.pg_name]))
        docker("network", "rm", self.network, check=False)
