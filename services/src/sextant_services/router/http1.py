"""Reading HTTP/1.1 messages from asyncio streams: what the relay, the activator and the tests' tiny servers share."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

MAX_HEAD_BYTES = 64 * 1024
#: Headers that describe one connection, not the message, never passed on by a proxy (RFC 9110 section 7.6.1); and
#: Content-Length, which the proxy sets itself for the body it sends.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "content-length"})


async def read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]] | None:
    """The start line and headers of one HTTP/1.1 message; None at a clean end of the stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionError("connection closed inside a message head") from exc
        return None
    start, *rest = raw[:-4].decode("latin-1").split("\r\n")
    headers = []
    for line in rest:
        name, sep, value = line.partition(":")
        if not sep:
            raise ConnectionError(f"malformed header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return start, headers


async def read_body(reader: asyncio.StreamReader, headers: Iterable[tuple[str, str]], until_eof: bool) -> bytes:
    """A message body by Content-Length or chunked encoding (or, for a response without either, to EOF)."""
    lower = {k.lower(): v for k, v in headers}
    if "chunked" in lower.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if "content-length" in lower:
        return await reader.readexactly(int(lower["content-length"]))
    return await reader.read() if until_eof else b""
