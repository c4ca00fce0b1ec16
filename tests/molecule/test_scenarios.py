"""Every molecule scenario (converge, idempotence, check, side_effect, verify) as one pytest test,
so that `make test` ends with one pytest summary line for all suites."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, docker_engine):
    env = dict(os.environ)
    env.update(NO_COLOR="1", PY_COLORS="0", ANSIBLE_FORCE_COLOR="0",
               PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""))
    env.pop("ANSIBLE_CONFIG", None)
    log = REPO / ".state" / ("molecule-%s.log" % scenario)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run([str(Path(sys.executable).parent / "molecule"), "test", "-s", scenario],
                              cwd=str(REPO), env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False)
    text = log.read_text(encoding="utf-8", errors="replace")
    print("molecule %s: rc=%d in %.0f s (log: %s)" % (scenario, proc.returncode, time.monotonic() - start, log))
    assert proc.returncode == 0, "molecule test -s %s failed; last lines of %s:\n%s" % (
        scenario, log, "\n".join(text.splitlines()[-80:]))
