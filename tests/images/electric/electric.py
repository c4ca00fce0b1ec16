"""ElectricSQL stand-in: the behaviour of the real sync service that deploys and handovers depend on.

Modelled on electric-sql/electric (packages/sync-service), read for behaviour, not copied:

1. HTTP on $ELECTRIC_PORT at once. ``/v1/health``: 202 ``starting`` until the lock connection is up,
   202 ``waiting`` while blocked on the lock, 202 ``starting`` while the slot is set up, 200 ``active``.
2. On a dedicated connection ``SELECT pg_advisory_lock(hashtext('electric_slot_<id>'))`` and wait
   there: a second instance with the same stream id blocks for as long as the first one lives.
3. Publication ``electric_publication_<id>`` and logical slot ``electric_slot_<id>`` (pgoutput) are
   created when missing; then the slot is streamed so that it stays active. Creating the slot purges
   every stored shape (Electric cannot resume them): clients with old handles get 409 must-refetch.
4. ``GET /v1/shape`` serves shapes kept under $ELECTRIC_STORAGE_DIR (a snapshot of the table's rows,
   taken from PostgreSQL when the shape is first requested): electric-* headers, offset=-1, handle +
   offset, live long-polling, 409 must-refetch, 400 for bad parameters.
5. While waiting for the lock, releases since electric-sql/electric#4075 (1.5.1) serve shapes that
   were in storage when the instance started, read-only; creating a shape needs the lock (held for
   the stack-ready timeout, then 503 + retry-after). Older releases answer every shape request that
   way while waiting (ELECTRIC_STANDIN_READ_ONLY_MODE=false).
6. ELECTRIC_SECRET is required unless ELECTRIC_INSECURE=true (not both); shape requests must carry
   ``secret=`` (or the older ``api_secret=``), else 401. Health is never authenticated.
7. SIGTERM closes the replication and lock connections and exits 0 at once, so a waiting instance
   takes the lock over; a lost connection ends the process with exit code 1.

Shape logs hold the snapshot only: changes made after it are not streamed into them (live requests
long-poll and answer up-to-date).
"""

import hmac
import json
import math
import os
import re
import select
import shutil
import signal
import sys
import threading
import time
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg2
import psycopg2.errors
import psycopg2.extras
from psycopg2 import sql

STREAM_ID = os.environ.get("ELECTRIC_REPLICATION_STREAM_ID") or "default"


def log(message):
    print("[electric %s] %s" % (STREAM_ID, message), flush=True)


def env_bool(name, default):
    value = os.environ.get(name, "").strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    if value == "":
        return default
    log("%s must be true or false (got %r)" % (name, value))
    sys.exit(1)


INSECURE = env_bool("ELECTRIC_INSECURE", False)
# On by default, as in every release since electric-sql/electric#4075 (1.5.1, April 2026).
READ_ONLY_MODE = env_bool("ELECTRIC_STANDIN_READ_ONLY_MODE", True)
VERSION = ("1.6.1" if READ_ONLY_MODE else "1.5.0") + "-stand-in"  # the release whose behaviour it follows
DATABASE_URL = os.environ.get("DATABASE_URL", "")
PORT = int(os.environ.get("ELECTRIC_PORT") or "3000")
STORAGE_DIR = os.path.abspath(os.environ.get("ELECTRIC_STORAGE_DIR") or "./persistent")
SECRET = os.environ.get("ELECTRIC_SECRET") or None
LONG_POLL_TIMEOUT = int(os.environ.get("ELECTRIC_LONG_POLL_TIMEOUT") or "20000") / 1000.0
CACHE_MAX_AGE = int(os.environ.get("ELECTRIC_CACHE_MAX_AGE") or "60")
CACHE_STALE_AGE = int(os.environ.get("ELECTRIC_CACHE_STALE_AGE") or "300")
# Electric's stack_ready_timeout (5 s) is not an environment variable of the real image.
STACK_READY_TIMEOUT = int(os.environ.get("ELECTRIC_STANDIN_STACK_READY_TIMEOUT") or "5000") / 1000.0
SLOT = "electric_slot_" + STREAM_ID
PUBLICATION = "electric_publication_" + STREAM_ID
STACK_ID = "single_stack"  # Electric's stack id when ELECTRIC_DATABASE_ID is not set
SHAPES_DIR = os.path.join(STORAGE_DIR, "shapes", STACK_ID)
TMP_DIR = os.path.join(STORAGE_DIR, ".tmp", STACK_ID)
END_OF_SNAPSHOT = (0, math.inf)  # "0_inf": where a snapshot-only shape log ends
BEFORE_ALL = (-1, 0)  # offset=-1
EPOCH = datetime(2024, 10, 9, tzinfo=timezone.utc).timestamp()  # electric-cursor's epoch
ELECTRIC_HEADERS = ("electric-cursor,electric-handle,electric-has-data,electric-offset,electric-schema,"
                    "electric-up-to-date,electric-internal-known-error,retry-after")
