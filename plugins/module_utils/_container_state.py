# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: start, stop or remove existing containers by name.

All the containers of one step go to ONE Docker CLI call: ``docker stop a b`` stops them side by
side (each with its own stop timeout, so an app that drains on SIGTERM finishes its requests), and
``docker rm`` never takes ``-v``: a container's volumes stay. One ``docker inspect`` before and one
after tell what changed and whether each container ended as asked.
"""

from __future__ import annotations

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import error_lines

STATES = ("started", "stopped", "absent")
ABSENT = "absent"


class StateError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def status(doc):
    """Docker's status of a container (running, exited, created, restarting, paused, dead), or ``absent``."""
    if doc is None:
        return ABSENT
    return (doc.get("State") or {}).get("Status") or "unknown"


def running(doc):
    return doc is not None and bool((doc.get("State") or {}).get("Running"))


def plan(names, state, docs):
    """The Docker steps that bring ``names`` to ``state``, given their inspect documents (None: absent).

    Returns ``(steps, predicted)``: ``steps`` a list of ``(verb, [names])`` in the order to run them
    (``stop`` before ``rm``), ``predicted`` the status each name will have.
    """
    if state not in STATES:
        raise StateError("state must be one of %s, not %r" % (", ".join(STATES), state))
    present = [name for name in names if docs.get(name) is not None]
    live = [name for name in present if running(docs[name])]
    predicted = dict((name, status(docs.get(name))) for name in names)
    steps = []
    if state == "started":
        todo = [name for name in present if not running(docs[name])]
        steps.append(("start", todo))
        predicted.update((name, "running") for name in todo)
    else:
        steps.append(("stop", live))
        predicted.update((name, "exited") for name in live)
        if state == "absent":
            steps.append(("rm", present))
            predicted.update((name, ABSENT) for name in present)
    return [(verb, todo) for verb, todo in steps if todo], predicted


def reached(state, doc):
    """Whether a container (its inspect document, None when absent) is in ``state``."""
    if state == "absent":
        return doc is None
    if doc is None:
        return False
    return running(doc) if state == "started" else not running(doc)


def docker_reason(name, stderr):
    """Docker's lines about ``name`` from a CLI call's stderr (all of them when none names it)."""
    lines = error_lines(stderr)
    about = [line for line in lines if name in line]
    return "; ".join(about or lines)


def converge(cli, names, state, check_mode=False):
    """Bring each container of ``names`` to ``state``; returns ``{changed, containers}``.

    ``containers``: ``[{name, before, after}]`` (Docker's status, or ``absent``), and ``error`` (Docker's message)
    for each one not in ``state`` at the end. A name that does not exist is an error for ``started`` and
    ``stopped`` (the others are still handled), and already done for ``absent``.
    """
    names = list(dict.fromkeys(name for name in names if name))
    before, _missing = cli.inspect(*names)
    steps, predicted = plan(names, state, before)
    stderr = []
    if not check_mode:
        for verb, todo in steps:
            rc, _out, err = cli.run(verb, *todo, check=False)
            if rc != 0:
                stderr.append(err or "")
    # Docker's stop, start and rm return once done: when each succeeded for all, the prediction is what is. Only a
    # refusal needs another look, at what each container became.
    after = cli.inspect(*names)[0] if stderr else None
    containers = []
    for name in names:
        entry = dict(name=name, before=status(before.get(name)),
                     after=predicted[name] if after is None else status(after.get(name)))
        if before.get(name) is None and state != "absent":
            entry["error"] = "does not exist"
        elif after is not None and not reached(state, after.get(name)):
            entry["error"] = docker_reason(name, "\n".join(stderr)) or "Docker did not say why (it is %s)" % entry["after"]
        containers.append(entry)
    return dict(changed=any(item["before"] != item["after"] for item in containers), containers=containers)


def failure_message(state, containers):
    """The containers not in ``state``, each with its error; empty when all are."""
    return " ".join("%s could not be made %s: %s." % (item["name"], state, item["error"]) for item in containers if "error" in item)
