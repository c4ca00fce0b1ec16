"""_dockerfile: parsing, static release resolution and stage comparison (pure)."""

from __future__ import annotations

import textwrap

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _dockerfile


@pytest.mark.parametrize("image, expected", [
    ("alpine:3.19", ("alpine", "3.19")),
    ("alpine:3.21.3", ("alpine", "3.21")),
    ("docker.io/library/alpine:3.23", ("alpine", "3.23")),
    ("alpine:3.20@sha256:" + "a" * 64, ("alpine", "3.20")),
    ("elixir:1.18.4-alpine", ("alpine", "3.23")),
    ("hexpm/elixir:1.18.4-erlang-27.3.4-alpine-3.21.3", ("alpine", "3.21")),
    ("hexpm/erlang:27.3.4-alpine-3.23.0", ("alpine", "3.23")),
    ("node:20-alpine3.19", ("alpine", "3.19")),
    ("python:3.12-alpine3.20", ("alpine", "3.20")),
    ("debian:bookworm", ("debian", "12")),
    ("debian:bookworm-slim", ("debian", "12")),
    ("debian:12.5-slim", ("debian", "12")),
    ("debian:trixie-20250101-slim", ("debian", "13")),
    ("hexpm/elixir:1.18.4-erlang-27.3.4-debian-bookworm-20250610-slim", ("debian", "12")),
    ("node:20-bookworm-slim", ("debian", "12")),
    ("python:3.12-slim-bullseye", ("debian", "11")),
    ("gcr.io/distroless/base-debian12", ("debian", "12")),
    ("gcr.io/distroless/cc-debian12:nonroot", ("debian", "12")),
    ("ubuntu:22.04", ("ubuntu", "22.04")),
    ("ubuntu:noble", ("ubuntu", "24.04")),
])
def test_resolve_static(image, expected):
    assert _dockerfile.resolve_static(image) == (expected, None)


@pytest.mark.parametrize("image, reason", [
    ("elixir:1.17-alpine", "says alpine but not which Alpine release"),
    ("node:lts-alpine", "says alpine but not which Alpine release"),
    ("alpine", "no pinned tag"),
    ("alpine:latest", "no pinned tag"),
    ("alpine:edge", "does not name an Alpine release"),
    ("myapp:1.0", "cannot tell the OS release"),
    ("scratch", "scratch has no OS"),
])
def test_resolve_static_unresolved_says_what_to_do(image, reason):
    release, why = _dockerfile.resolve_static(image)
    assert release is None
    assert reason in why
    if image != "scratch":
        assert "resolve: inspect" in why


def test_known_releases_extend_the_table():
    known = {"elixir:1.17-alpine": _dockerfile.parse_release_text("alpine 3.20.3")}
    assert _dockerfile.resolve_static("docker.io/library/elixir:1.17-alpine", known) == (("alpine", "3.20"), None)


