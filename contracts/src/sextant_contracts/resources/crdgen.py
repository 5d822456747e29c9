"""Writes the generated CRD YAML into the Helm chart and the kustomize base, or checks the copies agree.

Usage: python -m sextant_contracts.resources.crdgen [--check] [--root REPO]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .crd import KINDS, Kind, build_crd

HEADER = "# Generated from sextant_contracts.resources by `python -m sextant_contracts.resources.crdgen`.\n" \
         "# Do not edit: change the typed models and regenerate.\n"
TARGET_DIRS = ("charts/sextant/crds", "manifests/crds")


def crd_filename(kind: Kind) -> str:
    return f"ml.sextant.io_{kind.plural}.yaml"


def render_crd(kind: Kind) -> str:
    """The CRD as YAML text with the generated-file header."""
    body = yaml.safe_dump(build_crd(kind), sort_keys=False, width=110, allow_unicode=True)
    return HEADER + body


def render_kustomization() -> str:
    names = "\n".join(f"  - {crd_filename(k)}" for k in KINDS)
    return HEADER + f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{names}\n"


def expected_files(root: Path) -> dict[Path, str]:
    """Every generated file and its content."""
    files = {root / d / crd_filename(k): render_crd(k) for d in TARGET_DIRS for k in KINDS}
    files[root / "manifests/crds/kustomization.yaml"] = render_kustomization()
    return files


def stale_files(root: Path) -> list[Path]:
    """Generated files that are missing or differ from what the models produce."""
    return [p for p, text in expected_files(root).items() if not p.exists() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated file is stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.root)
        for path in stale:
            print(f"stale: {path} (run python -m sextant_contracts.resources.crdgen)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected_files(args.root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
