"""_electric: names, input conflicts, and the judging of slot / lock / publication rows (pure)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _electric as electric
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import PgError, QueryLog


def instances(*specs):
    """normalize_instances() from (name, stream_id, database) tuples."""
    return electric.normalize_instances([dict(name=n, stream_id=s, database=d) for n, s, d in specs])


def slot_row(name, database="legal_db", active=False, active_pid=None, wal_status="reserved", retained=0, **extra):
    row = dict(slot_name=name, database=database, plugin="pgoutput", slot_type="logical", temporary=False,
               active=active, active_pid=active_pid, wal_status=wal_status, safe_wal_size=None,
               restart_lsn=None if wal_status == "lost" else "0/1000", confirmed_flush_lsn="0/1000",
               retained_wal_bytes=None if wal_status == "lost" else retained,
               active_application_name="electric" if active else None,
               active_client_addr="172.18.0.3" if active else None,
               active_since="2025-01-01T10:00:00+00:00" if active else None)
    row.update(extra)
    return row


def lock_row(pid, slot, granted, database="legal_db", key=42, query_start="2025-01-01T10:00:00+00:00", **extra):
    row = dict(pid=pid, granted=granted, mode="ExclusiveLock", database=database, lock_key=key, slot=slot,
               application_name="electric", client_addr="172.18.0.%d" % (pid % 250), backend_start=query_start,
               query_start=query_start, state="active" if not granted else "idle",
               wait_event_type=None if granted else "Lock", wait_event=None if granted else "advisory",
               query="SELECT pg_advisory_lock(hashtext('%s'))" % slot, waiting_seconds=30)
    row.update(extra)
    return row


@pytest.mark.parametrize("stream_id, slot, publication", [
    ("legal", "electric_slot_legal", "electric_publication_legal"),
    (None, "electric_slot_default", "electric_publication_default"),
    ("", "electric_slot_default", "electric_publication_default"),
    ("default", "electric_slot_default", "electric_publication_default"),
])
def test_names(stream_id, slot, publication):
    assert electric.slot_name(stream_id) == slot
    assert electric.publication_name(stream_id) == publication
    assert electric.publication_for_slot(slot) == publication


@pytest.mark.parametrize("items, expected", [
    ([dict(name="a", stream_id="legal", database="db")], []),
    ([dict(name="a", stream_id=None, database=None)], []),
    ([dict(name="a", stream_id="Legal", database=None)], ["stream_id 'Legal' is not a valid slot-name suffix"]),
    ([dict(name="a", stream_id="legal-prod", database=None)], ["lower-case letters, digits and '_' only"]),
    ([dict(name="", stream_id="x", database=None)], ["instances[0] has no name"]),
    ([dict(name="a", stream_id="x", database=""), ], ["database is empty"]),
    ([dict(name="a", stream_id="x", database=None), dict(name="a", stream_id="y", database=None)],
     ["instance name 'a' is listed twice"]),
])
def test_validate_instances(items, expected):
    errors = electric.validate_instances(items)
    assert len(errors) == len(expected)
    for error, fragment in zip(errors, expected):
        assert fragment in error


@pytest.mark.parametrize("specs, conflicts", [
    # Two instances with the same stream id conflict, whatever their databases.
    ([("legal-electric", "legal", "legal_db"), ("legal2-electric", "legal", "other_db")],
     [("electric_slot_legal", ["legal-electric", "legal2-electric"])]),
    # Two instances without a stream id both use electric_slot_default.
    ([("legal-electric", None, "legal_db"), ("auth-electric", None, "auth_db")],
     [("electric_slot_default", ["legal-electric", "auth-electric"])]),
    # An explicit "default" is the same slot as no stream id.
    ([("a", "default", "a_db"), ("b", None, "b_db")], [("electric_slot_default", ["a", "b"])]),
    ([("a", "legal", "a_db"), ("b", "auth", "b_db"), ("c", None, "c_db")], []),
    ([("a", "x", None), ("b", "y", None), ("c", "x", None), ("d", "y", None)],
     [("electric_slot_x", ["a", "c"]), ("electric_slot_y", ["b", "d"])]),
    ([], []),
])
def test_find_conflicts(specs, conflicts):
    found = electric.find_conflicts(instances(*specs))
    assert [(c["slot"], c["instances"]) for c in found] == conflicts
    for conflict in found:
        assert conflict["kind"] == "shared_slot"
        assert "ELECTRIC_REPLICATION_STREAM_ID" in conflict["msg"]
        assert conflict["slot"] in conflict["msg"]


def test_conflict_message_without_stream_id_says_so():
    (conflict,) = electric.find_conflicts(instances(("a", None, None), ("b", None, None)))
    assert "set no stream id" in conflict["msg"]


@pytest.mark.parametrize("spec, slot_database, conflict", [
    (("a", "legal", "legal_db"), "legal_db", False),
    (("a", "legal", "legal_db"), "auth_db", True),
    (("a", "legal", None), "auth_db", False),
    (("a", "other", "legal_db"), "auth_db", False),
])
def test_database_conflicts(spec, slot_database, conflict):
    found = electric.database_conflicts(instances(spec), [slot_row("electric_slot_legal", database=slot_database)])
    assert bool(found) is conflict
    if conflict:
        assert found[0]["kind"] == "other_database"
        assert found[0]["databases"] == ["legal_db", "auth_db"]


def test_inspect_sql_names_configured_and_default_slots_quoted():
    sql = electric.inspect_sql(instances(("a", "legal", None), ("b", "o'brien", None)))
    assert "ARRAY['electric_slot_default', 'electric_slot_legal', 'electric_slot_o''brien']::text[]" in sql
    assert "hashtext(n)::bigint" in sql and "regexp_match(query, 'hashtext" in sql


@pytest.mark.parametrize("query, name", [
    ("SELECT pg_advisory_lock(hashtext('electric_slot_legal'))", "electric_slot_legal"),
    ("SELECT pg_advisory_lock(hashtext( 'electric_slot_a_1' ))", "electric_slot_a_1"),
    ("SELECT pg_advisory_lock(hashtext('other_lock'))", None),
    ("SELECT pg_advisory_lock(123)", None),
])
def test_lock_query_pattern(query, name):
    """The same POSIX-compatible pattern PostgreSQL's regexp_match applies to pg_stat_activity.query."""
    match = re.search(electric.LOCK_QUERY_PATTERN, query)
    assert (match.group(1) if match else None) == name


