"""Strict JSON schemas for kubeconform, offline: Kubernetes kinds from the local API server's OpenAPI v3,
Sextant's kinds from the generated CRDs (kubeconform cannot download schemas here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sextant_contracts.resources.crd import KINDS, build_crd

GROUP_VERSIONS = ("api/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1",
                  "apis/admissionregistration.k8s.io/v1", "apis/apiextensions.k8s.io/v1")
LOCATION = "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"


def strict(schema: Any) -> Any:
    """Forbid properties the schema does not declare (what `kubeconform -strict` expects of its schemas).

    Walks schema keywords only, so a property that happens to be called `properties` or `$ref`
    (as in JSONSchemaProps) is treated as a property, not as a keyword.
    """
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if "properties" in out:
        out["properties"] = {name: strict(sub) for name, sub in out["properties"].items()}
        if "additionalProperties" not in out and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = strict(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [strict(sub) for sub in out[key]]
    return out


def _rewrite_refs(schema: Any) -> Any:
    """Point $ref at #/definitions and unwrap the OpenAPI v3 `allOf: [{$ref}]` idiom, keyword-aware."""
    if not isinstance(schema, dict):
        return schema
    if isinstance(schema.get("$ref"), str):
        return {"$ref": schema["$ref"].replace("#/components/schemas/", "#/definitions/")}
    out = dict(schema)
    if isinstance(out.get("allOf"), list) and len(out["allOf"]) == 1 and isinstance(out["allOf"][0], dict) \
            and isinstance(out["allOf"][0].get("$ref"), str):
        ref = out.pop("allOf")[0]
        out = {k: v for k, v in out.items() if k != "default"}
        out.update(_rewrite_refs(ref))
        return out
    if "properties" in out:
        out["properties"] = {name: _rewrite_refs(sub) for name, sub in out["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = _rewrite_refs(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [_rewrite_refs(sub) for sub in out[key]]
    return out


def _file_name(kind: str, api_version: str) -> str:
    return f"{kind.lower()}_{api_version.rsplit('/', 1)[-1]}.json"


def write_kubernetes_schemas(cluster: Any, directory: Path) -> None:
    """One self-contained strict schema per Kubernetes kind of GROUP_VERSIONS, read from the API server."""
    for gv in GROUP_VERSIONS:
        doc = json.loads(cluster.kubectl("get", "--raw", f"/openapi/v3/{gv}").stdout)
        definitions = {n: strict(_rewrite_refs(d)) for n, d in doc["components"]["schemas"].items()}
        for name, schema in doc["components"]["schemas"].items():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                if gv.endswith(version):
                    body = {"$ref": f"#/definitions/{name}", "definitions": definitions}
                    (directory / _file_name(gvk["kind"], version)).write_text(json.dumps(body))


def write_crd_schemas(directory: Path) -> None:
    """Strict schemas of TrainingJob and InferenceService, from the generated CRDs."""
    for kind in KINDS:
        crd = build_crd(kind)
        schema = strict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        (directory / _file_name(kind.kind, "v1alpha1")).write_text(json.dumps(schema))
