"""Phoenix backend stand-in: migrate, then serve /health, /api/... and an Electric-like /v1/health."""

import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = os.environ.get("SERVICE_NAME", "backend")
HOSTNAME = socket.gethostname()
ACTIVE_FLAG = "/tmp/health-active"
MIGRATED_FLAG = "/tmp/migrated"


def log(message):
    print("%s [info] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


class Handler(BaseHTTPRequestHandler):
    server_version = "Cowboy"
    sys_version = ""
    listening_since = 0.0

    def _send(self, code, payload, content_type="application/json"):
        body = (json.dumps(payload, separators=(",", ":")) if content_type == "application/json" else payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif path == "/":
            # The root route of the API: what nginx serves at / for a service without a frontend.
            self._send(200, {"service": SERVICE, "hostname": HOSTNAME})
        elif path == "/v1/health":
            waited = time.monotonic() - Handler.listening_since
            waiting_for = float(os.environ.get("HEALTH_WAITING_SECONDS") or 0)
            if os.path.exists(ACTIVE_FLAG) or waited >= waiting_for:
                self._send(200, {"status": "active"})
            else:
                self._send(202, {"status": "waiting"})
        elif path == "/api" or path.startswith("/api/"):
            self._send(200, {"service": SERVICE, "hostname": HOSTNAME, "path": self.path})
        else:
            self._send(404, {"errors": {"detail": "Not Found"}})

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))


def main():
    if os.environ.get("FAIL_ON_START") == "1":
        print("** (Ecto.MigrationError) %s could not start: FAIL_ON_START=1" % SERVICE, file=sys.stderr, flush=True)
        sys.exit(1)
    seconds = float(os.environ.get("MIGRATION_SECONDS") or 0)
    log("%s: running migrations (%.1f s)" % (SERVICE, seconds))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not os.path.exists(MIGRATED_FLAG):
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    log("%s: migrations done" % SERVICE)
    port = int(os.environ.get("PORT") or 4000)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    # Like Phoenix on SIGTERM: stop accepting, let the requests in flight finish, then exit 0.
    server.daemon_threads = False
    server.block_on_close = True
    Handler.listening_since = time.monotonic()
    log("%s: Running SertantaiWeb.Endpoint with cowboy on port %d (http)" % (SERVICE, port))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stopping.wait()
    log("%s: SIGTERM received, draining connections" % SERVICE)
    server.shutdown()
    server.server_close()
    log("%s: stopped" % SERVICE)


if __name__ == "__main__":
    main()
