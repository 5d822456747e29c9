"""The Dockerfile agrees with the chart, and the operator's layers only import downward."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from tests.support.resources import REPO

OPERATOR = REPO / "operator/src/sextant_operator"


def test_dockerfile_user_ports_and_entrypoint_match_the_chart() -> None:
    dockerfile = (REPO / "operator/Dockerfile").read_text()
    values = yaml.safe_load((REPO / "charts/sextant/values.yaml").read_text())
    deployment = (REPO / "charts/sextant/templates/deployment.yaml").read_text()
    assert "USER 65532:65532" in dockerfile and "runAsUser: 65532" in deployment
    exposed = {int(p) for p in re.findall(r"^EXPOSE (.+)$", dockerfile, re.M)[0].split()}
    assert exposed == {values["metrics"]["healthPort"], values["webhook"]["port"]}
    assert 'ENTRYPOINT ["python", "-m", "sextant_operator"]' in dockerfile
    assert (OPERATOR / "__main__.py").exists()
    assert "uv sync --frozen" in dockerfile  # pinned by uv.lock
    chart = yaml.safe_load((REPO / "charts/sextant/Chart.yaml").read_text())
    assert f"sextant-operator:{chart['appVersion']}" in dockerfile


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
    return names


def test_pure_layers_do_not_import_kopf_or_kubernetes() -> None:
    pure = [*(OPERATOR / "reconcile").glob("*.py"),
            OPERATOR / "config.py", *(REPO / "contracts/src/sextant_contracts").rglob("*.py")]
    for path in pure:
        imported = _imports(path)
        assert not any(n.split(".")[0] in ("kopf", "kubernetes", "aiohttp") for n in imported), path
        assert not any(".handlers" in n or n.startswith("..admission.webhook") for n in imported), path


def test_every_module_starts_with_a_docstring() -> None:
    for path in [*OPERATOR.rglob("*.py"), *(REPO / "contracts/src/sextant_contracts/resources").glob("*.py"),
                 REPO / "contracts/src/sextant_contracts/catalogue.py"]:
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"
        assert len(path.read_text().splitlines()) <= 400, f"{path} is past 400 lines"


def test_import_contracts_are_kept() -> None:
    import subprocess
    import sys

    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--config", str(REPO / "operator/importlinter.ini"),
                             "--no-cache"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout
