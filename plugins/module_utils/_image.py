# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: images. Pull several at once, and prove that the executables a healthcheck
or script needs exist in an image.

A compose healthcheck that calls ``curl`` in an image that only has ``wget`` keeps the container
"unhealthy" forever. This reads the commands out of healthcheck tests (``CMD``, ``CMD-SHELL`` and
plain strings, whose shell lines are split on ``&& || ; |``), then asks the image itself with
``command -v`` (or, in an image without ``sh``, looks for the files along its PATH).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex

from ansible_collections.sertantai.deploy.plugins.module_utils._disk import human_bytes
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError, first_error_line

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What to suggest when a tool is missing, in order of preference.
ALTERNATIVES = {
    "curl": ["wget"],
    "wget": ["curl"],
    "nc": ["ncat", "netcat", "socat"],
    "python": ["python3"],
    "python3": ["python"],
    "bash": ["sh"],
    "pg_isready": ["psql"],
}
# Shell builtins and keywords: present in any shell, never looked up.
SHELL_BUILTINS = {
    "!", "{", "}", "[", "[[", "]]", ":", ".", "case", "cd", "command", "do", "done", "echo", "elif", "else", "esac", "eval",
    "exec", "exit", "export", "false", "fi", "for", "if", "in", "printf", "pwd", "read", "return", "set", "shift", "source",
    "test", "then", "time", "trap", "true", "type", "ulimit", "umask", "unset", "until", "wait", "while",
}
# Commands that run the next word as a command (after their own options).
WRAPPERS = {"exec", "env", "nohup", "nice", "timeout", "command", "time", "!", "then", "else", "do", "if", "elif", "while", "until", "{"}
_SEPARATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")", "|&", "\n"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_COMPOSE_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_PROBE = 'for c in "$@"; do if command -v "$c" >/dev/null 2>&1; then echo "found $c"; else echo "missing $c"; fi; done'


class ImageCommandsError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- what a healthcheck needs

