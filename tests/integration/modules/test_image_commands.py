"""image_commands driven through ansible against tiny images built here: one with wget, one with curl,
one without sh (a curl healthcheck in an image that only has wget stays unhealthy forever); and pull: true
against a real registry (tests/images/registry) on 127.0.0.1."""

from __future__ import annotations

import secrets

import pytest

from tests.support.ansible import run_module
from tests.support.docker import docker, local_image_id, remove_containers
from tests.support.registry import start_registry

WGET = "sertantai-test-preflight-wget:latest"
CURL = "sertantai-test-preflight-curl:latest"
NOSH = "sertantai-test-preflight-nosh:latest"
ABSENT = "sertantai-test-preflight-absent:1"
IMAGES = (WGET, CURL, NOSH)


@pytest.fixture(scope="module")
def images(docker_engine):
    docker("rmi", "-f", *IMAGES, check=False)
    docker("build", "-q", "-t", WGET, "-", input=(
        "FROM sertantai-test/debian:bookworm\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/*\n"
        'HEALTHCHECK CMD ["curl", "--fail", "http://localhost:3000/v1/health"]\n'))
    docker("build", "-q", "-t", CURL, "-", input=(
        "FROM sertantai-test/debian:bookworm\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n"))
    docker("build", "-q", "-t", NOSH, "-", input=(
        "FROM sertantai-test/debian:bookworm AS src\n"
        "FROM scratch\nCOPY --from=src /usr/bin/ls /usr/bin/ls\nENV PATH=/usr/bin\n"))
    yield
    docker("rmi", "-f", *IMAGES, check=False)


COMPOSE = """\
services:
  backend:
    image: sertantai-test-preflight-${FLAVOUR:-wget}:latest
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:4000/health"]
  fixed:
    image: sertantai-test-preflight-wget:latest
    healthcheck:
      test: ["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "http://localhost:4000/health"]
  frontend:
    image: sertantai-test-preflight-curl:latest
    healthcheck:
      test: curl -sf http://localhost:3000/ >/dev/null && grep -q ok /etc/hostname || exit 1
  electric:
    image: sertantai-test-preflight-wget:latest
"""


