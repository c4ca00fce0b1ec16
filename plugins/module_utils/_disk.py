# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: sizes and disk use, written as an operator reads them (``df -h``).

status.yml judges the filesystems under the named volumes with percent_used(), and image_pull the one under
Docker's data root with ``df -P``'s capacity column, read in the same command as its pulls: the same number (the
unit tests compare them), so that a disk status.yml calls too full is the disk a deploy refuses to pull onto.
room() (the disk_room module) counts the same way, after the writes a job is about to make: a restore's dump,
backup and data.
"""

from __future__ import annotations

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import first_error_line, no_such


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


class RoomError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# The filesystems a job will write to, in one command. With containers named ($2 of them, after the Docker CLI in
# $1): the Docker data root (their writable layers) and each one's mounts (name, then source and destination per
# mount). Then, for the root, every mount's source and every host path after the names, the filesystem it is on
# as `df -B1 --output=size,used,avail,target` shows it. A host path that does not exist yet (a directory the job
# will create) is looked up at its nearest existing parent.
_ROOM_SCRIPT = r"""cli=$1 n=$2
shift 2
show() {
    at=$1
    while [ ! -e "$at" ] && [ "$at" != / ]; do at=$(dirname -- "$at"); done
    out=$(df -B1 --output=size,used,avail,target -- "$at") || exit
    printf 'df\t%s\t%s\n' "$1" "$(printf '%s\n' "$out" | tail -n 1)"
}
if [ "$n" -gt 0 ]; then
    names=
    while [ "$n" -gt 0 ]; do names="$names $1"; shift; n=$((n - 1)); done
    root=$("$cli" info --format '{{.DockerRootDir}}') || exit
    # shellcheck disable=SC2086  # container names have no blanks
    mounts=$("$cli" inspect --type container \
        --format '{{.Name}}{{range .Mounts}}{{"\t"}}{{.Source}}{{"\t"}}{{.Destination}}{{end}}' $names) || exit
    printf 'root\t%s\n' "$root"
    printf '%s\n' "$mounts" | awk '{ print "mounts\t" $0 }'
    show "$root"
    while IFS= read -r source; do
        [ -z "$source" ] || show "$source"
    done <<EOF
$(printf '%s\n' "$mounts" | awk -F '\t' '{ for (i = 2; i <= NF; i += 2) print $i }')
EOF
fi
for path in "$@"; do show "$path"; done
"""


def parse_room(output):
    """``(root, mounts, filesystems)`` from _ROOM_SCRIPT's output: the Docker data root (None without
    containers), ``{container: [(source, destination), ...]}`` and ``{path: {size, used, available, mount}}``
    (bytes; mount: where the filesystem is mounted)."""
    root, mounts, filesystems = None, {}, {}
    for line in output.splitlines():
        kind, _tab, rest = line.partition("\t")
        if kind == "root":
            root = rest
        elif kind == "mounts":
            fields = rest.split("\t")
            mounts[fields[0].lstrip("/")] = list(zip(fields[1::2], fields[2::2]))
        elif kind == "df":
            path, _tab, usage = rest.partition("\t")
            fields = usage.split(None, 3)
            if len(fields) != 4 or not all(field.isdigit() for field in fields[:3]):
                raise RoomError("could not read the filesystem of %s from df: %r" % (path, usage[:200]))
            filesystems[path] = dict(size=int(fields[0]), used=int(fields[1]), available=int(fields[2]), mount=fields[3])
    return root, mounts, filesystems


def host_path(write, root, mounts):
    """The host path whose filesystem a ``write`` (path, container) lands on: the path itself; in a container,
    the source of the mount the path is under (the deepest), else the Docker data root (the writable layer)."""
    if not write.get("container"):
        return write["path"]
    if write["container"] not in mounts:
        raise RoomError("the container %s is not on this host" % write["container"])
    path = write["path"].rstrip("/") or "/"
    under = [(destination, source) for source, destination in mounts[write["container"]]
             if path == destination or path.startswith(destination.rstrip("/") + "/")]
    if not under:
        return root
    destination, source = max(under, key=lambda mount: len(mount[0]))
    if not source:
        raise RoomError("%s in the container %s is on a mount with no source on the host (a tmpfs), which cannot be "
                        "measured from the host" % (write["path"], write["container"]))
    return source


def room(docker, writes, max_percent):
    """The filesystems the ``writes`` land on, each with what it has and what it would have after them.

    ``writes``: dicts with path, bytes, what and, for a path inside a container, container (see host_path()).
    Returns one dict per filesystem, in the order of the writes: mount, size, used, available, percent (as df
    shows it, percent_used()), writes (what, bytes, path, container), bytes (their sum), percent_after (the use
    when they are written, rounded up; over 100 when they do not fit) and ok (percent_after <= max_percent).
    Raises RoomError when the host cannot tell (a container that is not there, a df that fails).
    """
    containers = list(dict.fromkeys(write["container"] for write in writes if write.get("container")))
    paths = list(dict.fromkeys(write["path"] for write in writes if not write.get("container")))
    rc, out, err = docker.script(_ROOM_SCRIPT, str(len(containers)), *(containers + paths), check=False)
    if rc != 0:
        missing = [name for name in containers if name in no_such(err)]
        if missing:
            raise RoomError("the container %s is not on this host" % ", ".join(missing))
        raise RoomError(first_error_line(err) or "reading the filesystems failed with rc=%d" % rc)
    root, mounts, filesystems = parse_room(out)
    rows = {}
    for write in writes:
        at = host_path(write, root, mounts)
        if at not in filesystems:
            raise RoomError("df did not show the filesystem of %s" % at)
        fs = filesystems[at]
        row = rows.setdefault(fs["mount"], dict(fs, writes=[], bytes=0))
        row["writes"].append(dict(what=write["what"], bytes=write["bytes"], path=write["path"],
                                  container=write.get("container")))
        row["bytes"] += write["bytes"]
    for row in rows.values():
        # df's Use% now, and once the writes have taken their bytes from what is available; a filesystem of no
        # size counts as full
        now, after = (percent_used(row["used"] + taken, row["available"] - taken) for taken in (0, row["bytes"]))
        row.update(percent=100 if now is None else now, percent_after=100 if after is None else after)
        row["ok"] = row["percent_after"] <= max_percent
    return list(rows.values())


def room_line(row):
    """One filesystem of room(), as the report and the refusal show it."""
    writes = ", ".join("%s %s" % (write["what"], human_bytes(write["bytes"])) for write in row["writes"])
    return "%s: %d%% used, %s free; %s to write there (%s): %d%% after" % (
        row["mount"], row["percent"], human_bytes(row["available"]), human_bytes(row["bytes"]), writes,
        row["percent_after"])
