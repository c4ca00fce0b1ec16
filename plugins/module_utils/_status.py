# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the status report of one host (playbooks/status.yml).

From what the play read on a host (app_service_info per service, pg_cluster_info, electric_slots_info,
and two shell reads: the shared containers with the named volumes, and the certificates with their
renewal schedule), the rows of the tables a person reads and the list of problems that make the play
fail. Pure functions; no I/O.
"""

from __future__ import annotations

import json

from ansible_collections.sertantai.deploy.plugins.module_utils import _app
from ansible_collections.sertantai.deploy.plugins.module_utils._disk import human_bytes, percent_used
from ansible_collections.sertantai.deploy.plugins.module_utils._history import when_by

COMPONENTS = ("backend", "frontend", "electric")
NONE = "-"


def parse_docker_lines(lines):
    """``({name: {state, health, restarts}}, {volume: {bytes, target, size, used, avail}})`` from the shell read.

    Lines: ``container /<name> <state> <health> <restarts>`` and
    ``volume <name> <bytes> <fs target> <fs size> <fs used> <fs avail>`` (sizes in bytes).
    """
    containers, volumes = {}, {}
    for line in lines or []:
        parts = line.split()
        if len(parts) == 5 and parts[0] == "container":
            containers[parts[1].lstrip("/")] = dict(state=parts[2], health=parts[3], restarts=_int(parts[4]))
        elif len(parts) == 7 and parts[0] == "volume":
            volumes[parts[1]] = dict(bytes=_int(parts[2]), target=parts[3], size=_int(parts[4]), used=_int(parts[5]),
                                     avail=_int(parts[6]))
    return containers, volumes


def parse_deploy_lines(lines):
    """``{service: the last record of its deploy history}`` from the shell read: ``deploy <service> <JSON line>``
    (the last line of the service's history file, tasks/history.yml of app_service); a line that is not a record is
    left out."""
    deploys = {}
    for line in lines or []:
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == "deploy":
            try:
                record = json.loads(parts[2])
            except ValueError:
                continue
            if isinstance(record, dict):
                deploys[parts[1]] = record
    return deploys


def parse_cert_lines(lines):
    """``{domain: {kind, days, issuer}}`` from the certificate read.

    Lines: ``cert <domain> missing`` or ``cert <domain> <self-signed|issued> <not after, epoch> <now, epoch> <issuer>``;
    ``days`` are whole days left by the server's clock (negative once expired).
    """
    certs = {}
    for line in lines or []:
        parts = line.split(None, 5)
        if len(parts) == 3 and parts[0] == "cert" and parts[2] == "missing":
            certs[parts[1]] = dict(kind="missing", days=None, issuer=None)
        elif len(parts) >= 5 and parts[0] == "cert":
            end, now = _int(parts[3]), _int(parts[4])
            days = (end - now) // 86400 if end is not None and now is not None else None
            certs[parts[1]] = dict(kind=parts[2], days=days, issuer=parts[5] if len(parts) > 5 else None)
    return certs


def parse_renewal_line(lines):
    """``(scheduler, state)`` of the certificate renewal from the certificate read, None without its line.

    Line: ``renewal timer <state>`` on a host with systemd (``systemctl is-active`` of the timer, or
    ``missing``), ``renewal cron <active|inactive|missing>`` without (cron runs or not, the cron file
    exists or not).
    """
    for line in lines or []:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "renewal":
            return parts[1], parts[2]
    return None


def image_tag(ref):
    """The tag of an image reference, ``-`` without one (_app.image_tag)."""
    return _app.image_tag(ref) if ref else NONE


def unread(result, key):
    """Whether a read failed. The play registers its reads with ``failed_when: false`` (a failed read is a
    problem of the report, not the end of the play), which leaves ``failed`` false: a failed read is one
    without its data ``key``, or with the ``msg`` that only a failure returns."""
    return not result or bool(result.get("failed")) or key not in result or "msg" in result


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _components(service):
    return [c for c in COMPONENTS
            if c == "backend" or (c == "frontend" and service.get("frontend")) or
            (c == "electric" and (service.get("electric") or {}).get("enabled"))]


def component_rows(service, app, problems, notes):
    """One row per component of a service: its live container and what a deploy would do."""
    name = service["name"]
    rows = []
    if app.get("failed"):
        problems.append("%s: could not be read: %s" % (name, app.get("msg") or "unknown error"))
        return [dict(service=name, component=c, container="?", tag="?", health="?", restarts="?", deploy="?")
                for c in _components(service)]
    # Without its nginx site the service was never provisioned here, and a deploy of it is refused.
    provisioned = (app.get("site") or {}).get("exists", True)
    for component in _components(service):
        plan = (app.get("components") or {}).get(component) or {}
        live = plan.get("live")
        if live is None:
            problems.append("%s %s: no container runs (%s)" % (
                name, component, "scripts/deploy --service %s --%s" % (name, component) if provisioned
                else "not provisioned on this host: playbooks/site.yml creates its site and deploys it"))
        elif not live.get("running") or live.get("health") != "healthy":
            what = (live.get("state") or "not running") if not live.get("running") else (
                "without a healthcheck" if live.get("health") == "none" else live.get("health"))
            problems.append("%s %s: %s is %s (docker logs %s; a deploy replaces it: scripts/deploy --service %s --%s)"
                            % (name, component, live["name"], what, live["name"], name, component))
        for leftover in plan.get("leftovers") or []:
            notes.append("%s %s: %s was left by an interrupted deploy; the next deploy removes it"
                         % (name, component, leftover))
        if plan.get("up_to_date"):
            deploy = "leave it"
        else:
            deploy = "replace it: " + (", ".join(plan.get("reasons") or []) or "not up to date")
        rows.append(dict(
            service=name, component=component,
            container=live["name"] if live else NONE,
            tag=(image_tag(live.get("image")) + (" (%s)" % live["build"] if live.get("build") else "")) if live else NONE,
            health=(live.get("health") if live.get("running") else live.get("state")) if live else NONE,
            restarts=str(live.get("restarts", 0)) if live else NONE,
            deploy=deploy,
        ))
    return rows


def electric_cells(service, electric, problems):
    """``(state, retained WAL)`` of a service's Electric: active, waiting, inactive, no slot; problems added."""
    if not (service.get("electric") or {}).get("enabled"):
        return NONE, NONE
    name = service["name"]
    if unread(electric, "slots"):
        return "?", "?"
    instance = service["electric"]["instance"]["name"]
    slot_name = service["electric"]["slot"]
    waiting = [w for w in electric.get("waiting") or [] if instance in (w.get("instances") or []) or w.get("slot") == slot_name]
    slots = [s for s in electric.get("slots") or [] if s.get("name") == slot_name]
    slot = slots[0] if slots else None
    lag = (slot.get("retained_wal") or NONE) if slot else NONE
    for stale in electric.get("stale") or []:
        if stale.get("slot") == slot_name:
            problems.append("%s electric: %s" % (name, stale.get("msg") or "slot %s is %s" % (slot_name, stale.get("reason"))))
    if waiting:
        holder = waiting[0].get("holder_pid")
        problems.append("%s electric: waits for the replication lock of %s%s (HTTP 202 'waiting'; the runbook's "
                        "'stuck on waiting_on_lock')" % (name, slot_name, " held by pid %s" % holder if holder else ""))
        return "waiting", lag
    if slot is None:
        problems.append("%s electric: replication slot %s does not exist (Electric has not started streaming)"
                        % (name, slot_name))
        return "no slot", NONE
    if not slot.get("active"):
        problems.append("%s electric: replication slot %s is not active (no Electric streams from it)" % (name, slot_name))
        return "inactive", lag
    return "active", lag


def certificate_cell(service, cert, settings, problems):
    """``"<n> days (issued|self-signed)"`` for the service's domain; problems added."""
    where = "%s certificate of %s" % (service["name"], service["domain"])
    if cert is None or cert.get("kind") == "missing":
        problems.append("%s: missing (playbooks/site.yml makes one)" % where)
        return "missing"
    days = cert.get("days")
    cell = "%s days (%s)" % (days if days is not None else "?", cert.get("kind"))
    min_days = settings.get("cert_min_days", 14)
    if days is not None and days < 0:
        problems.append("%s: expired %d days ago" % (where, -days))
    elif days is not None and days < min_days:
        problems.append("%s: expires in %d days (less than %d; certbot renews at 30 days: check the renewal timer and "
                        "that %s still points at this host)" % (where, days, min_days, service["domain"]))
    if cert.get("kind") == "self-signed" and settings.get("issue_certificates", True):
        problems.append("%s: still the self-signed bootstrap certificate (playbooks/site.yml issues it once DNS points "
                        "at this host)" % where)
    return cell


def renewal_row(renewal, name, problems):
    """The shared row of ``certbot renew``'s schedule (the certbot role's timer or cron file); problems added."""
    row = dict(shared="certbot renew", container=NONE)
    if renewal is None:
        problems.append("certbot renew: its schedule could not be read")
        return dict(row, state="?", details=NONE)
    scheduler, state = renewal
    what = "systemd timer %s.timer" % name if scheduler == "timer" else "cron, /etc/cron.d/%s" % name
    if state == "missing":
        problems.append("certbot renew: not scheduled, no %s (playbooks/site.yml schedules it)" % what)
        state = "NOT SCHEDULED"
    elif state != "active" and scheduler == "timer":
        problems.append("certbot renew: the %s is %s, so no certificate renews (playbooks/site.yml starts it)" % (what, state))
    elif state != "active":
        problems.append("certbot renew: cron does not run, so /etc/cron.d/%s never runs and no certificate renews "
                        "(playbooks/site.yml starts cron)" % name)
        state = "cron not running"
    return dict(row, state=state, details=what)


def database_cell(service, postgres, problems):
    if unread(postgres, "version"):
        return "%s ?" % service["database"]
    db = (postgres.get("databases") or {}).get(service["database"])
    if db is None:
        problems.append("%s database %s: missing (playbooks/site.yml creates it)" % (service["name"], service["database"]))
        return "%s MISSING" % service["database"]
    return "%s %s" % (service["database"], human_bytes(db.get("size_bytes")))


def urls_cell(service):
    base = "https://%s/" % service["domain"]
    return "  ".join([base, "/api/"] + (["/electric/"] if (service.get("electric") or {}).get("enabled") else []))


def shared_row(label, name, containers, problems):
    """The row of a shared container (nginx, PostgreSQL): its state from ``docker inspect``; problems added."""
    found = containers.get(name)
    if found is None:
        problems.append("%s: container %s not found" % (label, name))
        return dict(shared=label, container=name, state="NOT FOUND", details=NONE)
    if found["state"] != "running":
        problems.append("%s: container %s is %s" % (label, name, found["state"]))
    elif found["health"] not in ("healthy", "none"):
        problems.append("%s: container %s is %s" % (label, name, found["health"]))
    state = found["state"] if found["state"] != "running" or found["health"] == "none" else found["health"]
    return dict(shared=label, container=name, state="%s, %s restarts" % (state, found["restarts"]), details=NONE)


def postgres_details(postgres, container, has_electric, problems, notes):
    """``16.4, wal_level=logical, ...`` or why PostgreSQL could not be read; problems added."""
    if unread(postgres, "version"):
        msg = " ".join(((postgres or {}).get("msg") or "not read").split())
        problems.append("PostgreSQL (%s): unreachable: %s" % (container, msg))
        return "UNREACHABLE: %s" % msg
    settings = postgres.get("settings") or {}
    parts = [str(postgres.get("version"))]
    for name, fact in settings.items():
        unit = fact.get("unit") or ""
        parts.append("%s=%s%s%s" % (name, fact.get("setting"), unit if unit != "8kB" else "",
                                    " (restart pending)" if fact.get("pending_restart") else ""))
        if fact.get("pending_restart"):
            notes.append("PostgreSQL %s: a changed value waits for a restart of %s" % (name, container))
    wal_level = (settings.get("wal_level") or {}).get("setting")
    if has_electric and wal_level is not None and wal_level != "logical":
        problems.append("PostgreSQL wal_level is %s: Electric needs logical (playbooks/site.yml sets it)" % wal_level)
    return ", ".join(parts)


def volume_rows(names, volumes, settings, problems):
    rows, seen = [], set()
    max_percent = settings.get("disk_max_percent", 90)
    for name in names:
        vol = volumes.get(name)
        if vol is None:
            rows.append(dict(volume=name, size="missing", filesystem=NONE, used=NONE))
            continue
        percent = percent_used(vol["used"], vol["avail"])
        used = "?" if percent is None else "%s%% of %s (%s free)" % (percent, human_bytes(vol["size"]), human_bytes(vol["avail"]))
        rows.append(dict(volume=name, size=human_bytes(vol["bytes"]) if vol["bytes"] is not None else "?",
                         filesystem=vol["target"], used=used))
        if percent is not None and percent > max_percent and vol["target"] not in seen:
            problems.append("disk %s: %d%% used (more than %d%%), %s free"
                            % (vol["target"], percent, max_percent, human_bytes(vol["avail"])))
        seen.add(vol["target"])
    return rows


def last_deploy_cell(record):
    """When and by whom the last deploy of a service ran, from its deploy history."""
    return when_by(record) if record else "none recorded"


def build_report(fleet, apps, postgres, electric, docker_lines, cert_lines, settings):
    """The status of one host: ``{shared, components, services, volumes, problems, notes}``, rows as dicts of strings.

    ``fleet``: the host's normalised services; ``apps``: app_service_info results by service (or
    ``{failed, msg}``); ``postgres``/``electric``: the pg_cluster_info / electric_slots_info results (None
    when not run); ``docker_lines``/``cert_lines``: the shell reads (see the parse functions);
    ``settings``: cert_min_days, disk_max_percent, issue_certificates, nginx_container, pg_container, renew_name,
    volumes.
    """
    problems, notes = [], []
    containers, volumes = parse_docker_lines(docker_lines)
    deploys = parse_deploy_lines(docker_lines)
    certs = parse_cert_lines(cert_lines)
    has_electric = any((s.get("electric") or {}).get("enabled") for s in fleet)
    pg_container = settings.get("pg_container", "shared_postgres")
    # An unreachable PostgreSQL is one problem, whatever its container's state says.
    pg_row = shared_row("PostgreSQL", pg_container, containers, [])
    pg_row["details"] = postgres_details(postgres, pg_container, has_electric, problems, notes)
    report = dict(shared=[pg_row, shared_row("nginx", settings.get("nginx_container", "nginx"), containers, problems)],
                  components=[], services=[])
    # Where certificates are issued, certbot renews them; nothing else says that it stopped until they expire.
    if settings.get("issue_certificates", True):
        renewal = parse_renewal_line(cert_lines)
        report["shared"].append(renewal_row(renewal, settings.get("renew_name", "sertantai-certbot-renew"), problems))
    if electric is not None and unread(electric, "slots") and not unread(postgres, "version"):
        problems.append("Electric slots: could not be read: %s" % (electric.get("msg") or "unknown error"))
    for conflict in (electric or {}).get("conflicts") or []:
        problems.append("Electric: %s" % conflict.get("msg"))
    for service in fleet:
        report["components"].extend(component_rows(service, apps.get(service["name"]) or {"failed": True, "msg": "not read"},
                                                   problems, notes))
        state, lag = electric_cells(service, electric, problems)
        report["services"].append(dict(
            service=service["name"], electric=state, lag=lag,
            certificate=certificate_cell(service, certs.get(service["domain"]), settings, problems),
            database=database_cell(service, postgres, problems), urls=urls_cell(service),
            last_deploy=last_deploy_cell(deploys.get(service["name"]))))
    report["volumes"] = volume_rows(settings.get("volumes") or [], volumes, settings, problems)
    report["problems"] = problems
    report["notes"] = notes
    return report
