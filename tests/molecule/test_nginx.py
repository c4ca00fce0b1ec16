"""molecule scenario nginx (one file per scenario: pytest-xdist runs files in parallel)."""

import pytest

from tests.support.molecule import run_scenario


@pytest.mark.molecule
@pytest.mark.minutes(5)
def test_nginx(docker_engine):
    run_scenario("nginx")