@pytest.mark.parametrize("alpine, os_release, expected", [
    ("3.23.3\n", "ID=alpine\nVERSION_ID=3.23.3\n", ("alpine", "3.23")),
    ("", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n', ("debian", "12")),
    ("", "ID=debian\nVERSION_CODENAME=trixie\n", ("debian", "13")),
    ("", 'ID=ubuntu\nVERSION_ID="24.04"\n', ("ubuntu", "24.04")),
    ("", "ID=alpine\nVERSION_ID=3.19.1\n", ("alpine", "3.19")),
    ("", "", None),
])
def test_parse_os_release(alpine, os_release, expected):
    assert _dockerfile.parse_os_release(alpine, os_release) == expected


@pytest.mark.parametrize("value, variables, expected, missing", [
    ("alpine:${V}", {"V": "3.21"}, "alpine:3.21", []),
    ("alpine:$V", {"V": "3.21"}, "alpine:3.21", []),
    ("alpine:${V:-3.19}", {}, "alpine:3.19", []),
    ("alpine:${V:-3.19}", {"V": "3.23"}, "alpine:3.23", []),
    ("alpine:${V:-3.19}", {"V": ""}, "alpine:3.19", []),
    ("x${SUFFIX:+-alpine}", {"SUFFIX": "1"}, "x-alpine", []),
    ("alpine:${V}", {"V": None}, "alpine:", ["V"]),
    ("alpine:${NOPE}", {}, "alpine:", ["NOPE"]),
])
def test_substitute(value, variables, expected, missing):
    assert _dockerfile.substitute(value, variables) == (expected, missing)


def test_parse_stages_args_continuations_and_heredocs():
    text = textwrap.dedent("""\
        # syntax=docker/dockerfile:1
        ARG ELIXIR_VERSION=1.18.4 \\
            OTP_VERSION=27.3.4
        ARG ALPINE_VERSION=3.21.3
        from --platform=$BUILDPLATFORM hexpm/elixir:${ELIXIR_VERSION}-erlang-${OTP_VERSION}-alpine-${ALPINE_VERSION} as Build
        RUN <<EOF
        FROM not-a-stage
        EOF
        COPY . .
        FROM alpine:${ALPINE_VERSION} AS runner
        COPY --from=Build --chown=nobody /app/_build/prod/rel/app ./
        """)
    args, stages = _dockerfile.parse(text)
    assert args == {"ELIXIR_VERSION": "1.18.4", "OTP_VERSION": "27.3.4", "ALPINE_VERSION": "3.21.3"}
    assert [(s["index"], s["name"], s["line"], s["copies_from"]) for s in stages] == [
        (0, "Build", 5, []), (1, "runner", 10, ["Build"])]


RUNBOOK = """\
FROM elixir:1.18.4-alpine AS builder
RUN mix release
FROM alpine:3.19
COPY --from=builder /app/_build/prod/rel/app /app
"""


def test_runbook_pitfall_is_a_mismatch():
    result = _dockerfile.analyse(RUNBOOK)
    assert result["mismatch"] is True
    assert result["compared"] == ["builder", "1"]
    assert [(s["resolved_image"], s["os"], s["release"], s["how"]) for s in result["stages"]] == [
        ("elixir:1.18.4-alpine", "alpine", "3.23", "static"), ("alpine:3.19", "alpine", "3.19", "static")]
    assert "Alpine 3.23 (OpenSSL 3.5)" in result["msg"] and "Alpine 3.19 (OpenSSL 3.1)" in result["msg"]
    assert "FROM alpine:3.23" in result["msg"]


def test_matching_stages_and_args():
    text = "ARG ALPINE=3.23\nFROM elixir:1.18.4-alpine AS build\nFROM build AS test\nFROM alpine:${ALPINE}\nCOPY --from=build /a /a\n"
    result = _dockerfile.analyse(text)
    assert result["mismatch"] is False and result["unresolved"] == []
    assert result["msg"] == "stages 'build', #2 all use Alpine 3.23 (OpenSSL 3.5)"
    assert result["stages"][1]["how"] == "stage" and result["stages"][1]["release"] == "3.23"
    assert [s["compared"] for s in result["stages"]] == [True, False, True]


def test_build_args_override_defaults():
    text = "ARG ALPINE=3.23\nFROM elixir:1.18.4-alpine AS build\nFROM alpine:${ALPINE}\nCOPY --from=build /a /a\n"
    result = _dockerfile.analyse(text, build_args={"ALPINE": "3.21"})
    assert result["mismatch"] is True
    assert result["stages"][1]["resolved_image"] == "alpine:3.21"


def test_arg_without_value_is_reported():
    text = "ARG ALPINE\nFROM alpine:3.21 AS build\nFROM alpine:${ALPINE}\nCOPY --from=0 /a /a\n"
    result = _dockerfile.analyse(text)
    assert result["mismatch"] is False and result["unresolved"] == ["1"]
    assert "uses ARG ALPINE, which has no default and no value in build_args" in result["msg"]


def test_floating_alpine_tag_suggests_inspect():
    text = "FROM elixir:1.17-alpine AS build\nFROM alpine:3.21\nCOPY --from=build /a /a\n"
    result = _dockerfile.analyse(text)
    assert result["unresolved"] == ["build"] and result["mismatch"] is False
    assert "resolve: inspect" in result["msg"]


@pytest.mark.parametrize("text, compare, msg", [
    ("FROM alpine:3.19\n", None, "the final stage #0 copies from no other stage: nothing to compare, so the OS releases cannot differ"),
    # the base tag names no release: still nothing to compare, so nothing unresolved that matters
    ("FROM elixir:1.17-alpine\nRUN mix release\n", None,
     "the final stage #0 copies from no other stage: nothing to compare, so the OS releases cannot differ"),
    ("FROM elixir:1.17-alpine AS build\nFROM ${RUNNER}\n", None,
     "the final stage #1 copies from no other stage: nothing to compare, so the OS releases cannot differ"),
    ("FROM elixir:1.17-alpine AS build\nFROM alpine:3.21\nCOPY --from=build /a /a\n", ["build"],
     "stages names only 'build': nothing to compare, so the OS releases cannot differ"),
])
def test_one_stage_is_nothing_to_compare(text, compare, msg):
    result = _dockerfile.analyse(text, compare=compare)
    assert (result["msg"], result["compared"], result["unresolved"], result["mismatch"]) == (msg, [], [], False)
    assert not any(stage["compared"] for stage in result["stages"])


def test_explicit_stages():
    text = "FROM alpine:3.19 AS a\nFROM debian:bookworm AS b\nFROM alpine:3.19\n"
    assert _dockerfile.analyse(text)["mismatch"] is False
    result = _dockerfile.analyse(text, compare=["a", "b"])
    assert result["mismatch"] is True and "Debian 12 (OpenSSL 3.0)" in result["msg"]
    with pytest.raises(_dockerfile.DockerfileError, match="stage 'c' is not in the Dockerfile"):
        _dockerfile.analyse(text, compare=["c"])


def test_no_from_is_an_error():
    with pytest.raises(_dockerfile.DockerfileError, match="no FROM"):
        _dockerfile.parse("# nothing\nRUN true\n")


def test_arg_defaults_chain_and_undeclared_args():
    text = ("ARG ALPINE=3.21\nARG RUNNER=${ALPINE}\nFROM alpine:${ALPINE} AS build\n"
            "FROM alpine:${RUNNER}\nCOPY --from=build /a /a\n")
    assert _dockerfile.analyse(text)["mismatch"] is False
    assert _dockerfile.analyse(text, build_args={"ALPINE": "3.19"})["mismatch"] is False
    assert _dockerfile.analyse(text, build_args={"RUNNER": "3.19"})["mismatch"] is True
    result = _dockerfile.analyse("FROM alpine:3.21 AS build\nARG LATE=3.21\nFROM alpine:${LATE}\nCOPY --from=build /a /a\n",
                                 build_args={"LATE": "3.21"})
    assert result["unresolved"] == ["1"] and "which no ARG before the first FROM declares" in result["msg"]
