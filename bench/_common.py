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
    """Append one dated row (a dict) to bench/results/<name>.tsv.

    The keys are the columns. A key the file has no column for yet becomes a new last column, the
    earlier rows showing "-" in it, so that a benchmark can add a measurement without a new file.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / (name + ".tsv")
    row = dict([("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds"))] + list(row.items()))
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    header = lines[0].split("\t") if lines else []
    added = [key for key in row if key not in header]
    if added or not lines:
        header += added
        lines = ["\t".join(header)] + [line + "\t-" * len(added) for line in lines[1:]]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\t".join(str(row.get(key, "-")) for key in header) + "\n")
    return path
