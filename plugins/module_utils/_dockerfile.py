# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: OS releases of the stages of a multi-stage Dockerfile.

An Erlang release built on Alpine 3.23 (OpenSSL 3.5) carries a crypto NIF that does not load on
Alpine 3.19 (``Error relocating crypto.so: EVP_PKEY_sign_message_init: symbol not found``). This
parses the Dockerfile (ARG defaults, build args, ``FROM ... AS``, ``COPY --from``), resolves each
stage's OS release from its tag (static) or from the local image (inspect), and compares the
stages whose output is copied into the final stage with the final stage.
"""

from __future__ import annotations

import re
import shlex

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli

DEBIAN_CODENAMES = {"jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}
UBUNTU_CODENAMES = {"bionic": "18.04", "focal": "20.04", "jammy": "22.04", "noble": "24.04", "oracular": "24.10", "plucky": "25.04"}
# OpenSSL each release ships, for the message only (the comparison is on the OS release).
OPENSSL = {
    ("alpine", "3.17"): "3.0", ("alpine", "3.18"): "3.1", ("alpine", "3.19"): "3.1", ("alpine", "3.20"): "3.3",
    ("alpine", "3.21"): "3.3", ("alpine", "3.22"): "3.5", ("alpine", "3.23"): "3.5",
    ("debian", "10"): "1.1.1", ("debian", "11"): "1.1.1", ("debian", "12"): "3.0", ("debian", "13"): "3.5",
    ("ubuntu", "20.04"): "1.1.1", ("ubuntu", "22.04"): "3.0", ("ubuntu", "24.04"): "3.0",
}
# Tags that do not name their OS release but are known to be built on one.
KNOWN_IMAGES = {
    # `docker run --rm elixir:1.18.4-alpine cat /etc/alpine-release` -> 3.23.3.
    "elixir:1.18.4-alpine": ("alpine", "3.23"),
}
_VAR = re.compile(r"\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_HEREDOC = re.compile(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")
_ALPINE_IN_TAG = re.compile(r"(?:^|[-_.])alpine-?(\d+)\.(\d+)")
_DEBIAN_NUMBER = re.compile(r"debian-?(\d+)\b")
_RESOLVE_HINT = ("use resolve: inspect with the image present locally, pin a tag that names the release "
                 "(e.g. hexpm/elixir:1.18.4-erlang-27.3.4-alpine-3.21.3 or alpine:3.21), or add the image to known_releases")


class DockerfileError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- parsing

def logical_lines(text):
    """Instructions as (line number, text), continuations joined, comments and heredoc bodies dropped."""
    escape = "\\"
    lines = text.splitlines()
    for line in lines:  # parser directives come first, before any instruction or comment
        m = re.match(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$", line)
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
    result = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i + 1
        parts = []
        while i < len(lines):
            current = lines[i].rstrip()
            if current.lstrip().startswith("#") and parts:
                i += 1
                continue
            if current.endswith(escape):
                parts.append(current[:-len(escape)])
                i += 1
                continue
            parts.append(current)
            i += 1
            break
        instruction = " ".join(p.strip() for p in parts if p.strip())
        result.append((start, instruction))
        for marker in _HEREDOC.findall(instruction) if re.match(r"(?i)^(RUN|COPY|ADD)\s", instruction) else []:
            while i < len(lines) and lines[i].strip() != marker:
                i += 1
            i += 1
    return result


def _split(args):
    try:
        return shlex.split(args)
    except ValueError:
        return args.split()


def parse(text):
    """Global ARG defaults and the stages: [{index, name, image, line, copies_from: [...]}]."""
    global_args = {}
    stages = []
    for line, instruction in logical_lines(text):
        keyword, _sep, rest = instruction.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG":
            for token in _split(rest):
                name, eq, value = token.partition("=")
                if not stages:
                    global_args[name] = value if eq else None
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                raise DockerfileError("line %d: FROM without an image" % line)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(dict(index=len(stages), name=name, image=words[0], line=line, copies_from=[]))
        elif keyword == "COPY" and stages:
            for word in rest.split():
                if word.startswith("--from="):
                    stages[-1]["copies_from"].append(word[len("--from="):])
    if not stages:
        raise DockerfileError("the Dockerfile has no FROM instruction")
    return global_args, stages


def substitute(value, variables):
    """Expand $VAR / ${VAR} / ${VAR:-default} / ${VAR:+alt}; returns (text, names that had no value)."""
    missing = []

    def repl(m):
        if m.group(0) == "\\$":
            return "$"
        name = m.group(1) or m.group(4)
        current = variables.get(name)
        op, word = m.group(2), m.group(3)
        if op in (":-", "-"):
            if current is None or (op == ":-" and current == ""):
                return word
            return current
        if op in (":+", "+"):
            return word if current else ""
        if current is None:
            missing.append(name)
            return ""
        return current

    return _VAR.sub(repl, value), missing


# ---------------------------------------------------------------- release resolution

def split_image(ref):
    """(repository without docker.io/library, tag or None)."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    tag = None
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
    if ref.startswith("library/"):
        ref = ref[len("library/"):]
    return ref.lower(), tag


def parse_release_text(text):
    """'alpine 3.23' / 'alpine:3.23.1' / 'debian 12' -> (os, release)."""
    parts = re.split(r"[\s:=]+", (text or "").strip().lower(), maxsplit=1)
    if len(parts) != 2 or not parts[1]:
        raise DockerfileError("known_releases value %r must look like 'alpine 3.23' or 'debian 12'" % text)
    return normalise(parts[0], parts[1])


def normalise(os_id, version):
    os_id = os_id.lower()
    version = str(version).strip().strip('"')
    if os_id == "alpine":
        m = re.match(r"^(\d+)\.(\d+)", version)
        return ("alpine", "%s.%s" % m.groups()) if m else ("alpine", version)
    if os_id == "debian":
        if version in DEBIAN_CODENAMES:
            return ("debian", DEBIAN_CODENAMES[version])
        m = re.match(r"^(\d+)", version)
        return ("debian", m.group(1)) if m else ("debian", version)
    if os_id == "ubuntu" and version in UBUNTU_CODENAMES:
        return ("ubuntu", UBUNTU_CODENAMES[version])
    return (os_id, version)


def resolve_static(image, known=None):
    """(os, release) from the image reference alone, or (None, reason)."""
    repo, tag = split_image(image)
    full = repo + ":" + (tag or "latest")
    for table in (known or {}, KNOWN_IMAGES):
        if full in table:
            return table[full], None
    if repo == "scratch":
        return None, "scratch has no OS"
    base = repo.rsplit("/", 1)[-1]
    m = _DEBIAN_NUMBER.search(base)
    if m:  # the repository names the release, e.g. gcr.io/distroless/base-debian12
        return ("debian", m.group(1)), None
    if tag is None or tag == "latest":
        return None, "%s has no pinned tag (latest moves); %s" % (image, _RESOLVE_HINT)
    words = re.split(r"[-_.]", tag)
    if base == "alpine":
        m = re.match(r"^(\d+)\.(\d+)(\.\d+)?$", tag)
        if m:
            return ("alpine", "%s.%s" % m.groups()[:2]), None
        return None, "alpine:%s does not name an Alpine release; %s" % (tag, _RESOLVE_HINT)
    if base == "debian":
        m = re.match(r"^(\d+)(\.\d+)*(-slim)?$", tag)
        if m:
            return ("debian", m.group(1)), None
    if base == "ubuntu":
        m = re.match(r"^(\d\d\.\d\d)", tag)
        if m:
            return ("ubuntu", m.group(1)), None
    m = _ALPINE_IN_TAG.search(tag)
    if m:
        return ("alpine", "%s.%s" % m.groups()), None
    for word in words:
        if word in DEBIAN_CODENAMES:
            return ("debian", DEBIAN_CODENAMES[word]), None
        if word in UBUNTU_CODENAMES:
            return ("ubuntu", UBUNTU_CODENAMES[word]), None
    m = _DEBIAN_NUMBER.search(tag)
    if m:
        return ("debian", m.group(1)), None
    if "alpine" in words:
        return None, ("the tag %s says alpine but not which Alpine release (it moves with each rebuild of the image); %s"
                      % (image, _RESOLVE_HINT))
    return None, "cannot tell the OS release of %s from its tag; %s" % (image, _RESOLVE_HINT)


