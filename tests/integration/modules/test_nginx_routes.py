"""nginx_routes driven through ansible against a real nginx (tests/images/nginx) whose site takes each component's
colour from the routes file, as the nginx role's sites do: the routes directory of the test's own, mounted
read-only into nginx."""

from __future__ import annotations

import pytest

from tests.support.ansible import run_module
from tests.support.docker import docker, remove_containers, wait_until

IMAGE = "sertantai-test/nginx:latest"
NGINX = "sertantai-test-routes-nginx"
RETIRED = "sertantai-test-routes-old"
# The site answers with the colour nginx would send the backend's traffic to.
SITE = """server {
    listen 8080;
    set $sertantai_backend_color none;
    include /etc/nginx/sertantai-routes/*.conf;
    location / { return 200 "$sertantai_backend_color\\n"; }
}
"""


@pytest.fixture
def nginx(docker_engine, tmp_path):
    routes = tmp_path / "routes"
    routes.mkdir()
    (tmp_path / "site.conf").write_text(SITE)
    remove_containers(NGINX, RETIRED)
    docker("run", "-d", "--name", NGINX, "-v", "%s:/etc/nginx/sertantai-routes:ro" % routes,
           "-v", "%s:/etc/nginx/conf.d/default.conf:ro" % (tmp_path / "site.conf"), IMAGE)
    wait_until(lambda: serves("none"), timeout=10, what="nginx to answer")
    yield routes
    remove_containers(NGINX, RETIRED)


def serves(colour):
    out = docker("exec", NGINX, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/", check=False).stdout
    return out.strip() == colour


def switch(routes, colour, **extra):
    args = dict(service="legal", colors={"backend": colour}, routes_dir=str(routes), container=NGINX)
    args.update(extra)
    return run_module("nginx_routes", args, diff=True)


def test_switches_proves_and_reloads_and_the_same_colours_change_nothing(nginx):
    first = switch(nginx, "blue")
    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] is True and first["previous"] is None
    wait_until(lambda: serves("blue"), timeout=10, what="nginx to serve blue")
    written = (nginx / "legal.conf").read_text()
    assert written == first["content"] and "set $sertantai_backend_color blue;" in written

    again = switch(nginx, "blue")
    assert again["changed"] is False and (nginx / "legal.conf").read_text() == written

    green = switch(nginx, "green")
    assert green["changed"] is True and green["previous"] == written
    assert green["diff"]["before"] == written and "green" in green["diff"]["after"]
    wait_until(lambda: serves("green"), timeout=10, what="nginx to serve green")


def test_a_configuration_nginx_refuses_puts_the_previous_routes_back(nginx):
    assert switch(nginx, "blue").get("failed") is not True
    wait_until(lambda: serves("blue"), timeout=10, what="nginx to serve blue")
    before = (nginx / "legal.conf").read_text()
    (nginx / "broken.conf").write_text("this is not nginx;\n")
    refused = switch(nginx, "green")
    assert refused["failed"] is True
    assert refused["msg"].startswith("legal: nginx -t refused the new routes, so the previous routes were put back")
    assert "[emerg]" in refused["msg"]
    assert (nginx / "legal.conf").read_text() == before and serves("blue")


def test_check_mode_writes_nothing_and_retire_stops_the_old_container(nginx):
    checked = run_module("nginx_routes", dict(service="legal", colors={"backend": "blue"}, routes_dir=str(nginx), container=NGINX),
                         check=True)
    assert checked["changed"] is True and not (nginx / "legal.conf").exists()

    docker("run", "-d", "--name", RETIRED, "--init", "sertantai-test/debian:bookworm", "sleep", "300")
    retired = switch(nginx, "green", retire=[RETIRED])
    assert retired.get("failed") is not True, retired.get("msg")
    assert retired["retired"] == [RETIRED]
    assert docker("inspect", "-f", "{{.State.Running}}", RETIRED).stdout.strip() == "false"


def test_a_missing_routes_directory_names_the_role_that_makes_it(nginx, tmp_path):
    result = switch(tmp_path / "none", "blue")
    assert result["failed"] is True
    assert result["msg"] == "legal: %s does not exist: apply the role sertantai.deploy.nginx first" % (tmp_path / "none")
