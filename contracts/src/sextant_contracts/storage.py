"""Artifact store over `file://` and `s3://` URIs: bytes in and out, atomic puts, conditional creates, listing.

Only this module family talks to the artifact store. S3 support needs the `s3` extra (boto3), imported lazily;
credentials and endpoint come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL,
AWS_REGION), exactly as a Kubernetes Secret mounted with envFrom would provide them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from sextant_contracts.errors import AccessDenied, InvalidURI, ObjectNotFound, StorageError


class ArtifactStore(Protocol):
    """Keys are '/'-separated paths relative to the store root."""

    uri: str

    def read(self, key: str) -> bytes: ...
    def write(self, key: str, data: bytes) -> None: ...
    def create_exclusive(self, key: str, data: bytes) -> bool: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...


def _clean_key(key: str) -> str:
    parts = [p for p in key.split("/") if p]
    if any(p in (".", "..") for p in parts) or not parts:
        raise InvalidURI(f"storage key {key!r} is empty or escapes the store root.", "use a relative path.")
    return "/".join(parts)


@contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """Turn the OS's errors on reading `path` into StorageErrors that say what to fix."""
    try:
        yield
    except FileNotFoundError:
        raise ObjectNotFound(f"{path} does not exist.", "check the path and that the volume is mounted.") from None
    except PermissionError:
        raise AccessDenied(f"{path} is not readable by this process.", "fix the file permissions.") from None
    except IsADirectoryError:
        raise StorageError(f"{path} is a directory, not a file.", "point the URI at a file.") from None


class FileStore:
    """A directory (a PVC in a cluster). Writes go through a temporary file and os.replace."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / _clean_key(key)

    def read(self, key: str) -> bytes:
        path = self._path(key)
        with _file_errors(path):
            return path.read_bytes()

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create_exclusive(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def s3_client() -> Any:
    """Build a boto3 S3 client from the environment; raises StorageError when boto3 is missing."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise StorageError("s3:// URIs need boto3.", "install sextant-contracts[s3].") from None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    # A fresh session per client: the default session caches credentials from the first call.
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)


def translate_s3_error(exc: Exception, where: str) -> StorageError:
    """Map a botocore exception to a StorageError whose message says what to fix."""
    response = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", type(exc).__name__))
    if code in ("NoSuchKey", "404", "NotFound"):
        return ObjectNotFound(f"{where} does not exist.", "check the bucket and key, or upload the object first.")
    if code == "NoSuchBucket":
        return ObjectNotFound(f"the bucket of {where} does not exist.", "create the bucket or fix the URI.")
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden"):
        return AccessDenied(
            f"the S3 server refused the credentials for {where} ({code}).",
            "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the credentials Secret.",
        )
    if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return AccessDenied(
            f"no S3 credentials were found for {where}.",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (spec.dataset.credentialsSecret).",
        )
    if type(exc).__name__ in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return StorageError(f"could not reach the S3 endpoint for {where}: {exc}.", "check AWS_ENDPOINT_URL.")
    return StorageError(f"S3 request for {where} failed: {code}: {exc}.", "check the S3 server and the URI.")


class S3Store:
    """A bucket and prefix on any S3-compatible server."""

    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def _key(self, key: str) -> str:
        clean = _clean_key(key)
        return f"{self.prefix}/{clean}" if self.prefix else clean

    def read(self, key: str) -> bytes:
        full = self._key(key)
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=full)["Body"].read()
        except Exception as exc:
            raise translate_s3_error(exc, f"s3://{self.bucket}/{full}") from exc
        return body

    def write(self, key: str, data: bytes) -> None:
        full = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)
        except Exception as exc:
            raise translate_s3_error(exc, f"s3://{self.bucket}/{full}") from exc

    def create_exclusive(self, key: str, data: bytes) -> bool:
        full = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*")
        except Exception as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412):
                return False
            raise translate_s3_error(exc, f"s3://{self.bucket}/{full}") from exc
        return True

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
        except Exception as exc:
            error = translate_s3_error(exc, f"s3://{self.bucket}/{full}")
            if isinstance(error, ObjectNotFound):
                return False
            raise error from exc
        return True

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix) + "/" if prefix.strip("/") else (f"{self.prefix}/" if self.prefix else "")
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as exc:
            raise translate_s3_error(exc, f"s3://{self.bucket}/{full}") from exc
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(k[strip:] for k in keys)

    def delete(self, key: str) -> None:
        full = self._key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except Exception as exc:
            raise translate_s3_error(exc, f"s3://{self.bucket}/{full}") from exc


def split_uri(uri: str) -> tuple[str, str, str]:
    """Split a storage URI into (scheme, bucket or '', path); raises InvalidURI for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidURI(f"file URI {uri!r} names a host.", "use file:///absolute/path (three slashes).")
        return "file", "", unquote(parsed.path)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InvalidURI(f"S3 URI {uri!r} has no bucket.", "use s3://bucket/key.")
        return "s3", parsed.netloc, parsed.path.lstrip("/")
    raise InvalidURI(f"unsupported storage URI {uri!r}.", "use file:///absolute/path or s3://bucket/prefix.")


def open_store(uri: str) -> ArtifactStore:
    """Open the artifact store rooted at a file:// or s3:// URI; raises InvalidURI for anything else."""
    scheme, bucket, path = split_uri(uri)
    if scheme == "file":
        return FileStore(Path(path))
    return S3Store(bucket, path)


def read_uri(uri: str) -> bytes:
    """Read one object addressed by a full file:// or s3:// URI (datasets); raises StorageError subclasses."""
    scheme, bucket, path = split_uri(uri)
    if scheme == "file":
        location = Path(path)
        return FileStore(location.parent).read(location.name)
    if not path:
        raise InvalidURI(f"S3 URI {uri!r} names a bucket but no object.", "use s3://bucket/path/to/data.csv.")
    return S3Store(bucket, "").read(path)


def open_uri(uri: str) -> BinaryIO:
    """A stream of one object addressed by a file:// or s3:// URI, for reading a dataset without holding all of
    its bytes (the caller closes it); raises StorageError subclasses like read_uri."""
    scheme, bucket, path = split_uri(uri)
    if scheme == "file":
        location = Path(path)
        with _file_errors(location):
            return location.open("rb")
    if not path:
        raise InvalidURI(f"S3 URI {uri!r} names a bucket but no object.", "use s3://bucket/path/to/data.csv.")
    try:
        body: BinaryIO = s3_client().get_object(Bucket=bucket, Key=path)["Body"]
    except Exception as exc:
        raise translate_s3_error(exc, f"s3://{bucket}/{path}") from exc
    return body
