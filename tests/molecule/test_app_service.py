"""molecule scenario app_service (one file per scenario: pytest-xdist runs files in parallel)."""

import pytest

from tests.support.molecule import run_scenario


@pytest.mark.molecule
@pytest.mark.minutes(13)
def test_app_service(docker_engine):
    run_scenario("app_service")