def test_electric_locks_keep_only_known_keys():
    rows = [dict(pid=1, granted=True, lock_key=-5), dict(pid=2, granted=False, lock_key=7), dict(pid=3, granted=True, lock_key=9)]
    keys = [dict(name="electric_slot_a", lock_key=-5), dict(name="electric_slot_b", lock_key=7)]
    found = electric.electric_locks(rows, keys)
    assert [(r["pid"], r["slot"]) for r in found] == [(1, "electric_slot_a"), (2, "electric_slot_b")]


@pytest.mark.parametrize("locks, expected", [
    # The second instance waits on the first one's lock: holder pid and since when.
    ([lock_row(101, "electric_slot_legal", True, query_start="2025-01-01T09:00:00+00:00"),
      lock_row(202, "electric_slot_legal", False, query_start="2025-01-01T10:00:00+00:00")],
     [(202, 101, "2025-01-01T10:00:00+00:00")]),
    # Advisory locks are per database: a holder in another database does not block it.
    ([lock_row(101, "electric_slot_legal", True, database="auth_db"),
      lock_row(202, "electric_slot_legal", False, database="legal_db")],
     [(202, None, "2025-01-01T10:00:00+00:00")]),
    # Same key, another slot name's entry: not its holder.
    ([lock_row(101, "electric_slot_other", True, key=43), lock_row(202, "electric_slot_legal", False)],
     [(202, None, "2025-01-01T10:00:00+00:00")]),
    ([lock_row(101, "electric_slot_legal", True)], []),
    ([], []),
])
def test_find_waiting(locks, expected):
    waiting = electric.find_waiting(locks, instances(("legal-electric", "legal", "legal_db")))
    assert [(w["pid"], w["holder_pid"], w["since"]) for w in waiting] == expected
    for entry in waiting:
        assert entry["instances"] == ["legal-electric"]
        assert "pid %d" % entry["pid"] in entry["msg"]
        assert entry["since"] in entry["msg"]
        if entry["holder_pid"]:
            assert "held by pid %d" % entry["holder_pid"] in entry["msg"]


