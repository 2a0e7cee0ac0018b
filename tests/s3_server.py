"""A real S3-protocol server on 127.0.0.1 (moto's server mode), started once a test session and stopped after.

Import the fixture into a test module: `from tests.s3_server import s3_bucket  # noqa: F401`. It sets the standard
AWS variables (AWS_ENDPOINT_URL among them, the route README documents for S3-compatible servers) for this process
and for every process it starts, and yields the bucket's URI.
"""

from __future__ import annotations

import os
import socket

import pytest

BUCKET = "latentsweep-tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_bucket():
    """s3://BUCKET on a moto server of this session's own; the AWS variables point every client at it."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {key: os.environ.get(key) for key in (*_AWS, "AWS_ENDPOINT_URL")}
    os.environ.update(_AWS, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    try:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield f"s3://{BUCKET}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups (no network here)
}