def shell_commands(line):
    """Executables a shell line runs, as far as a static reading can tell (no builtins, no $VAR commands)."""
    try:
        lexer = shlex.shlex(line.replace("\n", " ; "), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        words = line.split()
        return words[:1]
    commands = []
    expect = True
    skip_next = False
    after_wrapper = None
    for token in tokens:
        if token in _SEPARATORS:
            expect, skip_next, after_wrapper = True, False, None
            continue
        if token and set(token) <= set("<>&|;()"):  # a redirection: its target is not a command
            skip_next = True
            continue
        if skip_next:
            skip_next = False
            continue
        if not expect:
            continue
        if after_wrapper and token.startswith("-"):
            if after_wrapper == "command" and token in ("-v", "-V"):
                expect = False
            continue
        if after_wrapper and re.match(r"^\d+(\.\d+)?[smhd]?$", token):  # nice -n 5, timeout 5
            continue
        if _ASSIGNMENT.match(token):
            continue
        if "$" in token or "`" in token:
            expect = False
            continue
        if token in WRAPPERS:
            if token not in SHELL_BUILTINS and token not in commands:
                commands.append(token)
            after_wrapper = token
            continue
        after_wrapper = None
        expect = False
        if token in SHELL_BUILTINS or token in ("for", "case"):
            continue
        if token not in commands:
            commands.append(token)
    return commands


def healthcheck_commands(test):
    """(kind, commands) for a healthcheck test: kind is 'exec', 'shell' or 'none'."""
    if test is None:
        return "none", []
    if isinstance(test, str):
        return "shell", shell_commands(test)
    if not isinstance(test, (list, tuple)) or not test:
        raise ImageCommandsError("healthcheck test %r is neither a string nor a list" % (test,))
    test = [str(t) for t in test]
    head = test[0].upper()
    if head == "NONE":
        return "none", []
    if head == "CMD":
        return "exec", test[1:2]
    if head == "CMD-SHELL":
        return "shell", shell_commands(" ".join(test[1:]))
    raise ImageCommandsError("healthcheck test %r must start with CMD, CMD-SHELL or NONE" % (test,))


# ---------------------------------------------------------------- compose

def read_env_file(path):
    """KEY=VALUE lines of a compose .env file (missing file: empty)."""
    env = {}
    if not os.path.isfile(path):
        return env
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _sep, value = line.partition("=")
            key = key.strip()
            if key.startswith("export "):
                key = key[len("export "):].strip()
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            env[key] = value
    return env


def interpolate(value, env):
    """Compose interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}."""
    if not isinstance(value, str):
        return value

    def repl(m):
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, word = m.group(3), m.group(4)
        current = env.get(name)
        unset_or_empty = current is None or current == ""
        if op in (":-", "-"):
            return word if (unset_or_empty if op == ":-" else current is None) else current
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else current is None:
                raise ImageCommandsError("variable %s is required: %s" % (name, word or "set it in the environment or .env"))
            return current
        if op in (":+", "+"):
            return "" if (unset_or_empty if op == ":+" else current is None) else word
        return current or ""

    return _COMPOSE_VAR.sub(repl, value)


def compose_targets(compose, services=None, env=None):
    """[{service, image, test}] for the asked services (default: all) of a loaded compose document."""
    env = env or {}
    defined = (compose or {}).get("services") or {}
    if not isinstance(defined, dict):
        raise ImageCommandsError("the compose file has no services mapping")
    names = list(services) if services else sorted(defined)
    unknown = [n for n in names if n not in defined]
    if unknown:
        raise ImageCommandsError("service(s) %s not in the compose file (services: %s)" % (", ".join(unknown), ", ".join(sorted(defined))))
    targets = []
    for name in names:
        service = defined[name] or {}
        image = interpolate(service.get("image"), env)
        healthcheck = service.get("healthcheck") or {}
        test = None
        source = "image"
        if healthcheck.get("disable"):
            test, source = ["NONE"], "compose"
        elif "test" in healthcheck:
            test = healthcheck["test"]
            test = interpolate(test, env) if isinstance(test, str) else [interpolate(t, env) for t in test]
            source = "compose"
        error = None
        if not image:
            error = ("service %s has no image (it is only built from a Dockerfile): set image: to the tag the build "
                     "produces and build it first" % name)
        targets.append(dict(service=name, image=image, test=test, healthcheck_from=source, error=error))
    return targets


# ---------------------------------------------------------------- asking the image

def _no_shell(rc, err):
    err = err or ""
    return rc in (126, 127) and ("executable file not found" in err or "no such file or directory" in err)


def probe_image(docker, image, commands, inspected):
    """{'checked_with': 'sh'|'filesystem', 'found': [...], 'missing': [...]} for the commands in image."""
    if not commands:
        return dict(checked_with="sh", found=[], missing=[])
    rc, out, err = docker.run("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", _PROBE, "sh", *commands, check=False)
    if rc == 0:
        found, missing = [], []
        for line in out.splitlines():
            state, _sep, name = line.partition(" ")
            (found if state == "found" else missing).append(name)
        return dict(checked_with="sh", found=found, missing=missing)
    if not _no_shell(rc, err):
        raise ImageCommandsError("could not run sh in image %s: %s" % (image, (err or "").strip() or "rc=%d" % rc))
    return _probe_filesystem(docker, image, commands, inspected)


def _probe_filesystem(docker, image, commands, inspected):
    """No sh in the image: look for each command's file along the image's PATH with docker cp."""
    config = (inspected or {}).get("Config") or {}
    path = DEFAULT_PATH
    for item in config.get("Env") or []:
        if item.startswith("PATH="):
            path = item[len("PATH="):]
    workdir = config.get("WorkingDir") or "/"
    _rc, out, _err = docker.run("create", "--network", "none", "--entrypoint", "/sertantai-no-such-entrypoint", image)
    container = out.strip()
    found, missing = [], []
    try:
        for command in commands:
            if command.startswith("/"):
                candidates = [command]
            elif "/" in command:
                candidates = [os.path.join(workdir, command)]
            else:
                candidates = [os.path.join(d or ".", command) for d in path.split(":")]
            hit = any(docker.run("cp", "%s:%s" % (container, c), "-", check=False)[0] == 0 for c in candidates)
            (found if hit else missing).append(command)
    finally:
        docker.run("rm", "-f", container, check=False)
    if "sh" not in found and "sh" not in missing:
        missing.append("sh")
    return dict(checked_with="filesystem", found=found, missing=missing)


def pull_changed(before_id, after_id):
    """Whether a pull changed the local image: the tag was not there, or now names another image id."""
    return after_id is not None and before_id != after_id


def ensure_image(docker, image, pull, check_mode=False):
    """``(inspect document or None, pulled)`` for an image; pulls only when asked, and never in check mode.

    ``pulled`` is True when a pull brought a new image id (in check mode: when the image is not present
    locally, so a pull would be needed); the document is None only in check mode for such an image.
    """
    before = docker.inspect(image, kind="image")[0].get(image)
    if pull and not check_mode:
        docker.run("pull", "-q", image)
        after = docker.inspect(image, kind="image")[0].get(image)
        if after is None:
            raise ImageCommandsError("image %s is still not present after docker pull: check the name and tag" % image)
        return after, pull_changed((before or {}).get("Id"), after.get("Id"))
    if before is None:
        if pull:
            return None, True
        raise ImageCommandsError("image %s is not present locally: pull or build it first, or set pull: true" % image)
    return before, False


# ---------------------------------------------------------------- pulling the images of a deploy

# The login and the pulls are each one shell command on the host (DockerCli.script), so that they cost one round
# trip over the connection when the module runs on the controller (its run_command sends one command at a time).
#
# The login: `docker login` with the password on stdin, then whether the CLI's configuration file changed.
_LOGIN_SCRIPT = r"""cli=$1 registry=$2 user=$3
config=${DOCKER_CONFIG:-$HOME/.docker}/config.json
before=$(cksum "$config" 2>/dev/null)
"$cli" login --username "$user" --password-stdin "$registry" >/dev/null || exit
after=$(cksum "$config" 2>/dev/null)
if [ "$before" = "$after" ]; then echo unchanged; else echo changed; fi
"""

# The pulls, side by side (Docker fetches the layers of one pull a few at a time; pulls of different images
# wait on the registry, not on the host). When all have ended: one line per image, in the order given, with
# the exit status of its `docker pull` and its stderr, whose line ends are written as _STDERR_NEWLINE.
_STDERR_NEWLINE = "\x1f"

# Before the pulls (or the registry questions of check mode), when a limit is given ($max, else -): the use of the
# filesystem under the Docker data root ($root, or asked of `docker info` when empty), as `df -P` shows it, on a
# first line of its own: disk, the root, its size, used and available kB, and the capacity in percent (POSIX df's
# Use%, which is _disk.percent_used()). Above the limit the script ends there: nothing is pulled. A pull that fills
# the disk stops every container that writes to it, PostgreSQL first (its volume lives under the same root).
_DISK_CHECK = r"""
if [ "$max" != - ]; then
    [ -n "$root" ] || root=$("$cli" info --format '{{.DockerRootDir}}') || exit
    usage=$(df -P -k "$root" | tail -n 1)
    read -r _fs size used avail capacity _mount <<EOF
$usage
EOF
    case $capacity in
        *%) capacity=${capacity%\%} ;;
        *) echo "df -P -k $root did not show the use of its filesystem" >&2; exit 1 ;;
    esac
    printf 'disk\t%s\t%s\t%s\t%s\t%s\n' "$root" "$size" "$used" "$avail" "$capacity"
    [ "$capacity" -le "$max" ] || exit 0
fi
"""
_PULL_SCRIPT = r"""cli=$1 max=$2 root=
shift 2
""" + _DISK_CHECK + r"""scratch=$(mktemp -d) || exit 125
trap 'rm -rf "$scratch"' EXIT
n=0
for image in "$@"; do
    n=$((n + 1))
    ("$cli" pull -q "$image" >/dev/null 2>"$scratch/$n.err"; echo "$?" >"$scratch/$n.rc") &
done
wait
n=0
for image in "$@"; do
    n=$((n + 1))
    printf '%s\t' "$(cat "$scratch/$n.rc")"
    tr '\n' '\037' <"$scratch/$n.err"
    echo
done
"""

# Check mode: what a run's pulls would find, asked of the registry (`docker manifest inspect -v`, side by side), with
# the credentials a run would use. With a user, the login goes into a throwaway configuration directory: the registry
# checks the credentials, and the host's stored ones are left as they are. The arguments after the limit and the data
# root (read with the daemon's registry settings, in the one `docker info` of check mode) are pairs:
# the flag for the query (--insecure for a registry the daemon reaches over plain HTTP, else -) and the reference.
# One line per reference, in the order given: the exit status, a tab, the answer without its line ends and tabs
# (JSON has neither inside its strings), a tab, and stderr whose line ends are written as _STDERR_NEWLINE.
_CHECK_SCRIPT = r"""cli=$1 registry=$2 user=$3 max=$4 root=$5
shift 5
""" + _DISK_CHECK + r"""scratch=$(mktemp -d) || exit 125
trap 'rm -rf "$scratch"' EXIT
config=${DOCKER_CONFIG:-$HOME/.docker}
if [ -n "$user" ]; then
    config=$scratch/config
    "$cli" --config "$config" login --username "$user" --password-stdin "$registry" >/dev/null || exit
fi
n=0
while [ $# -gt 1 ]; do
    n=$((n + 1))
    flag=$1 image=$2
    shift 2
    [ "$flag" = - ] && flag=
    ("$cli" --config "$config" manifest inspect -v $flag "$image" >"$scratch/$n.out" 2>"$scratch/$n.err"; echo "$?" >"$scratch/$n.rc") &
done
wait
i=0
while [ $i -lt $n ]; do
    i=$((i + 1))
    printf '%s\t' "$(cat "$scratch/$i.rc")"
    tr -d '\n\t' <"$scratch/$i.out"
    printf '\t'
    tr '\n' '\037' <"$scratch/$i.err"
    echo
done
"""


class LoginRefused(DockerError):
    """The registry refused the credentials."""


class DiskFull(DockerError):
    """The filesystem under the Docker data root is used more than allowed; nothing was pulled. ``disk``: see
    disk_use()."""

    def __init__(self, disk, check_mode=False):
        super().__init__(
            "The filesystem of the Docker data root %s is %d%% used, more than disk_max_percent=%d allows (%s free of %s), "
            "so %s. A pull could fill it, and a full disk stops every container that writes to it, PostgreSQL first. "
            "Make room (docker system df shows what images, containers and the build cache take), or raise the limit "
            "(app_service_disk_max_percent in a deploy)."
            % (disk["path"], disk["percent"], disk["max_percent"], human_bytes(disk["available"]), human_bytes(disk["size"]),
               "a run would pull nothing" if check_mode else "nothing was pulled"))
        self.disk = disk


def disk_use(output, max_percent, check_mode=False):
    """``(disk, the rest of output)`` from the output of _PULL_SCRIPT or _CHECK_SCRIPT run with the limit
    ``max_percent`` (None: no limit, ``disk`` is None). ``disk``: path (the Docker data root), size, used and
    available bytes of its filesystem, percent (as df shows it) and max_percent. Raises DiskFull above the limit."""
    if max_percent is None:
        return None, output
    first, _newline, rest = output.partition("\n")
    fields = first.split("\t")
    if len(fields) != 6 or fields[0] != "disk" or not all(field.isdigit() for field in fields[2:]):
        raise DockerError("could not read the disk use of the Docker data root: %r" % first[:200])
    size, used, avail, percent = (int(field) for field in fields[2:])
    disk = dict(path=fields[1], size=size * 1024, used=used * 1024, available=avail * 1024, percent=percent,
                max_percent=max_percent)
    if percent > max_percent:
        raise DiskFull(disk, check_mode)
    return disk, rest


def disk_arg(max_percent):
    return "-" if max_percent is None else str(int(max_percent))


def registry_login(docker, registry, username, password):
    """``docker login`` (password on stdin); True when the stored credentials changed. Raises LoginRefused."""
    try:
        _rc, out, _err = docker.script(_LOGIN_SCRIPT, registry, username, data=password)
    except DockerError as exc:
        raise LoginRefused(exc.message) from exc
    return out.strip() == "changed"


def images_to_pull(images, pull, present):
    """The references a run pulls: all of them with ``always``, the ones not in ``present`` with ``not_present``."""
    return [image for image in images if pull == "always" or image not in present]


def script_results(images, output, fields, what):
    """The lines of _PULL_SCRIPT's or _CHECK_SCRIPT's ``output``, one per image: ``fields`` strings each, the exit
    status first (stripped) and stderr last (its line ends restored)."""
    lines = output.splitlines()
    if len(lines) != len(images):
        raise DockerError("%s of %s gave %d result line(s) for %d image(s)" % (what, ", ".join(images), len(lines), len(images)))
    results = []
    for line in lines:
        parts = (line.split("\t", fields - 1) + [""] * fields)[:fields]
        parts[0] = parts[0].strip()
        parts[-1] = parts[-1].replace(_STDERR_NEWLINE, "\n")
        results.append(parts)
    return results


def pull_reasons(images, output):
    """Docker's reason for each image of ``images`` whose pull failed, from _PULL_SCRIPT's ``output``."""
    reasons = {}
    for image, (status, stderr) in zip(images, script_results(images, output, 2, "the pulls")):
        if status != "0":
            reasons[image] = first_error_line(stderr) or "docker pull failed with rc=%s" % (status or "unknown")
    return reasons


def pull_images(docker, images, pull="always", disk_max_percent=None):
    """Pull ``images`` side by side in one command; one ``docker inspect`` before and one after for all of them.

    Returns ``(entries, disk)``. ``entries``: one dict per distinct reference, in the order given: ``image``,
    ``pulled`` (a pull ran), ``id`` (the local image id after the pull, None when absent), ``changed`` (the id
    differs from before, as community.docker.docker_image_pull reports) and, when the pull failed, ``error``
    (Docker's reason). With ``disk_max_percent``, the same command first reads the use of the filesystem under the
    Docker data root and pulls nothing when it is above the limit (raises DiskFull); ``disk`` is that use (see
    disk_use()), None when nothing was to be pulled or no limit was given.
    """
    images = list(dict.fromkeys(images))
    before = docker.inspect(*images, kind="image")[0]
    wanted = images_to_pull(images, pull, before)
    after, errors, disk = before, {}, None
    if wanted:
        disk, output = disk_use(docker.script(_PULL_SCRIPT, disk_arg(disk_max_percent), *wanted)[1], disk_max_percent)
        errors = pull_reasons(wanted, output)
        after = docker.inspect(*images, kind="image")[0]
    entries = []
    for image in images:
        before_id = (before.get(image) or {}).get("Id")
        after_id = (after.get(image) or {}).get("Id")
        entry = dict(image=image, pulled=image in wanted, id=after_id, changed=pull_changed(before_id, after_id))
        if image in errors:
            entry["error"] = errors[image]
        elif image in wanted and after_id is None:
            entry["error"] = "docker pull succeeded but the image is not present: check the reference"
        entries.append(entry)
    return entries, disk


def registry_of(ref):
    """The registry of an image reference, as Docker reads it (no registry part: Docker Hub)."""
    first, slash, _rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def plain_http(registry, registry_config):
    """Whether the daemon talks to ``registry`` over plain HTTP, from ``docker info``'s RegistryConfig: a registry
    configured as insecure by name, or an address in its insecure ranges (by default 127.0.0.0/8, so a registry on
    localhost). A name that only resolves into such a range is not resolved here."""
    config = registry_config or {}
    index = (config.get("IndexConfigs") or {}).get(registry)
    if index is not None:
        return not index.get("Secure", True)
    host = re.sub(r":\d+$", "", registry).strip("[]")
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in config.get("InsecureRegistryCIDRs") or [])


