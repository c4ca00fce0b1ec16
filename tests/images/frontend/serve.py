"""SvelteKit `serve` stand-in: an HTML page naming the service on every path (SPA fallback)."""

import html
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = os.environ.get("SERVICE_NAME", "frontend")
PAGE = ("<!doctype html><html><head><title>%s</title></head>"
        "<body><h1>%s frontend</h1><p>served by %s</p></body></html>\n") % (
    html.escape(SERVICE), html.escape(SERVICE), html.escape(socket.gethostname()))


class Handler(BaseHTTPRequestHandler):
    server_version = "serve"
    sys_version = ""

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("%s %s %s" % (time.strftime("%H:%M:%S"), self.address_string(), fmt % args), flush=True)


def main():
    port = int(os.environ.get("PORT") or 3000)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = False
    server.block_on_close = True
    print(" INFO  Accepting connections at http://localhost:%d (%s)" % (port, SERVICE), flush=True)
    # serve exits gracefully on SIGTERM: requests in flight finish first.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stopping.wait()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
