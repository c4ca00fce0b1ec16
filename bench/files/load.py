"""Request load for bench/deploy.py, run ON the server (system python3, standard library only).

Every request goes to nginx on 127.0.0.1:443 with the service's domain as SNI and Host (curl's
--resolve), on kept-alive connections as browsers hold them: a request that finds its idle connection
closed by nginx (after a reload, or its keepalive_requests) is sent again on a new one, as browsers
do, and marked "r": 1. Each finished request is one JSON line on stdout: {"k": kind, "t0": start,
"t1": end (epoch seconds), "s": HTTP status or 0 (no answer), "e": error text, "b": health status}.
The load stops once it has sent its minimum and the stop file exists.

  load.py get --host legal.example --path /api/bench --rate 50 --min-count 3000 --stop-file /tmp/stop
      one GET due every 1/rate seconds, sent by a pool of connections (a slow answer does not slow the rate)
  load.py electric --host legal.example --table items --secret-file /path --clients 4 --client-rate 5
                   --health-interval 0.05 --stop-file /tmp/stop
      shape clients (offset=-1, then follow-up reads with the handle and offset; 409 refetches) and
      one /electric/v1/health poll due every health-interval seconds, through nginx
"""

import argparse
import http.client
import json
import os
import queue
import socket
import ssl
import sys
import threading
import time
from urllib.parse import urlencode

CONTEXT = ssl.create_default_context()
CONTEXT.check_hostname = False
CONTEXT.verify_mode = ssl.CERT_NONE  # nginx serves self-signed bootstrap certificates here

OUT_LOCK = threading.Lock()
# What a kept-alive connection that the server closed while idle raises on its next request;
# browsers and HTTP client libraries then send the request again on a new connection.
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to nginx on 127.0.0.1:443 with the domain as SNI and Host."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", 443), self.timeout)
        self.sock = CONTEXT.wrap_socket(sock, server_hostname=self.host)


class Client:
    """One kept-alive connection to nginx, as a browser tab has (nginx opens a new one upstream per request)."""

    def __init__(self, host, timeout):
        self.host, self.timeout, self.conn, self.used = host, timeout, None, False

    def _once(self, path):
        if self.conn is None:
            self.conn, self.used = LoopbackHTTPS(self.host, 443, timeout=self.timeout, context=CONTEXT), False
        self.conn.request("GET", path, headers={"Host": self.host})
        resp = self.conn.getresponse()
        body = resp.read()
        self.used = True
        if resp.getheader("connection", "").lower() == "close":
            self.close()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), body

    def get(self, path):
        """(status, headers, body, retried) or raises."""
        try:
            return self._once(path) + (False,)
        except STALE:
            if not self.used:
                self.close()
                raise
            self.close()
            return self._once(path) + (True,)
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def emit(kind, t0, status, error="", extra=None):
    row = {"k": kind, "t0": round(t0, 4), "t1": round(time.time(), 4), "s": status, "e": error}
    row.update(extra or {})
    with OUT_LOCK:
        sys.stdout.write(json.dumps(row, separators=(",", ":")) + "\n")


def timed(client, kind, path, extra=None, t0=None):
    """One request, recorded (t0: when it was due, if it waited for a free connection); (status, headers, body)."""
    t0 = time.time() if t0 is None else t0
    try:
        status, headers, body, retried = client.get(path)
    except Exception as exc:  # a refused, reset or timed-out request is a failed one, recorded as status 0
        emit(kind, t0, 0, "%s: %s" % (type(exc).__name__, str(exc)[:120]))
        return 0, {}, b""
    row = dict(extra(status, body) if extra else {})
    if retried:
        row["r"] = 1
    emit(kind, t0, status, "", row)
    return status, headers, body


def should_stop(args, sent, started):
    return sent >= args.min_count and time.time() - started >= args.min_seconds and os.path.exists(args.stop_file)


def paced(args, kind, path, rate, connections, extra=None, timeout=None):
    """Requests due every 1/rate s, sent by a pool of kept-alive connections, so that a slow or hung
    answer does not slow the rate (t0 is when a request was due: waiting for a free connection counts)."""
    due = queue.Queue()

    def worker():
        client = Client(args.host, timeout or args.timeout)
        while True:
            when = due.get()
            if when is None:
                break
            timed(client, kind, path, extra, t0=when)
        client.close()

    workers = [threading.Thread(target=worker, daemon=True) for _i in range(connections)]
    for thread in workers:
        thread.start()
    period = 1.0 / rate
    started = time.time()
    sent = 0
    while not should_stop(args, sent, started):
        when = started + sent * period
        delay = when - time.time()
        if delay > 0:
            time.sleep(delay)
        due.put(when)
        sent += 1
    for _thread in workers:
        due.put(None)
    for thread in workers:
        thread.join((timeout or args.timeout) * 2 + 5)


def run_get(args):
    paced(args, "get", args.path, args.rate, args.connections)


def shape_client(args, secret, stop):
    client = Client(args.host, args.timeout)
    base = {"table": args.table}
    if secret:
        base["secret"] = secret
    period = 1.0 / args.client_rate
    handle = offset = None
    while not stop.is_set():
        t = time.time()
        params = dict(base, offset="-1") if handle is None else dict(base, handle=handle, offset=offset)
        status, headers, _body = timed(client, "shape", "/electric/v1/shape?" + urlencode(params),
                                       lambda s, b: {"f": "initial" if handle is None else "follow-up"})
        if status == 200 and headers.get("electric-handle"):
            handle, offset = headers["electric-handle"], headers.get("electric-offset") or "0_inf"
        elif status == 409:
            handle = offset = None
        time.sleep(max(0.0, period - (time.time() - t)))
    client.close()


def health_status(status, body):
    try:
        return {"b": json.loads(body.decode()).get("status", "")}
    except (ValueError, AttributeError, UnicodeDecodeError):
        return {"b": ""}


def run_electric(args):
    secret = ""
    if args.secret_file:
        with open(args.secret_file, encoding="utf-8") as handle:
            secret = handle.read().strip()
    stop = threading.Event()
    clients = [threading.Thread(target=shape_client, args=(args, secret, stop), daemon=True) for _i in range(args.clients)]
    for client in clients:
        client.start()
        time.sleep(1.0 / args.client_rate / args.clients)
    # A probe that does not answer within health-timeout counts as no answer; its connection is free again.
    connections = int(args.health_timeout / args.health_interval) + 8
    paced(args, "health", "/electric/v1/health", 1.0 / args.health_interval, connections, health_status, args.health_timeout)
    stop.set()
    for client in clients:
        client.join(args.timeout + 5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("get", "electric"):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--stop-file", required=True)
        p.add_argument("--min-count", type=int, default=0)
        p.add_argument("--min-seconds", type=float, default=0)
        p.add_argument("--timeout", type=float, default=30)
    sub.choices["get"].add_argument("--path", default="/api/bench")
    sub.choices["get"].add_argument("--rate", type=float, default=50)
    sub.choices["get"].add_argument("--connections", type=int, default=32)
    sub.choices["electric"].add_argument("--table", required=True)
    sub.choices["electric"].add_argument("--secret-file", default="")
    sub.choices["electric"].add_argument("--clients", type=int, default=4)
    sub.choices["electric"].add_argument("--client-rate", type=float, default=5)
    sub.choices["electric"].add_argument("--health-interval", type=float, default=0.05)
    sub.choices["electric"].add_argument("--health-timeout", type=float, default=1.0)
    args = parser.parse_args()
    (run_get if args.mode == "get" else run_electric)(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
