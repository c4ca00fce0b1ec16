"""molecule scenario certbot (one file per scenario: pytest-xdist runs files in parallel)."""

import pytest

from tests.support.molecule import run_scenario, task_statuses

STANDALONE_PLAY = "The standalone path reports a change only when it stopped or started nginx"


@pytest.mark.molecule
@pytest.mark.minutes(4)
def test_certbot(docker_engine):
    log = run_scenario("certbot")
    # nginx was already stopped: stopping it is no change; starting it again is.
    assert task_statuses(log, STANDALONE_PLAY, "Ensure nginx is stopped for the standalone challenge") == ["ok"]
    assert task_statuses(log, STANDALONE_PLAY, "Ensure nginx is started again, also when certbot failed") == ["changed"]
