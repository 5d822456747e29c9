"""Serving error types, and the one place that maps them to HTTP statuses."""

from __future__ import annotations


class ServingError(Exception):
    """Base of every error the serving runtime reports to a client."""

    status = 500
    code = "InternalError"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, object]:
        """The JSON error body: OIP clients read `error`; `code` and `field` say what to fix."""
        out: dict[str, object] = {"error": self.message, "code": self.code}
        if self.field is not None:
            out["field"] = self.field
        return out


class MalformedRequest(ServingError):
    """The body is not JSON (or not decodable): a client mistake."""

    status = 400
    code = "MalformedRequest"


class UnsupportedOperation(ServingError):
    """The request asks for something this model cannot do (e.g. predict_proba on a regressor)."""

    status = 400
    code = "UnsupportedOperation"


class SchemaMismatch(ServingError):
    """Valid JSON that does not match the model's feature schema; `field` names the culprit."""

    status = 422
    code = "SchemaMismatch"


class BadRow(SchemaMismatch):
    """One input row holds a value the model cannot take; `row` is its 1-based data row (header not counted)."""

    def __init__(self, message: str, field: str, row: int) -> None:
        super().__init__(message, field)
        self.row = row


class PayloadTooLarge(ServingError):
    """The body is bigger than the configured limit."""

    status = 413
    code = "PayloadTooLarge"


class ModelNotFound(ServingError):
    """The request names a model or version this server does not serve."""

    status = 404
    code = "ModelNotFound"


class ModelNotReady(ServingError):
    """The model is not loaded (still loading, or refused because its digest did not match)."""

    status = 503
    code = "ModelNotReady"


class Overloaded(ServingError):
    """The request waited longer than the batching latency budget: retry later or scale out."""

    status = 503
    code = "Overloaded"


class ModelLoadError(Exception):
    """The model could not be resolved, fetched, verified or loaded; the server stays not ready."""


class DigestMismatch(ModelLoadError):
    """The artifact's recomputed sha256 differs from the manifest: it is never unpickled."""
