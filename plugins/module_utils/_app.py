# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the containers of one service, as a deploy sees them.

Each component (backend, frontend, electric) runs as ``<name>-blue`` or ``<name>-green``; nginx's
routes file of the service names the live one. A deploy starts the other colour beside it, waits
until it is healthy, switches the route, then stops the old one. Which colour is live, whether it
is up to date, and what is left over from an interrupted deploy are decided here from one
``docker inspect`` of the service's containers, the routes file and the wanted image ids.
Pure functions, except ``read_service``, which reads through a ``_docker.DockerCli``.
"""

from __future__ import annotations

import hashlib
import json
import re

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 module_utils import path
    from urllib import quote

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerError
from ansible_collections.sertantai.deploy.plugins.module_utils._fleet import COLORS

LABEL_SERVICE = "org.sertantai.service"
LABEL_COMPONENT = "org.sertantai.component"
LABEL_COLOR = "org.sertantai.color"
LABEL_SPEC = "org.sertantai.spec"
# The hash of the same settings without the image reference: tells a change of settings that comes with a new tag.
LABEL_SETTINGS = "org.sertantai.settings"
# The tag image_build gave the image (its commit): which build runs under a tag that moves, such as latest.
LABEL_VERSION = "org.opencontainers.image.version"
COMPONENTS = ("backend", "frontend", "electric")

_ROUTE_RE = re.compile(r"^\s*set\s+\$sertantai_(backend|frontend|electric)_color\s+(%s)\s*;" % "|".join(COLORS), re.M)


def parse_routes(text):
    """``{component: colour}`` from an nginx routes file (``set $sertantai_backend_color green;``)."""
    return dict(_ROUTE_RE.findall(text or ""))


def other_color(color):
    return COLORS[1] if color == COLORS[0] else COLORS[0]


def summarize(doc):
    """What a deploy needs to know of one container, from its inspect document."""
    state = doc.get("State") or {}
    labels = (doc.get("Config") or {}).get("Labels") or {}
    return dict(
        name=(doc.get("Name") or "").lstrip("/"),
        id=(doc.get("Id") or "")[:12],
        component=labels.get(LABEL_COMPONENT),
        color=labels.get(LABEL_COLOR),
        spec=labels.get(LABEL_SPEC),
        settings=labels.get(LABEL_SETTINGS),
        image=(doc.get("Config") or {}).get("Image"),
        build=built_as((doc.get("Config") or {}).get("Image"), labels.get(LABEL_VERSION)),
        image_id=doc.get("Image"),
        state=state.get("Status") or "unknown",
        running=bool(state.get("Running")),
        health=(state.get("Health") or {}).get("Status") or "none",
        restarts=doc.get("RestartCount") or 0,
        started_at=state.get("StartedAt"),
    )


def plan_component(component, containers, routed_color, wanted):
    """The state of one component and what a deploy must do with it.

    ``containers``: summaries of this component's containers; ``routed_color``: the colour the
    routes file names (or None); ``wanted``: {image, image_id, spec} of what should run, and ``newer`` when the
    registry holds another image for its reference than the local one (check mode: a run would pull it).
    """
    routed = [c for c in containers if c["color"] == routed_color]
    live = routed[0] if routed_color and routed else None
    if live is None:
        running = [c for c in containers if c["running"]]
        # No route yet (first deploy, or the routes file is older than the containers): a single
        # running container is what serves.
        live = running[0] if len(running) == 1 else None
    leftovers = [c["name"] for c in containers if live is None or c["name"] != live["name"]]
    live_color = live["color"] if live and live["color"] in COLORS else None
    next_color = other_color(live_color) if live_color else COLORS[0]
    reasons = []
    if live is None:
        reasons.append("no %s container runs yet" % component)
    else:
        if not live["running"]:
            reasons.append("%s is %s" % (live["name"], live["state"]))
        elif live["health"] not in ("healthy", "none"):
            reasons.append("%s is %s" % (live["name"], live["health"]))
        new_ref = bool(wanted.get("image") and live.get("image") and live["image"] != wanted["image"])
        if new_ref:
            reasons.append("a new image (%s)" % ref_change(live["image"], wanted["image"]))
        elif wanted.get("image_id") and live["image_id"] != wanted["image_id"]:
            reasons.append("a new image (%s -> %s)" % (short_id(live["image_id"]), short_id(wanted["image_id"])))
        elif wanted.get("newer"):
            reasons.append("a newer image in the registry (tag %s)" % image_tag(wanted["image"]))
        if not wanted.get("image_id"):
            reasons.append("the image is not on this host yet")
        # The spec holds the image reference too: a new tag alone is no change of settings. With a new tag, the
        # settings hash (the spec without the image) tells; a container created before that label has none, and
        # its new tag is reported alone.
        if new_ref:
            settings_changed = bool(wanted.get("settings") and live.get("settings") and live["settings"] != wanted["settings"])
        else:
            settings_changed = bool(wanted.get("spec") and live["spec"] != wanted["spec"])
        if settings_changed:
            reasons.append("its settings changed (environment, ports, healthcheck or resources)")
    return dict(
        live=live,
        live_color=live_color,
        next_color=next_color,
        leftovers=leftovers,
        routed=routed_color,
        wanted_image_id=wanted.get("image_id"),
        up_to_date=not reasons,
        reasons=reasons,
    )


def short_id(image_id):
    return (image_id or "none").replace("sha256:", "")[:12]


def image_tag(ref):
    """The tag of an image reference (``ghcr.io/o/n:v1`` -> ``v1``; no tag -> ``latest``; a digest stays)."""
    if "@" in ref:
        return ref.split("@", 1)[1][:19]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def built_as(ref, version):
    """The tag the image was built as (its version label), when the reference's own tag is another one (``latest``,
    or a tag pushed again): None when it says nothing more."""
    return version if version and ref and version != image_tag(ref) else None


def image_repository(ref):
    """An image reference without its tag or digest (a registry's port stays)."""
    head, slash, last = ref.split("@", 1)[0].rpartition("/")
    return head + slash + last.split(":", 1)[0]


def ref_change(old, new):
    """``tag v1 -> v2`` when only the tag of an image reference changes, else ``old -> new``."""
    if image_repository(old) == image_repository(new):
        return "tag %s -> %s" % (image_tag(old), image_tag(new))
    return "%s -> %s" % (old, new)


def plan_service(service, docs, routes_text, wanted):
    """Per component in ``wanted`` ({component: {image_id, spec}}): plan_component() of its containers.

    Returns (plan, routes): routes is ``{component: colour}`` as the routes file says.
    """
    summaries = [summarize(doc) for doc in docs]
    ours = [c for c in summaries if c["component"] in COMPONENTS]
    routes = parse_routes(routes_text)
    result = {}
    for component in wanted:
        result[component] = plan_component(component, [c for c in ours if c["component"] == component],
                                           routes.get(component), wanted[component])
    return result, routes


def read_service(cli, service, images, shared=()):
    """Inspect the service's containers (by label) with the ``shared`` ones it needs, and the wanted images: three
    docker calls.

    ``images``: {component: image reference}; ``shared``: container names (nginx, PostgreSQL). Returns (container
    docs, {component: image id or None}, {shared name: inspect document, for those that exist}).
    """
    rc, out, err = cli.run("ps", "--all", "--quiet", "--no-trunc", "--filter", "label=%s=%s" % (LABEL_SERVICE, service),
                           check=False)
    if rc != 0:
        raise DockerError("docker ps failed: %s" % (err or "").strip())
    ids = [line.strip() for line in (out or "").splitlines() if line.strip()]
    found, _missing = cli.inspect(*(ids + list(shared)))
    shared_docs = dict((name, found.pop(name)) for name in shared if name in found)
    refs = sorted(set(images.values()))
    image_docs, _missing = cli.inspect(*refs, kind="image")
    image_ids = dict((component, (image_docs.get(ref) or {}).get("Id")) for component, ref in images.items())
    return list(found.values()), image_ids, shared_docs


# --------------------------------------------------------------------------- what should run

# The tool each component's healthcheck runs: the Phoenix and `serve` images have wget but no curl
# (runbook pitfall 9); Electric's image has curl.
HEALTH_TOOLS = {"backend": "wget", "frontend": "wget", "electric": "curl"}


def healthcheck_test(component, port, path="/"):
    url = "http://localhost:%d%s" % (port, path if path.startswith("/") else "/" + path)
    if HEALTH_TOOLS[component] == "wget":
        return ["CMD", "wget", "--no-verbose", "--tries=1", "--spider", url]
    return ["CMD", "curl", "--fail", "--silent", "--output", "/dev/null", url]


def _database_url(scheme, password, host, database, query=""):
    return "%s://postgres:%s@%s:5432/%s%s" % (scheme, quote(password or "", safe=""), host, database, query)


def container_specs(service, secrets, settings):
    """Everything that makes each component's container what it is, and a hash of it.

    ``service``: one normalised fleet item; ``secrets``: {secret_key_base, electric_secret,
    database_password}; ``settings``: {postgres_host, healthcheck, restart_policy, stop_timeout,
    resources, electric_storage_dir}. A live container whose ``org.sertantai.spec`` label differs
    from ``spec`` is replaced by a deploy. ``settings`` hashes the same without the image reference, so that
    the plan can tell a change of settings from a new tag (the label ``org.sertantai.settings``).
    """
    components = ["backend"]
    if service.get("frontend"):
        components.append("frontend")
    electric = service.get("electric") or {}
    if electric.get("enabled"):
        components.append("electric")
    host, database = settings["postgres_host"], service["database"]
    result = {}
    for component in components:
        conf = service[component]
        port = int(conf.get("port") or 3000)
        if component == "backend":
            env = dict(PORT=str(port), PHX_SERVER="true", PHX_HOST=service["domain"], SERVICE_NAME=service["name"],
                       DATABASE_URL=_database_url("ecto", secrets.get("database_password"), host, database),
                       SECRET_KEY_BASE=secrets.get("secret_key_base") or "")
            if electric.get("enabled"):
                env["ELECTRIC_SECRET"] = secrets.get("electric_secret") or ""
            test = healthcheck_test(component, port, conf.get("healthcheck") or "/health")
            volumes = []
        elif component == "frontend":
            env = dict(PORT=str(port), SERVICE_NAME=service["name"])
            test = healthcheck_test(component, port, "/")
            volumes = []
        else:
            env = dict(DATABASE_URL=_database_url("postgresql", secrets.get("database_password"), host, database,
                                                  "?sslmode=disable"),
                       ELECTRIC_REPLICATION_STREAM_ID=conf.get("stream_id") or "default",
                       ELECTRIC_SECRET=secrets.get("electric_secret") or "",
                       ELECTRIC_STORAGE_DIR=settings["electric_storage_dir"],
                       ELECTRIC_PORT=str(port), PORT=str(port))
            test = healthcheck_test(component, port, "/v1/health")
            volumes = ["%s:%s" % (conf["storage_volume"], settings["electric_storage_dir"])]
        env.update(dict((key, str(value)) for key, value in (conf.get("env") or {}).items()))
        resources = (settings.get("resources") or {}).get(component) or {}
        spec = dict(
            image=conf["ref"],
            env=env,
            port=port,
            healthcheck=dict(settings["healthcheck"], test=test),
            volumes=volumes,
            restart_policy=settings["restart_policy"],
            stop_timeout=int(settings["stop_timeout"]),
            memory=resources.get("memory"),
            cpus=resources.get("cpus"),
            tool=HEALTH_TOOLS[component],
        )
        spec["spec"] = _hash(spec)
        spec["settings"] = _hash(dict((key, value) for key, value in spec.items() if key not in ("image", "spec")))
        result[component] = spec
    return result


def _hash(spec):
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def create_specs(containers, new, service, start_interval=True):
    """container_create's O(containers) for the new containers of one deploy of ``service``.

    ``containers``: container_specs()'s result; ``new``: ``[{component, color, new}]`` (the container name to
    create for each component, in that colour); ``start_interval``: whether the engine knows the healthcheck's
    start_interval (Docker 25, API 1.44): an older engine gets the rest of the healthcheck. The labels name the
    service, the component, the colour, the spec hash that app_service_info compares and the settings hash.
    """
    result = []
    for item in new:
        conf = containers[item["component"]]
        healthcheck = dict(conf["healthcheck"])
        if not start_interval:
            healthcheck.pop("start_interval", None)
        result.append(dict(
            name=item["new"], image=conf["image"], env=conf["env"],
            labels={LABEL_SERVICE: service, LABEL_COMPONENT: item["component"], LABEL_COLOR: item["color"],
                    LABEL_SPEC: conf["spec"], LABEL_SETTINGS: conf["settings"]},
            healthcheck=healthcheck, restart_policy=conf["restart_policy"], stop_timeout=conf["stop_timeout"],
            volumes=conf["volumes"], memory=conf["memory"], cpus=conf["cpus"],
        ))
    return result
