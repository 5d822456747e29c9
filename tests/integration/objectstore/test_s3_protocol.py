"""What a user of the embedded store needs from its S3 protocol: signed access, objects, listing, multipart."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.support.versitygw import RunningStore

MIB = 1024 * 1024


def error_of(call: Any, **kwargs: Any) -> tuple[int, str]:
    """The HTTP status and S3 error code a refused call got."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


def test_the_bucket_made_at_start_is_there(versitygw: RunningStore) -> None:
    names = [b["Name"] for b in versitygw.s3.client().list_buckets()["Buckets"]]
    assert versitygw.bucket in names


def test_a_wrong_secret_is_refused_with_403_signature_does_not_match(versitygw: RunningStore) -> None:
    client = versitygw.s3.client(aws_secret_access_key="not-the-secret")
    assert error_of(client.list_objects_v2, Bucket=versitygw.bucket) == (403, "SignatureDoesNotMatch")
    assert error_of(client.put_object, Bucket=versitygw.bucket, Key="x", Body=b"x") == (403, "SignatureDoesNotMatch")


def test_an_unknown_key_is_refused_with_403_invalid_access_key_id(versitygw: RunningStore) -> None:
    client = versitygw.s3.client(aws_access_key_id="AKNOTAUSER000000", aws_secret_access_key="whatever")
    assert error_of(client.get_object, Bucket=versitygw.bucket, Key="x") == (403, "InvalidAccessKeyId")


def test_unsigned_requests_are_refused(versitygw: RunningStore) -> None:
    from botocore import UNSIGNED
    from botocore.config import Config

    client = versitygw.s3.client(config=Config(signature_version=UNSIGNED))
    status, _ = error_of(client.list_objects_v2, Bucket=versitygw.bucket)
    assert status == 403


def test_put_get_list_delete_with_the_right_keys(versitygw: RunningStore) -> None:
    client, bucket = versitygw.s3.client(), versitygw.bucket
    for key in ("protocol/a.txt", "protocol/b/c.txt", "elsewhere/d.txt"):
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert client.get_object(Bucket=bucket, Key="protocol/b/c.txt")["Body"].read() == b"protocol/b/c.txt"
    listed = client.list_objects_v2(Bucket=bucket, Prefix="protocol/")
    assert [o["Key"] for o in listed["Contents"]] == ["protocol/a.txt", "protocol/b/c.txt"]
    delimited = client.list_objects_v2(Bucket=bucket, Prefix="protocol/", Delimiter="/")
    assert [p["Prefix"] for p in delimited["CommonPrefixes"]] == ["protocol/b/"]
    client.delete_object(Bucket=bucket, Key="protocol/a.txt")
    assert error_of(client.head_object, Bucket=bucket, Key="protocol/a.txt")[0] == 404
    # A real store: the object is a file under the data directory (the pod's volume).
    assert (versitygw.layout.buckets / bucket / "protocol/b/c.txt").read_bytes() == b"protocol/b/c.txt"


def test_a_conditional_create_fails_when_the_key_exists(versitygw: RunningStore) -> None:
    client, bucket = versitygw.s3.client(), versitygw.bucket
    client.put_object(Bucket=bucket, Key="claims/1", Body=b"first", IfNoneMatch="*")
    status, code = error_of(client.put_object, Bucket=bucket, Key="claims/1", Body=b"second", IfNoneMatch="*")
    assert (status, code) == (412, "PreconditionFailed")
    assert client.get_object(Bucket=bucket, Key="claims/1")["Body"].read() == b"first"


def test_multipart_upload_of_a_file_over_5_mib(versitygw: RunningStore, tmp_path: Path) -> None:
    client, bucket = versitygw.s3.client(), versitygw.bucket
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(12 * MIB))
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=3)
    client.upload_file(str(source), bucket, "multipart/model.bin", Config=config)
    head = client.head_object(Bucket=bucket, Key="multipart/model.bin")
    assert head["ContentLength"] == 12 * MIB and head["ETag"].strip('"').endswith("-3")  # three parts
    client.download_file(bucket, "multipart/model.bin", str(tmp_path / "back.bin"))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).hexdigest() == digest


def test_an_aborted_multipart_upload_leaves_no_object(versitygw: RunningStore) -> None:
    client, bucket = versitygw.s3.client(), versitygw.bucket
    upload = client.create_multipart_upload(Bucket=bucket, Key="multipart/aborted")["UploadId"]
    client.upload_part(Bucket=bucket, Key="multipart/aborted", UploadId=upload, PartNumber=1, Body=b"x" * 5 * MIB)
    listed = client.list_multipart_uploads(Bucket=bucket, Prefix="multipart/aborted")
    assert [u["UploadId"] for u in listed.get("Uploads", [])] == [upload]
    client.abort_multipart_upload(Bucket=bucket, Key="multipart/aborted", UploadId=upload)
    assert error_of(client.head_object, Bucket=bucket, Key="multipart/aborted")[0] == 404
