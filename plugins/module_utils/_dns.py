# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: DNS A-record lookups (raw queries over UDP, no dnspython) and comparing answers.

Building and parsing packets and comparing answers are free of side effects; ``query_udp`` and
``resolve`` only call the socket functions they are given, so tests can drive them without a network.
"""

from __future__ import annotations

import random
import re
import socket
import struct

TYPE_A = 1
CLASS_IN = 1
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


class DnsError(Exception):
    """A lookup that could not be answered (no reply, malformed reply)."""


def parse_server(server, default_port=53):
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port). Raises ValueError."""
    server = (server or "").strip()
    if not server:
        raise ValueError("empty resolver address")
    if server.startswith("["):
        host, sep, rest = server[1:].partition("]")
        if not sep:
            raise ValueError("resolver %r: missing ']'" % server)
        port = rest[1:] if rest.startswith(":") else ""
    elif server.count(":") == 1:
        host, port = server.split(":")
    else:
        host, port = server, ""
    if not host:
        raise ValueError("resolver %r: no host" % server)
    if port:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("resolver %r: port must be 1-65535" % server)
        return host, int(port)
    return host, default_port


def encode_name(name):
    """A domain name in DNS wire format. Raises ValueError for a name that is not a hostname."""
    name = name.rstrip(".")
    labels = name.split(".") if name else []
    if not labels or any(not _LABEL.match(label) for label in labels) or len(name) > 253:
        raise ValueError("%r is not a valid hostname" % name)
    return b"".join(struct.pack("B", len(label)) + label.encode("ascii") for label in labels) + b"\x00"


def build_query(name, qid, qtype=TYPE_A):
    """A recursive (RD) query for one name."""
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack(">HH", qtype, CLASS_IN)


def _read_name(data, offset):
    """(name, offset after the name) for a possibly compressed name at ``offset``."""
    labels = []
    end = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise DnsError("truncated name in reply")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise DnsError("truncated pointer in reply")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            if jumps > 20:
                raise DnsError("compression loop in reply")
            continue
        if length == 0:
            offset += 1
            break
        labels.append(data[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    return ".".join(labels), (end if end is not None else offset)


def parse_response(data, qid):
    """(rcode name, [IPv4 addresses]) from a reply to query ``qid``; CNAME chains are followed in the answer."""
    if len(data) < 12:
        raise DnsError("reply too short (%d bytes)" % len(data))
    rid, flags, qdcount, ancount, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    if rid != qid:
        raise DnsError("reply id %d does not match query id %d" % (rid, qid))
    if not flags & 0x8000:
        raise DnsError("not a reply")
    if flags & 0x0200:
        raise DnsError("reply truncated (TC set)")
    rcode = RCODES.get(flags & 0x000F, "RCODE%d" % (flags & 0x000F))
    offset = 12
    for _question in range(qdcount):
        _name, offset = _read_name(data, offset)
        offset += 4
    addresses = []
    for _record in range(ancount):
        _name, offset = _read_name(data, offset)
        if offset + 10 > len(data):
            raise DnsError("truncated record in reply")
        rtype, rclass, _ttl, rdlength = struct.unpack(">HHIH", data[offset:offset + 10])
        offset += 10
        rdata = data[offset:offset + rdlength]
        offset += rdlength
        if rtype == TYPE_A and rclass == CLASS_IN and rdlength == 4:
            addresses.append(socket.inet_ntoa(rdata))
    return rcode, addresses


def query_udp(name, host, port, timeout, make_socket=None, qid=None):
    """Send one A query to ``host:port`` over UDP and return (rcode, addresses). Raises DnsError."""
    qid = random.randint(0, 0xFFFF) if qid is None else qid
    packet = build_query(name, qid)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = (make_socket or socket.socket)(family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.sendto(packet, (host, port))
        while True:
            try:
                data, _peer = sock.recvfrom(4096)
            except socket.timeout:
                raise DnsError("no answer from %s:%d within %s s" % (host, port, timeout))
            except OSError as exc:
                raise DnsError("query to %s:%d failed: %s" % (host, port, exc))
            try:
                return parse_response(data, qid)
            except DnsError as exc:
                if "does not match" in str(exc):
                    continue  # a late reply to an earlier query
                raise
    finally:
        sock.close()


def system_lookup(name, getaddrinfo=None):
    """(rcode, addresses) through the host's own resolver (getaddrinfo, IPv4 only)."""
    try:
        infos = (getaddrinfo or socket.getaddrinfo)(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return "NXDOMAIN" if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -2)) else "ERROR", []
    return "NOERROR", sorted(set(info[4][0] for info in infos))


def resolve(names, server=None, timeout=3.0, query=None, lookup=None):
    """One record per name: {name, addresses, rcode, error}. ``server``: (host, port) or None for the system resolver."""
    query = query or query_udp
    lookup = lookup or system_lookup
    records = []
    for name in names:
        record = {"name": name, "addresses": [], "rcode": None, "error": None}
        try:
            if server is None:
                record["rcode"], addresses = lookup(name)
            else:
                record["rcode"], addresses = query(name, server[0], server[1], timeout)
            record["addresses"] = sorted(set(addresses))
        except (DnsError, ValueError) as exc:
            record["error"] = str(exc)
        records.append(record)
    return records


def compare(records, expected):
    """The records whose answer is not exactly within ``expected`` addresses, each with a reason."""
    expected = sorted(set(expected))
    mismatches = []
    for record in records:
        if record["error"]:
            reason = "lookup failed: %s" % record["error"]
        elif not record["addresses"]:
            reason = "no A record (%s)" % (record["rcode"] or "no answer")
        else:
            others = [a for a in record["addresses"] if a not in expected]
            if not others:
                continue
            reason = "resolves to %s, expected %s" % (", ".join(record["addresses"]), " or ".join(expected))
        mismatches.append({"name": record["name"], "addresses": record["addresses"], "expected": expected, "reason": reason})
    return mismatches


def describe(mismatches):
    """One readable line per mismatching name."""
    return "; ".join("%s %s" % (m["name"], m["reason"]) for m in mismatches)
