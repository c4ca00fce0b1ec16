# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the fleet description ``sertantai_services``.

One source of truth for every role: validate it (messages name the service and the field),
fill defaults, and derive the names everything else uses (containers, slots, publications).
Pure functions; no I/O.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.sertantai.deploy.plugins.module_utils._electric import (
    STREAM_ID_RULE,
    is_stream_id,
    publication_name,
    slot_name,
)
from ansible_collections.sertantai.deploy.plugins.module_utils._pg import is_identifier

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
EXTENSION_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

# Defaults per component; the role argument specs document the same values.
DEFAULTS = {
    "extensions": [],
    # bin/migrate is what `mix phx.gen.release` puts into a Phoenix release.
    "backend": {"tag": "latest", "port": 4000, "healthcheck": "/health", "migrate_command": ["/app/bin/migrate"]},
    "frontend": {"tag": "latest", "port": 3000},
    "electric": {"enabled": False, "stream_id": None, "image": "electricsql/electric", "tag": "latest", "port": 3000},
}
# A component runs as one of two containers, <name>-blue or <name>-green: a deploy starts the other
# colour beside the live one, and nginx is switched to it once it is healthy.
COLORS = ("blue", "green")
SERVICE_KEYS = ("name", "domain", "database", "extensions", "backend", "frontend", "electric")
COMPONENT_KEYS = {
    "backend": ("image", "tag", "port", "healthcheck", "migrate_command", "env"),
    "frontend": ("image", "tag", "port", "env"),
    "electric": ("enabled", "stream_id", "image", "tag", "port", "env"),
}


class FleetError(Exception):
    """Invalid fleet input; ``errors`` holds every problem found, one line each."""

    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = errors


def is_hostname(value):
    if not isinstance(value, str) or len(value) > 253 or "." not in value:
        return False
    labels = value.split(".")
    return all(LABEL_RE.match(label) for label in labels) and not labels[-1].isdigit()


def _where(service, index):
    name = service.get("name") if isinstance(service, dict) else None
    return "service '%s'" % name if isinstance(name, str) and name else "service #%d" % (index + 1)


def _check_component(where, comp, spec, errors, require_image):
    if spec is None:
        return
    if not isinstance(spec, dict):
        errors.append("%s field '%s': must be a mapping, got %s" % (where, comp, type(spec).__name__))
        return
    for key in spec:
        if key not in COMPONENT_KEYS[comp]:
            errors.append("%s field '%s.%s': unknown field (known: %s)" % (where, comp, key, ", ".join(COMPONENT_KEYS[comp])))
    image = spec.get("image")
    if require_image and not image:
        errors.append("%s field '%s.image': required" % (where, comp))
    elif image is not None and (not isinstance(image, str) or not IMAGE_RE.match(image)):
        errors.append("%s field '%s.image': '%s' is not an image reference without tag (e.g. ghcr.io/owner/name)" % (where, comp, image))
    tag = spec.get("tag")
    if tag is not None and (not isinstance(tag, str) or not TAG_RE.match(tag)):
        errors.append("%s field '%s.tag': '%s' is not a valid image tag" % (where, comp, tag))
    port = spec.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        errors.append("%s field '%s.port': must be an integer between 1 and 65535, got %r" % (where, comp, port))
    env = spec.get("env")
    if env is not None and not isinstance(env, dict):
        errors.append("%s field '%s.env': must be a mapping of environment variables" % (where, comp))
    command = spec.get("migrate_command")
    if command is not None and (not isinstance(command, list) or not command
                                or not all(isinstance(part, str) and part for part in command)):
        errors.append("%s field '%s.migrate_command': must be a non-empty list of strings (the command and its "
                      "arguments, e.g. [/app/bin/migrate]), got %r" % (where, comp, command))


