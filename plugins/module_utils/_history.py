# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the deploy history of a service on its host.

Every deploy that replaced a container appends one line to the service's history file (JSON, one object per
line): when (the host's clock), who from which controller, for what, and per component the container that took
over with its image, the tag it was built as (its version label) and its image id, and the same of the one it
replaced. The file holds the last KEEP deploys. It answers what an operator asks after a bad release: what ran
before, and which tag brings it back (``deploy.yml -e rollback=true``).

Reading and writing go through ``run_command`` (AnsibleModule's on the host, or the controller's over the task's
connection, plugin_utils/_on_controller.py): one command each.
"""

from __future__ import annotations

import json

from ansible_collections.sertantai.deploy.plugins.module_utils._app import image_tag, summarize
from ansible_collections.sertantai.deploy.plugins.module_utils._commands import output

KEEP = 500

# The host's clock and the inspect documents of the containers ($2...), in one command.
_INSPECT = 'cli=$1; shift; date -u +%Y-%m-%dT%H:%M:%SZ; "$cli" inspect --type container "$@"'
# Append the line ($2) to the file ($1), in a private directory; keep its last $3 lines.
_APPEND = ('umask 027; mkdir -p -m 0750 -- "$(dirname -- "$1")" && printf "%s\\n" "$2" >> "$1" || exit; '
           'if [ "$(wc -l < "$1")" -gt "$3" ]; then tail -n "$3" -- "$1" > "$1.tmp" && mv -f -- "$1.tmp" "$1"; fi')
# The file's last $2 lines; nothing when there is no file yet.
_READ = 'if [ -e "$1" ]; then tail -n "$2" -- "$1"; fi'


class HistoryError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def ran_before(live):
    """What the history keeps of a container, from _app.summarize()'s summary of it (app_service_info's ``live``):
    its name, image reference, the tag the image was built as when that is another than the reference's, image id."""
    return dict(container=live.get("name"), image=live.get("image"), build=live.get("build"), image_id=live.get("image_id"))


def running(doc):
    """ran_before() of a container's inspect document."""
    return ran_before(summarize(doc))


def inspect_running(run_command, docker_cli, containers):
    """``(the host's time, {component: running()})`` for ``containers`` (``{component: container name}``)."""
    names = list(containers.values())
    text = output(run_command, ["sh", "-c", _INSPECT, "sh", docker_cli] + names, error=HistoryError)
    now, _newline, documents = text.partition("\n")
    try:
        found = dict(((doc.get("Name") or "").lstrip("/"), doc) for doc in json.loads(documents or "[]"))
    except ValueError as exc:
        raise HistoryError("docker inspect of %s printed no JSON: %s" % (", ".join(names), exc)) from exc
    missing = [name for name in names if name not in found]
    if missing:
        raise HistoryError("no container %s on the host: a deploy records the containers it left running" % ", ".join(missing))
    return now.strip(), dict((component, running(found[name])) for component, name in containers.items())


def make_record(time, service, who, now_running, before):
    """One line of the history. ``who``: owner, controller, run_id, purpose; ``before``: ``{component: what ran
    before}`` as running() gives it (None, or absent, for a component that had no container)."""
    components = {}
    for component, entry in now_running.items():
        components[component] = dict(entry, before=(before or {}).get(component) or None)
    return dict(time=time, service=service, owner=who.get("owner"), controller=who.get("controller"),
                run_id=who.get("run_id"), purpose=who.get("purpose"), components=components)


def append(run_command, path, record, keep=KEEP):
    output(run_command, ["sh", "-c", _APPEND, "sh", path, json.dumps(record, sort_keys=True, separators=(",", ":")), str(keep)],
           error=HistoryError)


def read(run_command, path, last=KEEP):
    """``(records oldest first, the number of lines that are not a record)``."""
    text = output(run_command, ["sh", "-c", _READ, "sh", path, str(last)], error=HistoryError)
    records, unreadable = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            unreadable += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("components"), dict):
            records.append(record)
        else:
            unreadable += 1
    return records, unreadable


def tag_of(entry):
    """The tag that names the build of ``entry`` (a running() dict) in the registry: the tag it was built as
    (build_push.yml tags each build with its commit and labels it so), else its reference's own tag."""
    return entry.get("build") or image_tag(entry.get("image") or "")


