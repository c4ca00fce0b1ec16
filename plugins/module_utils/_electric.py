# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: Electric replication slots, publications and locks, judged.

Each Electric instance with ``ELECTRIC_REPLICATION_STREAM_ID=<id>`` uses the logical slot
``electric_slot_<id>`` and the publication ``electric_publication_<id>`` (``default`` without a
stream id). Slots are cluster-wide, so two instances with the same id on one cluster fight over
one slot. Before creating it, Electric takes ``pg_advisory_lock(hashtext('electric_slot_<id>'))``
on a dedicated connection and waits there: a second instance shows up as an ungranted advisory
lock in ``pg_locks``, and its health says "waiting" for as long as the first one lives.

This file is the one place for these names and rules: the fleet description (``_fleet``) and
the modules ``electric_slots_info`` and ``electric_reset`` import them. The judging functions are
side-effect free; ``read_state`` and ``apply_reset`` run SQL only through a ``_pg`` runner (or its
``QueryLog``), so tests can give them a fake one.
"""

from __future__ import annotations

import re

from ansible_collections.sertantai.deploy.plugins.module_utils._disk import human_bytes
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, quote_ident, quote_literal

SLOT_PREFIX = "electric_slot_"
PUBLICATION_PREFIX = "electric_publication_"
DEFAULT_STREAM_ID = "default"
# PostgreSQL names (slots, publications) have at most 63 bytes. Both derived names must fit: a longer
# publication name is silently truncated, and two stream ids that differ only past that point would
# share one publication. The longer prefix decides: 63 - len("electric_publication_") = 42.
NAME_MAX_BYTES = 63
STREAM_ID_MAX_LENGTH = NAME_MAX_BYTES - max(len(SLOT_PREFIX), len(PUBLICATION_PREFIX))
# Slot names allow lower-case letters, digits and underscores only.
STREAM_ID_RE = re.compile(r"^[a-z0-9_]{1,%d}$" % STREAM_ID_MAX_LENGTH)
STREAM_ID_RULE = ("lower-case letters, digits and '_' only, 1 to %d characters (electric_slot_<id> and "
                  "electric_publication_<id> must fit PostgreSQL's 63-character names)" % STREAM_ID_MAX_LENGTH)
# The slot name in a lock query as Electric writes it: pg_advisory_lock(hashtext('electric_slot_<id>')).
LOCK_QUERY_PATTERN = r"hashtext\(\s*'(%s[a-z0-9_]+)'\s*\)" % SLOT_PREFIX


# ---------------------------------------------------------------- names and input


def is_stream_id(stream_id):
    """The one rule for ELECTRIC_REPLICATION_STREAM_ID (fleet validation and the Electric modules)."""
    return isinstance(stream_id, str) and bool(STREAM_ID_RE.match(stream_id))


def stream_id_or_default(stream_id):
    return stream_id if stream_id else DEFAULT_STREAM_ID


def slot_name(stream_id):
    return SLOT_PREFIX + stream_id_or_default(stream_id)


def publication_name(stream_id):
    return PUBLICATION_PREFIX + stream_id_or_default(stream_id)


def publication_for_slot(slot):
    """The publication that goes with an Electric slot name."""
    return PUBLICATION_PREFIX + slot[len(SLOT_PREFIX):] if slot.startswith(SLOT_PREFIX) else None


def validate_instances(instances):
    """Return one message per bad instance entry (empty list when all are fine)."""
    errors = []
    seen = {}
    for index, item in enumerate(instances or []):
        where = "instances[%d]" % index
        name = item.get("name")
        if not name:
            errors.append("%s has no name: give each Electric instance a name (its container or service name)" % where)
            continue
        if name in seen:
            errors.append("%s: instance name '%s' is listed twice (also instances[%d]): names must be unique"
                          % (where, name, seen[name]))
        seen.setdefault(name, index)
        stream_id = item.get("stream_id")
        if stream_id and not is_stream_id(stream_id):
            errors.append("%s (%s): stream_id '%s' is not a valid slot-name suffix: use %s"
                          % (where, name, stream_id, STREAM_ID_RULE))
        database = item.get("database")
        if database is not None and not database:
            errors.append("%s (%s): database is empty: name the database this instance replicates, or omit it"
                          % (where, name))
    return errors


def normalize_instances(instances):
    """Instances with their stream id defaulted and their slot and publication names spelled out."""
    result = []
    for item in instances or []:
        stream_id = stream_id_or_default(item.get("stream_id"))
        result.append(dict(
            name=item["name"],
            stream_id=stream_id,
            stream_id_set=bool(item.get("stream_id")),
            database=item.get("database") or None,
            slot=slot_name(stream_id),
            publication=publication_name(stream_id),
        ))
    return result


def reset_hint(slot, database=None):
    """How to drop a slot and its publication together, as a task and as SQL (clear one, clear the other)."""
    stream_id = slot[len(SLOT_PREFIX):] if slot.startswith(SLOT_PREFIX) else slot
    publication = publication_for_slot(slot) or publication_name(stream_id)
    where = " in database %s" % database if database else ""
    return ("sertantai.deploy.electric_reset with instances: [{name: <its Electric>, stream_id: %s%s}], or by hand%s: "
            "SELECT pg_drop_replication_slot('%s'); DROP PUBLICATION IF EXISTS %s;"
            % (stream_id, ", database: %s" % database if database else "", where, slot, publication))


def find_conflicts(instances):
    """Instances (normalized) that would share one replication slot: a conflict whatever their databases."""
    by_slot = {}
    for inst in instances:
        by_slot.setdefault(inst["slot"], []).append(inst)
    conflicts = []
    for slot in sorted(by_slot):
        group = by_slot[slot]
        if len(group) < 2:
            continue
        names = [i["name"] for i in group]
        if all(not i["stream_id_set"] for i in group):
            why = "set no stream id, so all of them use %s" % slot
        else:
            why = "use stream id '%s', so all of them use %s" % (group[0]["stream_id"], slot)
        conflicts.append(dict(
            kind="shared_slot",
            slot=slot,
            publication=group[0]["publication"],
            instances=names,
            databases=sorted(set(i["database"] for i in group if i["database"])),
            msg="Electric instances %s %s; replication slots are cluster-wide, so only one of them can run "
                "(the others wait on its replication lock forever): give each instance its own "
                "ELECTRIC_REPLICATION_STREAM_ID (stream_id)" % (", ".join(names), why),
        ))
    return conflicts


def database_conflicts(instances, slots):
    """An instance whose slot already exists in another database: Electric cannot use that slot."""
    by_name = dict((s["slot_name"], s) for s in slots)
    conflicts = []
    for inst in instances:
        slot = by_name.get(inst["slot"])
        if not slot or not inst["database"] or not slot.get("database") or slot["database"] == inst["database"]:
            continue
        conflicts.append(dict(
            kind="other_database",
            slot=inst["slot"],
            publication=inst["publication"],
            instances=[inst["name"]],
            databases=[inst["database"], slot["database"]],
            msg="instance %s replicates database %s, but slot %s already exists in database %s (slots are "
                "cluster-wide; a logical slot serves one database): give this instance its own stream id, or, "
                "when nothing uses the old slot, drop it and its publication: %s"
                % (inst["name"], inst["database"], inst["slot"], slot["database"], reset_hint(inst["slot"], slot["database"])),
        ))
    return conflicts


# ---------------------------------------------------------------- SQL

_CURRENT_LSN = "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END"

SLOTS_SQL = r"""
SELECT s.slot_name, s.plugin, s.slot_type, s.database, s.temporary, s.active, s.active_pid,
       s.wal_status, s.safe_wal_size, s.restart_lsn::text AS restart_lsn,
       s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
       CASE WHEN s.restart_lsn IS NULL THEN NULL
            ELSE pg_wal_lsn_diff(%s, s.restart_lsn)::bigint END AS retained_wal_bytes,
       a.application_name AS active_application_name, host(a.client_addr) AS active_client_addr,
       a.backend_start AS active_since
FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid
WHERE s.slot_name LIKE 'electric\_slot\_%%'
ORDER BY s.slot_name
""" % _CURRENT_LSN

# Advisory locks taken with one bigint key (objsubid 1): the key is classid << 32 | objid, which is
# hashtext(name)::bigint again, sign included.
LOCKS_SQL = """
SELECT l.pid, l.granted, l.mode, d.datname AS database,
       (l.classid::bigint << 32) | l.objid::bigint AS lock_key,
       a.application_name, host(a.client_addr) AS client_addr, a.backend_start, a.query_start,
       a.state, a.wait_event_type, a.wait_event, a.query,
       round(extract(epoch FROM now() - a.query_start))::bigint AS waiting_seconds
FROM pg_locks l
LEFT JOIN pg_database d ON d.oid = l.database
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.objsubid = 1
ORDER BY l.granted DESC, a.query_start, l.pid
"""

DATABASES_SQL = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"

PUBLICATIONS_SQL = r"""
SELECT p.pubname AS name, current_database() AS database, p.puballtables AS all_tables,
       (SELECT count(*) FROM pg_publication_tables t WHERE t.pubname = p.pubname) AS tables
FROM pg_publication p
WHERE p.pubname LIKE 'electric\_publication\_%'
ORDER BY p.pubname
"""


def inspect_sql(instances):
    """One round trip: Electric slots, advisory locks, the lock key of every Electric slot name we can
    know of (configured, default, existing, or named in a backend's lock query), and the databases."""
    names = sorted(set([slot_name(None)] + [i["slot"] for i in instances]))
    return """
WITH names AS (
    SELECT n FROM unnest(ARRAY[%(names)s]::text[]) AS n
    UNION SELECT slot_name::text FROM pg_replication_slots
    UNION SELECT (regexp_match(query, %(pattern)s))[1] FROM pg_stat_activity
)
SELECT (SELECT coalesce(json_agg(s), '[]') FROM (%(slots)s) AS s) AS slots,
       (SELECT coalesce(json_agg(l), '[]') FROM (%(locks)s) AS l) AS locks,
       (SELECT coalesce(json_agg(k), '[]') FROM (
            SELECT n AS name, hashtext(n)::bigint AS lock_key FROM names WHERE n LIKE 'electric\\_slot\\_%%'
       ) AS k) AS lock_keys,
       (SELECT coalesce(json_agg(d.datname), '[]') FROM (%(databases)s) AS d) AS databases
""" % dict(names=", ".join(quote_literal(n) for n in names), pattern=quote_literal(LOCK_QUERY_PATTERN),
           slots=SLOTS_SQL, locks=LOCKS_SQL, databases=DATABASES_SQL)


def drop_slot_sql(slot):
    return "SELECT pg_drop_replication_slot(%s)" % quote_literal(slot)


def drop_publication_sql(publication):
    return "DROP PUBLICATION IF EXISTS %s" % quote_ident(publication)


# ---------------------------------------------------------------- judging rows


def electric_locks(lock_rows, key_rows):
    """Advisory lock rows that belong to an Electric slot name, each with its ``slot`` added."""
    by_key = {}
    for row in key_rows:
        by_key.setdefault(row["lock_key"], row["name"])
    result = []
    for row in lock_rows:
        slot = by_key.get(row["lock_key"])
        if slot:
            row = dict(row)
            row["slot"] = slot
            result.append(row)
    return result


def lock_holders(locks):
    """slot name -> the granted lock row (the running Electric instance's lock connection)."""
    holders = {}
    for row in locks:
        if row["granted"]:
            holders.setdefault(row["slot"], row)
    return holders


def _who(pid, application_name=None, client_addr=None):
    parts = [p for p in (application_name, ("client " + client_addr) if client_addr else None) if p]
    return "pid %s%s" % (pid, " (%s)" % ", ".join(parts) if parts else "")


def find_waiting(locks, instances):
    """Backends blocked on an Electric slot's advisory lock, each with the pid that holds it."""
    by_slot = {}
    for inst in instances:
        by_slot.setdefault(inst["slot"], []).append(inst["name"])
    waiting = []
    for row in locks:
        if row["granted"]:
            continue
        holder = None
        for other in locks:
            if (other["granted"] and other["slot"] == row["slot"] and other["lock_key"] == row["lock_key"]
                    and other["database"] == row["database"]):
                holder = other
                break
        entry = dict(
            slot=row["slot"],
            publication=publication_for_slot(row["slot"]),
            database=row["database"],
            instances=by_slot.get(row["slot"], []),
            pid=row["pid"],
            application_name=row.get("application_name"),
            client_addr=row.get("client_addr"),
            backend_start=row.get("backend_start"),
            since=row.get("query_start"),
            waiting_seconds=row.get("waiting_seconds"),
            wait_event_type=row.get("wait_event_type"),
            wait_event=row.get("wait_event"),
            query=row.get("query"),
            holder_pid=holder["pid"] if holder else None,
            holder_application_name=holder.get("application_name") if holder else None,
            holder_client_addr=holder.get("client_addr") if holder else None,
            holder_backend_start=holder.get("backend_start") if holder else None,
            holder_since=holder.get("query_start") if holder else None,
        )
        held_by = (_who(holder["pid"], holder.get("application_name"), holder.get("client_addr"))
                   if holder else "a backend that is gone or not visible to this role")
        entry["msg"] = ("%s has waited for the replication lock of %s in database %s since %s (%s s), held by %s: "
                        "this Electric instance stays 'waiting' (HTTP 202) until that one stops; if both are meant "
                        "to run, give them different stream ids"
                        % (_who(row["pid"], row.get("application_name"), row.get("client_addr")), row["slot"],
                           row["database"], row.get("query_start"), row.get("waiting_seconds"), held_by))
        waiting.append(entry)
    return waiting


def judge_slots(slots, instances, publications, locks, max_retained_wal_bytes):
    """Annotate slot rows; return (slots, stale). A slot is stale when it is lost or about to be, or
    when it is inactive and retains more WAL than allowed."""
    users = {}
    for inst in instances:
        users.setdefault(inst["slot"], []).append(inst["name"])
    pubs = set((p["database"], p["name"]) for p in publications)
    holders = lock_holders(locks)
    judged, stale = [], []
    for row in slots:
        slot = dict(row)
        name = slot["slot_name"]
        slot["name"] = name
        slot["publication"] = publication_for_slot(name)
        slot["publication_exists"] = (slot.get("database"), slot["publication"]) in pubs
        slot["instances"] = users.get(name, [])
        slot["orphaned"] = bool(instances) and not slot["instances"]
        holder = holders.get(name)
        slot["lock_holder_pid"] = holder["pid"] if holder else None
        slot["retained_wal"] = human_bytes(slot.get("retained_wal_bytes"))
        slot["lost"] = slot.get("wal_status") == "lost"
        retained = slot.get("retained_wal_bytes")
        reason = msg = None
        where = "slot %s (database %s)" % (name, slot.get("database"))
        if slot["lost"]:
            reason = "lost"
            msg = ("%s has lost WAL it still needed (wal_status lost, max_slot_wal_keep_size exceeded): Electric cannot "
                   "resume from it and must resync all shapes. Stop its Electric, drop the slot and its publication "
                   "together (%s), and clear the shape storage (deploy with electric_clear_cache=true does all three)"
                   % (where, reset_hint(name, slot.get("database"))))
        elif slot.get("wal_status") == "unreserved":
            reason = "unreserved"
            msg = ("%s retains more WAL than max_slot_wal_keep_size allows (wal_status unreserved): the next checkpoint "
                   "may remove WAL it still needs, and then Electric must resync all shapes; start its Electric instance "
                   "now so it catches up, or stop it, drop the slot and its publication (%s) and clear the shape storage"
                   % (where, reset_hint(name, slot.get("database"))))
        elif not slot.get("active") and retained is not None and retained > max_retained_wal_bytes:
            reason = "retained_wal"
            msg = ("inactive %s retains %s of WAL (%d bytes), more than max_retained_wal_bytes=%d: PostgreSQL keeps that "
                   "WAL on disk until the slot is used again; start its Electric instance%s, or drop the slot and its "
                   "publication if nothing will use it: %s"
                   % (where, slot["retained_wal"], retained, max_retained_wal_bytes,
                      " (%s)" % ", ".join(slot["instances"]) if slot["instances"] else "",
                      reset_hint(name, slot.get("database"))))
        slot["stale"] = reason is not None
        if reason:
            stale.append(dict(
                slot=name, publication=slot["publication"], database=slot.get("database"), reason=reason,
                active=slot.get("active"), wal_status=slot.get("wal_status"), retained_wal_bytes=retained,
                resync_required=reason in ("lost", "unreserved"), instances=slot["instances"], msg=msg,
            ))
        judged.append(slot)
    return judged, stale


def publication_databases(instances, slots, existing_databases):
    """Databases whose publications we must look at: the instances' and the slots', where they exist.

    An instance with neither a database nor an existing slot could have its publication anywhere,
    so then every connectable database is searched.
    """
    wanted = set(i["database"] for i in instances if i["database"])
    wanted.update(s["database"] for s in slots if s.get("database"))
    slot_names = set(s["slot_name"] for s in slots)
    if any(not i["database"] and i["slot"] not in slot_names for i in instances):
        wanted.update(existing_databases)
    return sorted(d for d in wanted if d in set(existing_databases))


# ---------------------------------------------------------------- reading, lock holders


def read_state(runner, instances):
    """Slots, Electric's advisory locks, publications and databases, read through ``runner`` (read-only).

    One query for the cluster-wide part, then one per database whose publications matter.
    """
    found = runner.query(inspect_sql(instances))[0]
    slots, databases = found["slots"], found["databases"]
    locks = electric_locks(found["locks"], found["lock_keys"])
    publications = []
    for database in publication_databases(instances, slots, databases):
        publications.extend(runner.query(PUBLICATIONS_SQL, database=database))
    return dict(slots=slots, locks=locks, publications=publications, databases=databases)


def instance_lock_holders(instances, locks, slots):
    """The session holding each instance's replication lock, whether or not the slot exists yet.

    A holder before any Electric instance runs (a stray psql, an old instance on another host) makes
    the next Electric wait ("waiting", HTTP 202) for as long as that session lives. Advisory locks
    are per database, so a holder counts for an instance when it is in the instance's database (or
    the instance names none).
    """
    existing = set(s["slot_name"] for s in slots)
    result = []
    for row in locks:
        if not row["granted"]:
            continue
        users = [i["name"] for i in instances
                 if i["slot"] == row["slot"] and (not i["database"] or i["database"] == row["database"])]
        if instances and not users:
            continue
        entry = dict(slot=row["slot"], database=row["database"], instances=users, slot_exists=row["slot"] in existing,
                     pid=row["pid"], application_name=row.get("application_name"), client_addr=row.get("client_addr"),
                     backend_start=row.get("backend_start"), since=row.get("query_start"))
        entry["msg"] = ("%s has held the replication lock of %s in database %s since %s%s: an Electric instance with "
                        "this stream id%s waits ('waiting', HTTP 202) until that session ends; if it is not a running "
                        "Electric of this fleet, find it with SELECT * FROM pg_stat_activity WHERE pid = %s and stop "
                        "it, or end it with SELECT pg_terminate_backend(%s)"
                        % (_who(row["pid"], row.get("application_name"), row.get("client_addr")), row["slot"],
                           row["database"], row.get("query_start"),
                           "" if entry["slot_exists"] else " (the slot does not exist yet)",
                           " (%s)" % ", ".join(users) if users else "", row["pid"], row["pid"]))
        result.append(entry)
    return result


# ---------------------------------------------------------------- reset (drop slot + publication together)


class ResetError(Exception):
    """A drop failed midway: ``done`` lists what was dropped before it, ``action`` the one that failed."""

    def __init__(self, message, done, action):
        super().__init__(message)
        self.message = message
        self.done = done
        self.action = action


def plan_reset(instances, slots, publications, locks):
    """What dropping the instances' slots and publications takes: (actions, refusals).

    A slot that is active, or whose replication lock is held (its Electric runs or starts), is
    refused: dropping it, or its publication, would break a running instance. One refusal means
    nothing is dropped.
    """
    by_name = dict((s["slot_name"], s) for s in slots)
    holders = lock_holders(locks)
    actions, refusals, seen = [], [], set()
    for inst in instances:
        if inst["slot"] in seen:
            continue
        seen.add(inst["slot"])
        slot = by_name.get(inst["slot"])
        holder = holders.get(inst["slot"])
        if slot and slot.get("active"):
            refusals.append(
                "slot %s is active: %s streams from it (since %s); stop the Electric instance that uses it "
                "(%s) before dropping its slot"
                % (inst["slot"], _who(slot.get("active_pid"), slot.get("active_application_name"),
                                      slot.get("active_client_addr")),
                   slot.get("active_since"), inst["name"]))
            continue
        if holder:
            refusals.append(
                "slot %s is %s but %s holds its replication lock: an Electric instance with this stream id (%s) "
                "runs or starts and will use the slot, so stop it first; if that session is not an Electric of this "
                "fleet, end it with SELECT pg_terminate_backend(%s)"
                % (inst["slot"], "inactive" if slot else "absent",
                   _who(holder["pid"], holder.get("application_name"), holder.get("client_addr")), inst["name"],
                   holder["pid"]))
            continue
        databases = set([inst["database"]] if inst["database"] else [])
        if slot:
            databases.add(slot["database"])
            actions.append(dict(kind="slot", name=inst["slot"], database=slot["database"],
                                sql=drop_slot_sql(inst["slot"])))
        for pub in publications:
            if pub["name"] == inst["publication"] and (not databases or pub["database"] in databases):
                actions.append(dict(kind="publication", name=pub["name"], database=pub["database"],
                                    sql=drop_publication_sql(pub["name"])))
    return actions, refusals


def apply_reset(log, actions):
    """Run the drops through a ``_pg.QueryLog`` (recorded in both modes, executed outside check mode).

    Returns the dropped objects; raises ResetError naming what was already dropped when one fails.
    """
    done = []
    for action in actions:
        try:
            log.write(action["sql"], database=action["database"])
        except PgError as exc:
            raise ResetError(
                "could not drop %s %s in database %s: %s (already dropped: %s); if an Electric instance started "
                "using it, stop that instance and run again"
                % (action["kind"], action["name"], action["database"], exc.message,
                   ", ".join("%s %s" % (d["kind"], d["name"]) for d in done) or "nothing"),
                done, action)
        done.append(dict(kind=action["kind"], name=action["name"], database=action["database"]))
    return done


def reset_diff(instances, slots, publications, actions):
    """before/after of the slots and publications a reset is about."""
    targets = set(i["slot"] for i in instances)
    pub_targets = set(i["publication"] for i in instances)
    before = dict(
        replication_slots=[dict(name=s["slot_name"], database=s.get("database")) for s in slots
                           if s["slot_name"] in targets],
        publications=[dict(name=p["name"], database=p["database"]) for p in publications
                      if p["name"] in pub_targets],
    )
    dropped = set((a["kind"], a["name"], a["database"]) for a in actions)
    after = dict(
        replication_slots=[s for s in before["replication_slots"] if ("slot", s["name"], s["database"]) not in dropped],
        publications=[p for p in before["publications"] if ("publication", p["name"], p["database"]) not in dropped],
    )
    return dict(before=before, after=after)