def validate_services(services):
    """Return a list of error lines for ``services``; empty when the fleet is valid."""
    if not isinstance(services, list):
        return ["sertantai_services: must be a list of services, got %s" % type(services).__name__]
    errors = []
    for index, service in enumerate(services):
        where = _where(service, index)
        if not isinstance(service, dict):
            errors.append("%s: must be a mapping, got %s" % (where, type(service).__name__))
            continue
        for key in service:
            if key not in SERVICE_KEYS:
                errors.append("%s field '%s': unknown field (known: %s)" % (where, key, ", ".join(SERVICE_KEYS)))
        name = service.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            errors.append("%s field 'name': %r must be lower-case letters, digits and '-', starting with a letter" % (where, name))
        domain = service.get("domain")
        if domain is None:
            errors.append("%s field 'domain': required (the public hostname nginx serves it on)" % where)
        elif not is_hostname(domain):
            errors.append("%s field 'domain': %r is not a valid hostname (e.g. legal.example.com)" % (where, domain))
        database = service.get("database")
        if database is None:
            errors.append("%s field 'database': required" % where)
        elif not is_identifier(database):
            errors.append("%s field 'database': %r is not a valid PostgreSQL identifier "
                          "(letters, digits, '_', at most 63, not starting with a digit)" % (where, database))
        extensions = service.get("extensions", [])
        if not isinstance(extensions, list):
            errors.append("%s field 'extensions': must be a list of extension names, e.g. [uuid-ossp, citext], got %r" % (where, extensions))
        else:
            for ext in extensions:
                if not isinstance(ext, str) or not EXTENSION_RE.match(ext):
                    errors.append("%s field 'extensions': %r is not an extension name (lower-case letters, digits, '_', '-')" % (where, ext))
        if "backend" not in service:
            errors.append("%s field 'backend': required (image and port of the Phoenix API)" % where)
        _check_component(where, "backend", service.get("backend"), errors, require_image=True)
        _check_component(where, "frontend", service.get("frontend"), errors, require_image=True)
        electric = service.get("electric")
        _check_component(where, "electric", electric, errors, require_image=False)
        if isinstance(electric, dict):
            enabled = electric.get("enabled", False)
            if not isinstance(enabled, bool):
                errors.append("%s field 'electric.enabled': must be true or false, got %r" % (where, enabled))
            stream_id = electric.get("stream_id")
            if stream_id is not None and not is_stream_id(stream_id):
                errors.append("%s field 'electric.stream_id': %r is not a valid replication slot suffix (%s)"
                              % (where, stream_id, STREAM_ID_RULE))
    if errors:
        return errors
    errors.extend(_duplicates(services))
    return errors


def _duplicates(services):
    errors = []
    names = [s["name"] for s in services]

    def label(index):
        # A repeated name alone cannot say which entry is meant: add its position in the list.
        name = names[index]
        return "service '%s'" % name if names.count(name) == 1 else "service '%s' (entry #%d)" % (name, index + 1)

    checks = (
        ("name", lambda s: s["name"]),
        ("domain", lambda s: s["domain"]),
        ("database", lambda s: s["database"]),
        ("backend.port", lambda s: (s.get("backend") or {}).get("port", DEFAULTS["backend"]["port"])),
    )
    for field, get in checks:
        seen = {}
        for index, service in enumerate(services):
            value = get(service)
            if value in seen:
                errors.append("%s field '%s': %r is already used by %s" % (label(index), field, value, label(seen[value])))
            else:
                seen[value] = index
    electrics = [s for s in services if (s.get("electric") or {}).get("enabled")]
    slots = {}
    for service in electrics:
        stream_id = service["electric"].get("stream_id")
        if stream_id is None and len(electrics) > 1:
            errors.append("service '%s' field 'electric.stream_id': required when several Electric instances share one "
                          "PostgreSQL cluster (%s); without it they all use electric_slot_default and block each other"
                          % (service["name"], ", ".join(s["name"] for s in electrics)))
            continue
        slot = slot_name(stream_id)
        if slot in slots:
            errors.append("service '%s' field 'electric.stream_id': %r is already used by service '%s' "
                          "(replication slots are cluster-wide: %s would conflict)" % (service["name"], stream_id, slots[slot], slot))
        else:
            slots[slot] = service["name"]
    return errors