def last_components(records):
    """The components the last deploy changed, in deploy order; [] for an empty history, or when it only restarted
    the images that ran (restarted()). A deploy records its backend and frontend, and its Electric, in a line each,
    with its run's id."""
    if not records:
        return []
    run_id = records[-1].get("run_id")
    last = [records[-1]]
    for record in reversed(records[:-1]):
        if not run_id or record.get("run_id") != run_id:
            break
        last.append(record)
    return [component for component in ("backend", "frontend", "electric")
            if any(component in record["components"] and not restarted(record["components"][component]) for record in last)]


def last_changed(records, service, where):
    """last_components(), for a rollback that names none: raises HistoryError when there are none, because the
    history (at ``where``) is empty or its last deploy only restarted what ran."""
    components = last_components(records)
    if components:
        return components
    if records:
        raise HistoryError(
            "cannot roll back %s: its last deploy (%s) changed no build, it restarted %s on the image that ran before (an "
            "environment comes from the fleet description). Nothing was changed; name the components to roll back, or "
            "deploy a tag by hand (-e tag=...)" % (service, records[-1].get("time"), ", ".join(sorted(records[-1]["components"]))))
    raise HistoryError("cannot roll back %s: it has no deploy in the history on this host (%s). Nothing was changed; "
                       "deploy a tag by hand (-e tag=...)" % (service, where))


def restarted(entry):
    """Whether a deploy ran the very image that ran before it (a change of environment, a restore's restart)."""
    before = entry.get("before")
    return bool(before and entry.get("image_id")) and all(entry.get(key) == before.get(key) for key in ("image", "build", "image_id"))


def last_deploys(records, components):
    """``{component: the last record that changed it}`` for the components that have one: a deploy that only
    restarted the image that ran (restarted()) changed no build, and a rollback looks past it."""
    found = {}
    for record in reversed(records):
        for component in components:
            entry = record["components"].get(component)
            if component not in found and entry is not None and not restarted(entry):
                found[component] = record
    return found


def rollback(records, service, components):
    """``{component: tag}``: per component, the build that ran before the last deploy that changed it (see
    last_deploys()), by the tag that names it.

    Raises HistoryError naming each component that has no such build: never deployed by this collection on this
    host, or only restarted in the history kept, its last change was its first deploy (nothing ran before), or what
    ran before has no version label and ran under the same tag as what runs now (a moving tag such as latest names
    another image now)."""
    last = last_deploys(records, components)
    tags, problems = {}, []
    for component in components:
        record = last.get(component)
        if record is None:
            if any(component in other["components"] for other in records):
                problems.append("%s: every deploy of it in the history of %s on this host restarted the same image"
                                % (component, service))
            else:
                problems.append("%s has no deploy in the history of %s on this host" % (component, service))
            continue
        entry = record["components"][component]
        before = entry.get("before")
        if not before:
            problems.append("%s: the last deploy that changed it (%s) was its first: nothing ran before it" % (component, record.get("time")))
        elif not before.get("build") and image_tag(before.get("image") or "") == image_tag(entry.get("image") or ""):
            problems.append("%s: what ran before the last deploy that changed it (%s, image %s) has no version label, and its tag %s now "
                            "names the image that runs: no tag names the earlier build (images built by build_push.yml "
                            "carry one)" % (component, record.get("time"), (before.get("image_id") or "?")[7:19],
                                            image_tag(before.get("image") or "")))
        else:
            tags[component] = tag_of(before)
    if problems:
        raise HistoryError("cannot roll back %s: %s. Nothing was changed; deploy a tag by hand (-e tag=...)"
                           % (service, "; ".join(problems)))
    return tags


def describe(entry):
    """``latest (061c576)``: an image by its tag, and the tag it was built as when that is another."""
    tag = image_tag(entry.get("image") or "")
    build = entry.get("build")
    return "%s (%s)" % (tag, build) if build and build != tag else tag


def when_by(record):
    """``2026-11-29T15:01:30Z by alice@laptop``: when a deploy ran (the host's clock) and who ran it from where."""
    return "%s by %s@%s" % (record.get("time") or "?", record.get("owner") or "?", record.get("controller") or "?")


def summary(record):
    """One line per deploy: when, who, and per component what runs now and what ran before."""
    parts = []
    for component, entry in sorted(record["components"].items()):
        before = entry.get("before")
        parts.append("%s %s%s" % (component, describe(entry), ", before: %s" % describe(before) if before else ", the first"))
    return "%s: %s" % (when_by(record), "; ".join(parts))
