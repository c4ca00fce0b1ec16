"""What the local servers and the demo's surroundings hold, read in one process each time
(scripts/local_server/create.yml and demo.yml): a run that finds everything in place skips the rest.

    state.py before < request     what is there before anything is started
    state.py after < request      once the demo runs: the registries, Pebble's roots; sets the DNS

The request is one JSON object on stdin, the answer one JSON object on stdout. Nothing secret is
printed: a container is known by its state and its spec label (a hash), the login by a hash of it,
and the registry's credentials are read from build_push's settings file (never from the command line).

before: {"containers": [name], "images": [ref], "files": [path], and for the demo: "network": name,
         "docker_config": path, "registry": "localhost:<port>", "app_root": path, "components": [name]}
     -> {"containers": {name: {"running": bool, "spec": label, "ssh_port": port or null} or null}, "network": bool,
         "images": {ref: id or null}, "files": {path: {"mode": "0700", "sha256": hex or null} or null},
         "login": sha256 of the registry's auth entry or null,
         "sources": {component: {"kind": "commit"|"wip", "tag": tag}}}
after:  {"hub": {"url": url, "refs": [repo:tag]}, "registry": {"url": url, "refs": [repo:tag],
         "credentials": build_push settings file}, "pebble": container, "roots_file": path,
         "dns": {"url": management url, "domains": {domain: address}}}
     -> {"hub": {ref: {"digest", "config"} or null}, "registry": {...}, "pebble_root": pem,
         "pebble_api_ca": pem, "root_kept": bool}
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
])
# A hash of the settings a container was started with (create.yml, demo.yml).
SPEC_LABEL = "sertantai.local_server.spec"


def run(*argv, cwd=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def containers(names):
    """{name: {"running", "spec", "ssh_port"} or None}: one docker inspect for all (a missing one is left out)."""
    found = dict.fromkeys(names)
    if names:
        fmt = '{{json .Name}} {{json .State.Running}} {{json (index .Config.Labels "%s")}} {{json .NetworkSettings.Ports}}' % SPEC_LABEL
        # A missing container is an error on stderr and an empty line on stdout.
        for line in filter(None, run("docker", "container", "inspect", "--format", fmt, *names).stdout.splitlines()):
            name, running, spec, ports = (json.loads(word) for word in line.split(" ", 3))
            ssh = (ports or {}).get("22/tcp") or [{}]
            found[name.lstrip("/")] = {"running": running, "spec": spec or "", "ssh_port": ssh[0].get("HostPort")}
    return found


def images(refs):
    found = dict.fromkeys(refs)
    for ref in refs:
        answer = run("docker", "image", "inspect", "--format", "{{.Id}}", ref)
        if answer.returncode == 0:
            found[ref] = answer.stdout.strip()
    return found


def file_state(path):
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    digest = None
    if stat.S_ISREG(info.st_mode):
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    return {"mode": "%04o" % stat.S_IMODE(info.st_mode), "sha256": digest}


def login(config_path, registry):
    try:
        with open(config_path, encoding="utf-8") as handle:
            auth = (json.load(handle).get("auths") or {}).get(registry, {}).get("auth")
    except (FileNotFoundError, ValueError):
        return None
    return hashlib.sha256(auth.encode()).hexdigest() if auth else None


def source_tag(directory):
    """The tag the demo gives a source's image: the short commit that last changed it when it is clean, so that
    a commit elsewhere in the repository builds nothing; else wip-<content hash> (build_push refuses a commit tag
    for uncommitted changes)."""
    if not run("git", "status", "--porcelain", "--untracked-files=all", "--", ".", cwd=directory).stdout.strip():
        return {"kind": "commit", "tag": run("git", "log", "-1", "--format=%h", "--", ".", cwd=directory).stdout.strip()}
    lines = []
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                lines.append((os.path.relpath(path, directory), hashlib.sha256(handle.read()).hexdigest()))
    listing = "".join("%s  ./%s\n" % (digest, path) for path, digest in sorted(lines, key=lambda item: item[0].encode()))
    return {"kind": "wip", "tag": "wip-" + hashlib.sha256(listing.encode()).hexdigest()[:12]}


def before(request):
    answer = {
        "containers": containers(request["containers"]),
        "images": images(request["images"]),
        "files": {path: file_state(path) for path in request["files"]},
    }
    if "network" in request:
        answer["network"] = run("docker", "network", "inspect", "--format", "{{.Name}}", request["network"]).returncode == 0
    if "registry" in request:
        answer["login"] = login(request["docker_config"], request["registry"])
    if "app_root" in request:
        answer["sources"] = {component: source_tag(os.path.join(request["app_root"], component))
                             for component in request["components"]}
    return answer


def manifest(base, ref, auth):
    repo, tag = ref.rsplit(":", 1)
    query = urllib.request.Request("%s/v2/%s/manifests/%s" % (base.rstrip("/"), repo, tag), headers={"Accept": ACCEPT})
    if auth:
        query.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(query, timeout=30) as answer:
            body = json.loads(answer.read().decode() or "{}")
            return {"digest": answer.headers.get("Docker-Content-Digest", ""),
                    "config": (body.get("config") or {}).get("digest", "")}
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise SystemExit("%s: the registry answered %d for %s (%s)" % (base, error.code, ref, error.reason)) from None


def post(url, body):
    query = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(query, timeout=10) as answer:
        answer.read()


def retried(what, action, seconds=30):
    """action() until it succeeds, for a container that has just started."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except (OSError, RuntimeError) as error:
            if time.monotonic() > deadline:
                raise SystemExit("%s: %s (for %d s)" % (what, error, seconds)) from None
            time.sleep(1)


