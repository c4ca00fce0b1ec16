"""molecule scenario postgres (one file per scenario: pytest-xdist runs files in parallel)."""

import pytest

from tests.support.molecule import run_scenario


@pytest.mark.molecule
@pytest.mark.minutes(4)
def test_postgres(docker_engine):
    run_scenario("postgres")
