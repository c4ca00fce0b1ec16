"""Unit tests of the DNS helpers: packets are built and parsed byte by byte, lookups run through fakes."""

from __future__ import annotations

import socket
import struct

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _dns


def reply(qid, name, answers, rcode=0, flags=0x8180, compress=True):
    """A reply packet: the question for ``name`` and ``answers`` [(type, rdata)] named by a pointer to it."""
    question = _dns.encode_name(name) + struct.pack(">HH", _dns.TYPE_A, _dns.CLASS_IN)
    header = struct.pack(">HHHHHH", qid, flags | rcode, 1, len(answers), 0, 0)
    body = b""
    for rtype, rdata in answers:
        owner = b"\xc0\x0c" if compress else _dns.encode_name(name)
        body += owner + struct.pack(">HHIH", rtype, _dns.CLASS_IN, 60, len(rdata)) + rdata
    return header + question + body


@pytest.mark.parametrize("server, expected", [
    ("10.0.0.1", ("10.0.0.1", 53)),
    ("10.0.0.1:8053", ("10.0.0.1", 8053)),
    ("dns.example.com", ("dns.example.com", 53)),
    ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
    ("[2001:db8::1]", ("2001:db8::1", 53)),
    ("2001:db8::1", ("2001:db8::1", 53)),
])
def test_parse_server(server, expected):
    assert _dns.parse_server(server) == expected


@pytest.mark.parametrize("server", ["", "10.0.0.1:0", "10.0.0.1:99999", "10.0.0.1:x", ":53", "[::1"])
def test_parse_server_rejects(server):
    with pytest.raises(ValueError):
        _dns.parse_server(server)


@pytest.mark.parametrize("name, wire", [
    ("legal.sertantai.test", b"\x05legal\tsertantai\x04test\x00"),
    ("legal.sertantai.test.", b"\x05legal\tsertantai\x04test\x00"),
    ("a", b"\x01a\x00"),
])
def test_encode_name(name, wire):
    assert _dns.encode_name(name) == wire


@pytest.mark.parametrize("name", ["", "bad name.test", "-x.test", "a..b", "x" * 64 + ".test", ("a." * 127) + "test"])
def test_encode_name_rejects_non_hostnames(name):
    with pytest.raises(ValueError):
        _dns.encode_name(name)


def test_build_query_sets_id_recursion_and_question():
    packet = _dns.build_query("a.test", 0x1234)
    assert packet[:12] == struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert packet[12:] == b"\x01a\x04test\x00" + struct.pack(">HH", 1, 1)


@pytest.mark.parametrize("answers, compress, expected", [
    ([(1, socket.inet_aton("10.1.2.3"))], True, ["10.1.2.3"]),
    ([(1, socket.inet_aton("10.1.2.3"))], False, ["10.1.2.3"]),
    ([(1, socket.inet_aton("10.1.2.3")), (1, socket.inet_aton("10.9.9.9"))], True, ["10.1.2.3", "10.9.9.9"]),
    # A CNAME before the A record: only the address is returned.
    ([(5, b"\x03www\xc0\x0c"), (1, socket.inet_aton("10.4.4.4"))], True, ["10.4.4.4"]),
    ([], True, []),
])
def test_parse_response_addresses(answers, compress, expected):
    rcode, addresses = _dns.parse_response(reply(7, "legal.sertantai.test", answers, compress=compress), 7)
    assert (rcode, addresses) == ("NOERROR", expected)


@pytest.mark.parametrize("rcode, name", [(3, "NXDOMAIN"), (2, "SERVFAIL"), (5, "REFUSED"), (9, "RCODE9")])
def test_parse_response_rcode(rcode, name):
    assert _dns.parse_response(reply(1, "x.test", [], rcode=rcode), 1) == (name, [])


