"""Runs nginx and keeps its upstreams equal to the ready variants (probing each variant's /readyz)."""

from __future__ import annotations

import json
import logging
import os
import pwd
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .nginx_conf import active_variants, render_nginx_conf
from .spec import RouterSpec, Upstream

log = logging.getLogger("sextant_services.router")


def probe_ready(upstream: Upstream, timeout: float = 1.0) -> bool:
    """True when the variant's /readyz answers 200."""
    try:
        with urllib.request.urlopen(upstream.url + "/readyz", timeout=timeout) as resp:  # noqa: S310 - http only
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


class RouterController:
    """Observe readiness, render the config (pure), apply it by reloading nginx only when it changed."""

    def __init__(self, spec: RouterSpec, run_dir: Path, nginx: str = "nginx", spec_path: Path | None = None) -> None:
        self.run_dir = run_dir
        self.nginx = nginx
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready: frozenset[str] | None = None
        # The operator rewrites the spec (a mounted ConfigMap) when weights or versions change: reread it.
        self._spec_path = spec_path
        self._spec_text = spec_path.read_text() if spec_path is not None else None
        self._use(spec)

    def _use(self, spec: RouterSpec) -> None:
        self.spec = spec
        self._upstreams = [*spec.variants, *([spec.shadow] if spec.shadow else [])]
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._upstreams)))
        self._ready = None  # render and reload at the next apply even if readiness is unchanged

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
        results = self._pool.map(probe_ready, self._upstreams)
        return frozenset(u.name for u, ok in zip(self._upstreams, results, strict=True) if ok)

    def _write(self, ready: frozenset[str]) -> None:
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        conf = render_nginx_conf(self.spec, ready, self.run_dir, user)
        tmp = self.run_dir / "nginx.conf.tmp"
        tmp.write_text(conf)
        os.replace(tmp, self.run_dir / "nginx.conf")
        routes = {v.name: v.weight for v in active_variants(self.spec, ready)}
        status = {"ready": sorted(ready), "routes": routes,
                  "shadow": self.spec.shadow.name if self.spec.shadow and self.spec.shadow.name in ready else None}
        (self.run_dir / "status.json.tmp").write_text(json.dumps(status))
        os.replace(self.run_dir / "status.json.tmp", self.run_dir / "status.json")

    def apply(self, ready: frozenset[str]) -> None:
        if ready == self._ready:
            return
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
            while not self._stop.is_set():
                self.reload_spec_if_changed()
                self.apply(self.observe())
                if self._proc is not None and self._proc.poll() is not None:
                    log.error("nginx exited with %s; see %s", self._proc.returncode, self.run_dir / "error.log")
                    return 1
                self._stop.wait(self.spec.probe_interval_s)
            return 0
        finally:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.send_signal(signal.SIGQUIT)  # graceful shutdown
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
