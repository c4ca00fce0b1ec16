"""dockerfile_parity driven through ansible; resolve: inspect reads tiny local images built here."""

from __future__ import annotations

import pytest

from tests.support.ansible import run_module
from tests.support.docker import docker

ALPINE_323 = "sertantai-test-preflight-os-a323:latest"
ALPINE_319 = "sertantai-test-preflight-os-a319:latest"
ABSENT = "sertantai-test-preflight-absent:1"
IMAGES = (ALPINE_323, ALPINE_319)


def build(tag, version):
    dockerfile = (
        "FROM sertantai-test/debian:bookworm\n"
        "RUN echo %s > /etc/alpine-release && printf 'ID=alpine\\nVERSION_ID=%s\\n' > /usr/lib/os-release\n" % (version, version)
    )
    docker("build", "-q", "-t", tag, "-", input=dockerfile)


@pytest.fixture(scope="module")
def os_images(docker_engine):
    docker("rmi", "-f", *IMAGES, ABSENT, check=False)
    build(ALPINE_323, "3.23.3")
    build(ALPINE_319, "3.19.1")
    yield
    docker("rmi", "-f", *IMAGES, check=False)


def write(tmp_path, text):
    (tmp_path / "Dockerfile").write_text(text)
    return str(tmp_path)


def test_runbook_mismatch_fails_with_the_fix(tmp_path):
    path = write(tmp_path, "FROM elixir:1.18.4-alpine AS builder\nRUN mix release\nFROM alpine:3.19\nCOPY --from=builder /app /app\n")
    result = run_module("dockerfile_parity", {"path": path})
    assert result.get("failed") is True and result["mismatch"] is True and result["changed"] is False
    assert [(s["name"], s["release"], s["how"]) for s in result["stages"]] == [("builder", "3.23", "static"), (None, "3.19", "static")]
    assert "Alpine 3.23 (OpenSSL 3.5)" in result["msg"] and "FROM alpine:3.23" in result["msg"]


def test_single_stage_on_an_unnamed_release_is_ok(tmp_path):
    path = write(tmp_path, "FROM elixir:1.17-alpine\nRUN mix release\n")
    result = run_module("dockerfile_parity", {"path": path})
    assert not result.get("failed"), result["msg"]
    assert (result["changed"], result["mismatch"], result["compared"], result["unresolved"]) == (False, False, [], [])
    assert result["msg"] == "the final stage #0 copies from no other stage: nothing to compare, so the OS releases cannot differ"
    assert not result.get("warnings")


def test_pinned_arg_templated_stages_match(tmp_path):
    path = write(tmp_path, (
        "ARG ELIXIR=1.18.4\nARG OTP=27.3.4\nARG ALPINE_VERSION=3.21.3\nARG RUNNER_ALPINE=${ALPINE_VERSION}\n"
        "FROM hexpm/elixir:${ELIXIR}-erlang-${OTP}-alpine-${ALPINE_VERSION} AS build\n"
        "FROM alpine:${RUNNER_ALPINE} AS app\nCOPY --from=build /app /app\n"))
    result = run_module("dockerfile_parity", {"path": path}, check=True)
    assert not result.get("failed"), result["msg"]
    assert result["mismatch"] is False
    assert [s["resolved_image"] for s in result["stages"]] == ["hexpm/elixir:1.18.4-erlang-27.3.4-alpine-3.21.3", "alpine:3.21.3"]
    assert result["msg"] == "stages 'build', 'app' all use Alpine 3.21 (OpenSSL 3.3)"


def test_untagged_local_images_need_inspect(os_images, tmp_path):
    path = write(tmp_path, "FROM %s AS builder\nFROM %s\nCOPY --from=builder /a /a\n" % (ALPINE_323, ALPINE_319))
    static = run_module("dockerfile_parity", {"path": path})
    assert static.get("failed") is True and static["mismatch"] is False
    assert static["unresolved"] == ["builder", "1"] and "resolve: inspect" in static["msg"]

    inspected = run_module("dockerfile_parity", {"path": path, "resolve": "inspect"})
    assert inspected.get("failed") is True and inspected["mismatch"] is True
    assert [(s["os"], s["release"], s["how"]) for s in inspected["stages"]] == [("alpine", "3.23", "inspect"), ("alpine", "3.19", "inspect")]
    assert "Alpine 3.19 (OpenSSL 3.1)" in inspected["msg"]


def test_inspect_matching_and_os_release_only(os_images, tmp_path):
    path = write(tmp_path, "FROM sertantai-test/debian:bookworm AS tools\nFROM %s AS builder\nFROM alpine:3.23\n"
                           "COPY --from=builder /a /a\n" % ALPINE_323)
    result = run_module("dockerfile_parity", {"path": path + "/Dockerfile", "resolve": "inspect"})
    assert not result.get("failed"), result["msg"]
    assert result["compared"] == ["builder", "2"]
    assert [(s["os"], s["release"], s["how"]) for s in result["stages"]] == [
        ("debian", "12", "inspect"), ("alpine", "3.23", "inspect"), ("alpine", "3.23", "static")]
    # alpine:3.23 is not present locally: the static table answers, and says so.
    assert "not present locally" in result["stages"][2]["note"]


def test_absent_image_is_reported_not_pulled(os_images, tmp_path):
    path = write(tmp_path, "FROM %s AS builder\nFROM %s\nCOPY --from=builder /a /a\n" % (ABSENT, ALPINE_319))
    result = run_module("dockerfile_parity", {"path": path, "resolve": "inspect", "fail_on_mismatch": False})
    assert not result.get("failed")
    assert result["unresolved"] == ["builder"]
    assert "is not present locally (the module never pulls)" in result["msg"]
    assert docker("image", "inspect", ABSENT, check=False).returncode != 0