@pytest.mark.parametrize("row, max_bytes, reason", [
    (slot_row("electric_slot_x", active=False, retained=2048), 1024, "retained_wal"),
    (slot_row("electric_slot_x", active=False, retained=1024), 1024, None),
    (slot_row("electric_slot_x", active=True, active_pid=7, retained=10 ** 12), 1024, None),
    (slot_row("electric_slot_x", active=False, retained=1), 0, "retained_wal"),
    (slot_row("electric_slot_x", active=False, wal_status="lost"), 1024, "lost"),
    (slot_row("electric_slot_x", active=True, active_pid=7, wal_status="lost"), 1024, "lost"),
    (slot_row("electric_slot_x", active=False, wal_status="unreserved", retained=10), 1024, "unreserved"),
    (slot_row("electric_slot_x", active=False, wal_status="extended", retained=10), 1024, None),
])
def test_judge_slots_stale(row, max_bytes, reason):
    slots, stale = electric.judge_slots([row], [], [], [], max_bytes)
    assert slots[0]["stale"] is (reason is not None)
    assert [s["reason"] for s in stale] == ([reason] if reason else [])
    if reason == "lost":
        assert stale[0]["resync_required"] is True
        assert "must resync all shapes" in stale[0]["msg"]
        assert slots[0]["lost"] is True
    if reason == "retained_wal":
        assert stale[0]["resync_required"] is False
        assert "max_retained_wal_bytes=%d" % max_bytes in stale[0]["msg"]


def test_judge_slots_annotations():
    inst = instances(("legal-electric", "legal", "legal_db"))
    rows = [slot_row("electric_slot_legal", active=True, active_pid=7), slot_row("electric_slot_gone")]
    pubs = [dict(name="electric_publication_legal", database="legal_db", all_tables=False, tables=3)]
    locks = [lock_row(101, "electric_slot_legal", True)]
    slots, stale = electric.judge_slots(rows, inst, pubs, locks, 1024)
    assert stale == []
    legal, gone = slots
    assert (legal["instances"], legal["orphaned"], legal["publication_exists"], legal["lock_holder_pid"]) == \
        (["legal-electric"], False, True, 101)
    assert (gone["instances"], gone["orphaned"], gone["publication_exists"], gone["lock_holder_pid"]) == ([], True, False, None)
    # Without configured instances nothing is called an orphan.
    slots, stale = electric.judge_slots(rows, [], pubs, locks, 1024)
    assert [s["orphaned"] for s in slots] == [False, False] and stale == []


@pytest.mark.parametrize("specs, slot_dbs, existing, expected", [
    ([("a", "x", "a_db")], [], ["a_db", "b_db", "postgres"], ["a_db"]),
    ([("a", "x", "gone_db")], [], ["a_db"], []),
    ([("a", "x", "a_db")], ["b_db"], ["a_db", "b_db", "c_db"], ["a_db", "b_db"]),
    # No database and no slot: the publication could be anywhere.
    ([("a", "x", None)], [], ["a_db", "b_db"], ["a_db", "b_db"]),
    ([], [], ["a_db"], []),
])
def test_publication_databases(specs, slot_dbs, existing, expected):
    slots = [slot_row("electric_slot_s%d" % i, database=d) for i, d in enumerate(slot_dbs)]
    assert electric.publication_databases(instances(*specs), slots, existing) == expected


PUB = dict(name="electric_publication_legal", database="legal_db", all_tables=False, tables=0)


