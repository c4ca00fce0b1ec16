"""Run one molecule scenario (converge, idempotence, check, side_effect, verify) for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def scenarios():
    return sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


def run_scenario(scenario):
    """`molecule test -s <scenario>`; the full log goes to .state/molecule-<scenario>.log and is returned."""
    env = dict(os.environ)
    env.update(NO_COLOR="1", PY_COLORS="0", ANSIBLE_FORCE_COLOR="0", PATH=str(BIN) + os.pathsep + env.get("PATH", ""))
    env.pop("ANSIBLE_CONFIG", None)
    log = REPO / ".state" / ("molecule-%s.log" % scenario)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario], cwd=str(REPO), env=env,
                              stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False)
    text = log.read_text(encoding="utf-8", errors="replace")
    print("molecule %s: rc=%d in %.0f s (log: %s)" % (scenario, proc.returncode, time.monotonic() - start, log))
    assert proc.returncode == 0, "molecule test -s %s failed; last lines of %s:\n%s" % (
        scenario, log, "\n".join(text.splitlines()[-80:]))
    return text


def task_statuses(log_text, play, task):
    """The status words (ok, changed, skipping, failed, fatal) printed for ``task`` in the play named ``play``."""
    section = log_text.split("PLAY [%s]" % play, 1)[1].split("\nPLAY [", 1)[0]
    statuses = []
    for block in section.split("\nTASK [")[1:]:
        header, body = (block.split("\n", 1) + [""])[:2]
        if header.split("]")[0].endswith(task):
            statuses.extend(line.split(":", 1)[0] for line in body.splitlines()
                            if line.split(":", 1)[0] in ("ok", "changed", "skipping", "failed", "fatal"))
    return statuses
