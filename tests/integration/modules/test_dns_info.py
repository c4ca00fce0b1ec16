"""dns_info driven through ansible against a REAL DNS server: pebble-challtestsrv (tests/images/pebble)
with its DNS published on 127.0.0.1 (UDP) and records added through its management API."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from tests.support.ansible import run_module
from tests.support.docker import docker, published_port, remove_containers, wait_until

IMAGE = os.environ.get("SERTANTAI_TEST_PEBBLE_IMAGE", "sertantai-test/pebble:latest")
NAME = "sertantai-test-edge-dns"
DEFAULT_IP = "10.213.77.20"


@pytest.fixture(scope="module")
def dns_server(docker_engine):
    remove_containers(NAME)
    docker("run", "-d", "--name", NAME, "-p", "127.0.0.1::8053/udp", "-p", "127.0.0.1::8055", IMAGE,
           "pebble-challtestsrv", "-defaultIPv4", DEFAULT_IP, "-defaultIPv6", "", "-http01", "", "-https01", "",
           "-tlsalpn01", "", "-dns01", ":8053", "-management", ":8055")
    try:
        dns_port = int(docker("port", NAME, "8053/udp").stdout.strip().splitlines()[0].rsplit(":", 1)[1])
        api = "http://127.0.0.1:%d" % published_port(NAME, 8055)

        def add_a(host, addresses):
            request = urllib.request.Request(api + "/add-a", data=json.dumps({"host": host, "addresses": addresses}).encode(),
                                             method="POST")
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status == 200

        wait_until(lambda: _answers(api), timeout=30, what="challtestsrv management API")
        add_a("elsewhere.sertantai.test", ["10.213.77.99"])
        add_a("two.sertantai.test", [DEFAULT_IP, "10.213.77.98"])
        yield "127.0.0.1:%d" % dns_port
    finally:
        remove_containers(NAME)


def _answers(api):
    try:
        request = urllib.request.Request(api + "/add-a", data=b'{"host":"probe.test","addresses":["10.0.0.1"]}', method="POST")
        with urllib.request.urlopen(request, timeout=2):
            return True
    except OSError:
        return False


def test_resolves_through_the_given_resolver(dns_server):
    result = run_module("dns_info", {"names": ["legal.sertantai.test", "elsewhere.sertantai.test"], "resolver": dns_server})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["resolver"] == dns_server
    assert [r["addresses"] for r in result["records"]] == [[DEFAULT_IP], ["10.213.77.99"]]
    assert all(r["rcode"] == "NOERROR" and r["error"] is None for r in result["records"])
    assert result["mismatches"] == []


def test_reports_each_mismatching_domain(dns_server):
    result = run_module("dns_info", {"names": ["legal.sertantai.test", "elsewhere.sertantai.test", "two.sertantai.test"],
                                     "resolver": dns_server, "expected_addresses": [DEFAULT_IP]})
    assert not result.get("failed")
    assert [m["name"] for m in result["mismatches"]] == ["elsewhere.sertantai.test", "two.sertantai.test"]
    assert result["mismatches"][0]["reason"] == "resolves to 10.213.77.99, expected %s" % DEFAULT_IP
    assert result["mismatches"][1]["addresses"] == sorted([DEFAULT_IP, "10.213.77.98"])


def test_fail_on_mismatch_names_domain_and_answer(dns_server):
    result = run_module("dns_info", {"names": ["elsewhere.sertantai.test"], "resolver": dns_server,
                                     "expected_addresses": [DEFAULT_IP], "fail_on_mismatch": True}, check=True)
    assert result["failed"]
    assert "elsewhere.sertantai.test resolves to 10.213.77.99, expected %s" % DEFAULT_IP in result["msg"]


def test_no_answer_is_an_error_per_name():
    # A UDP port on loopback where nothing listens: the query gets no reply.
    result = run_module("dns_info", {"names": ["legal.sertantai.test"], "resolver": "127.0.0.1:9", "timeout": 1,
                                     "expected_addresses": [DEFAULT_IP]})
    assert not result.get("failed")
    assert result["records"][0]["error"]
    assert result["mismatches"][0]["reason"].startswith("lookup failed:")


def test_system_resolver():
    result = run_module("dns_info", {"names": ["localhost"], "expected_addresses": ["127.0.0.1"]})
    assert result["resolver"] == "system"
    assert "127.0.0.1" in result["records"][0]["addresses"]


def test_bad_resolver_is_refused():
    result = run_module("dns_info", {"names": ["a.test"], "resolver": "10.0.0.1:99999"})
    assert result["failed"]
    assert "host:port" in result["msg"]