MUST_REFETCH = [{"headers": {"control": "must-refetch"}}]


def dumps(value):
    """JSON as Elixir's Jason writes it: no spaces."""
    return json.dumps(value, separators=(",", ":"))


# ------------------------------------------------------------------ stack status


class Stack:
    """What StatusMonitor tracks: the service status, and whether this instance holds the lock."""

    def __init__(self):
        self.cond = threading.Condition()
        self.status = "starting"
        self.lock_acquired = False
        self.last_lsn = 0
        self.conns = {}
        self.stopping = threading.Event()

    def set(self, status):
        with self.cond:
            self.status = status
            self.cond.notify_all()
        log("status %s" % status)

    def wait_until(self, level, timeout):
        """Block until the stack serves ``level`` ("read_only" or "active"); the level reached, or None."""
        accepted = {"active"}
        if level == "read_only" and READ_ONLY_MODE:
            accepted.add("waiting")
        with self.cond:
            self.cond.wait_for(lambda: self.status in accepted, timeout)
            if self.status not in accepted:
                return None
            return "active" if self.status == "active" else "read_only"

    def timeout_message(self):
        if not self.lock_acquired:
            return "Timeout waiting for Postgres lock acquisition"
        return "Timeout waiting for replication client to be ready"


stack = Stack()


# ------------------------------------------------------------------ shape definitions and offsets

IDENT = r'"(?:[^"]|"")+"|[^".]+'


def parse_ident(text):
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def parse_definition(params):
    """Shape definition from query parameters: (definition, errors)."""
    errors = {}
    table = params.get("table")
    match = re.fullmatch(r"(?:(%s)\.)?(%s)" % (IDENT, IDENT), table or "")
    if not table:
        errors["table"] = ["can't be blank"]
    elif not match:
        errors["table"] = ["is invalid"]
    columns = None
    if params.get("columns"):
        columns = [parse_ident(c.strip()) for c in re.findall(r'"(?:[^"]|"")+"|[^,]+', params["columns"])]
    replica = params.get("replica", "default")
    if replica not in ("default", "full"):
        errors["replica"] = ["is invalid"]
    if errors:
        return None, errors
    schema = parse_ident(match.group(1)) if match.group(1) else "public"
    return {"table": [schema, parse_ident(match.group(2))], "where": params.get("where") or None,
            "columns": columns, "replica": replica}, {}


def definition_key(definition):
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def parse_offset(text):
    if text == "-1":
        return BEFORE_ALL
    if text == "now":
        return "now"
    match = re.fullmatch(r"(\d+)_(\d+|inf)", text or "")
    if not match:
        return None
    return (int(match.group(1)), math.inf if match.group(2) == "inf" else int(match.group(2)))


def format_offset(offset):
    if offset == BEFORE_ALL:
        return "-1"
    return "%d_%s" % (offset[0], "inf" if offset[1] == math.inf else offset[1])


# ------------------------------------------------------------------ shape storage


