"""The only module that talks to the Kubeflow Pipelines API, through the SDK's own `kfp.Client`.

Every call either returns what the planner needs (`KfpRunView`s, ids) or raises `KubeflowUnavailable` with what
went wrong; the planner turns that into a condition and a backoff. Blocking: the handler calls it in a thread.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..reconcile.kubeflow_pipeline import PIPELINE_NAME, pipeline_version_name, with_component_image
from ..reconcile.kubeflow_runs import KfpRunView, RunRequest, uid_marker

log = logging.getLogger("sextant.operator.kubeflow")
PAGE_SIZE = 100


class KubeflowUnavailable(Exception):
    """The KFP API did not answer or answered an error; the message says which call and what it said."""


@dataclass(frozen=True)
class KubeflowSettings:
    """Where the KFP API is and how to authenticate (chart values `kubeflow.*`)."""

    endpoint: str
    namespace: str = "kubeflow"
    experiment: str = "sextant"
    token_file: Path | None = None  # a Secret's key or a projected ServiceAccount token, read on every refresh
    ui_url: str = ""  # the KFP UI for links in status; the endpoint when empty
    component_image: str = "ghcr.io/sextant-ml/sextant-trainer:0.1.0"

    @property
    def link_base(self) -> str:
        return self.ui_url or self.endpoint


def project_version() -> str:
    try:
        return version("sextant-operator")
    except PackageNotFoundError:
        return "0.0.0"


def compiled_pipeline() -> str:
    """The compiled training pipeline shipped with the operator (generated from sextant_pipelines.kfp_pipeline)."""
    return resources.files("sextant_operator.kubeflow").joinpath("training_pipeline.yaml").read_text()


def _time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else None


def _view(run: Any) -> KfpRunView:
    error = getattr(run, "error", None)
    return KfpRunView(id=str(run.run_id), display_name=str(run.display_name or ""), state=run.state or None,
                      error=str(getattr(error, "message", "") or ""), created_at=_time(run.created_at),
                      finished_at=_time(run.finished_at))


def _substring(key: str, value: str) -> str:
    return json.dumps({"predicates": [{"key": key, "operation": "IS_SUBSTRING", "string_value": value}]})


def _equals(key: str, value: str) -> str:
    return json.dumps({"predicates": [{"key": key, "operation": "EQUALS", "string_value": value}]})


class KubeflowApi:
    """Experiment, pipeline version and runs of the kubeflow backend; ids cached after their first look-up."""

    def __init__(self, settings: KubeflowSettings) -> None:
        self.settings = settings
        self._client: Any = None
        self._experiment_id: str | None = None
        self._versions: dict[str, tuple[str, str]] = {}  # version name -> (pipeline id, version id)

    def _kfp(self) -> Any:
        if self._client is None:
            import kfp  # noqa: PLC0415 - heavy; only operators with the kubeflow backend configured load it
            from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials  # noqa: PLC0415

            token = self.settings.token_file
            credentials = ServiceAccountTokenVolumeCredentials(path=str(token)) if token else None
            self._client = self._call("connecting", kfp.Client, host=self.settings.endpoint,
                                      namespace=self.settings.namespace, credentials=credentials)
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - urllib3, ApiException, ValueError: all mean "not now"
            text = " ".join(str(exc).split())[:300]
            raise KubeflowUnavailable(f"{what} at {self.settings.endpoint} failed: {type(exc).__name__}: {text}") \
                from exc

    def experiment_id(self) -> str:
        """The experiment runs are created in; created when missing. Raises KubeflowUnavailable."""
        if self._experiment_id is None:
            client, name = self._kfp(), self.settings.experiment
            found = self._call("listing experiments", client.list_experiments, filter=_equals("display_name", name),
                               namespace=self.settings.namespace, page_size=1)
            if found.experiments:
                self._experiment_id = str(found.experiments[0].experiment_id)
            else:
                created = self._call(f"creating experiment {name!r}", client.create_experiment, name,
                                     description="Runs of Sextant TrainingJobs", namespace=self.settings.namespace)
                self._experiment_id = str(created.experiment_id)
        return self._experiment_id

    def pipeline_version(self) -> tuple[str, str]:
        """(pipeline id, version id) of the training pipeline at this operator's version and trainer image,
        uploaded once. Raises KubeflowUnavailable."""
        package = with_component_image(compiled_pipeline(), self.settings.component_image)
        name = pipeline_version_name(project_version(), package)
        if name not in self._versions:
            self._versions[name] = self._upload(package, name)
        return self._versions[name]

    def _upload(self, package: str, name: str) -> tuple[str, str]:
        client = self._kfp()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{PIPELINE_NAME}.yaml"
            path.write_text(package)
            pipeline_id = self._call("finding the pipeline", client.get_pipeline_id, PIPELINE_NAME)
            if pipeline_id is None:
                pipeline = self._call("uploading the pipeline", client.upload_pipeline, str(path),
                                      pipeline_name=PIPELINE_NAME, description="Sextant: dataset to registered model")
                pipeline_id = pipeline.pipeline_id
            versions = self._call("listing pipeline versions", client.list_pipeline_versions, pipeline_id,
                                  filter=_equals("display_name", name), page_size=1)
            if versions.pipeline_versions:
                return str(pipeline_id), str(versions.pipeline_versions[0].pipeline_version_id)
            created = self._call(f"uploading pipeline version {name}", client.upload_pipeline_version, str(path),
                                 name, pipeline_id=pipeline_id)
            log.info("uploaded pipeline %s version %s", PIPELINE_NAME, name)
            return str(pipeline_id), str(created.pipeline_version_id)

    def runs_of(self, uid: str) -> list[KfpRunView]:
        """Every run whose display name carries this TrainingJob UID. Raises KubeflowUnavailable."""
        client, runs, token = self._kfp(), [], ""
        while True:
            page = self._call("listing runs", client.list_runs, page_token=token, page_size=PAGE_SIZE,
                              experiment_id=self.experiment_id(), filter=_substring("display_name", uid_marker(uid)))
            runs += [_view(r) for r in page.runs or []]
            token = page.next_page_token or ""
            if not token:
                return runs

    def create_run(self, request: RunRequest) -> KfpRunView:
        """Create the run (caching off: every generation trains). Raises KubeflowUnavailable."""
        pipeline_id, version_id = self.pipeline_version()
        run = self._call(f"creating run {request.display_name!r}", self._kfp().run_pipeline, self.experiment_id(),
                         request.display_name, params=request.arguments, pipeline_id=pipeline_id,
                         version_id=version_id, enable_caching=False)
        return _view(run)

    def terminate(self, run_id: str) -> None:
        """Ask KFP to terminate the run (its Workflow's deadline goes to 0). Raises KubeflowUnavailable."""
        self._call(f"terminating run {run_id}", self._kfp().terminate_run, run_id)