@pytest.mark.parametrize("packet, qid, message", [
    (b"\x00\x01", 1, "too short"),
    (reply(2, "x.test", []), 1, "does not match"),
    (reply(1, "x.test", [], flags=0x0100), 1, "not a reply"),
    (reply(1, "x.test", [], flags=0x8380), 1, "truncated"),
    (reply(1, "x.test", [(1, b"\x0a\x00\x00\x01")])[:-6], 1, "truncated"),
    # A pointer to itself.
    (struct.pack(">HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c", 1, "loop"),
])
def test_parse_response_rejects(packet, qid, message):
    with pytest.raises(_dns.DnsError, match=message):
        _dns.parse_response(packet, qid)


class FakeSocket:
    """A UDP socket whose replies are given; records what was sent."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.sent = []
        self.closed = False

    def __call__(self, family, kind):
        assert kind == socket.SOCK_DGRAM
        self.family = family
        return self

    def settimeout(self, timeout):
        self.timeout = timeout

    def sendto(self, packet, address):
        self.sent.append((packet, address))

    def recvfrom(self, size):
        if not self.replies:
            raise socket.timeout()
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        return item, ("10.0.0.53", 53)

    def close(self):
        self.closed = True


def test_query_udp_skips_a_late_reply_and_closes():
    fake = FakeSocket([reply(9, "a.test", []), reply(5, "a.test", [(1, socket.inet_aton("10.0.0.7"))])])
    assert _dns.query_udp("a.test", "10.0.0.53", 8053, 2.0, make_socket=fake, qid=5) == ("NOERROR", ["10.0.0.7"])
    assert fake.sent[0][1] == ("10.0.0.53", 8053)
    assert fake.sent[0][0] == _dns.build_query("a.test", 5)
    assert fake.timeout == 2.0 and fake.closed and fake.family == socket.AF_INET


@pytest.mark.parametrize("replies, message", [
    ([], "no answer from 10.0.0.53:53 within 1.0 s"),
    ([OSError("Connection refused")], "Connection refused"),
])
def test_query_udp_errors(replies, message):
    fake = FakeSocket(replies)
    with pytest.raises(_dns.DnsError, match=message):
        _dns.query_udp("a.test", "10.0.0.53", 53, 1.0, make_socket=fake, qid=1)
    assert fake.closed


def test_system_lookup_sorts_and_dedups():
    infos = [(2, 1, 6, "", ("10.0.0.2", 0)), (2, 1, 6, "", ("10.0.0.1", 0)), (2, 1, 6, "", ("10.0.0.2", 0))]
    assert _dns.system_lookup("x", getaddrinfo=lambda *a: infos) == ("NOERROR", ["10.0.0.1", "10.0.0.2"])


def test_system_lookup_nxdomain():
    def fail(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert _dns.system_lookup("x", getaddrinfo=fail) == ("NXDOMAIN", [])


def test_resolve_uses_the_server_or_the_system_and_keeps_errors():
    def query(name, host, port, timeout):
        if name == "down.test":
            raise _dns.DnsError("no answer")
        return "NOERROR", ["10.0.0.9", "10.0.0.9"]
    records = _dns.resolve(["a.test", "down.test"], server=("10.0.0.53", 53), query=query)
    assert records == [
        {"name": "a.test", "addresses": ["10.0.0.9"], "rcode": "NOERROR", "error": None},
        {"name": "down.test", "addresses": [], "rcode": None, "error": "no answer"},
    ]
    system = _dns.resolve(["b.test"], lookup=lambda name: ("NOERROR", ["10.0.0.8"]))
    assert system[0]["addresses"] == ["10.0.0.8"]


def record(name, addresses=(), rcode="NOERROR", error=None):
    return {"name": name, "addresses": list(addresses), "rcode": rcode, "error": error}


@pytest.mark.parametrize("records, expected, mismatched, reason", [
    ([record("a.test", ["10.0.0.1"])], ["10.0.0.1"], [], None),
    ([record("a.test", ["10.0.0.1"])], ["10.0.0.2", "10.0.0.1"], [], None),
    ([record("a.test", ["10.0.0.9"])], ["10.0.0.1"], ["a.test"], "resolves to 10.0.0.9, expected 10.0.0.1"),
    ([record("a.test", ["10.0.0.1", "10.0.0.9"])], ["10.0.0.1"], ["a.test"], "resolves to 10.0.0.1, 10.0.0.9"),
    ([record("a.test", rcode="NXDOMAIN")], ["10.0.0.1"], ["a.test"], "no A record (NXDOMAIN)"),
    ([record("a.test", rcode=None, error="no answer")], ["10.0.0.1"], ["a.test"], "lookup failed: no answer"),
])
def test_compare(records, expected, mismatched, reason):
    mismatches = _dns.compare(records, expected)
    assert [m["name"] for m in mismatches] == mismatched
    if reason:
        assert reason in mismatches[0]["reason"]
        assert mismatches[0]["expected"] == sorted(expected)


def test_describe_names_each_domain():
    mismatches = _dns.compare([record("a.test", ["10.0.0.9"]), record("b.test", rcode="NXDOMAIN")], ["10.0.0.1"])
    text = _dns.describe(mismatches)
    assert text.startswith("a.test resolves to 10.0.0.9, expected 10.0.0.1; b.test no A record")