def registry_state(local, answer):
    """``current``, ``newer`` or ``unknown``: how the image the registry holds for a reference compares with the
    local one.

    ``local``: the local image's inspect document; ``answer``: ``docker manifest inspect -v``'s document, an object
    for one manifest, a list (one object per platform) for a multi-platform index. The image is current when its id or
    one of its repo digests is a digest the registry names: a manifest's, or its configuration's (the id of an image
    in Docker's classic store). The containerd image store names an image by the digest it was pulled by (its id is a
    repo digest); for an index that is the index's own digest, which the answer does not hold: unknown.
    """
    entries = answer if isinstance(answer, list) else [answer]
    remote = set()
    for entry in entries:
        remote.add((entry.get("Descriptor") or {}).get("digest"))
        for key in ("SchemaV2Manifest", "OCIManifest"):
            remote.add(((entry.get(key) or {}).get("config") or {}).get("digest"))
    remote.discard(None)
    repo_digests = set(ref.split("@", 1)[1] for ref in local.get("RepoDigests") or [] if "@" in ref)
    if ({local.get("Id")} | repo_digests) & remote:
        return "current"
    if isinstance(answer, list) and local.get("Id") in repo_digests:
        return "unknown"
    return "newer"


def check_pulls(docker, images, pull="always", login=None, disk_max_percent=None):
    """What pull_images() would do, in check mode: nothing is pulled, and the registry is asked. Returns
    ``(entries, disk)`` as pull_images() does, and raises DiskFull when a run would refuse to pull.

    For each image a run would pull, the registry is asked what the reference names, with the credentials a run
    would use (``login``: ``(registry, username, password)``, tried in a throwaway configuration; None: the host's
    stored ones). The entries are pull_images()'s, with ``pulled`` for a pull that would run, ``id`` the local
    image's (None when absent) and ``changed`` when a run would change the local image: the image is absent, or the
    registry holds another one (``remote``: ``newer``; else ``current`` or ``unknown``, see registry_state()). A
    reference the registry does not answer for has its reason in ``error``, as a run's pull would fail. Raises
    LoginRefused when the registry refuses the login.
    """
    images = list(dict.fromkeys(images))
    before = docker.inspect(*images, kind="image")[0]
    wanted = images_to_pull(images, pull, before)
    answers, disk = {}, None
    if wanted or login:
        config, root = None, ""
        if wanted:
            # The data root (for the disk check) and the registry settings in one docker info.
            root, _tab, config = docker.run("info", "--format", "{{.DockerRootDir}}\t{{json .RegistryConfig}}")[1].strip().partition("\t")
            config = json.loads(config or "null")
        pairs = [arg for image in wanted for arg in ("--insecure" if plain_http(registry_of(image), config) else "-", image)]
        registry, username, password = login or ("", "", None)
        limit = disk_max_percent if wanted else None
        try:
            output = docker.script(_CHECK_SCRIPT, registry, username, disk_arg(limit), root, *pairs, data=password)[1]
        except DockerError as exc:
            if login:
                raise LoginRefused(exc.message) from exc
            raise
        disk, output = disk_use(output, limit, check_mode=True)
        answers = dict(zip(wanted, script_results(wanted, output, 3, "the registry's answers")))
    entries = []
    for image in images:
        local = before.get(image)
        entry = dict(image=image, pulled=image in wanted, id=(local or {}).get("Id"), changed=False)
        if image in answers:
            status, answer, stderr = answers[image]
            if status != "0":
                entry["error"] = first_error_line(stderr) or "docker manifest inspect failed with rc=%s" % (status or "unknown")
            elif local is None:
                entry["changed"] = True
            else:
                try:
                    entry["remote"] = registry_state(local, json.loads(answer))
                    entry["changed"] = entry["remote"] == "newer"
                except ValueError:
                    entry["error"] = "the registry's answer is not JSON: %s" % answer[:200]
        entries.append(entry)
    return entries, disk