class ShapeStore:
    """Shapes under $ELECTRIC_STORAGE_DIR/shapes/<stack id>/<h[0:2]>/<h[2:4]>/<handle>/ (as
    Electric's file storage nests them): shape.json (definition, schema) and snapshot.json (log).
    A shape directory appears whole (written aside, then renamed), so another instance reading
    the same volume never sees half of one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.index = {}  # definition key -> handle; what this instance knows of

    def path(self, handle, *parts):
        return os.path.join(SHAPES_DIR, handle[0:2], handle[2:4], handle, *parts)

    def load_index(self):
        index = {}
        for dirpath, _dirs, files in os.walk(SHAPES_DIR):
            if "shape.json" in files:
                meta = self.read(os.path.basename(dirpath))
                if meta:
                    index[definition_key(meta["definition"])] = meta["handle"]
        with self.lock:
            self.index = index
        log("shape metadata loaded: %d shape(s) in %s" % (len(index), SHAPES_DIR))

    def read(self, handle, name="shape.json"):
        if not re.fullmatch(r"\d+-\d+", handle or ""):
            return None
        try:
            with open(self.path(handle, name)) as f:
                return json.load(f)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def handle_for(self, definition):
        with self.lock:
            return self.index.get(definition_key(definition))

    def save(self, definition, schema, items):
        key = definition_key(definition)
        handle = "%d-%d" % (zlib.crc32(key.encode()) & 0x7FFFFFF, time.time_ns() // 1000)
        tmp = os.path.join(TMP_DIR, handle)
        os.makedirs(tmp)
        with open(os.path.join(tmp, "snapshot.json"), "w") as f:
            json.dump(items, f)
        with open(os.path.join(tmp, "shape.json"), "w") as f:
            json.dump({"handle": handle, "definition": definition, "schema": schema}, f)
        os.makedirs(os.path.dirname(self.path(handle)), exist_ok=True)
        os.rename(tmp, self.path(handle))
        with self.lock:
            self.index[key] = handle
        log("created shape %s for %s (%d rows)" % (handle, ".".join(definition["table"]), len(items)))
        return handle

    def purge(self):
        """Remove every stored shape, as Electric does when it had to create the replication slot."""
        with self.lock:
            self.index = {}
        if os.path.isdir(SHAPES_DIR):
            os.makedirs(TMP_DIR, exist_ok=True)
            doomed = os.path.join(TMP_DIR, "purged-%d" % time.time_ns())
            os.rename(SHAPES_DIR, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            log("purged all shapes: the replication slot was created, clients must refetch")


store = ShapeStore()
snapshot_lock = threading.Lock()  # one snapshot connection, one query at a time
create_lock = threading.Lock()  # two requests for one new shape create it once


class ShapeError(Exception):
    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def take_snapshot(definition):
    """Schema and insert items of the shape's rows, read in one REPEATABLE READ READ ONLY transaction."""
    conn = stack.conns["snapshot"]
    schema_name, table = definition["table"]
    with snapshot_lock, conn.cursor() as cur:
        try:
            cur.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))::oid", (schema_name, table))
            (oid,) = cur.fetchone()
            if oid is None:
                raise ShapeError({"table": ['Table "%s"."%s" does not exist. If the table name contains capitals '
                                            "or special characters you must quote it." % (schema_name, table)]})
            cur.execute("""
                SELECT a.attname, coalesce(et.typname, t.typname), CASE WHEN et.oid IS NULL THEN 0
                       ELSE greatest(a.attndims, 1) END, a.attnotnull,
                       (SELECT k.ord - 1 FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                         WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.attnum = a.attnum)
                  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                  LEFT JOIN pg_type et ON t.typcategory = 'A' AND et.oid = t.typelem
                 WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (oid,))
            columns = cur.fetchall()
            names = [c[0] for c in columns]
            pk = [c[0] for c in sorted((c for c in columns if c[4] is not None), key=lambda c: c[4])]
            selected = definition["columns"] or names
            unknown = [c for c in selected if c not in names]
            missing = [c for c in pk if c not in selected]
            if unknown:
                raise ShapeError({"columns": ["The following columns are not found on the table: "
                                              + ", ".join(unknown)]})
            if missing:
                raise ShapeError({"columns": ["The list of columns must include all primary key columns, "
                                              "missing: " + ", ".join(missing)]})
            schema = {}
            for name, typ, dims, not_null, pk_index in columns:
                if name in selected:
                    entry = {"type": typ}
                    entry.update({"dims": dims} if dims else {})
                    entry.update({"pk_index": pk_index} if pk_index is not None else {})
                    entry.update({"not_null": True} if not_null else {})
                    schema[name] = entry
            query = sql.SQL("SELECT {} FROM {}.{}").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in selected),
                sql.Identifier(schema_name), sql.Identifier(table))
            if definition["where"]:
                query = query + sql.SQL(" WHERE ") + sql.SQL(definition["where"])
            try:
                cur.execute(query)
            except psycopg2.Error as exc:
                raise ShapeError({"where": [str(exc).strip().splitlines()[0]]}) from None
            rows = cur.fetchall()
        finally:
            conn.rollback()
    relation = '"%s"."%s"' % (schema_name.replace('"', '""'), table.replace('"', '""'))
    key_columns = pk or selected
    items = []
    for i, row in enumerate(rows):
        value = dict(zip(selected, row))
        key = relation + "".join('/"%s"' % str(value[c]).replace('"', '""') for c in key_columns)
        items.append({"offset": "0_%d" % i, "item": {
            "key": key, "value": value, "headers": {"operation": "insert", "relation": [schema_name, table]}}})
    return schema, items


# ------------------------------------------------------------------ HTTP


class Reply(Exception):
    """Answer the request now: status, JSON body, headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error(status, message, retry_after=None, **extra):
    body = dict({"message": message}, **extra)
    headers = {"cache-control": "no-store", "surrogate-control": "no-store"}
    if retry_after:
        headers["retry-after"] = str(retry_after)
    return Reply(status, body, headers)


def must_refetch(handle):
    headers = {"cache-control": "public, max-age=%d, must-revalidate" % (60 if handle else 1)}
    if handle:
        headers["electric-handle"] = handle
    return Reply(409, MUST_REFETCH, headers)


def hold_until(level):
    """The level reached, or a 503 like Electric's after stack_ready_timeout."""
    reached = stack.wait_until(level, STACK_READY_TIMEOUT)
    if reached is None:
        raise error(503, stack.timeout_message(), retry_after=5)
    return reached


def next_cursor(previous):
    interval = int(LONG_POLL_TIMEOUT)
    if interval == 0:
        return 0
    cursor = math.ceil((time.time() - EPOCH) / interval) * interval
    previous = int(previous) if (previous or "").isdigit() else 0
    return cursor if cursor > previous else previous + 1 + int(time.time_ns() % 3600)


class Handler(BaseHTTPRequestHandler):
    server_version = "electric-stand-in"
    sys_version = ""

    def send(self, status, body, headers=None, cors=True):
        data = b"" if body is None else (body if isinstance(body, str) else dumps(body)).encode()
        self.send_response(status)
        if body is not None and not isinstance(body, str):
            self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.send_header("electric-server", "ElectricSQL/%s" % VERSION)
        if cors:
            self.send_header("access-control-allow-origin", self.headers.get("origin") or "*")
            self.send_header("access-control-expose-headers", ELECTRIC_HEADERS)
            self.send_header("access-control-allow-methods", "GET, POST, HEAD, DELETE, OPTIONS")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):  # noqa: N802 (http.server API); Electric answers HEAD as GET without a body
        self.do_GET()

    def do_OPTIONS(self):  # noqa: N802
        self.send(204, None)

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        path = re.sub(r"/+", "/", url.path).rstrip("/") or "/"
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if path == "/v1/health":
            status = stack.status
            self.send(200 if status == "active" else 202, {"status": status},
                      {"cache-control": "no-cache, no-store, must-revalidate"})
        elif path == "/":
            self.send(200, "")
        elif path == "/v1/shape":
            if SECRET is not None and not hmac.compare_digest(
                    (params.get("secret") or params.get("api_secret") or "").encode(), SECRET.encode()):
                self.send(401, {"message": "Unauthorized - Invalid API secret"}, cors=False)
                return
            try:
                status, body, headers = self.shape(params)
            except Reply as reply:
                status, body, headers = reply.status, reply.body, reply.headers
            except Exception as exc:  # never echo internals to the client, as Electric does not
                log("shape request failed: %s" % str(exc).strip())
                status, body, headers = 500, {"error": "Internal server error"}, {}
            self.send(status, body, headers)
        else:
            self.send(404, "Not found")

    def shape(self, params):
        mode = hold_until("read_only")
        definition, errors = parse_definition(params)
        offset = parse_offset(params.get("offset"))
        live = params.get("live", "false") != "false"
        handle = params.get("handle") or None
        if "offset" not in params:
            errors["offset"] = ["can't be blank"]
        elif offset is None:
            errors["offset"] = ["has invalid format"]
        elif offset in (BEFORE_ALL, "now"):
            handle = None  # Electric ignores the handle of an initial request
            if live:
                errors["live"] = ["can't be true when offset == -1" if offset == BEFORE_ALL
                                  else "can't be true when offset is 'now'"]
        elif not handle:
            errors["handle"] = ["can't be blank when offset != -1"]
        if errors:
            raise error(400, "Invalid request", errors=errors)

        current = store.handle_for(definition)
        if current is None:
            # A shape this instance does not know: only the lock holder creates shapes, so a waiting
            # instance holds the request for the stack-ready timeout and then answers 503.
            if mode == "read_only":
                hold_until("active")
            current = self.create(definition)
        if handle and handle != current:
            # An unknown handle (purged, never created) or one of another definition: refetch.
            raise must_refetch(current)
        meta = store.read(current)
        items = store.read(current, "snapshot.json")
        if meta is None or items is None:  # removed under us (the active instance purged storage)
            raise must_refetch(None)
        return self.serve(params, meta, items, offset, live)

    def create(self, definition):
        with create_lock:
            handle = store.handle_for(definition)
            if handle:
                return handle
            try:
                schema, items = take_snapshot(definition)
            except ShapeError as exc:
                raise error(400, "Invalid request", errors=exc.errors) from None
            return store.save(definition, schema, items)

    def serve(self, params, meta, items, offset, live):
        handle = meta["handle"]
        last = END_OF_SNAPSHOT
        # Electric's up-to-date carries the last LSN it processed; read-only, the shape's own (0 here).
        lsn = stack.last_lsn if stack.status == "active" else 0
        headers = {"electric-handle": handle, "electric-offset": format_offset(last),
                   "cache-control": self.cache_control(offset, live)}
        if live:
            headers["electric-cursor"] = str(next_cursor(params.get("cursor")))
        else:
            headers["electric-schema"] = dumps(meta["schema"])
        if offset == "now":
            headers.update({"electric-up-to-date": "", "electric-has-data": "false"})
            return 200, [up_to_date(lsn)], headers
        if offset > last:
            # Electric treats it like a live request with half the timeout, then refuses it.
            self.hold_live(handle, LONG_POLL_TIMEOUT / 2)
            raise error(400, "Invalid request", errors={"offset": ["out of bounds for this shape"]})
        log_items = [i["item"] for i in items if parse_offset(i["offset"]) > offset]
        no_changes = live and not log_items
        if no_changes:
            self.hold_live(handle, LONG_POLL_TIMEOUT)
            if stack.wait_until("read_only", 0) is None:
                raise error(503, stack.timeout_message(), retry_after=10)
        # The initial request (offset=-1) is never up-to-date: it is cached long, then the client
        # asks from the offset it was given.
        is_up_to_date = offset != BEFORE_ALL
        body = log_items + ([up_to_date(lsn)] if is_up_to_date else [])
        headers["electric-has-data"] = "false" if no_changes else "true"
        # An empty live answer gets a unique etag, so that caches never revalidate it.
        unique = ":%d" % time.monotonic_ns() if no_changes else ""
        headers["etag"] = '"%s:%s:%s%s"' % (handle, params["offset"], format_offset(last), unique)
        if is_up_to_date:
            headers["electric-up-to-date"] = ""
        if headers["etag"].strip('"') in [t.strip().strip('"') for t in self.headers.get("if-none-match", "").split(",")]:
            return 304, None, headers
        return 200, body, headers

    def hold_live(self, handle, timeout):
        """Long-poll: no changes ever arrive in a snapshot-only log, but a purge rotates the shape."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if store.read(handle) is None:
                raise must_refetch(None)
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))

    @staticmethod
    def cache_control(offset, live):
        if offset == BEFORE_ALL:
            return "public, max-age=604800, s-maxage=3600, stale-while-revalidate=2629746"
        if live:
            return "public, max-age=5, stale-while-revalidate=5"
        return "public, max-age=%d, stale-while-revalidate=%d" % (CACHE_MAX_AGE, CACHE_STALE_AGE)

    def log_message(self, fmt, *args):
        pass  # the query string may carry the secret


def up_to_date(lsn):
    return {"headers": {"control": "up-to-date", "global_last_seen_lsn": str(lsn)}}


# ------------------------------------------------------------------ replication


def connect(**kwargs):
    """Connect, retrying while PostgreSQL starts (as Electric does)."""
    for attempt in range(60):
        try:
            return psycopg2.connect(DATABASE_URL, application_name="electric_stand_in_" + STREAM_ID, **kwargs)
        except psycopg2.OperationalError as exc:
            if attempt == 59 or stack.stopping.is_set():
                raise
            log("database not reachable yet: %s" % str(exc).strip().splitlines()[0])
            time.sleep(1)


def start_replication(repl):
    """START_REPLICATION, retrying while the previous holder's walsender still has the slot."""
    for attempt in range(40):
        cur = repl.cursor()
        try:
            cur.start_replication(slot_name=SLOT, decode=False,
                                  options={"proto_version": "1", "publication_names": PUBLICATION})
            return cur
        except psycopg2.errors.ObjectInUse:
            if attempt == 39:
                raise
            time.sleep(0.25)


