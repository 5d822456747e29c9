"""Runs nginx and keeps its upstreams equal to the ready variants (probing each variant's /readyz)."""

from __future__ import annotations

import json
import logging
import os
import pwd
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .activator import Activator, ActivatorThread
from .nginx_conf import activator_socket, active_variants, relay_socket, render_nginx_conf, uses_relay
from .probing import ResolvedAddresses, probe_ready
from .readiness import ReadinessHysteresis
from .relay import RelayThread, ShadowRelay, render_metrics
from .spec import RouterSpec, Upstream

log = logging.getLogger("sextant_services.router")


class RouterController:
    """Observe readiness, render the config (pure), apply it by reloading nginx only when it changed."""

    def __init__(self, spec: RouterSpec, run_dir: Path, nginx: str = "nginx", spec_path: Path | None = None) -> None:
        self.run_dir = run_dir
        self.nginx = nginx
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready: frozenset[str] | None = None
        self._relay: RelayThread | None = None
        self._activator: ActivatorThread | None = None
        self._status = ""
        self._readiness: ReadinessHysteresis[tuple[str, str]] = ReadinessHysteresis()
        self._addresses = ResolvedAddresses()
        # The operator rewrites the spec (a mounted ConfigMap) when weights or versions change: reread it.
        self._spec_path = spec_path
        self._spec_text = spec_path.read_text() if spec_path is not None else None
        self._use(spec)

    def _use(self, spec: RouterSpec) -> None:
        previous = getattr(self, "spec", None)
        self.spec = spec
        self._upstreams: list[Upstream] = [*spec.variants, *([spec.shadow] if spec.shadow else [])]
        previous_pool: ThreadPoolExecutor | None = getattr(self, "_pool", None)
        if previous_pool is not None:
            previous_pool.shutdown(wait=False)  # its threads finish their probe and exit
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._upstreams)))
        self._ready = None  # render and reload at the next apply even if readiness is unchanged
        if previous is not None and previous.shadow != spec.shadow and self._relay is not None:
            self._relay.stop()  # another shadow (or none): the relay starts again for the new one
            self._relay = None
        if previous is not None and self._relay is None:
            self.start_relay()
        if previous is not None:
            self.start_activator()

    def reload_spec_if_changed(self) -> None:
        """Switch to the spec file's new content; a file that does not parse keeps the current spec (logged)."""
        if self._spec_path is None:
            return
        try:
            text = self._spec_path.read_text()
        except OSError as exc:
            log.warning("cannot read %s, keeping the current routes: %s", self._spec_path, exc)
            return
        if text == self._spec_text:
            return
        self._spec_text = text
        try:
            spec = RouterSpec.load(self._spec_path)
        except ValueError as exc:
            log.error("the new router spec is invalid, keeping the current routes: %s", exc)
            return
        log.info("router spec changed: %s", {v.name: v.weight for v in spec.variants})
        self._use(spec)

    def stop_soon(self) -> None:
        self._stop.set()

    def observe(self) -> frozenset[str]:
        """Probe every upstream once; the names to route to after the failure threshold (readiness.py)."""
        results = self._pool.map(lambda upstream: probe_ready(upstream, self._addresses), self._upstreams)
        routed = self._readiness.update({(u.name, u.url): ok for u, ok in zip(self._upstreams, results,
                                                                                strict=True)})
        return frozenset(name for name, _ in routed)

    def _write(self, ready: frozenset[str]) -> None:
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        relay_port = self._relay.relay.udp_port if self._relay else None
        conf = render_nginx_conf(self.spec, ready, self.run_dir, user, relay_port)
        tmp = self.run_dir / "nginx.conf.tmp"
        tmp.write_text(conf)
        os.replace(tmp, self.run_dir / "nginx.conf")

    def status(self, ready: frozenset[str]) -> dict[str, object]:
        """What /router/status shows: the configuration it routes by, ready variants, routes, the mirrored shadow
        and what became of its copies."""
        shadow = self.spec.shadow
        mirrored = shadow is not None and uses_relay(self.spec) and shadow.name in ready
        status: dict[str, object] = {"configDigest": self.spec.config_digest, "ready": sorted(ready),
                                     "routes": {v.name: v.weight for v in active_variants(self.spec, ready)},
                                     "shadow": shadow.name if mirrored and shadow else None}
        if shadow is not None:
            status["mirror"] = {"shadow": shadow.name, "percent": shadow.percent, "active": mirrored,
                                **(self._relay.counters() if self._relay else {})}
        if self._activator is not None:
            status["activation"] = {"timeoutSeconds": self._activator.activator.timeout_s,
                                    **self._activator.counters()}
        return status

    def write_status(self, ready: frozenset[str]) -> None:
        text = json.dumps(self.status(ready))
        if text == self._status:
            return
        (self.run_dir / "status.json.tmp").write_text(text)
        os.replace(self.run_dir / "status.json.tmp", self.run_dir / "status.json")
        self._status = text

    def start_relay(self) -> None:
        """Raises RuntimeError when the relay cannot listen on its socket."""
        shadow = self.spec.shadow
        if shadow is None or not uses_relay(self.spec):
            return
        relay = ShadowRelay(relay_socket(self.run_dir), shadow.name, shadow.url, shadow.queue_size,
                            shadow.queue_bytes, shadow.concurrency)
        self._relay = RelayThread(relay)
        self._relay.start()
        log.info("copying %d%% of the requests to shadow %s through the relay on udp 127.0.0.1:%d (queue: %d "
                 "copies, %d senders)", shadow.percent, shadow.name, relay.udp_port, shadow.queue_size,
                 shadow.concurrency)

    def start_activator(self) -> None:
        """Hold requests while nothing is ready when the spec asks for it (and stop holding when it no longer
        does). Raises RuntimeError when the activator cannot listen on its socket."""
        timeout = self.spec.activation_timeout_s
        if timeout is None:
            if self._activator is not None:
                self._activator.stop()
                self._activator = None
            return
        if self._activator is not None:
            self._activator.activator.timeout_s = timeout  # read by the activator at each new request
            return
        activator = Activator(activator_socket(self.run_dir), timeout, self._relay_metrics)
        self._activator = ActivatorThread(activator)
        self._activator.start()
        self._ready = None  # the next apply tells it the routes
        log.info("holding requests for up to %g s while no variant is ready (scale from zero)", timeout)

    def _relay_metrics(self) -> str:
        relay = self._relay
        return render_metrics(relay.relay.counters, relay.relay.shadow_name) if relay is not None else ""

    def apply(self, ready: frozenset[str]) -> None:
        if ready == self._ready:
            return  # a new spec or a (re)started activator resets _ready, so both see the next routes
        if self._activator is not None:
            self._activator.route_to(active_variants(self.spec, ready))
        self._write(ready)
        if self._proc is None:
            cmd = [self.nginx, "-c", str(self.run_dir / "nginx.conf"), "-p", str(self.run_dir), "-g", "daemon off;"]
            self._proc = subprocess.Popen(cmd)
        else:
            self._proc.send_signal(signal.SIGHUP)  # graceful reload: new workers, old ones finish requests
        routes = {v.name: v.weight for v in active_variants(self.spec, ready)}
        log.info("routing %s (ready: %s); next probe in %.1f s", routes or "nothing: no variant is ready",
                 sorted(ready), self.spec.probe_interval_s)
        self._ready = ready

    def run(self) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.start_relay()
            self.start_activator()
            while not self._stop.is_set():
                self.reload_spec_if_changed()
                ready = self.observe()
                self.apply(ready)
                self.write_status(ready)
                if self._proc is not None and self._proc.poll() is not None:
                    log.error("nginx exited with %s; see %s", self._proc.returncode, self.run_dir / "error.log")
                    return 1
                self._stop.wait(self.spec.probe_interval_s)
            return 0
        except RuntimeError as exc:
            log.error("cannot start the router: %s", exc)
            return 1
        finally:
            for helper in (self._relay, self._activator):
                if helper is not None:
                    helper.stop()
            if self._proc is not None and self._proc.poll() is None:
                self._proc.send_signal(signal.SIGQUIT)  # graceful shutdown
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