def pull_summary(entries, check_mode=False):
    """The task message: each image that could not be pulled with Docker's reason, else what changed."""
    failed = [entry for entry in entries if entry.get("error")]
    if failed:
        text = "; ".join("%s could not be pulled (%s)" % (entry["image"], entry["error"]) for entry in failed)
        return "Check mode pulls nothing, and a run would fail: %s" % text if check_mode else text
    if check_mode:
        return check_summary(entries)
    changed = [entry["image"] for entry in entries if entry["changed"]]
    pulled = [entry["image"] for entry in entries if entry["pulled"]]
    if not pulled:
        return "All %d image(s) are present locally: nothing pulled." % len(entries)
    if changed:
        return "Pulled %d image(s); a new image for %s." % (len(pulled), ", ".join(changed))
    return "Pulled %d image(s); all were up to date." % len(pulled)


def check_summary(entries):
    """pull_summary() in check mode, for entries of check_pulls() without errors."""
    def images(test):
        return ", ".join(entry["image"] for entry in entries if test(entry))

    parts = []
    newer = images(lambda entry: entry.get("remote") == "newer")
    absent = images(lambda entry: entry["id"] is None)
    unknown = images(lambda entry: entry.get("remote") == "unknown")
    if newer:
        parts.append("the registry holds a newer image for %s (a run would pull it)" % newer)
    if absent:
        parts.append("%s would be pulled (not present locally)" % absent)
    if unknown:
        parts.append("whether the registry holds a newer image for %s is not known (a multi-platform index, which the "
                     "containerd image store keeps under the index's digest only)" % unknown)
    if not parts:
        parts.append("all %d image(s) are present locally" % len(entries))
        current = [entry for entry in entries if entry.get("remote") == "current"]
        if current:
            parts[0] += ", and the registry holds the same for %d" % len(current)
    return "Check mode pulls nothing: %s." % "; ".join(parts)


