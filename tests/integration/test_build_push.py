"""playbooks/build_push.yml (role image_build) for real: ansible-playbook on this machine (the
controller) builds the stand-in app of tests/fixtures/apps with the local Docker Engine (buildx) and
pushes to a REAL registry with htpasswd auth (tests/images/registry) published on 127.0.0.1, where
dockerd allows plain HTTP. Credentials live in a temporary DOCKER_CONFIG; ~/.docker is never used."""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.ansible import ansible_env
from tests.support.docker import docker, remove_containers, sh
from tests.support.registry import start_registry

pytestmark = pytest.mark.minutes(5)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APPS = REPO / "tests" / "fixtures" / "apps"
PLAYBOOK = REPO / "playbooks" / "build_push.yml"
REGISTRY = "sertantai-test-build-registry"
USER = "shotleybuilder"
# Repositories in the test registry; the fixture removes every local tag of them, and only those.
NAMESPACE = "sertantai-test-build"
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


class Registry:
    def __init__(self, host, password):
        self.host = host
        self.password = password

    def image(self, component):
        return "%s/%s/legal-%s" % (self.host, NAMESPACE, component)

    def manifest_digest(self, component, tag):
        """Digest of the tag's manifest in the registry, or None when the registry has no such tag."""
        request = urllib.request.Request("http://%s/v2/%s/legal-%s/manifests/%s" % (self.host, NAMESPACE, component, tag),
                                         method="HEAD", headers={"Accept": MANIFEST_TYPES})
        token = base64.b64encode(("%s:%s" % (USER, self.password)).encode()).decode()
        request.add_header("Authorization", "Basic " + token)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.headers["Docker-Content-Digest"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise


def local_tags(host="127.0.0.1:*"):
    """Local tags of the test registry's repositories (by default of any port: left by an earlier run)."""
    out = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=%s/%s/*" % (host, NAMESPACE)).stdout
    return [line for line in out.split() if not line.endswith(":<none>")]


def remove_local_tags():
    tags = local_tags()
    if tags:
        docker("rmi", *tags, check=False)


@pytest.fixture(scope="module")
def registry(docker_engine):
    password = secrets.token_hex(16)
    remove_containers(REGISTRY)
    remove_local_tags()
    port = start_registry(REGISTRY, USER, password)
    reg = Registry("127.0.0.1:%d" % port, password)
    yield reg
    remove_local_tags()
    remove_containers(REGISTRY)


def make_app(tmp_path, variant=None, git=True):
    """A copy of the stand-in app (with a variant laid over it), committed in a fresh git repository."""
    app = tmp_path / "app"
    shutil.copytree(APPS / "legal", app)
    if variant:
        shutil.copytree(APPS / variant, app, dirs_exist_ok=True)
    if not git:
        return app, None
    sh("git", "-C", str(app), "init", "-q")
    sh("git", "-C", str(app), "add", "-A")
    # The test's own name in the message: every test commits a different tree or message, so no two
    # tests share a commit tag (an image tagged with another test's commit would be reused).
    sh("git", "-C", str(app), "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm",
       "%s %s" % (tmp_path.name, variant or "legal"))
    return app, sh("git", "-C", str(app), "rev-parse", "--short", "HEAD").stdout.strip()


def build_processes(tag):
    """The command lines of this machine's processes that build the image tag (docker buildx build)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        words = [word.decode(errors="replace") for word in argv]
        if "build" in words and tag in words and any(word.endswith("buildx") for word in words):
            found.append(" ".join(words))
    return found


def docker_config(tmp_path, registry, password=None):
    """A DOCKER_CONFIG directory; with a password, its config.json holds a login for the registry."""
    directory = tmp_path / "docker-config"
    directory.mkdir(parents=True)
    config = {"auths": {}}
    if password is not None:
        config["auths"][registry.host] = {"auth": base64.b64encode(("%s:%s" % (USER, password)).encode()).decode()}
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def fleet(tmp_path, registry):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"sertantai_services": [
        {"name": "legal", "domain": "legal.example.com", "database": "legal_db",
         "backend": {"image": registry.image("backend"), "port": 4000},
         "frontend": {"image": registry.image("frontend"), "port": 3000}},
        {"name": "auth", "domain": "auth.example.com", "database": "auth_db",
         "backend": {"image": "%s/%s/auth-backend" % (registry.host, NAMESPACE), "port": 4001}},
    ]}))
    return path


def build_push(tmp_path, registry, app, config_dir, *extra, check=False):
    """Run the playbook from the app directory, as an operator would; returns (rc, output)."""
    argv = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK), "-e", "@%s" % fleet(tmp_path, registry),
            "-e", "service=legal", "-e", "image_build_registry_scheme=http", "-e", "image_build_log_dir=%s" % (tmp_path / "logs")]
    argv += list(extra)
    if check:
        argv.append("--check")
    # One JSON line per result: messages are never wrapped, so they can be searched for.
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                      DOCKER_CONFIG=str(config_dir), PWD=str(app))
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(app), timeout=1200, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def recap(output):
    m = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert m, output
    return dict(ok=int(m.group(1)), changed=int(m.group(2)), failed=int(m.group(3)))


def failures(output):
    """The msg of each failed task (or loop item) in a default-callback output with JSON results."""
    messages = []
    for line in output.splitlines():
        if line.startswith(("fatal: [localhost]", "failed: [localhost]")) and "=> {" in line:
            messages.append(json.loads(line.split("=> ", 1)[1]).get("msg", ""))
    return messages


def nothing_built(output, tmp_path, registry):
    return ("Start building" not in output and not (tmp_path / "logs").exists()
            and not [t for t in local_tags(registry.host) if tmp_path.name in t])


def login(registry, password=None):
    return ("-e", "image_build_registry_username=" + USER, "-e", "image_build_registry_password=" + (password or registry.password))


def test_check_mode_builds_and_pushes_nothing(tmp_path, registry):
    app, commit = make_app(tmp_path)
    # Credentials given (as from a vault): check mode proves them with the registry, writes no config.
    config = docker_config(tmp_path, registry)
    before = (config / "config.json").read_text()
    rc, out = build_push(tmp_path, registry, app, config, *login(registry), check=True)
    assert rc == 0, out
    assert recap(out)["failed"] == 0
    for component in ("backend", "frontend"):
        ref = "%s:%s" % (registry.image(component), commit)
        assert "%s: would be built from %s" % (ref, app / component) in out, out
        assert docker("image", "inspect", ref, check=False).returncode != 0
        assert registry.manifest_digest(component, commit) is None
    assert "Start building" not in out and not (tmp_path / "logs").exists()
    assert (config / "config.json").read_text() == before
    assert registry.password not in out


def test_good_push_lands_and_a_second_run_changes_nothing(tmp_path, registry):
    app, commit = make_app(tmp_path)
    # No login in the docker config: the role logs in with the credentials given (as from a vault).
    config = docker_config(tmp_path, registry)
    rc, out = build_push(tmp_path, registry, app, config, *login(registry))
    assert rc == 0, out
    assert registry.password not in out
    assert registry.host in json.loads((config / "config.json").read_text())["auths"]
    # Progress while building: each poll prints the component, the seconds so far and the latest step.
    steps = re.findall(r"\(item=(backend|frontend) (\d+)s (#\d+ .*?)\)", out)
    assert {s[0] for s in steps} == {"backend", "frontend"}, out
    assert any(re.match(r"#\d+ (\[runner \d+/\d+\]|exporting to image)", s[2]) for s in steps), steps
    assert (tmp_path / "logs" / ("legal-backend-%s.log" % commit)).is_file()

    for component in ("backend", "frontend"):
        image = registry.image(component)
        local_id = docker("image", "inspect", "--format", "{{.Id}}", "%s:%s" % (image, commit)).stdout.strip()
        assert docker("image", "inspect", "--format", "{{.Id}}", image + ":latest").stdout.strip() == local_id
        # The commit tag and latest name the same manifest in the registry...
        digest = registry.manifest_digest(component, commit)
        assert digest and registry.manifest_digest(component, "latest") == digest
        # ... and the image comes back from it by the commit tag.
        docker("rmi", "%s:%s" % (image, commit))
        docker("--config", str(config), "pull", "%s:%s" % (image, commit))
        assert docker("image", "inspect", "--format", "{{.Id}}", "%s:%s" % (image, commit)).stdout.strip() == local_id
        labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", image + ":latest").stdout)
        assert labels["org.opencontainers.image.revision"].startswith(commit)
        # The tag it was built as, which status shows beside a tag that moves (latest).
        assert labels["org.opencontainers.image.version"] == commit

    rc, again = build_push(tmp_path, registry, app, config, *login(registry))
    assert rc == 0, again
    assert recap(again)["changed"] == 0, again
    assert "Start building" not in again
    assert "exists locally, built before from the same commit" in again


def test_wrong_credentials_fail_before_the_build_with_the_hint(tmp_path, registry):
    app, _commit = make_app(tmp_path)
    wrong = secrets.token_hex(16)
    # A login in the docker config that the registry no longer accepts (an expired PAT).
    rc, out = build_push(tmp_path, registry, app, docker_config(tmp_path, registry, wrong))
    assert rc != 0
    assert recap(out)["failed"] == 1
    assert "Ensure the docker config has working credentials for each registry before anything is built" in out
    message = failures(out)[-1]
    assert "may have expired" in message, message
    assert 'echo "$PAT" | docker login %s -u %s --password-stdin' % (registry.host, USER) in message
    assert wrong not in out and registry.password not in out
    assert nothing_built(out, tmp_path, registry)

    # Credentials given to the role (from a vault) that the registry refuses.
    rc, out = build_push(tmp_path, registry, app, docker_config(tmp_path / "vault", registry), *login(registry, wrong))
    assert rc != 0
    message = failures(out)[-1]
    assert message.startswith("docker login %s as %s failed: " % (registry.host, USER)), message
    assert "may have expired" in message
    assert wrong not in out and registry.password not in out
    assert nothing_built(out, tmp_path, registry)


def test_runner_stage_on_another_release_fails_in_preflight(tmp_path, registry):
    app, _commit = make_app(tmp_path, "legal-runner-mismatch")
    rc, out = build_push(tmp_path, registry, app, docker_config(tmp_path, registry, registry.password))
    assert rc != 0
    assert "Ensure the builder and runner stages of each Dockerfile use the same OS release" in out
    assert "stage 'builder' (sertantai-test/debian:bookworm) is Debian 12" in out, out
    assert "stage 'runner' (debian:bullseye-slim) is Debian 11" in out, out
    assert nothing_built(out, tmp_path, registry)


def test_compiled_regex_in_a_module_attribute_fails_in_preflight(tmp_path, registry):
    app, _commit = make_app(tmp_path, "legal-regex-attribute")
    rc, out = build_push(tmp_path, registry, app, docker_config(tmp_path, registry, registry.password))
    assert rc != 0
    source = app / "backend" / "lib" / "sertantai_legal" / "legal" / "taxa" / "actor_definitions.ex"
    assert "%s:7:@government" % source in out, out
    assert nothing_built(out, tmp_path, registry)


def test_missing_healthcheck_tool_stops_the_push(tmp_path, registry):
    app, commit = make_app(tmp_path, "legal-healthcheck-curl")
    rc, out = build_push(tmp_path, registry, app, docker_config(tmp_path, registry, registry.password),
                         "-e", "components=[backend]")
    assert rc != 0
    assert "Ensure each image has the tools of its own HEALTHCHECK" in out
    assert "needs curl, which the image does not have" in out, out
    assert docker("image", "inspect", "%s:%s" % (registry.image("backend"), commit), check=False).returncode == 0
    assert registry.manifest_digest("backend", commit) is None


def test_refused_push_fails_with_the_expired_token_hint(tmp_path, registry):
    """The distribution registry has no per-user push rights, so a refused push is made with credentials
    the registry rejects, and the check before the build only requires that some exist (verify: false)."""
    app, commit = make_app(tmp_path)
    wrong = secrets.token_hex(16)
    rc, out = build_push(tmp_path, registry, app, docker_config(tmp_path, registry, wrong),
                         "-e", "components=backend", "-e", "image_build_registry_verify=false")
    assert rc != 0
    assert "Start building" in out
    pushing = "pushing %s:%s failed: " % (registry.image("backend"), commit)
    message = [m for m in failures(out) if m.startswith(pushing)]
    assert message, out
    assert "unauthorized" in message[0] and "the token may have expired" in message[0]
    assert 'echo "$PAT" | docker login %s -u %s --password-stdin' % (registry.host, USER) in message[0]
    assert wrong not in out
    assert registry.manifest_digest("backend", commit) is None


def test_sources_outside_git_or_with_changes_need_an_explicit_tag(tmp_path, registry):
    config = docker_config(tmp_path, registry, registry.password)
    plain = make_app(tmp_path / "plain", git=False)[0]
    rc, out = build_push(tmp_path, registry, plain, config, "-e", "components=[frontend]", check=True)
    assert rc != 0
    assert "frontend: %s is not a git checkout" % (plain / "frontend") in out, out
    assert "set image_build_tag (playbook: -e tag=<tag>)" in out

    rc, out = build_push(tmp_path, registry, plain, config, "-e", "components=[frontend]", "-e", "tag=2026-05-01", check=True)
    assert rc == 0, out
    assert "%s:2026-05-01: would be built" % registry.image("frontend") in out

    dirty, commit = make_app(tmp_path / "dirty")
    (dirty / "frontend" / "src" / "index.html").write_text("<p>changed</p>\n")
    rc, out = build_push(tmp_path, registry, dirty, config, check=True)
    assert rc != 0
    assert "frontend: %s has uncommitted changes (M frontend/src/index.html)" % (dirty / "frontend") in out, out
    assert "an image tagged %s must be exactly that commit" % commit in out


def test_unknown_service_and_missing_component_are_named(tmp_path, registry):
    app, _commit = make_app(tmp_path)
    config = docker_config(tmp_path, registry, registry.password)
    rc, out = build_push(tmp_path, registry, app, config, "-e", "service=billing", check=True)
    assert rc != 0
    assert "image_build_service: 'billing' is not a service in sertantai_services (known: legal, auth)" in out, out
    rc, out = build_push(tmp_path, registry, app, config, "-e", "service=auth", check=True)
    assert rc != 0
    assert ("service 'auth' has no frontend in sertantai_services: build only the components it has (-e components=[backend])"
            in out), out


REPORT_PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    sertantai_services: []
  tasks:
    - ansible.builtin.include_role:
        name: sertantai.deploy.image_build
        tasks_from: push_report.yml
      vars:
        __image_build_push_failure: {results: %s}
"""


def test_refused_push_messages_get_the_expired_token_hint(tmp_path):
    """How push_report.yml maps registry answers: refusals get the hint, other failures do not."""
    cases = {
        "ghcr.io/o/a": ("ghcr.io", "Error pushing image ghcr.io/o/a:abc - denied: permission_denied: The token provided "
                                   "does not match expected scopes.", True),
        "ghcr.io/o/b": ("ghcr.io", "Error pushing image ghcr.io/o/b:abc - unauthorized: authentication required. "
                                   "Try logging into ghcr.io first.", True),
        "r.example.com/c": ("r.example.com", "Error pushing image r.example.com/c:abc: denied: requested access to the "
                                             "resource is denied", True),
        "r.example.com/d": ("r.example.com", "Error pushing image r.example.com/d:abc: Get \\\"https://r.example.com/v2/\\\": "
                                             "dial tcp: connect: connection refused", False),
    }
    results = [{"failed": True, "msg": msg, "item": [{"image": image, "registry": registry}, "abc"]}
               for image, (registry, msg, _denied) in cases.items()]
    results.append({"changed": True, "item": [{"image": "ghcr.io/o/ok", "registry": "ghcr.io"}, "abc"]})
    play = tmp_path / "report.yml"
    play.write_text(REPORT_PLAY % json.dumps(results))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)],
                          capture_output=True, text=True, env=ansible_env(), cwd=str(REPO), timeout=300, check=False)
    assert proc.returncode != 0
    task = json.loads(proc.stdout)["plays"][0]["tasks"][-1]["hosts"]["localhost"]
    messages = {r["item"]["item"][0]["image"]: r["msg"] for r in task["results"]}
    assert set(messages) == set(cases), messages
    for image, (registry, _msg, denied) in cases.items():
        message = messages[image]
        assert message.startswith("pushing %s:abc failed: " % image)
        assert ("the token may have expired" in message) is denied, message
        assert ('echo "$PAT" | docker login %s -u <user> --password-stdin' % registry in message) is denied, message
        assert ("write:packages" in message) is (denied and registry == "ghcr.io"), message
        assert ("Check that the Docker daemon can reach %s" % registry in message) is not denied, message


def test_failed_or_overlong_build_shows_the_log_and_pushes_nothing(tmp_path, registry):
    app, commit = make_app(tmp_path)
    config = docker_config(tmp_path, registry, registry.password)
    log = tmp_path / "logs" / ("legal-backend-%s.log" % commit)
    # sleep "x" fails in the builder stage, like a failing mix compile.
    rc, out = build_push(tmp_path, registry, app, config, "-e", "components=[backend]",
                         "-e", json.dumps({"image_build_source": {"backend": {"build_args": {"COMPILE_SECONDS": "x"}}}}))
    assert rc != 0
    message = failures(out)[-1]
    assert message.startswith("building %s:%s failed (docker buildx build exited 1); the last lines of the log:"
                              % (registry.image("backend"), commit)), message
    assert "sleep: invalid time interval" in message and message.endswith("Full log: %s" % log), message
    assert "sleep: invalid time interval" in log.read_text()

    # A build that outlives image_build_timeout is stopped and reported as such. The sleep is one no
    # earlier run has in the daemon's build cache (a cached step would finish at once).
    compile_seconds = "%d.%06d" % (600, secrets.randbelow(10 ** 6))
    rc, out = build_push(tmp_path, registry, app, config, "-e", "components=[backend]", "-e", "image_build_timeout=3",
                         "-e", json.dumps({"image_build_source": {"backend": {"build_args": {"COMPILE_SECONDS": compile_seconds}}}}))
    assert rc != 0
    message = failures(out)[-1]
    assert message.startswith("building %s:%s did not finish within 3 s (image_build_timeout) and was stopped"
                              % (registry.image("backend"), commit)), message
    # Stopped means stopped: no build client left running (one that was only killed leaves the daemon
    # building and loading the image), and the build's step cancelled in the log.
    tag = "%s:%s" % (registry.image("backend"), commit)
    deadline = time.monotonic() + 10
    while build_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert build_processes(tag) == [], "the build of %s still runs after the play stopped it" % tag
    assert re.search(r"(?m)^#\d+ CANCELED$", log.read_text()), log.read_text()[-2000:]
    assert docker("image", "inspect", tag, check=False).returncode != 0
    assert registry.manifest_digest("backend", commit) is None
