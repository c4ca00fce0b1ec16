"""molecule scenario docker_host (one file per scenario: pytest-xdist runs files in parallel)."""

import pytest

from tests.support.molecule import run_scenario


@pytest.mark.molecule
@pytest.mark.minutes(1)
def test_docker_host(docker_engine):
    run_scenario("docker_host")
