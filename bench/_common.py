"""Shared by the benchmarks: import paths, the results table, and dated TSV rows in bench/results/."""

from __future__ import annotations

import datetime
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# The collection is imported by its real name through the link scripts/setup makes (as pytest.ini does).
for path in (REPO / ".state" / "collections", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def timed(func, repeat=1):
    """Run func repeat times; return (median seconds, last result)."""
    times, result = [], None
    for _run in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, headers))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join("%-*s" % (w, c) for w, c in zip(widths, row)))


def append_result(name, row):
    """Append one dated row (a dict; keys become the header of a new file) to bench/results/<name>.tsv."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / (name + ".tsv")
    row = dict([("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds"))] + list(row.items()))
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8") as handle:
        if new:
            handle.write("\t".join(row) + "\n")
        handle.write("\t".join(str(v) for v in row.values()) + "\n")
    return path
