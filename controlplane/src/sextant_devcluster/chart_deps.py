"""`python -m sextant_devcluster.chart_deps`: the Sextant chart's dependencies in charts/sextant/charts/.

What `helm dependency build charts/sextant` does from the dependencies' Helm repositories, without the network
(nothing outside the package registries is reachable here): the Dask Kubernetes operator's chart is packaged from
the pinned dask-kubernetes wheel, which ships it, at the version Chart.yaml asks for. Helm refuses to install a
chart whose dependency is missing from charts/ even when its condition is off, so every install from this
checkout (`make demo`, the tests, manifests/render.py) runs this first. The packages are build output (ignored by
git); a chart released to a repository carries them inside.
"""

from __future__ import annotations

import argparse
import importlib.resources
import subprocess
from pathlib import Path

import yaml

from sextant_devcluster.cli import DEFAULT_BIN_DIR

CHART = Path(__file__).resolve().parents[3] / "charts" / "sextant"
#: Dependencies this module can package, by chart name: where the pinned wheel keeps each chart.
SOURCES = {"dask-kubernetes-operator": ("dask_kubernetes", "operator/deployment/helm/dask-kubernetes-operator")}


def dependency_versions(chart: Path = CHART) -> dict[str, str]:
    """Chart name -> version of the chart's dependencies (Chart.yaml)."""
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    return {d["name"]: str(d["version"]) for d in metadata.get("dependencies") or []}


def source_chart(name: str) -> Path:
    package, path = SOURCES[name]
    return Path(str(importlib.resources.files(package))) / path


def ensure(helm: Path, chart: Path = CHART) -> list[Path]:
    """Package each dependency into chart/charts/ unless it is there already; returns the packages."""
    packages = []
    for name, version in dependency_versions(chart).items():
        if name not in SOURCES:
            raise SystemExit(f"{chart}/Chart.yaml depends on {name}, which no pinned package ships: add it to "
                             f"SOURCES in {__file__}, or run `helm dependency build {chart}` with network access")
        package = chart / "charts" / f"{name}-{version}.tgz"
        if not package.exists():
            for stale in (chart / "charts").glob(f"{name}-*.tgz"):  # another version: Helm would see two
                stale.unlink()
            subprocess.run([str(helm), "package", str(source_chart(name)), "--version", version, "--app-version",
                            version, "--destination", str(chart / "charts")], check=True, capture_output=True)
        packages.append(package)
    return packages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helm", type=Path, default=DEFAULT_BIN_DIR / "helm")
    args = parser.parse_args()
    for package in ensure(args.helm):
        print(f"chart dependency {package.relative_to(CHART.parents[1])}")


if __name__ == "__main__":
    main()
