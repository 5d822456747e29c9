"""The Argo CD health checks in docs/argocd, run by a real Lua 5.1 (what Argo CD's gopher-lua speaks) against
recorded TrainingJob, InferenceService and BatchPrediction objects: every case gives the expected health, and no
partial status makes a script fail (Argo CD would show the resource's health as an error)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "argocd"
HERE = Path(__file__).parent
KINDS = {"TrainingJob": "trainingjob", "InferenceService": "inferenceservice", "BatchPrediction": "batchprediction"}
HEALTH = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing"}


def run_check(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    """Run the kind's script with `obj` as Argo CD does (a global `obj`, the script returns `hs`); a Lua error
    raises lupa's LuaError and fails the test."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    hs = lua.execute((DOCS / f"{KINDS[kind]}-health.lua").read_text())
    result = {"status": hs["status"], "message": hs["message"]}
    assert result["status"] in HEALTH and isinstance(result["message"], str) and result["message"], result
    return result


def cases(kind: str) -> list[Any]:
    recorded = yaml.safe_load((HERE / f"{KINDS[kind]}-statuses.yaml").read_text())
    return [pytest.param(kind, c["object"], c["expect"], id=f"{kind}: {c['case']}") for c in recorded]


@pytest.mark.parametrize(("kind", "obj", "expect"), cases("TrainingJob") + cases("InferenceService") +
                         cases("BatchPrediction"))
def test_recorded_status_gives_the_expected_health(kind: str, obj: dict[str, Any], expect: dict[str, str]) -> None:
    result = run_check(kind, obj)
    assert result["status"] == expect["status"], result
    assert expect["message"] in result["message"], result


def _partials(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The object with each status field removed in turn, and each field of each condition and run."""
    out = []
    status = obj.get("status") or {}
    for key in status:
        partial = copy.deepcopy(obj)
        del partial["status"][key]
        out.append(partial)
    for listed in ("conditions", "runs", "variants"):
        for i, item in enumerate(status.get(listed) or []):
            for key in item:
                partial = copy.deepcopy(obj)
                del partial["status"][listed][i][key]
                out.append(partial)
    for key in ("metadata",):
        partial = copy.deepcopy(obj)
        partial.pop(key, None)
        out.append(partial)
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_partial_status_makes_the_check_fail(kind: str) -> None:
    checked = 0
    for param in cases(kind):
        for partial in _partials(param.values[1]):
            run_check(kind, partial)  # raises LuaError on e.g. indexing a missing table
            checked += 1
    assert checked > 50


@pytest.mark.parametrize("kind", list(KINDS))
def test_odd_shapes_do_not_make_the_check_fail(kind: str) -> None:
    for status in ({"conditions": "not a list"}, {"conditions": [None, 3, {"type": "Ready"}]}, {"runs": [1, "x"]},
                   {"phase": 3, "message": 4}, {"observedGeneration": "7"}, {"nextScheduleTime": "", "phase": "X"}):
        run_check(kind, {"metadata": {"generation": 7}, "status": status})


def test_the_readme_carries_the_scripts_unchanged() -> None:
    readme = (DOCS / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme, re.S)]
    argocd_cm = next(b for b in blocks if b.get("metadata", {}).get("name") == "argocd-cm")
    for kind, stem in KINDS.items():
        script = (DOCS / f"{stem}-health.lua").read_text()
        assert argocd_cm["data"][f"resource.customizations.health.ml.sextant.io_{kind}"] == script, \
            f"README's {kind} script differs from {stem}-health.lua"
