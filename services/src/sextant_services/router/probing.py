"""One probe of a variant's /readyz, with three outcomes: ready, not ready, or no answer.

- ready (True): /readyz answered 200;
- not ready (False): something answered and said no — a non-200 status, or a refused or reset connection (kube-proxy
  rejects connections to a Service without ready endpoints, so a variant scaled to zero or whose pods the kubelet
  took out lands here);
- no answer (None): the probe timed out or the name did not resolve. On a busy 2-core node this is what overload
  looks like — the CoreDNS pod or the server's event loop is late — while nginx, which resolved the names at its
  last reload, keeps serving. readiness.py takes such a variant out only after a long silence; a hung pod is the
  kubelet's to find (its readiness probe removes it from the Service, which turns the silence into a refusal).

Names are resolved once and the address reused (nginx also resolves only when it reloads): a probe per variant
per second no longer costs several DNS lookups (ndots 5 tries the search domains first), nor fails when CoreDNS
is slow. A refusal forgets the address, so a Service deleted and created again is found at its new address.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from .spec import Upstream

#: Seconds a probe waits for /readyz before it counts as no answer.
PROBE_TIMEOUT_S = 2.0

Outcome = bool | None


def resolve_first(host: str, port: int) -> str:
    """The first address `host` resolves to (raises OSError when it does not)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"{host} resolved to no address")
    return str(infos[0][4][0])


class ResolvedAddresses:
    """host -> address, resolved on first use and kept until forgotten. Thread-safe (probes run in a pool)."""

    def __init__(self, resolve: Callable[[str, int], str] = resolve_first) -> None:
        self._resolve = resolve
        self._known: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def lookup(self, host: str, port: int) -> str | None:
        """The address to probe, or None when the name does not resolve now."""
        with self._lock:
            known = self._known.get((host, port))
        if known is not None:
            return known
        try:
            address = self._resolve(host, port)
        except OSError:
            return None
        with self._lock:
            self._known[(host, port)] = address
        return address

    def forget(self, host: str, port: int) -> None:
        with self._lock:
            self._known.pop((host, port), None)


def probe_ready(upstream: Upstream, addresses: ResolvedAddresses, timeout: float = PROBE_TIMEOUT_S) -> Outcome:
    """GET the variant's /readyz at its resolved address: True, False or None as the module says."""
    url = urlsplit(upstream.url)
    host, port = url.hostname or "", url.port or 80
    address = addresses.lookup(host, port)
    if address is None:
        return None
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", "/readyz", headers={"Host": url.netloc})
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except (ConnectionRefusedError, ConnectionResetError):
        addresses.forget(host, port)
        return False
    except http.client.HTTPException:  # an answer that is not HTTP: something is there, and it is not ready
        return False
    except OSError:  # timeouts, unreachable routes: nothing definite came back
        return None
    finally:
        connection.close()
