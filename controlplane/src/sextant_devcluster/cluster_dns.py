"""Asks the cluster's DNS server for a name's IPv4 addresses: CoreDNS's readiness check, and for tests."""

from __future__ import annotations

import secrets
import socket
import struct

API_SERVICE_NAME = "kubernetes.default.svc.cluster.local"
_TYPE_A = 1
_CLASS_IN = 1


def build_query(name: str, query_id: int) -> bytes:
    """A DNS query (RFC 1035) for the A records of `name`, recursion desired."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(part)]) + part.encode("ascii") for part in name.rstrip(".").split("."))
    return header + labels + b"\0" + struct.pack("!HH", _TYPE_A, _CLASS_IN)


def _skip_name(message: bytes, offset: int) -> int:
    while True:
        length = message[offset]
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def parse_a_records(message: bytes, query_id: int) -> tuple[int, list[str]]:
    """(response code, IPv4 addresses) of an answer to the query `query_id`; raises ValueError otherwise."""
    if len(message) < 12:
        raise ValueError("DNS answer shorter than its header")
    answer_id, flags, questions, answers, _, _ = struct.unpack("!HHHHHH", message[:12])
    if answer_id != query_id or not flags & 0x8000:
        raise ValueError("not an answer to this query")
    offset = 12
    for _ in range(questions):
        offset = _skip_name(message, offset) + 4
    addresses = []
    for _ in range(answers):
        offset = _skip_name(message, offset)
        record_type, _, _, length = struct.unpack("!HHIH", message[offset:offset + 10])
        offset += 10
        if record_type == _TYPE_A and length == 4:
            addresses.append(socket.inet_ntoa(message[offset:offset + 4]))
        offset += length
    return flags & 0x000F, addresses


def resolve(name: str, server: str, timeout: float = 1.0) -> list[str]:
    """The A records `server` (port 53, UDP) gives for `name`; empty when it has none or does not answer."""
    query_id = secrets.randbelow(0xFFFF)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(build_query(name, query_id), (server, 53))
            code, addresses = parse_a_records(sock.recv(4096), query_id)
        except (OSError, ValueError):
            return []
    return addresses if code == 0 else []


def resolves(name: str, server: str) -> bool:
    return bool(resolve(name, server))
