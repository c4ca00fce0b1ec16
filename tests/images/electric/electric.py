"""ElectricSQL stand-in: the replication-slot behaviour the collection guards against.

1. serve HTTP on $PORT at once (health answers "waiting" while the lock below is not ours);
2. on a dedicated connection, ``SELECT pg_advisory_lock(hashtext('electric_slot_<id>'))`` and
   wait there, as Electric's lock connection does: a second instance with the same stream id
   blocks here for as long as the first one lives;
3. create publication ``electric_publication_<id>`` and logical slot ``electric_slot_<id>``
   (pgoutput) when missing, then stream from the slot so that it stays active.

Any lost connection ends the process (exit 1), as a crashed Electric would.
"""

import json
import os
import re
import select
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import psycopg2.extras

STREAM_ID = os.environ.get("ELECTRIC_REPLICATION_STREAM_ID") or "default"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
PORT = int(os.environ.get("PORT", "3000"))
SLOT = "electric_slot_" + STREAM_ID
PUBLICATION = "electric_publication_" + STREAM_ID
HANDLE = "%s-%d" % (STREAM_ID, int(time.time() * 1000))

state = {"status": "waiting"}


def log(message):
    print("[electric %s] %s" % (STREAM_ID, message), flush=True)


class Handler(BaseHTTPRequestHandler):
    def _send(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server API)
        path = self.path.split("?", 1)[0]
        status = state["status"]
        if path == "/v1/health":
            self._send(200 if status == "active" else 202, {"status": status})
        elif path == "/v1/shape":
            if status != "active":
                self._send(503, {"message": "Stack not ready: %s" % status}, {"retry-after": "1"})
            else:
                self._send(200, [{"headers": {"control": "up-to-date"}}],
                           {"electric-handle": HANDLE, "electric-offset": "0_0", "electric-up-to-date": ""})
        else:
            self._send(404, {"message": "not found"})

    def log_message(self, fmt, *args):
        pass


def connect(**kwargs):
    """Connect, retrying while PostgreSQL starts (as Electric does)."""
    for attempt in range(60):
        try:
            return psycopg2.connect(DATABASE_URL, application_name="electric_stand_in_" + STREAM_ID, **kwargs)
        except psycopg2.OperationalError as exc:
            if attempt == 59:
                raise
            log("database not reachable yet: %s" % str(exc).strip().splitlines()[0])
            time.sleep(1)


def replicate():
    lock_conn = connect()
    lock_conn.autocommit = True
    with lock_conn.cursor() as cur:
        log("waiting for the replication lock on %s" % SLOT)
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (SLOT,))
    log("lock acquired (backend pid %d)" % lock_conn.get_backend_pid())
    state["status"] = "starting"

    conn = connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,))
        if cur.fetchone() is None:
            cur.execute("CREATE PUBLICATION %s" % PUBLICATION)
            log("created publication %s" % PUBLICATION)
        cur.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (SLOT,))
        if cur.fetchone() is None:
            cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (SLOT,))
            log("created replication slot %s" % SLOT)
    conn.close()

    repl = connect(connection_factory=psycopg2.extras.LogicalReplicationConnection)
    cur = repl.cursor()
    cur.start_replication(slot_name=SLOT, decode=False,
                          options={"proto_version": "1", "publication_names": PUBLICATION})
    state["status"] = "active"
    log("streaming from %s" % SLOT)
    last_feedback = 0.0
    while True:
        msg = cur.read_message()
        if msg is None:
            now = time.monotonic()
            if now - last_feedback > 2:
                # Confirm everything seen so far, so the slot does not hold WAL back.
                cur.send_feedback(flush_lsn=cur.wal_end, reply=True)
                last_feedback = now
            select.select([cur], [], [], 1.0)
            # Keep the lock connection honest: if it died, Electric would have died too.
            if lock_conn.closed:
                raise RuntimeError("lock connection lost")
        else:
            cur.send_feedback(flush_lsn=msg.data_start)


def main():
    if not re.match(r"^[a-z0-9_]{1,49}$", STREAM_ID):
        log("ELECTRIC_REPLICATION_STREAM_ID must be lower-case letters, digits or _ (got %r)" % STREAM_ID)
        return 1
    if not DATABASE_URL:
        log("DATABASE_URL is required")
        return 1
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    failed = threading.Event()

    def worker():
        try:
            replicate()
        except Exception as exc:  # any failure ends the container, like a crashed Electric
            log("fatal: %s" % str(exc).strip())
        failed.set()

    threading.Thread(target=worker, daemon=True).start()
    # PID 1 gets no default signal handling; the main thread stays free to run this handler
    # while the worker sits inside libpq waiting for the lock.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    while not failed.wait(1):
        pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