def pebble(container, *argv):
    answer = run("docker", "exec", container, *argv)
    if answer.returncode != 0:
        raise RuntimeError("docker exec %s %s: rc=%d %s" % (container, " ".join(argv), answer.returncode, answer.stderr.strip()))
    return answer.stdout


def after(request):
    with open(request["registry"]["credentials"], encoding="utf-8") as handle:
        settings = yaml.safe_load(handle)
    auth = "%s:%s" % (settings["image_build_registry_username"], settings["image_build_registry_password"])
    # Public DNS: each domain resolves to the server that runs its service. add-a adds to what the
    # domain had (a service that moved would resolve to both), so each domain is cleared first.
    dns = request["dns"]
    for domain, address in sorted(dns["domains"].items()):
        for action in ("clear-a", "add-a"):
            retried("the demo's DNS (%s)" % dns["url"],
                    lambda action=action, domain=domain, address=address: post(
                        "%s/%s" % (dns["url"], action), {"host": domain, "addresses": [address]}))
    root = retried("Pebble's root", lambda: pebble(request["pebble"], "curl", "-sf", "--cacert", "/etc/pebble/ca.pem",
                                                   "https://localhost:15000/roots/0")).rstrip("\r\n")
    kept = file_state(request["roots_file"]) is not None
    if kept:
        with open(request["roots_file"], encoding="utf-8") as handle:
            kept = root.strip() in handle.read()
    return {
        "hub": {ref: manifest(request["hub"]["url"], ref, "") for ref in request["hub"]["refs"]},
        "registry": {ref: manifest(request["registry"]["url"], ref, auth) for ref in request["registry"]["refs"]},
        "pebble_root": root,
        "pebble_api_ca": pebble(request["pebble"], "cat", "/etc/pebble/ca.pem"),
        "root_kept": kept,
    }


def main(argv):
    if argv not in (["before"], ["after"]):
        raise SystemExit(__doc__)
    request = json.load(sys.stdin)
    print(json.dumps(before(request) if argv == ["before"] else after(request)))


if __name__ == "__main__":
    main(sys.argv[1:])
