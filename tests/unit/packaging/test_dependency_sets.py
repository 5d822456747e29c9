"""The lock file keeps each deployable's dependency set honest: the operator image stays free of ML libraries."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = {"scikit-learn", "pandas", "bentoml", "numpy", "scipy"}


def _lock() -> dict[str, dict[str, object]]:
    packages = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    return {p["name"]: p for p in packages}


def _closure(name: str, lock: dict[str, dict[str, object]]) -> set[str]:
    """Every package `name` pulls in at run time, per uv.lock (extras included, dev groups excluded)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        entry = lock[current]
        deps = list(entry.get("dependencies", []))  # type: ignore[call-overload]
        for extra_deps in dict(entry.get("optional-dependencies", {})).values():  # type: ignore[call-overload]
            deps += extra_deps
        todo += [d["name"] for d in deps]
    return seen


def test_operator_dependency_set_excludes_ml_libraries() -> None:
    closure = _closure("sextant-operator", _lock())
    assert "kopf" in closure and "kubernetes" in closure
    assert not closure & HEAVY, f"the operator would pull in {sorted(closure & HEAVY)}"


def test_contracts_stay_dependency_light() -> None:
    closure = _closure("sextant-contracts", _lock())
    assert not closure & (HEAVY | {"kopf", "kfp"}), sorted(closure)


@pytest.mark.parametrize("package", ["sextant-pipelines", "sextant-services"])
def test_ml_deployables_resolve_their_libraries(package: str) -> None:
    assert {"scikit-learn", "bentoml"} <= _closure(package, _lock())


def test_no_importable_module_shadows_the_standard_library_operator() -> None:
    shadows = [p for p in ROOT.glob("*/src/*") if p.name in {"operator", "operator.py"}]
    shadows += [p for p in ROOT.glob("*/src/operator.py")]
    assert not shadows