def _suggest(test, available):
    """A healthcheck line that uses a tool the image has, when we know one."""
    url = None
    words = test if isinstance(test, list) else shell_commands_words(test)
    for word in words or []:
        m = re.search(r"https?://\S+", str(word))
        if m:
            url = m.group(0).strip("'\"")
            break
    target = url or "http://localhost:<port>/health"
    if available == "wget":
        return '["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "%s"]' % target
    if available == "curl":
        return '["CMD", "curl", "--fail", "--silent", "%s"]' % target
    return None


def shell_commands_words(line):
    try:
        return shlex.split(line or "")
    except ValueError:
        return (line or "").split()


def check(run_command, docker_cli="docker", image=None, commands=None, targets=None, pull=False, check_mode=False):
    """Check an image (with commands, or its own healthcheck) or compose targets.

    Returns dict(missing, images, services, pulled, problems): ``problems`` are readable sentences
    naming service, image and tool, with a suggestion where the image has an alternative; ``pulled``
    the images a pull changed (in check mode: the absent ones a pull would fetch, which are not checked).
    """
    docker = DockerCli(run_command, docker_cli)
    if targets is None:
        targets = [dict(service=None, image=image, test=None if commands else "image", commands=commands,
                        healthcheck_from="option" if commands else "image", error=None)]
    images = {}
    services = []
    problems = []
    for target in targets:
        entry = dict(service=target["service"], image=target["image"], healthcheck=None, healthcheck_from=target["healthcheck_from"],
                     kind=None, commands=[], missing=[], suggestions={})
        services.append(entry)
        who = "service %s (image %s)" % (target["service"], target["image"]) if target["service"] else "image %s" % target["image"]
        if target["error"]:
            entry["error"] = target["error"]
            problems.append(target["error"])
            continue
        try:
            if target["image"] not in images:
                inspected, pulled = ensure_image(docker, target["image"], pull, check_mode)
                images[target["image"]] = dict(image=target["image"], inspect=inspected, pulled=pulled,
                                               commands=[], checked_with=None, found=[], missing=[])
            info = images[target["image"]]
            if info["inspect"] is None:
                entry["unchecked"] = ("image %s is not present locally and check mode does not pull it: "
                                      "its commands are checked when the task runs" % target["image"])
                continue
            test = target["test"]
            if target.get("commands"):
                kind, needed = "exec", list(target["commands"])
            else:
                if test in (None, "image"):
                    test = ((info["inspect"].get("Config") or {}).get("Healthcheck") or {}).get("Test")
                    entry["healthcheck_from"] = "image"
                kind, needed = healthcheck_commands(test)
            entry.update(healthcheck=test, kind=kind, commands=needed)
            if kind == "shell" and "sh" not in needed:
                needed = ["sh"] + needed
            wanted = [c for c in needed if c not in info["commands"]]
            for command in needed:
                for alt in ALTERNATIVES.get(command, []):
                    if alt not in wanted and alt not in info["commands"]:
                        wanted.append(alt)
            if wanted:
                probe = probe_image(docker, target["image"], wanted, info["inspect"])
                info["commands"].extend(wanted)
                info["checked_with"] = probe["checked_with"]
                info["found"].extend(probe["found"])
                info["missing"].extend(m for m in probe["missing"] if m not in info["missing"])
        except (ImageCommandsError, DockerError) as exc:
            entry["error"] = "%s: %s" % (who, exc.message)
            problems.append(entry["error"])
            continue
        entry["missing"] = [c for c in needed if c in info["missing"]]
        for tool in entry["missing"]:
            what = "its healthcheck" if target["service"] or not target.get("commands") else "the script"
            sentence = "%s: %s needs %s, which the image does not have" % (who, what, tool)
            if tool == "sh" and kind == "shell":
                sentence += " (a CMD-SHELL healthcheck runs /bin/sh -c); use the exec form [\"CMD\", ...]"
            have = [alt for alt in ALTERNATIVES.get(tool, []) if alt in info["found"]]
            if have:
                entry["suggestions"][tool] = have[0]
                sentence += "; the image has %s" % have[0]
                line = _suggest(test, have[0])
                if line:
                    sentence += ": use test: %s" % line
            problems.append(sentence)

    image_list = []
    for info in images.values():
        image_list.append(dict(image=info["image"], pulled=info["pulled"], checked_with=info["checked_with"],
                               found=sorted(set(info["found"])), missing=sorted(set(info["missing"]))))
    missing = sorted(set(m for entry in services for m in entry["missing"]))
    pulled = [info["image"] for info in image_list if info["pulled"]]
    return dict(missing=missing, images=image_list, services=services, pulled=pulled, problems=problems)


def summary(result, problems):
    """The task message: one sentence per problem, or what was proven; then what was pulled or left unchecked."""
    unchecked = list(dict.fromkeys(entry["image"] for entry in result["services"] if entry.get("unchecked")))
    if problems:
        sentences = list(problems)
    else:
        checked = [c for entry in result["services"] if not entry.get("unchecked") for c in entry["commands"]]
        sentences = ["all %d needed command(s) exist in %d image(s)" % (len(checked), len(result["images"]) - len(unchecked))]
    if unchecked:
        sentences.append("Not checked, because check mode does not pull: %s (not present locally, would be pulled)"
                         % ", ".join(unchecked))
    pulled = [image for image in result["pulled"] if image not in unchecked]
    if pulled:
        sentences.append("Pulled a new image for %s" % ", ".join(pulled))
    return " ".join(s if s.endswith(".") else s + "." for s in sentences)
