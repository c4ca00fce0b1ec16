# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the one-deploy-at-a-time lock of a host.

The lock is a file that appears whole or not at all: its content is written to a private temporary
file, which is then hard-linked to the lock's name. ``link`` fails when the name exists, so of two
runs that start within the same instant the filesystem lets exactly one take it, and the other
always reads a complete holder. It holds who took it, from where, for what and
when, so the run that is refused can name the holder. A run releases only its own lock (by its
``run_id``); a lock left by a killed run is reported with its age and released on request.

The lock is read and written with commands (``run_command``: AnsibleModule's on the host, or the
controller's over the task's connection, plugin_utils/_on_controller.py). Times are the host's clock,
read with the lock, so that runs from different controllers agree on a lock's age.
"""

from __future__ import annotations

import datetime
import json
import os

from ansible_collections.sertantai.deploy.plugins.module_utils._commands import output

STALE_AFTER_SECONDS = 3600


class LockError(Exception):
    def __init__(self, message, holder=None):
        super().__init__(message)
        self.message = message
        self.holder = holder


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# The host's name and clock, then the lock: "absent", or "present" and its content.
_READ = 'hostname; date -u +%Y-%m-%dT%H:%M:%SZ; if [ -e "$1" ]; then echo present; cat -- "$1"; else echo absent; fi'
# The content comes on stdin into a private temporary file, linked to the lock's name: ln fails when the name exists.
_TAKE = ('mkdir -p -m 0750 -- "$(dirname -- "$1")" && cat > "$2" && { ln -- "$2" "$1"; rc=$?; rm -f -- "$2"; exit $rc; }')


def _holder(text):
    try:
        holder = json.loads(text)
        if not isinstance(holder, dict):
            raise ValueError("not an object")
        return holder
    except ValueError:
        return dict(run_id=None, owner="unknown (the lock file is not ours or was cut short)", raw=text[:200])


def read_lock(run_command, path):
    """(host name, the host's time now, the lock's holder or None when there is no lock)."""
    lines = output(run_command, ["sh", "-c", _READ, "sh", path]).split("\n", 3)
    if len(lines) < 3 or lines[2] not in ("present", "absent"):
        raise OSError("reading %s printed %r" % (path, "\n".join(lines)[:200]))
    now = datetime.datetime.strptime(lines[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return lines[0], now, (_holder(lines[3] if len(lines) > 3 else "") if lines[2] == "present" else None)


def read_holder(run_command, path):
    """The lock's content, or None when there is no lock. An unreadable lock is reported as such."""
    return read_lock(run_command, path)[2]


def age_seconds(holder, now):
    try:
        since = datetime.datetime.strptime(holder.get("since") or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return max(int((now - since).total_seconds()), 0)


def describe(holder, now, path, release_hint):
    """One sentence naming the holder: who, from where, for what, since when, and how to release it."""
    age = age_seconds(holder, now)
    parts = ["%s" % (holder.get("owner") or "someone")]
    if holder.get("controller"):
        parts.append("from %s" % holder["controller"])
    if holder.get("purpose"):
        parts.append("running %s" % holder["purpose"])
    since = holder.get("since")
    when = " since %s (%s ago)" % (since, human_age(age)) if since and age is not None else ""
    stale = age is not None and age >= STALE_AFTER_SECONDS
    text = "the deploy lock %s is held by %s%s" % (path, ", ".join(parts), when)
    if stale:
        text += ("; it is older than %s, so the run that took it was probably killed (Ctrl-C, a dropped SSH "
                 "connection)" % human_age(STALE_AFTER_SECONDS))
    text += (": wait for that run to finish; if it was killed, release the lock with %s and run again "
             "(a re-run converges)" % release_hint)
    return text


def human_age(seconds):
    if seconds is None:
        return "an unknown time"
    if seconds < 120:
        return "%d s" % seconds
    if seconds < 7200:
        return "%d min" % (seconds // 60)
    return "%.1f h" % (seconds / 3600.0)


def acquire(run_command, path, holder, check_mode=False, release=False, release_hint="release=true", now=None,
            seen=None):
    """Take the lock for ``holder`` (a dict with run_id, owner, controller, purpose), at ``now`` (default: the
    host's clock). ``seen``: what read_lock() returned just before, so that the lock is not read again.

    Returns ``(changed, previous)``: ``previous`` is the lock that was broken (release=True) or None.
    Taking a lock this run already holds changes nothing. Raises LockError naming the holder.
    """
    _host, host_now, current = seen or read_lock(run_command, path)
    now = now or host_now
    if current is not None and current.get("run_id") == holder["run_id"]:
        return False, None
    previous = None
    if current is not None:
        if not release:
            raise LockError(describe(current, now, path, release_hint), current)
        previous = current
    if check_mode:
        return True, previous
    if previous is not None:
        output(run_command, ["rm", "-f", "--", path])
    content = json.dumps(dict(holder, since=iso(now)), sort_keys=True) + "\n"
    temporary = "%s.%s.%d" % (path, holder["run_id"], os.getpid())
    rc, out, err = run_command(["sh", "-c", _TAKE, "sh", path, temporary], data=content, binary_data=True)
    if rc != 0:
        # Another run took it between our read and our link: it won, and we say who it is.
        _host, later, won = read_lock(run_command, path)
        if won is None:
            raise OSError("%s (rc=%s)" % ((err or out).strip()[:300], rc))
        raise LockError(describe(won, later, path, release_hint), won)
    return True, previous


def release_lock(run_command, path, run_id, check_mode=False, force=False, seen=None):
    """Remove the lock if this run holds it (or ``force``). Returns ``(changed, holder)``. ``seen``: what
    read_lock() returned just before, so that the lock is not read again."""
    current = seen[2] if seen else read_holder(run_command, path)
    if current is None:
        return False, None
    if current.get("run_id") != run_id and not force:
        return False, current
    if not check_mode:
        output(run_command, ["rm", "-f", "--", path])
    return True, current
