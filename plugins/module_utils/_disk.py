# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: sizes and disk use, written as an operator reads them (``df -h``).

status.yml judges the filesystems under the named volumes with percent_used(), and image_pull the one under
Docker's data root with ``df -P``'s capacity column, read in the same command as its pulls: the same number (the
unit tests compare them), so that a disk status.yml calls too full is the disk a deploy refuses to pull onto.
"""

from __future__ import annotations


def human_bytes(value):
    if value is None:
        return None
    size = float(value)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return "%d %s" % (size, unit) if unit == "bytes" else "%.1f %s" % (size, unit)
        size /= 1024.0


def percent_used(used, avail):
    """A filesystem's use in percent as ``df`` shows it (Use%, POSIX ``df -P``'s capacity): used / (used +
    available), rounded up. The blocks reserved for root count in neither, so on ext4 (5% reserved) this is what
    the other users of the disk, PostgreSQL among them, have left; None for a filesystem of no size."""
    total = used + avail
    return -(-100 * used // total) if total > 0 else None