def replicate():
    lock_conn = stack.conns["lock"] = connect()
    lock_conn.autocommit = True
    store.load_index()  # shape metadata ready: a waiting instance can serve what storage holds
    stack.set("waiting")
    with lock_conn.cursor() as cur:
        log("waiting for the replication lock on %s" % SLOT)
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (SLOT,))
    stack.lock_acquired = True
    log("lock acquired (backend pid %d)" % lock_conn.get_backend_pid())
    stack.set("starting")

    conn = connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,))
        if cur.fetchone() is None:
            cur.execute("CREATE PUBLICATION %s" % PUBLICATION)
            log("created publication %s" % PUBLICATION)
        cur.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (SLOT,))
        created_slot = cur.fetchone() is None
        if created_slot:
            cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (SLOT,))
            log("created replication slot %s" % SLOT)
    conn.close()
    if created_slot:
        store.purge()
    store.load_index()
    snapshot = stack.conns["snapshot"] = connect()
    snapshot.set_session(isolation_level="REPEATABLE READ", readonly=True)

    repl = stack.conns["repl"] = connect(connection_factory=psycopg2.extras.LogicalReplicationConnection)
    cur = start_replication(repl)
    stack.set("active")
    log("streaming from %s" % SLOT)
    last_feedback = 0.0
    while True:
        msg = cur.read_message()
        if msg is None:
            now = time.monotonic()
            if now - last_feedback > 2:
                # Confirm everything seen so far, so the slot does not hold WAL back.
                cur.send_feedback(flush_lsn=cur.wal_end, reply=True)
                stack.last_lsn = max(stack.last_lsn, cur.wal_end)
                last_feedback = now
            select.select([cur, lock_conn], [], [], 1.0)
            # The lock lives on its connection: if that died, Electric would have died too.
            try:
                lock_conn.poll()
            except psycopg2.Error as exc:
                raise RuntimeError("lock connection lost: %s" % str(exc).strip().splitlines()[0]) from None
        else:
            cur.send_feedback(flush_lsn=msg.data_start)