def parse_os_release(alpine_release, os_release):
    """(os, release) from /etc/alpine-release and /etc/os-release contents, or None."""
    first = (alpine_release or "").strip().splitlines()
    if first and re.match(r"^\d+\.\d+", first[0].strip()):
        return normalise("alpine", first[0].strip())
    fields = {}
    for line in (os_release or "").splitlines():
        key, eq, value = line.partition("=")
        if eq:
            fields[key.strip()] = value.strip().strip("\"'")
    os_id = fields.get("ID")
    version = fields.get("VERSION_ID") or fields.get("VERSION_CODENAME")
    if not os_id or not version:
        return None
    return normalise(os_id, version)


_PROBE = "cat /etc/alpine-release 2>/dev/null; echo ---sertantai---; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null"


def resolve_inspect(run_command, image, docker_cli="docker"):
    """(os, release) read from the LOCAL image (never pulled), or (None, reason)."""
    docker = DockerCli(run_command, docker_cli)
    rc, _out, err = docker.run("image", "inspect", "--format", "{{.Id}}", image, check=False)
    if rc != 0:
        return None, "image %s is not present locally (the module never pulls): build or pull it first" % image
    rc, out, err = docker.run("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", _PROBE, check=False)
    if rc == 0:
        alpine, _sep, os_release = out.partition("---sertantai---")
    else:  # no shell in the image (distroless): read os-release directly
        rc, out, err = docker.run("run", "--rm", "--network", "none", "--entrypoint", "cat", image, "/etc/os-release", check=False)
        if rc != 0:
            return None, "could not read /etc/os-release from %s: %s" % (image, (err or "").strip().splitlines()[-1:] or rc)
        alpine, os_release = "", out
    release = parse_os_release(alpine, os_release)
    if release is None:
        return None, "%s has neither /etc/alpine-release nor an /etc/os-release with ID and VERSION_ID" % image
    return release, None


# ---------------------------------------------------------------- comparison

def describe(release):
    if not release:
        return "unknown"
    os_id, version = release
    name = {"alpine": "Alpine", "debian": "Debian", "ubuntu": "Ubuntu"}.get(os_id, os_id)
    openssl = OPENSSL.get(tuple(release))
    return "%s %s%s" % (name, version, " (OpenSSL %s)" % openssl if openssl else "")


def stage_label(stage):
    return "'%s'" % stage["name"] if stage["name"] else "#%d" % stage["index"]


def _find_stage(stages, ref, before):
    for stage in stages[:before]:
        if stage["name"] and stage["name"].lower() == ref.lower():
            return stage
    if ref.isdigit() and int(ref) < before:
        return stages[int(ref)]
    return None


