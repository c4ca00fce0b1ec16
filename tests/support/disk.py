"""A filesystem's size and use as POSIX ``df -P -k`` prints them, for tests that compare the collection's disk
checks with what an operator would read."""

from __future__ import annotations

import subprocess


def df(path):
    """``{size, used, avail}`` in bytes and ``capacity`` (df's Use%, in percent) of the filesystem under ``path``."""
    fields = subprocess.run(["df", "-P", "-k", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()[-1].split()
    return dict(size=int(fields[1]) * 1024, used=int(fields[2]) * 1024, avail=int(fields[3]) * 1024,
                capacity=int(fields[4].rstrip("%")))
