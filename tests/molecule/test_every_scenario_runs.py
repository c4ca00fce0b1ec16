"""A scenario without its test file here would never run in make test."""

from pathlib import Path

from tests.support.molecule import scenarios


def test_every_scenario_has_a_test_file():
    here = Path(__file__).parent
    missing = [s for s in scenarios() if not (here / ("test_%s.py" % s)).is_file()]
    assert scenarios(), "no molecule scenario found"
    assert not missing, "add tests/molecule/test_<scenario>.py for: %s" % ", ".join(missing)
