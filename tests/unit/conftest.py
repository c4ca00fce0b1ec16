"""Unit tests run on a machine without Docker and without a network (``make unit``): keep it so.

A test that needs the Docker Engine, PostgreSQL or a server belongs in tests/integration.
"""

from __future__ import annotations

import socket

import pytest

NO_DOCKER = "unix:///nonexistent/unit-tests-run-without-docker.sock"


@pytest.fixture(autouse=True)
def without_docker_or_network(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a unit test opened a network connection: move it to tests/integration")

    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    for method in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, method, refuse)