@pytest.mark.parametrize("slots, pubs, locks, actions, refusal", [
    # Inactive slot + publication: both dropped, slot first.
    ([slot_row("electric_slot_legal")], [PUB], [],
     [("slot", "electric_slot_legal", "legal_db", "SELECT pg_drop_replication_slot('electric_slot_legal')"),
      ("publication", "electric_publication_legal", "legal_db", 'DROP PUBLICATION IF EXISTS "electric_publication_legal"')],
     None),
    # Active slot: refused, naming the pid that streams from it.
    ([slot_row("electric_slot_legal", active=True, active_pid=4242)], [PUB], [], [], "pid 4242"),
    # Inactive but its lock is held: an Electric is running.
    ([slot_row("electric_slot_legal")], [PUB], [lock_row(777, "electric_slot_legal", True)], [],
     "is inactive but pid 777 (electric, client 172.18.0.27) holds its replication lock: an Electric instance "
     "with this stream id (legal-electric) runs or starts and will use the slot, so stop it first; if that session is not "
     "an Electric of this fleet, end it with SELECT pg_terminate_backend(777)"),
    # No slot yet, but its lock is held: an Electric is starting; its publication stays too.
    ([], [PUB], [lock_row(778, "electric_slot_legal", True)], [],
     "is absent but pid 778 (electric, client 172.18.0.28) holds its replication lock"),
    # Slot already gone, publication left: drop the publication.
    ([], [PUB], [], [("publication", "electric_publication_legal", "legal_db", 'DROP PUBLICATION IF EXISTS "electric_publication_legal"')],
     None),
    # A same-named publication in another database is not this instance's.
    ([], [dict(PUB, database="auth_db")], [], [], None),
    ([], [], [], [], None),
])
def test_plan_reset(slots, pubs, locks, actions, refusal):
    planned, refusals = electric.plan_reset(instances(("legal-electric", "legal", "legal_db")), slots, pubs, locks)
    assert [(a["kind"], a["name"], a["database"], a["sql"]) for a in planned] == actions
    if refusal:
        assert len(refusals) == 1 and refusal in refusals[0]
    else:
        assert refusals == []


def test_plan_reset_finds_publication_in_slot_database_when_instance_has_none():
    planned, refusals = electric.plan_reset(instances(("a", "legal", None)),
                                            [slot_row("electric_slot_legal", database="legal_db")], [PUB], [])
    assert refusals == []
    assert [(a["kind"], a["database"]) for a in planned] == [("slot", "legal_db"), ("publication", "legal_db")]


def test_plan_reset_dedupes_instances_sharing_a_slot():
    planned, refusals = electric.plan_reset(instances(("a", "legal", "legal_db"), ("b", "legal", "legal_db")),
                                            [slot_row("electric_slot_legal")], [PUB], [])
    assert len(planned) == 2 and refusals == []


def test_reset_diff():
    inst = instances(("a", "legal", "legal_db"))
    slots = [slot_row("electric_slot_legal"), slot_row("electric_slot_other")]
    actions, refusals = electric.plan_reset(inst, slots, [PUB], [])
    assert refusals == []
    diff = electric.reset_diff(inst, slots, [PUB], actions)
    assert diff["before"] == dict(replication_slots=[dict(name="electric_slot_legal", database="legal_db")],
                                  publications=[dict(name="electric_publication_legal", database="legal_db")])
    assert diff["after"] == dict(replication_slots=[], publications=[])
    assert electric.reset_diff(inst, slots, [PUB], [])["after"] == diff["before"]


# ------------------------------------------------------------------ the one stream-id rule, at its boundaries


def test_stream_id_limit_is_derived_from_the_longer_prefix():
    assert electric.STREAM_ID_MAX_LENGTH == 63 - len("electric_publication_") == 42
    longest = "a" * electric.STREAM_ID_MAX_LENGTH
    assert len(electric.slot_name(longest)) <= 63 and len(electric.publication_name(longest)) == 63


def test_reset_hint_gives_the_task_and_the_sql():
    hint = electric.reset_hint("electric_slot_legal", "legal_db")
    assert "sertantai.deploy.electric_reset with instances: [{name: <its Electric>, stream_id: legal, database: legal_db}]" in hint
    assert "SELECT pg_drop_replication_slot('electric_slot_legal'); DROP PUBLICATION IF EXISTS electric_publication_legal;" in hint


@pytest.mark.parametrize("row, fragment", [
    (slot_row("electric_slot_legal", wal_status="lost"), "must resync all shapes"),
    (slot_row("electric_slot_legal", wal_status="unreserved"), "wal_status unreserved"),
    (slot_row("electric_slot_legal", retained=10 ** 9), "retains"),
])
def test_stale_messages_say_how_to_drop_both(row, fragment):
    stale = electric.judge_slots([row], instances(("legal-electric", "legal", "legal_db")), [PUB], [], 10 ** 6)[1]
    (entry,) = stale
    assert fragment in entry["msg"]
    assert "sertantai.deploy.electric_reset" in entry["msg"]
    assert "SELECT pg_drop_replication_slot('electric_slot_legal')" in entry["msg"]
    assert "state=absent" not in entry["msg"]


