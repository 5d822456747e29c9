"""Renders the kustomize bases rbac/, operator/ and webhook/ from the Helm chart, so the two never disagree.

Usage: .venv/bin/python manifests/render.py [--check] [--helm PATH]
The CRDs in crds/ come from the typed models instead (python -m sextant_contracts.resources.crdgen).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CHART = HERE.parent / "charts" / "sextant"
NAMESPACE = "sextant-system"
RELEASE = "sextant"
HEADER = "# Generated from charts/sextant by manifests/render.py. Do not edit: change the chart and re-render.\n"
KUBE_VERSION = "1.35.4"
# Plain manifests cannot generate certificates: the operator base runs without the webhook, and the
# operator-webhook/ base (used by the with-webhook overlay) adds it with a cert-manager Certificate (see docs/api.md).
BASES: dict[str, tuple[list[str], set[str]]] = {
    "rbac": (["--set", "webhook.enabled=false"], {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}),
    "operator": (["--set", "webhook.enabled=false"], {"Deployment", "Service"}),
    "operator-webhook": (["--set", "webhook.certificate.mode=certManager"],
                {"Service", "Issuer", "Certificate", "ValidatingWebhookConfiguration", "Deployment"}),
}


def helm_binary(explicit: str | None) -> str:
    if explicit:
        return explicit
    cached = Path(os.environ.get("SEXTANT_CACHE", Path.home() / ".cache/sextant")) / "bin/helm"
    return str(cached) if cached.exists() else "helm"


def render_base(helm: str, args: list[str], kinds: set[str]) -> dict[str, str]:
    out = subprocess.run([helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                          "--kube-version", KUBE_VERSION, *args], capture_output=True, text=True, check=True)
    docs = [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] in kinds]
    by_kind: dict[str, list[str]] = {}
    for d in docs:  # several objects of one kind (the webhook and metrics Services) share a file
        by_kind.setdefault(f"{d['kind'].lower()}.yaml", []).append(yaml.safe_dump(d, sort_keys=False))
    files = {name: HEADER + "---\n".join(texts) for name, texts in by_kind.items()}
    names = "".join(f"  - {name}\n" for name in sorted(files))
    files["kustomization.yaml"] = (HEADER + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                   f"resources:\n{names}")
    return files


def expected(helm: str) -> dict[Path, str]:
    files: dict[Path, str] = {}
    for base, (args, kinds) in BASES.items():
        files.update({HERE / base / name: text for name, text in render_base(helm, args, kinds).items()})
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a rendered file is stale")
    parser.add_argument("--helm", help="helm binary (default: the one `make tools` built)")
    args = parser.parse_args()
    files = expected(helm_binary(args.helm))
    if args.check:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"stale: {path} (run manifests/render.py)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
