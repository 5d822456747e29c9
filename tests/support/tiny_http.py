"""A tiny real HTTP/1.1 server and load generator for router tests (asyncio on one thread: no GIL hand-offs
between connection threads to blur latency tails).

`python -m tests.support.tiny_http --port P --name NAME [--delay-ms D]`: `GET /readyz` is 200, `GET /count`
returns how many other requests it has answered, anything else answers `{"variant": NAME}` after D ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from urllib.parse import urlparse

from sextant_services.router.http1 import read_body, read_head


def _response(payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body))


async def serve(port: int, name: str, delay_s: float) -> None:
    counted = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal counted
        try:
            while (head := await read_head(reader)) is not None:
                start, headers = head
                await read_body(reader, headers, until_eof=False)
                path = start.split(" ")[1]
                if path == "/readyz":
                    writer.write(_response({"ready": True}))
                elif path == "/count":
                    writer.write(_response({"count": counted}))
                else:
                    if delay_s:
                        await asyncio.sleep(delay_s)  # the slow shadow being simulated
                    counted += 1
                    writer.write(_response({"variant": name}))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


async def alternate_load(urls: Sequence[str], requests_each: int, concurrency: int, path: str, body: bytes,
                         deadline_s: float) -> list[list[tuple[int, float]]]:
    """`concurrency` workers, each with one keep-alive connection per URL, sending to the URLs in turn (worker i
    starts at URL i mod n), so every URL sees the same moments of machine noise. Per URL: (status, seconds)."""
    results: list[list[tuple[int, float]]] = [[] for _ in urls]
    stop_at = time.monotonic() + deadline_s

    async def worker(first: int, rounds: int) -> None:
        conns = []
        for url in urls:
            u = urlparse(url)
            conns.append(await asyncio.open_connection(u.hostname, u.port))
        host = urlparse(urls[0]).netloc
        request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        try:
            for _ in range(rounds):
                for k in range(len(urls)):
                    i = (first + k) % len(urls)
                    if time.monotonic() > stop_at:
                        raise TimeoutError(f"the load did not finish within {deadline_s} s")
                    reader, writer = conns[i]
                    t0 = time.perf_counter()
                    writer.write(request)
                    head = await read_head(reader)
                    if head is None:
                        raise ConnectionError(f"{urls[i]} closed the connection")
                    await read_body(reader, head[1], until_eof=False)
                    results[i].append((int(head[0].split(" ")[1]), time.perf_counter() - t0))
        finally:
            for _, writer in conns:
                writer.close()

    await asyncio.gather(*(worker(w % len(urls), requests_each // concurrency) for w in range(concurrency)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.name, args.delay_ms / 1000))
    except ImportError:
        asyncio.run(serve(args.port, args.name, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
