"""_app: which colour is live, whether it is up to date, and what each component should run (pure)."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _app, _fleet

LEGAL = {
    "name": "legal",
    "domain": "legal.sertantai.com",
    "database": "sertantai_legal_prod",
    "backend": {"image": "ghcr.io/shotleybuilder/sertantai-legal-backend", "tag": "v1", "port": 4000, "env": {"FOO": 1}},
    "frontend": {"image": "ghcr.io/shotleybuilder/sertantai-legal-frontend", "port": 3000},
    "electric": {"enabled": True, "stream_id": "legal", "image": "electricsql/electric", "tag": "1.5.1"},
}
SECRETS = {"secret_key_base": "k" * 88, "electric_secret": "e" * 44, "database_password": "p@ss/w:rd"}
SETTINGS = {"postgres_host": "shared_postgres",
            "healthcheck": {"interval": "2s", "timeout": "3s", "retries": 3, "start_period": "60s"},
            "restart_policy": "unless-stopped", "stop_timeout": 30, "resources": {"backend": {"memory": "1g"}},
            "electric_storage_dir": "/app/persistent"}


def container(name, component, color, running=True, health="healthy", image_id="sha256:aaa", spec="s1", image="img"):
    return dict(name=name, component=component, color=color, running=running, state="running" if running else "exited",
                health=health, image_id=image_id, spec=spec, image=image, id=name[-4:], restarts=0, started_at=None)


@pytest.mark.parametrize("text, routes", [
    ("", {}),
    ("# Ansible managed\nset $sertantai_backend_color green;\nset $sertantai_frontend_color blue;\n",
     {"backend": "green", "frontend": "blue"}),
    ("set $sertantai_electric_color  green ;", {"electric": "green"}),
    ("set $sertantai_backend_color red;", {}),
])
def test_parse_routes(text, routes):
    assert _app.parse_routes(text) == routes


WANTED = dict(image_id="sha256:aaa", spec="s1")


@pytest.mark.parametrize("containers, routed, up_to_date, live, next_color, leftovers, reason", [
    # First deploy: nothing runs.
    ([], None, False, None, "blue", [], "no backend container runs yet"),
    # The routed colour is live and matches.
    ([container("b-blue", "backend", "blue")], "blue", True, "b-blue", "green", [], None),
    # No routes file yet: the one running container is live.
    ([container("b-blue", "backend", "blue")], None, True, "b-blue", "green", [], None),
    # An interrupted deploy left its candidate: the routed one is live, the other a leftover.
    ([container("b-blue", "backend", "blue"), container("b-green", "backend", "green")], "blue", True, "b-blue",
     "green", ["b-green"], None),
    # New image.
    ([container("b-green", "backend", "green", image_id="sha256:old")], "green", False, "b-green", "blue", [],
     "a new image"),
    # New settings.
    ([container("b-green", "backend", "green", spec="s0")], "green", False, "b-green", "blue", [], "settings changed"),
    # Stopped (e.g. for a restore): not up to date.
    ([container("b-green", "backend", "green", running=False)], "green", False, "b-green", "blue", [], "is exited"),
    ([container("b-green", "backend", "green", health="unhealthy")], "green", False, "b-green", "blue", [], "unhealthy"),
])
def test_plan_component(containers, routed, up_to_date, live, next_color, leftovers, reason):
    plan = _app.plan_component("backend", containers, routed, WANTED)
    assert plan["up_to_date"] is up_to_date
    assert (plan["live"] or {}).get("name") == live
    assert plan["next_color"] == next_color
    assert plan["leftovers"] == leftovers
    if reason:
        assert any(reason in r for r in plan["reasons"]), plan["reasons"]
    else:
        assert plan["reasons"] == []


def test_plan_component_image_missing_on_host():
    plan = _app.plan_component("backend", [container("b-blue", "backend", "blue")], "blue", dict(image_id=None, spec="s1"))
    assert not plan["up_to_date"] and "the image is not on this host yet" in plan["reasons"]


@pytest.mark.parametrize("live_settings, wanted_settings, reasons", [
    ("h1", "h1", ["a new image (tag v1 -> v2)"]),
    ("h1", "h2", ["a new image (tag v1 -> v2)", "its settings changed (environment, ports, healthcheck or resources)"]),
    # a container created before the settings label: the new tag is reported alone
    (None, "h2", ["a new image (tag v1 -> v2)"]),
])
def test_plan_component_new_tag_with_new_settings(live_settings, wanted_settings, reasons):
    live = dict(container("b-blue", "backend", "blue", spec="s0", image="localhost:5000/legal-backend:v1"), settings=live_settings)
    wanted = dict(image="localhost:5000/legal-backend:v2", image_id="sha256:bbb", spec="s1", settings=wanted_settings)
    assert _app.plan_component("backend", [live], "blue", wanted)["reasons"] == reasons


@pytest.mark.parametrize("image_id, reasons", [
    ("sha256:bbb", ["a new image (tag v1 -> v2)"]),
    (None, ["a new image (tag v1 -> v2)", "the image is not on this host yet"]),
])
def test_plan_component_new_tag_is_not_called_a_change_of_settings(image_id, reasons):
    # The spec hash holds the image reference, so it differs too.
    live = container("b-blue", "backend", "blue", spec="s0", image="localhost:5000/legal-backend:v1")
    plan = _app.plan_component("backend", [live], "blue", dict(image="localhost:5000/legal-backend:v2", image_id=image_id, spec="s1"))
    assert plan["reasons"] == reasons


@pytest.mark.parametrize("image_id, spec, reasons", [
    # check mode: the local image is live, the registry holds another one under its tag
    ("sha256:aaa", "s1", ["a newer image in the registry (tag latest)"]),
    ("sha256:aaa", "s0", ["a newer image in the registry (tag latest)", "its settings changed (environment, ports, healthcheck or resources)"]),
    # the local image is not the live one already: that is the reason given
    ("sha256:bbb", "s1", ["a new image (aaa -> bbb)"]),
])
def test_plan_component_newer_image_in_the_registry(image_id, spec, reasons):
    live = container("b-blue", "backend", "blue", image_id="sha256:aaa", image="localhost:5000/legal-backend:latest")
    wanted = dict(image="localhost:5000/legal-backend:latest", image_id=image_id, spec=spec, newer=True)
    plan = _app.plan_component("backend", [live], "blue", wanted)
    assert plan["reasons"] == reasons and not plan["up_to_date"]


@pytest.mark.parametrize("old, new, text", [
    ("localhost:5000/legal-backend:v1", "localhost:5000/legal-backend:v2", "tag v1 -> v2"),
    ("localhost:5000/legal-backend", "localhost:5000/legal-backend:v2", "tag latest -> v2"),
    ("ghcr.io/o/legal-backend:v1", "ghcr.io/o/auth-backend:v1", "ghcr.io/o/legal-backend:v1 -> ghcr.io/o/auth-backend:v1"),
    ("localhost:5000/a@sha256:0123456789abcdef0123", "localhost:5000/a:v2", "tag sha256:0123456789ab -> v2"),
])
def test_ref_change(old, new, text):
    assert _app.ref_change(old, new) == text


@pytest.mark.parametrize("ref, version, build", [
    ("ghcr.io/o/legal-backend:latest", "061c576", "061c576"),
    ("ghcr.io/o/legal-backend:061c576", "061c576", None),
    ("ghcr.io/o/legal-backend:latest", None, None),
    ("sha256:" + "a" * 64, "061c576", "061c576"),
])
def test_summarize_names_the_build_a_moving_tag_runs(ref, version, build):
    labels = {"org.sertantai.component": "backend"}
    if version:
        labels["org.opencontainers.image.version"] = version
    doc = {"Name": "/sertantai-legal-blue", "Id": "c" * 64, "Image": "sha256:" + "b" * 64,
           "Config": {"Image": ref, "Labels": labels}, "State": {"Status": "running", "Running": True}}
    assert _app.summarize(doc)["build"] == build


def specs(service=None, secrets=None, settings=None):
    return _app.container_specs(_fleet.build_fleet([service or LEGAL])[0], secrets or SECRETS, settings or SETTINGS)


def test_container_specs_components_env_and_healthchecks():
    result = specs()
    assert sorted(result) == ["backend", "electric", "frontend"]
    backend, frontend, electric = result["backend"], result["frontend"], result["electric"]
    assert backend["image"] == "ghcr.io/shotleybuilder/sertantai-legal-backend:v1"
    assert backend["env"]["DATABASE_URL"] == "ecto://postgres:p%40ss%2Fw%3Ard@shared_postgres:5432/sertantai_legal_prod"
    assert backend["env"]["SECRET_KEY_BASE"] == "k" * 88 and backend["env"]["ELECTRIC_SECRET"] == "e" * 44
    assert backend["env"]["FOO"] == "1" and backend["memory"] == "1g"
    # The tools the images have: wget in the Phoenix and serve images, curl in Electric's (runbook pitfall 9).
    assert backend["healthcheck"]["test"][:2] == ["CMD", "wget"] and backend["healthcheck"]["test"][-1] == "http://localhost:4000/health"
    assert frontend["healthcheck"]["test"][-1] == "http://localhost:3000/"
    assert electric["healthcheck"]["test"][:2] == ["CMD", "curl"]
    assert electric["env"]["ELECTRIC_REPLICATION_STREAM_ID"] == "legal"
    assert electric["volumes"] == ["sertantai-legal-electric-storage:/app/persistent"]
    assert electric["env"]["DATABASE_URL"].endswith("/sertantai_legal_prod?sslmode=disable")


def test_spec_hash_follows_every_setting_and_nothing_else():
    base = specs()
    assert specs()["backend"]["spec"] == base["backend"]["spec"]
    changed_env = dict(LEGAL, backend=dict(LEGAL["backend"], env={"FOO": 2}))
    assert specs(changed_env)["backend"]["spec"] != base["backend"]["spec"]
    assert specs(changed_env)["frontend"]["spec"] == base["frontend"]["spec"]
    assert specs(secrets=dict(SECRETS, secret_key_base="x"))["backend"]["spec"] != base["backend"]["spec"]
    assert specs(settings=dict(SETTINGS, stop_timeout=10))["frontend"]["spec"] != base["frontend"]["spec"]


def test_the_spec_hash_is_the_one_earlier_versions_labelled():
    # A running container is replaced when its label differs: an upgrade of the collection must not change it.
    assert dict((c, v["spec"]) for c, v in specs().items()) == {
        "backend": "75960c9b1cc1e875", "frontend": "d2ad1fbf02681b3e", "electric": "d01b30003bdfff73"}


def test_the_settings_hash_follows_every_setting_but_the_image():
    base = specs()
    new_tag = dict(LEGAL, backend=dict(LEGAL["backend"], tag="v2"))
    assert specs(new_tag)["backend"]["spec"] != base["backend"]["spec"]
    assert specs(new_tag)["backend"]["settings"] == base["backend"]["settings"]
    changed_env = dict(new_tag, backend=dict(new_tag["backend"], env={"FOO": 2}))
    assert specs(changed_env)["backend"]["settings"] != base["backend"]["settings"]
    assert specs(settings=dict(SETTINGS, stop_timeout=10))["frontend"]["settings"] != base["frontend"]["settings"]


def test_a_service_without_frontend_or_electric_runs_only_a_backend():
    auth = {"name": "auth", "domain": "auth.sertantai.com", "database": "auth", "backend": {"image": "r/auth", "port": 4001}}
    result = specs(auth)
    assert list(result) == ["backend"] and "ELECTRIC_SECRET" not in result["backend"]["env"]


@pytest.mark.parametrize("start_interval", [True, False])
def test_create_specs_label_each_new_container_and_leave_out_what_the_engine_lacks(start_interval):
    containers = specs(settings=dict(SETTINGS, healthcheck=dict(SETTINGS["healthcheck"], start_interval="1s")))
    new = [dict(component="backend", color="green", new="sertantai-legal-green"),
           dict(component="frontend", color="blue", new="sertantai-legal-frontend-blue")]
    backend, frontend = _app.create_specs(containers, new, "legal", start_interval)
    assert backend["name"] == "sertantai-legal-green" and backend["image"] == containers["backend"]["image"]
    assert backend["env"] == containers["backend"]["env"] and backend["memory"] == "1g"
    assert backend["labels"] == {"org.sertantai.service": "legal", "org.sertantai.component": "backend",
                                 "org.sertantai.color": "green", "org.sertantai.spec": containers["backend"]["spec"],
                                 "org.sertantai.settings": containers["backend"]["settings"]}
    assert frontend["labels"]["org.sertantai.color"] == "blue" and frontend["name"] == "sertantai-legal-frontend-blue"
    assert ("start_interval" in backend["healthcheck"]) is start_interval
    assert backend["healthcheck"]["test"] == containers["backend"]["healthcheck"]["test"]
    # what app_service_info compares, the spec hash, stays the one of the whole spec
    assert "start_interval" in containers["backend"]["healthcheck"]
    # every key is an option of container_create
    from ansible_collections.sertantai.deploy.plugins.modules.container_create import module_spec
    assert set(backend) <= set(module_spec()["argument_spec"]["containers"]["options"])