def normalize_service(service, container_prefix="sertantai-"):
    """A validated service with defaults filled in and the derived names added."""
    svc = copy.deepcopy(service)
    svc.setdefault("extensions", [])
    for comp in ("backend", "frontend", "electric"):
        if svc.get(comp) is None and comp != "backend":
            svc[comp] = None if comp == "frontend" else {}
        if svc.get(comp) is not None:
            merged = copy.deepcopy(DEFAULTS[comp])
            merged.update(svc[comp])
            merged.setdefault("env", {})
            if merged.get("image"):
                merged["ref"] = "%s:%s" % (merged["image"], merged["tag"])
            svc[comp] = merged
    base = container_prefix + svc["name"]
    svc["containers"] = {"backend": base}
    if svc["frontend"] is not None:
        svc["containers"]["frontend"] = base + "-frontend"
    electric = svc["electric"]
    if electric["enabled"]:
        svc["containers"]["electric"] = base + "-electric"
        electric["slot"] = slot_name(electric["stream_id"])
        electric["publication"] = publication_name(electric["stream_id"])
        # Shared by both colours: the instance that takes over serves the shapes the old one wrote.
        electric["storage_volume"] = base + "-electric-storage"
        # As the Electric modules take it (electric_slots_info, electric_reset).
        electric["instance"] = dict(name=base + "-electric", stream_id=electric["stream_id"], database=svc["database"])
    svc["container_names"] = dict((comp, dict((color, colored_name(name, color)) for color in COLORS))
                                  for comp, name in svc["containers"].items())
    return svc


def colored_name(base, color):
    """The container of a component in one colour: sertantai-legal + blue -> sertantai-legal-blue."""
    return "%s-%s" % (base, color)


def select_services(services, host_services):
    """The services one host runs: all of them, or the names listed for the host."""
    if host_services is None:
        return services, []
    known = [s["name"] for s in services]
    unknown = [name for name in host_services if name not in known]
    errors = ["sertantai_host_services: '%s' is not a service in sertantai_services (known: %s)" % (name, ", ".join(known) or "none")
              for name in unknown]
    return [s for s in services if s["name"] in host_services], errors


def with_tags(services, tags):
    """The fleet description with the tag of some components replaced, for one run: ``tags`` is
    ``{service name: {component: tag}}`` (deploy.yml's ``-e tag=``, a rollback to an earlier version). A component
    the service does not have is left to the deploy's own check. Raises FleetError for a tag that is not valid."""
    errors = ["the tag to deploy for %s's %s, '%s', is not a valid image tag (letters, digits, '_', '.' and '-', "
              "at most 128, not starting with '.' or '-')" % (name, comp, tag)
              for name, comps in sorted((tags or {}).items()) for comp, tag in sorted(comps.items())
              if not isinstance(tag, str) or not TAG_RE.match(tag)]
    if errors:
        raise FleetError(errors)
    if not tags:
        return services
    result = copy.deepcopy(services)
    for service in result:
        if not isinstance(service, dict):
            continue
        for comp, tag in (tags.get(service.get("name")) or {}).items():
            if isinstance(service.get(comp), dict):
                service[comp]["tag"] = tag
    return result


def build_fleet(services, host_services=None, container_prefix="sertantai-", tags=None):
    """Validate, then return the normalised services of one host, with ``tags`` (with_tags) applied. Raises
    FleetError."""
    services = with_tags(services, tags)
    errors = validate_services(services)
    if errors:
        raise FleetError(errors)
    chosen, errors = select_services(services, host_services)
    if errors:
        raise FleetError(errors)
    return [normalize_service(s, container_prefix) for s in chosen]
