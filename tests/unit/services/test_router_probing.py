"""A probe of /readyz over real loopback sockets: ready, refused, or no answer; names resolved once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sextant_services.router.probing import ResolvedAddresses, probe_ready
from sextant_services.router.spec import Upstream
from tests.support.processes import free_port


@contextmanager
def readyz_server(status: int, hosts: list[str] | None = None) -> Iterator[int]:
    """An HTTP server on loopback whose /readyz answers `status`; the Host headers it gets go to `hosts`."""
    seen = hosts if hosts is not None else []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.append(self.headers["Host"])
            self.send_response(status if self.path == "/readyz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


class CountingResolver:
    """Resolves every name to loopback and counts the lookups; names in `failing` do not resolve."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.calls = 0
        self.failing = failing

    def __call__(self, host: str, port: int) -> str:
        self.calls += 1
        if host in self.failing:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return "127.0.0.1"


def test_200_is_ready_and_other_answers_are_not() -> None:
    addresses = ResolvedAddresses()
    with readyz_server(200) as good, readyz_server(503) as loading:
        assert probe_ready(Upstream("a", f"http://127.0.0.1:{good}"), addresses) is True
        assert probe_ready(Upstream("b", f"http://127.0.0.1:{loading}"), addresses) is False


def test_a_refused_connection_is_not_ready_and_forgets_the_address() -> None:
    resolver = CountingResolver()
    addresses = ResolvedAddresses(resolver)
    upstream = Upstream("a", f"http://model.ns.svc.cluster.local:{free_port()}")  # nobody listens there
    assert probe_ready(upstream, addresses) is False
    assert probe_ready(upstream, addresses) is False
    assert resolver.calls == 2  # resolved again after each refusal: a re-created Service has a new address


def test_a_server_that_never_answers_is_no_answer_not_a_refusal() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        upstream = Upstream("a", f"http://127.0.0.1:{silent.getsockname()[1]}")
        assert probe_ready(upstream, ResolvedAddresses(), timeout=0.3) is None


def test_a_name_that_does_not_resolve_is_no_answer() -> None:
    addresses = ResolvedAddresses(CountingResolver(failing=frozenset({"gone.ns.svc.cluster.local"})))
    assert probe_ready(Upstream("a", "http://gone.ns.svc.cluster.local:80"), addresses) is None


def test_names_are_resolved_once_and_the_host_header_keeps_the_name() -> None:
    resolver = CountingResolver()
    addresses = ResolvedAddresses(resolver)
    hosts: list[str] = []
    with readyz_server(200, hosts) as port:
        upstream = Upstream("a", f"http://model.ns.svc.cluster.local:{port}")
        assert all(probe_ready(upstream, addresses) for _ in range(5))
    assert resolver.calls == 1
    assert hosts == [f"model.ns.svc.cluster.local:{port}"] * 5


def test_the_default_resolver_resolves_real_names() -> None:
    assert ResolvedAddresses().lookup("localhost", 1) in {"127.0.0.1", "::1"}
