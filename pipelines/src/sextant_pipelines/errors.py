"""Pipeline error types: each names the problem and the fix, and says whether retrying could help."""

from __future__ import annotations

from sextant_contracts.errors import ContractError


class PipelineError(ContractError):
    """Base class; `reason` is a CamelCase word the operator can put into a condition."""

    reason = "PipelineFailed"


class SpecError(PipelineError):
    """The TrainingJob spec is wrong: a field is missing, unknown or inconsistent."""

    reason = "InvalidSpec"

    def __init__(self, field: str, message: str, fix: str = "") -> None:
        self.field = field
        super().__init__(f"spec.{field}: {message}" if field else f"spec: {message}", fix)


class DataError(PipelineError):
    """The dataset cannot be read or cannot train the requested task."""

    reason = "InvalidData"


class TrainingError(PipelineError):
    """Every candidate model failed to fit or score."""

    reason = "TrainingFailed"
