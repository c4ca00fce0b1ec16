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
"""

from __future__ import annotations

import datetime
import errno
import json
import os

STALE_AFTER_SECONDS = 3600


class LockError(Exception):
    def __init__(self, message, holder=None):
        super().__init__(message)
        self.message = message
        self.holder = holder


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_holder(path):
    """The lock's content, or None when there is no lock. An unreadable lock is reported as such."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    try:
        holder = json.loads(text)
        if not isinstance(holder, dict):
            raise ValueError("not an object")
        return holder
    except ValueError:
        return dict(run_id=None, owner="unknown (the lock file is not ours or was cut short)", raw=text[:200])


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


def acquire(path, holder, check_mode=False, release=False, release_hint="release=true", now=None):
    """Take the lock for ``holder`` (a dict with run_id, owner, controller, purpose).

    Returns ``(changed, previous)``: ``previous`` is the lock that was broken (release=True) or None.
    Taking a lock this run already holds changes nothing. Raises LockError naming the holder.
    """
    now = now or utc_now()
    current = read_holder(path)
    if current is not None and current.get("run_id") == holder["run_id"]:
        return False, None
    previous = None
    if current is not None:
        if not release:
            raise LockError(describe(current, now, path, release_hint), current)
        previous = current
    if check_mode:
        return True, previous
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, mode=0o750)
    if previous is not None:
        _remove(path)
    content = dict(holder, since=iso(now))
    temporary = "%s.%s.%d" % (path, holder["run_id"], os.getpid())
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(content, handle, sort_keys=True)
        handle.write("\n")
    try:
        os.link(temporary, path)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
        # Another run took it between our read and our link: it won, and we say who it is.
        won = read_holder(path) or dict(owner="another run")
        raise LockError(describe(won, utc_now(), path, release_hint), won)
    finally:
        _remove(temporary)
    return True, previous


def release_lock(path, run_id, check_mode=False, force=False):
    """Remove the lock if this run holds it (or ``force``). Returns ``(changed, holder)``."""
    current = read_holder(path)
    if current is None:
        return False, None
    if current.get("run_id") != run_id and not force:
        return False, current
    if not check_mode:
        _remove(path)
    return True, current


def _remove(path):
    try:
        os.remove(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
