"""A real S3-protocol server on 127.0.0.1 (moto's server mode), for the `s3_bucket` fixture of tests/conftest.py.

It sets the standard AWS variables (AWS_ENDPOINT_URL among them, the route the README documents for S3-compatible
servers) for this process and for every process it starts, and restores them when it stops.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from tests.helpers.processes import free_port

BUCKET = "latentsweep-tests"
_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups (no network here)
}


@contextlib.contextmanager
def moto_bucket(boto3) -> Iterator[str]:
    """s3://BUCKET on a moto server of its own; the AWS variables point every client at it meanwhile."""
    from moto.server import ThreadedMotoServer

    port = free_port()
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