# ------------------------------------------------------------------ lock holders, with or without a slot


@pytest.mark.parametrize("locks, slots, expected", [
    # A stray session holds the lock before any slot exists: reported, flagged as such.
    ([lock_row(900, "electric_slot_legal", True, application_name="psql", client_addr=None)], [],
     [("electric_slot_legal", 900, False, ["legal-electric"])]),
    # The running Electric holds it, slot present.
    ([lock_row(901, "electric_slot_legal", True)], [slot_row("electric_slot_legal", active=True, active_pid=55)],
     [("electric_slot_legal", 901, True, ["legal-electric"])]),
    # Waiting sessions are not holders.
    ([lock_row(902, "electric_slot_legal", False)], [], []),
    # A holder in another database does not block this instance (advisory locks are per database).
    ([lock_row(903, "electric_slot_legal", True, database="other_db")], [], []),
    # Another instance's slot is not ours.
    ([lock_row(904, "electric_slot_auth", True)], [], []),
])
def test_instance_lock_holders(locks, slots, expected):
    holders = electric.instance_lock_holders(instances(("legal-electric", "legal", "legal_db")), locks, slots)
    assert [(h["slot"], h["pid"], h["slot_exists"], h["instances"]) for h in holders] == expected
    for holder in holders:
        assert "pg_terminate_backend(%d)" % holder["pid"] in holder["msg"]
        assert ("does not exist yet" in holder["msg"]) is (not holder["slot_exists"])


def test_instance_lock_holders_without_instances_lists_every_electric_holder():
    locks = [lock_row(1, "electric_slot_legal", True), lock_row(2, "electric_slot_auth", True, database="auth_db")]
    assert [h["pid"] for h in electric.instance_lock_holders([], locks, [])] == [1, 2]


# ------------------------------------------------------------------ apply_reset through QueryLog


class FailingRunner:
    """Executes statements until the one whose SQL contains ``fail_on``; that one raises PgError."""

    def __init__(self, fail_on=None):
        self.fail_on = fail_on
        self.executed = []

    def execute(self, sql, database=None):
        if self.fail_on and self.fail_on in sql:
            raise PgError("publication \"electric_publication_legal\" is in use", sql=sql)
        self.executed.append((sql, database))


def reset_actions():
    actions, refusals = electric.plan_reset(instances(("legal-electric", "legal", "legal_db")),
                                            [slot_row("electric_slot_legal")], [PUB], [])
    assert refusals == []
    return actions


@pytest.mark.parametrize("check_mode", [True, False])
def test_apply_reset_records_both_modes_and_writes_only_outside_check_mode(check_mode):
    runner = FailingRunner()
    log = QueryLog(runner, check_mode)
    done = electric.apply_reset(log, reset_actions())
    assert [(d["kind"], d["name"]) for d in done] == [("slot", "electric_slot_legal"), ("publication", "electric_publication_legal")]
    assert log.queries == ["SELECT pg_drop_replication_slot('electric_slot_legal')",
                           'DROP PUBLICATION IF EXISTS "electric_publication_legal"']
    assert runner.executed == ([] if check_mode else [(q, "legal_db") for q in log.queries])


def test_apply_reset_failing_midway_names_what_was_already_dropped():
    runner = FailingRunner(fail_on="DROP PUBLICATION")
    with pytest.raises(electric.ResetError) as err:
        electric.apply_reset(QueryLog(runner), reset_actions())
    assert [(d["kind"], d["name"]) for d in err.value.done] == [("slot", "electric_slot_legal")]
    assert err.value.action["kind"] == "publication"
    assert "could not drop publication electric_publication_legal in database legal_db" in err.value.message
    assert "already dropped: slot electric_slot_legal" in err.value.message
    assert runner.executed == [("SELECT pg_drop_replication_slot('electric_slot_legal')", "legal_db")]