def analyse(text, build_args=None, resolve="static", known_releases=None, compare=None, run_command=None, docker_cli="docker"):
    """Resolve every stage and compare; returns a dict with stages, compared, mismatch, unresolved, msg."""
    global_args, stages = parse(text)
    # Like docker build: only ARGs declared before the first FROM reach FROM lines; a build arg
    # overrides the default, and a default may use the ARGs declared above it.
    build_args = build_args or {}
    variables = {}
    for name, default in global_args.items():
        if build_args.get(name) is not None:
            variables[name] = str(build_args[name])
        elif default is not None:
            variables[name] = substitute(default, variables)[0]
        else:
            variables[name] = None
    known = {}
    for image, value in (known_releases or {}).items():
        repo, tag = split_image(image)
        known[repo + ":" + (tag or "latest")] = parse_release_text(value)

    cache = {}
    for stage in stages:
        image, missing = substitute(stage["image"], variables)
        stage.update(resolved_image=image, os=None, release=None, openssl=None, how="unresolved", note=None)
        if missing:
            undeclared = [name for name in missing if name not in global_args]
            if undeclared:
                stage["note"] = ("FROM %s uses %s, which no ARG before the first FROM declares: declare it there "
                                 "(ARG %s=<default>)" % (stage["image"], ", ".join(undeclared), undeclared[0]))
            else:
                stage["note"] = ("FROM %s uses ARG %s, which has no default and no value in build_args: give the ARG a "
                                 "default before the first FROM or pass it in build_args" % (stage["image"], ", ".join(missing)))
            continue
        parent = _find_stage(stages, image, stage["index"])
        if parent is not None:
            stage.update(os=parent["os"], release=parent["release"], openssl=parent["openssl"], how="stage",
                         note="built on stage %s" % stage_label(parent) if parent["release"] else parent["note"])
            continue
        if image not in cache:
            release, reason, how = None, None, "static"
            if resolve == "inspect":
                release, reason = resolve_inspect(run_command, image, docker_cli)
                how = "inspect"
                if release is None:
                    static, static_reason = resolve_static(image, known)
                    if static is not None:
                        release, how, reason = static, "static", "%s; resolved from the tag instead" % reason
                    else:
                        reason = "%s; %s" % (reason, static_reason)
            else:
                release, reason = resolve_static(image, known)
            cache[image] = (release, reason, how)
        release, reason, how = cache[image]
        if release is None:
            stage["note"] = reason
        else:
            stage.update(os=release[0], release=release[1], openssl=OPENSSL.get(tuple(release)), how=how, note=reason)

    final = stages[-1]
    if compare:
        chosen = []
        for ref in compare:
            stage = _find_stage(stages, str(ref), len(stages))
            if stage is None:
                raise DockerfileError("stage %r is not in the Dockerfile (stages: %s)"
                                      % (ref, ", ".join(stage_label(s) for s in stages)))
            chosen.append(stage)
    else:
        chosen = []
        for ref in final["copies_from"]:
            stage = _find_stage(stages, ref, final["index"])
            if stage is not None and stage not in chosen:
                chosen.append(stage)
        chosen.append(final)
    alone = None
    if len(chosen) < 2:  # one stage has nothing to differ from: there is nothing to check, so nothing fails
        alone, chosen = chosen[0], []
    for stage in stages:
        stage["compared"] = stage in chosen
        del stage["copies_from"]
    if alone is not None:
        where = "stages names only %s" % stage_label(alone) if compare else (
            "the final stage %s copies from no other stage" % stage_label(final))
        return dict(stages=stages, compared=[], unresolved=[], mismatch=False,
                    msg="%s: nothing to compare, so the OS releases cannot differ" % where)

    unresolved = [s for s in chosen if s["release"] is None]
    resolved = [s for s in chosen if s["release"] is not None]
    releases = []
    for stage in resolved:
        key = (stage["os"], stage["release"])
        if key not in releases:
            releases.append(key)
    mismatch = len(releases) > 1
    result = dict(stages=stages, compared=[s["name"] or str(s["index"]) for s in chosen],
                  unresolved=[s["name"] or str(s["index"]) for s in unresolved], mismatch=mismatch)
    result["msg"] = _message(chosen, final, resolved, unresolved, mismatch)
    return result


def _message(chosen, final, resolved, unresolved, mismatch):
    parts = []
    if mismatch:
        target = resolved[-1] if final in resolved else resolved[0]
        others = [s for s in resolved if (s["os"], s["release"]) != (target["os"], target["release"])]
        for stage in others:
            parts.append("stage %s (%s) is %s but stage %s (%s) is %s"
                         % (stage_label(stage), stage["resolved_image"], describe((stage["os"], stage["release"])),
                            stage_label(target), target["resolved_image"], describe((target["os"], target["release"]))))
        builder = others[0] if target is final else target
        hint = "FROM alpine:%s" % builder["release"] if builder["os"] == "alpine" else "the same %s release" % builder["os"]
        parts.append("native code built in one stage (the Erlang crypto NIF: 'Error relocating crypto.so') will not load "
                     "in the other; make the runner use %s as the builder (e.g. %s)" % (describe((builder["os"], builder["release"])), hint))
    for stage in unresolved:
        parts.append("cannot resolve the OS release of stage %s: %s" % (stage_label(stage), stage["note"]))
    if not parts:
        only = resolved[0]
        return "stages %s all use %s" % (", ".join(stage_label(s) for s in chosen), describe((only["os"], only["release"])))
    return "; ".join(parts)