def shutdown(*_):
    """SIGTERM: let go of the slot and the lock at once, so a waiting instance takes over."""
    stack.stopping.set()
    log("stopping: closing the replication and lock connections")
    for name in ("repl", "snapshot"):
        conn = stack.conns.get(name)
        if conn is not None:
            try:
                conn.close()
            except psycopg2.Error:
                pass
    lock_conn = stack.conns.get("lock")
    if lock_conn is not None:
        try:
            if stack.lock_acquired:
                lock_conn.close()  # idle: the server releases the lock as the session ends
            else:
                lock_conn.cancel()  # still queued in pg_advisory_lock: leave the queue now
        except psycopg2.Error:
            pass
    os._exit(0)


def check_config():
    """Electric's start-up checks; a message naming the fix, or None."""
    if not re.match(r"^[a-z0-9_]{1,49}$", STREAM_ID):
        return "ELECTRIC_REPLICATION_STREAM_ID must be lower-case letters, digits or _ (got %r)" % STREAM_ID
    if not DATABASE_URL:
        return "DATABASE_URL is required"
    if INSECURE and SECRET is not None:
        return "You cannot set both ELECTRIC_SECRET and ELECTRIC_INSECURE=true"
    if not INSECURE and SECRET is None:
        return ("You must set ELECTRIC_SECRET unless ELECTRIC_INSECURE=true. Setting ELECTRIC_INSECURE=true "
                "risks exposing your database, only use insecure mode in development or you've otherwise "
                "secured the Electric API")
    return None


def main():
    problem = check_config()
    if problem:
        log(problem)
        return 1
    if INSECURE:
        log("Electric is running in insecure mode - this risks exposing your database")
    log("read-only mode while waiting for the lock: %s; storage %s" % (
        "on (electric-sql/electric#4075)" if READ_ONLY_MODE else "off (releases before 1.5.1)", STORAGE_DIR))
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    failed = threading.Event()

    def worker():
        try:
            replicate()
        except Exception as exc:  # any failure ends the container, like a crashed Electric
            if not stack.stopping.is_set():
                log("fatal: %s" % str(exc).strip())
                failed.set()

    # PID 1 gets no default signal handling; the main thread stays free to run this handler
    # while the worker sits inside libpq waiting for the lock.
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    threading.Thread(target=worker, daemon=True).start()
    while not failed.wait(1):
        pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
