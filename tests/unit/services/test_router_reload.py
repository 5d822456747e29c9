"""The router follows its mounted spec: the operator rewrites it (a ConfigMap) when weights or versions change."""

from __future__ import annotations

import json
from pathlib import Path

from sextant_services.router.controller import RouterController
from sextant_services.router.spec import RouterSpec


def _write(path: Path, weights: dict[str, int]) -> None:
    variants = [{"name": n, "url": f"http://{n}.ml.svc:80", "weight": w} for n, w in weights.items()]
    path.write_text(json.dumps({"listen": "127.0.0.1:8080", "variants": variants}))


def test_a_changed_spec_file_is_used_and_an_invalid_one_is_ignored(tmp_path: Path) -> None:
    spec_path = tmp_path / "router.json"
    _write(spec_path, {"a-v1": 100})
    controller = RouterController(RouterSpec.load(spec_path), tmp_path / "run", spec_path=spec_path)
    controller.reload_spec_if_changed()
    assert [(v.name, v.weight) for v in controller.spec.variants] == [("a-v1", 100)]
    _write(spec_path, {"a-v1": 85, "b-v2": 15})
    controller.reload_spec_if_changed()
    assert [(v.name, v.weight) for v in controller.spec.variants] == [("a-v1", 85), ("b-v2", 15)]
    spec_path.write_text(json.dumps({"variants": []}))  # invalid: the current routes stay
    controller.reload_spec_if_changed()
    assert [(v.name, v.weight) for v in controller.spec.variants] == [("a-v1", 85), ("b-v2", 15)]
