"""What a registry holds under some tags, in one process (scripts/local_server/demo.yml).

    registry_digests.py http://127.0.0.1:5000 repo:tag [repo:tag ...] < credentials

Credentials are read from stdin as "user:password" (nothing: anonymous), never from the command line.
Prints one JSON object: {"repo:tag": {"digest": <manifest digest>, "config": <config digest>} or null}.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request

ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
])


def read(base, ref, auth):
    repo, tag = ref.rsplit(":", 1)
    request = urllib.request.Request("%s/v2/%s/manifests/%s" % (base.rstrip("/"), repo, tag), headers={"Accept": ACCEPT})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            manifest = json.loads(answer.read().decode() or "{}")
            return {"digest": answer.headers.get("Docker-Content-Digest", ""),
                    "config": (manifest.get("config") or {}).get("digest", "")}
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise SystemExit("%s: the registry answered %d for %s (%s)" % (base, error.code, ref, error.reason))


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    auth = "" if sys.stdin.isatty() else sys.stdin.read().strip()
    print(json.dumps({ref: read(argv[0], ref, auth) for ref in argv[1:]}))


if __name__ == "__main__":
    main(sys.argv[1:])