def test_compose_healthcheck_with_curl_in_a_wget_image(images, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    result = run_module("image_commands", {"compose_file": str(tmp_path / "docker-compose.yml"), "services": ["backend", "fixed", "frontend"]})
    assert result.get("failed") is True and result["changed"] is False
    assert result["missing"] == ["curl"]
    by_service = {s["service"]: s for s in result["services"]}
    assert by_service["backend"]["image"] == WGET
    assert (by_service["backend"]["missing"], by_service["backend"]["suggestions"]) == (["curl"], {"curl": "wget"})
    assert by_service["fixed"]["missing"] == []
    assert (by_service["frontend"]["kind"], by_service["frontend"]["commands"]) == ("shell", ["curl", "grep"])
    assert by_service["frontend"]["missing"] == []
    assert "service backend (image %s): its healthcheck needs curl, which the image does not have; the image has wget" % WGET in result["msg"]
    assert '"wget", "--no-verbose", "--tries=1", "--spider", "http://localhost:4000/health"' in result["msg"]
    assert {i["image"]: i["checked_with"] for i in result["images"]} == {WGET: "sh", CURL: "sh"}


def test_compose_passes_with_env_and_image_healthcheck(images, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / ".env").write_text("FLAVOUR=curl\n")
    result = run_module("image_commands", {"compose_file": str(tmp_path / "docker-compose.yml"),
                                           "services": ["backend", "electric"], "fail_on_missing": False}, check=True)
    by_service = {s["service"]: s for s in result["services"]}
    assert by_service["backend"]["image"] == CURL and by_service["backend"]["missing"] == []
    # electric has no healthcheck in the compose file: the image's own HEALTHCHECK (curl) is checked
    assert by_service["electric"]["healthcheck_from"] == "image"
    assert by_service["electric"]["missing"] == ["curl"]
    assert result["missing"] == ["curl"] and not result.get("failed")


def test_image_commands_and_absent_image(images):
    result = run_module("image_commands", {"image": CURL, "commands": ["curl", "sh", "wget", "/usr/bin/env"]})
    assert result.get("failed") is True
    assert result["missing"] == ["wget"]
    assert "image %s: the script needs wget, which the image does not have; the image has curl" % CURL in result["msg"]

    result = run_module("image_commands", {"image": ABSENT, "commands": ["curl"]})
    assert result.get("failed") is True
    assert "is not present locally: pull or build it first, or set pull: true" in result["msg"]
    assert docker("image", "inspect", ABSENT, check=False).returncode != 0


def test_image_without_sh_falls_back_to_its_filesystem(images):
    result = run_module("image_commands", {"image": NOSH, "commands": ["ls", "curl"], "fail_on_missing": False})
    assert not result.get("failed")
    assert result["images"][0]["checked_with"] == "filesystem"
    assert result["missing"] == ["curl"]
    assert "sh" in result["images"][0]["missing"] and "ls" in result["images"][0]["found"]


# ---------------------------------------------------------------- pull: true against a real registry

REGISTRY = "sertantai-test-hygiene-registry"
REGISTRY_USER = "shotleybuilder"


@pytest.fixture(scope="module")
def registry(images, tmp_path_factory):
    """A registry with auth on 127.0.0.1 (an insecure registry by Docker's default) and a logged-in DOCKER_CONFIG."""
    password = secrets.token_hex(16)
    host = "127.0.0.1:%d" % start_registry(REGISTRY, REGISTRY_USER, password)
    config = tmp_path_factory.mktemp("docker-config")
    docker("--config", str(config), "login", host, "-u", REGISTRY_USER, "--password-stdin", input=password)
    ref = "%s/sertantai-test-hygiene-pull:1" % host
    yield ref, str(config)
    docker("rmi", "-f", ref, check=False)
    remove_containers(REGISTRY)


def push(ref, config, version):
    """Push an image with wget under ``ref`` and remove it locally; return its image id."""
    docker("build", "-q", "-t", ref, "-", input="FROM %s\nRUN echo %s > /version\n" % (WGET, version))
    image_id = docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    docker("--config", config, "push", "-q", ref)
    return image_id


def test_pull_is_a_change_and_check_mode_does_not_pull(registry, monkeypatch):
    ref, config = registry
    monkeypatch.setenv("DOCKER_CONFIG", config)
    args = {"image": ref, "commands": ["sh", "wget"], "pull": True}
    first = push(ref, config, "one")
    docker("rmi", ref)

    # check mode: the image is absent, so a pull is needed (a change), but nothing is pulled or checked
    checked = run_module("image_commands", args, check=True)
    assert not checked.get("failed"), checked["msg"]
    assert (checked["changed"], checked["pulled"]) == (True, [ref])
    assert checked["images"][0]["pulled"] is True and checked["images"][0]["checked_with"] is None
    assert "check mode does not pull" in checked["services"][0]["unchecked"]
    assert "Not checked, because check mode does not pull: %s" % ref in checked["msg"]
    assert local_image_id(ref) is None

    # the real run pulls it, reports the change and checks the pulled image
    pulled = run_module("image_commands", args)
    assert not pulled.get("failed"), pulled["msg"]
    assert (pulled["changed"], pulled["pulled"], pulled["missing"]) == (True, [ref], [])
    assert pulled["images"][0]["checked_with"] == "sh" and "wget" in pulled["images"][0]["found"]
    assert local_image_id(ref) == first

    # the registry holds the same image: pulled again, nothing changed
    again = run_module("image_commands", args)
    assert (again.get("failed"), again["changed"], again["pulled"]) == (None, False, [])

    # a new image under the same tag: check mode leaves the local one alone, the real run brings the new id
    second = push(ref, config, "two")
    docker("image", "tag", first, ref)
    assert second != first and local_image_id(ref) == first
    checked = run_module("image_commands", args, check=True)
    assert (checked["changed"], checked["pulled"], checked["missing"]) == (False, [], [])
    assert local_image_id(ref) == first
    updated = run_module("image_commands", args)
    assert (updated["changed"], updated["pulled"]) == (True, [ref])
    assert local_image_id(ref) == second
    docker("rmi", "-f", first, check=False)
