"""Error types shared by everything that touches the artifact store or the registry."""

from __future__ import annotations


class ContractError(Exception):
    """A failure with a message naming the problem and a hint naming the fix."""

    permanent: bool = True

    def __init__(self, message: str, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} Fix: {fix}" if fix else message)


class StorageError(ContractError):
    """The artifact store could not be read or written."""

    permanent = False


class ObjectNotFound(StorageError):
    """The URI or key does not exist in the artifact store."""

    permanent = True


class AccessDenied(StorageError):
    """The store refused the credentials."""

    permanent = True


class InvalidURI(ContractError):
    """A storage URI is malformed or uses an unsupported scheme."""


class ManifestError(ContractError):
    """A manifest is missing fields or holds values of the wrong type."""


class DigestMismatch(ContractError):
    """A downloaded model does not match the sha256 digest in its manifest; it must not be loaded."""


class RegistryError(ContractError):
    """Version allocation, alias update or resolution failed."""


class DriftInputError(ContractError):
    """Baseline and live counts that cannot be compared (bins disagree, negative counts) or an invalid drift policy."""
