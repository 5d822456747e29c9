"""The same spec and seed give the same model through the Python API, the container entrypoint and kfp.local."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sextant_contracts import registry
from sextant_contracts.storage import open_store
from sextant_pipelines.flow import RunContext, run_training
from sextant_pipelines.kfp_pipeline import compile_pipeline, run_local
from tests.unit.pipelines.helpers import spec

SPEC = spec("classification", "builtin:wine", "wine", objective={"metric": "accuracy"},
            tuning={"algorithm": "logistic_regression", "strategy": "random", "maxTrials": 4, "cvFolds": 3,
                    "searchSpace": {"C": {"type": "float", "min": 0.001, "max": 10, "log": True}}},
            acceptance=[{"metric": "accuracy", "min": 0.9}], model={"name": "wine", "promote": "staging"})


def comparable(result: dict) -> dict:
    return {"best": result["best"], "confusionMatrix": result["confusionMatrix"], "trials": result["trials"],
            "accepted": result["accepted"]}


def assert_same(a: dict, b: dict) -> None:
    assert a["best"]["algorithm"] == b["best"]["algorithm"]
    assert a["best"]["params"] == pytest.approx(b["best"]["params"], rel=1e-12)
    assert a["best"]["metrics"] == pytest.approx(b["best"]["metrics"], rel=1e-9)
    assert a["confusionMatrix"] == b["confusionMatrix"] and a["trials"] == b["trials"]


def test_python_entrypoint_and_kfp_local_agree(tmp_path: Path) -> None:
    api = run_training(SPEC, RunContext((tmp_path / "api").as_uri()))

    job = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "spec": SPEC,
           "metadata": {"namespace": "ml", "name": "wine", "uid": "u-1", "generation": 3}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    proc = subprocess.run([sys.executable, "-m", "sextant_pipelines", "run", "--spec", str(tmp_path / "job.yaml"),
                           "--store", (tmp_path / "job").as_uri(), "--result", str(tmp_path / "result.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    entry = json.loads(proc.stdout.strip().splitlines()[-1])
    assert json.loads((tmp_path / "result.json").read_text()) == entry
    assert "step ingest+profile finished" in proc.stderr and "trial 4/4 finished" in proc.stderr

    run_local({"spec_json": json.dumps(SPEC), "store_uri": (tmp_path / "kfp").as_uri(), "run_id": "kfp-run",
               "training_job_json": json.dumps({"namespace": "ml", "name": "wine"})}, str(tmp_path / "root"))
    kfp = json.loads((tmp_path / "kfp" / "runs" / "kfp-run" / "result.json").read_text())

    assert_same(api, entry)
    assert_same(api, kfp)
    manifest = registry.resolve(open_store((tmp_path / "job").as_uri()), "wine", alias="staging")
    assert manifest.lineage["trainingJob"] == {"namespace": "ml", "name": "wine", "uid": "u-1", "generation": 3}
    assert (tmp_path / "kfp" / "models" / "wine" / "1" / "manifest.json").is_file()


def test_pipeline_compiles_to_ir_yaml(tmp_path: Path) -> None:
    path = compile_pipeline(str(tmp_path / "pipeline.yaml"))
    ir = yaml.safe_load(Path(path).read_text())
    assert ir["pipelineInfo"]["name"] == "sextant-training"
    assert set(ir["root"]["dag"]["tasks"]) == {"prepare", "fit", "evaluate", "register"}
    assert set(ir["root"]["inputDefinitions"]["parameters"]) == {"spec_json", "store_uri", "run_id",
                                                                 "training_job_json"}
    assert all(not task.get("cachingOptions", {}).get("enableCache", False)
               for task in ir["root"]["dag"]["tasks"].values())


def test_entrypoint_fails_with_a_result_document_and_exit_code_2(tmp_path: Path) -> None:
    bad = {**SPEC, "dataset": {"uri": "builtin:wine", "target": "nope"}}
    (tmp_path / "spec.json").write_text(json.dumps(bad))
    proc = subprocess.run([sys.executable, "-m", "sextant_pipelines", "run", "--spec", str(tmp_path / "spec.json"),
                           "--store", (tmp_path / "store").as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["status"] == "Failed" and doc["reason"] == "InvalidData" and "'nope'" in doc["message"]
    assert "dataset.target" in doc["fix"] and not (tmp_path / "store" / "models").exists()


def test_a_failed_kfp_step_leaves_the_failure_document_where_the_operator_reads_it(tmp_path: Path) -> None:
    bad = {**SPEC, "dataset": {"uri": "builtin:wine", "target": "nope"}}
    store = (tmp_path / "store").as_uri()
    arguments = {"spec_json": json.dumps(bad), "store_uri": store, "run_id": "wine-g1"}
    with pytest.raises(RuntimeError):  # kfp.local: the pipeline's task failed
        run_local(arguments, str(tmp_path / "root"))
    doc = json.loads(open_store(store).read("runs/wine-g1/result.json"))
    assert doc["status"] == "Failed" and doc["reason"] == "InvalidData" and "'nope'" in doc["message"]
    assert "dataset.target" in doc["fix"] and doc["runId"] == "wine-g1"


def test_indexed_job_shards_give_the_same_model_as_one_process(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SPEC))
    store = (tmp_path / "store").as_uri()
    from sextant_pipelines.entrypoint import main

    for index in range(2):
        assert main(["trials", "--spec", str(tmp_path / "spec.yaml"), "--store", store, "--run-id", "r",
                     "--index", str(index), "--count", "2"]) == 0
    assert main(["run", "--spec", str(tmp_path / "spec.yaml"), "--store", store, "--run-id", "r",
                 "--trials-from-store", "--result", str(tmp_path / "sharded.json")]) == 0
    single = run_training(SPEC, RunContext((tmp_path / "single").as_uri()))
    assert_same(json.loads((tmp_path / "sharded.json").read_text()), single)
