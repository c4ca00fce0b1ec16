"""A Docker CLI stand-in for unit tests of code that runs `docker` inside shell commands (``sh -c``), where a
Python fake of run_command cannot answer: the shell starts it as its ``docker`` (FakeDockerCli.cli, a wrapper
that runs this file with the tests' own Python).

It answers ``inspect --type image``, ``pull -q``, ``info --format``, ``[--config DIR] login --password-stdin`` and
``[--config DIR] manifest inspect -v [--insecure]`` from a state directory (FakeDockerCli below writes it and reads
what happened), every call under one file lock:

- ``local``: reference -> local image id; ``registry``: reference -> the id a pull brings; a reference not in
  ``registry`` fails with ``refusals[ref]`` (default: Docker's answer for an unknown manifest);
- ``barrier`` (a number): each pull waits until that many pulls have started, and fails after
  ``barrier_timeout`` seconds (default 5): pulls run one after another never get there;
- ``stores`` false: a pull succeeds but leaves nothing behind;
- ``password``: the password ``login`` accepts; it writes the config file only when its content changes. With a
  password, ``manifest inspect`` answers only with a config file (a login) in the configuration directory;
- ``manifest inspect`` answers for a reference in ``registry`` with one manifest whose configuration digest is the
  id a pull brings (Docker's classic store names an image by it), else ``no such manifest``;
- ``registry_config``: what ``info`` prints (default: Docker's, loopback addresses are insecure); ``root_dir``: what
  it prints for ``{{.DockerRootDir}}`` (default: the state directory, on this machine's disk).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path

STATE = "state.json"


@contextmanager
def locked(directory):
    with open(directory / "lock", "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state = json.loads((directory / STATE).read_text(encoding="utf-8"))
        yield state
        (directory / STATE).write_text(json.dumps(state), encoding="utf-8")


def inspect_images(state, names):
    docs = [{"Id": state["local"][name]} for name in names if name in state["local"]]
    print(json.dumps(docs))
    missing = [name for name in names if name not in state["local"]]
    for name in missing:
        print("Error response from daemon: No such image: %s" % name, file=sys.stderr)
    return 1 if missing else 0


def pull(directory, image):
    with locked(directory) as state:
        state["started"] += 1
        barrier, timeout = state.get("barrier"), state.get("barrier_timeout", 5)
    deadline = time.monotonic() + timeout
    while barrier:
        with locked(directory) as state:
            if state["started"] >= barrier:
                break
        if time.monotonic() > deadline:
            print("fake docker: pull %s waited %s s for %d pulls to run at once" % (image, timeout, barrier), file=sys.stderr)
            return 1
        time.sleep(0.02)
    with locked(directory) as state:
        if image not in state["registry"]:
            reason = state["refusals"].get(image, "manifest for %s not found: manifest unknown" % image)
            print("Error response from daemon: %s" % reason, file=sys.stderr)
            return 1
        if state.get("stores", True):
            state["local"][image] = state["registry"][image]
    print(image)
    return 0


def login(state, config_dir, args):
    registry, user = args[-1], args[args.index("--username") + 1]
    if sys.stdin.read() != state.get("password"):
        print("Error response from daemon: Get \"https://%s/v2/\": unauthorized: incorrect username or password" % registry,
              file=sys.stderr)
        return 1
    path = config_path(config_dir)
    content = json.dumps({"auths": {registry: {"auth": user}}})
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    print("Login Succeeded")
    return 0


def config_path(config_dir):
    return Path(config_dir or os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def manifest(state, config_dir, args):
    ref = args[-1]
    if state.get("password") and not config_path(config_dir).exists():
        print("Get \"https://%s/v2/\": no basic auth credentials" % ref.split("/")[0], file=sys.stderr)
        return 1
    if ref not in state["registry"]:
        print("no such manifest: %s" % ref, file=sys.stderr)
        return 1
    image_id = state["registry"][ref]
    print(json.dumps({"Ref": ref, "Descriptor": {"digest": "sha256:manifest-of-" + image_id},
                      "SchemaV2Manifest": {"config": {"digest": image_id}}}, indent="\t"))
    return 0


def main(argv):
    directory = Path(os.environ["FAKE_DOCKER_STATE"])
    config_dir = None
    if argv[:1] == ["--config"]:
        config_dir, argv = argv[1], argv[2:]
    with locked(directory) as state:
        state["calls"].append(argv)
        if argv[:3] == ["inspect", "--type", "image"]:
            return inspect_images(state, argv[3:])
        if argv[:1] == ["login"]:
            return login(state, config_dir, argv)
        if argv[:3] == ["manifest", "inspect", "-v"]:
            return manifest(state, config_dir, argv)
        if argv[:2] == ["info", "--format"]:
            # Docker's template, for the two fields the pull code asks for
            print(argv[2].replace("{{.DockerRootDir}}", state["root_dir"])
                  .replace("{{json .RegistryConfig}}", json.dumps(state["registry_config"])))
            return 0
    if argv[:2] == ["pull", "-q"]:
        return pull(directory, argv[2])
    print("fake docker: unexpected call %s" % argv, file=sys.stderr)
    return 2


class FakeDockerCli:
    """The state directory of a fake Docker CLI, and the executable to give as ``docker_cli``."""

    def __init__(self, directory, local=None, registry=None, refusals=None, barrier=None, barrier_timeout=5, stores=True,
                 password=None, registry_config=None, root_dir=None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        wrapper = self.directory / "docker"
        wrapper.write_text('#!/bin/sh\nexec %s %s "$@"\n' % (shlex.quote(sys.executable), shlex.quote(os.path.abspath(__file__))),
                           encoding="utf-8")
        wrapper.chmod(0o755)
        self.cli = str(wrapper)
        state = dict(local=local or {}, registry=registry or {}, refusals=refusals or {}, barrier=barrier,
                     barrier_timeout=barrier_timeout, stores=stores, password=password, started=0, calls=[],
                     registry_config=registry_config or {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}},
                     root_dir=str(root_dir or self.directory))
        (self.directory / STATE).write_text(json.dumps(state), encoding="utf-8")

    def state(self):
        return json.loads((self.directory / STATE).read_text(encoding="utf-8"))

    def calls(self, verb=None):
        return [call for call in self.state()["calls"] if verb is None or verb in call[:3]]

    def pulls(self):
        return sorted(call[2] for call in self.calls("pull"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
