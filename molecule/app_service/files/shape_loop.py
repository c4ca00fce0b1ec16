"""Shape requests through nginx during an Electric redeploy, as a client would make them.

Every ~50 ms: GET /electric/v1/health and a read of an existing shape (by handle), both through
nginx on 127.0.0.1:443. Writes one JSON line per probe until the stop file exists.
Usage: shape_loop.py <domain> <secret file> <table> <stop file> <out file>
"""

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

DOMAIN, SECRET_FILE, TABLE, STOP, OUT = sys.argv[1:6]
SECRET = open(SECRET_FILE, encoding="utf-8").read().strip()
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def get(path):
    request = urllib.request.Request("https://127.0.0.1" + path, headers={"Host": DOMAIN})
    try:
        with urllib.request.urlopen(request, timeout=5, context=CTX) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc), {}


def shape_path(offset, handle=None):
    path = "/electric/v1/shape?table=%s&offset=%s&secret=%s" % (TABLE, offset, SECRET)
    return path + ("&handle=%s" % handle if handle else "")


status, body, headers = get(shape_path("-1"))
handle, offset = headers.get("electric-handle"), headers.get("electric-offset")
with open(OUT, "w", encoding="utf-8") as out:
    out.write(json.dumps({"t": time.time(), "kind": "start", "status": status, "handle": handle}) + "\n")
    while not os.path.exists(STOP):
        code, body, _headers = get("/electric/v1/health")
        out.write(json.dumps({"t": time.time(), "kind": "health", "status": code, "body": body[:60]}) + "\n")
        code, body, _headers = get(shape_path(offset, handle))
        out.write(json.dumps({"t": time.time(), "kind": "shape", "status": code}) + "\n")
        out.flush()
        time.sleep(0.05)
