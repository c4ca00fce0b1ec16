"""Electric shape API stand-in for routing tests: /v1/shape with electric-* and cache headers, /health for the healthcheck."""

import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = os.environ.get("SERVICE_NAME", "electric")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        path = self.path.split("?", 1)[0]
        body = json.dumps({"service": SERVICE, "hostname": socket.gethostname(), "path": self.path}).encode()
        self.send_response(200 if path in ("/v1/shape", "/health", "/v1/health") else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        if path == "/v1/shape":
            self.send_header("electric-handle", "legal-1700000000000")
            self.send_header("electric-offset", "0_0")
            self.send_header("electric-schema", '{"id":{"type":"int4"}}')
            self.send_header("cache-control", "public, max-age=60, stale-while-revalidate=300")
            self.send_header("etag", '"legal-1700000000000:-1:0_0"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "3000"))), Handler).serve_forever()
