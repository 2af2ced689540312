"""A real S3 API for the tests: moto's server on loopback.

``moto_endpoint()`` yields the endpoint URL (tests/conftest.py makes it the session-wide
``moto_s3`` fixture). While it runs, the usual AWS variables hold dummy credentials and a
region, so that clients made anywhere in the run, including server processes started with
this environment, reach it and never a real account. Each test makes its own bucket with
``new_bucket``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}
_bucket_numbers = itertools.count(1)


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """The endpoint URL (``http://127.0.0.1:<port>``) of a moto S3 server, with dummy AWS
    settings in ``os.environ`` while it runs (put back as they were afterwards)."""
    names = [*DUMMY_AWS_ENV, "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE"]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(DUMMY_AWS_ENV)
    # Never read a developer's real profile or config by accident.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ.pop("AWS_PROFILE", None)
    try:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def s3_client(endpoint_url: str) -> Any:
    """A plain (synchronous) botocore S3 client for the endpoint, path-style."""
    return botocore.session.get_session().create_client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=Config(s3={"addressing_style": "path"}),
    )


def new_bucket(endpoint_url: str, prefix: str = "sns-test") -> str:
    """Create an empty bucket of its own for one test and return its name."""
    name = f"{prefix}-{os.getpid()}-{next(_bucket_numbers)}"
    s3_client(endpoint_url).create_bucket(Bucket=name)
    return name


def keys(endpoint_url: str, bucket: str, prefix: str = "") -> list[str]:
    """Every key in the bucket under ``prefix``, sorted."""
    paginator = s3_client(endpoint_url).get_paginator("list_objects_v2")
    found: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        found.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(found)


class MotoS3:
    """The moto endpoint seen as an S3 store for SNS servers: buckets, what they hold, and
    the settings that point a server at one."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def client(self) -> Any:
        return s3_client(self.endpoint_url)

    def new_bucket(self) -> str:
        return new_bucket(self.endpoint_url)

    def objects(self, bucket: str) -> dict[str, int]:
        """Every key in the bucket with its size."""
        found: dict[str, int] = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                found[item["Key"]] = item["Size"]
        return found

    def sns_env(self, bucket: str) -> dict[str, str]:
        """The settings that point an SNS server at ``bucket``."""
        return {
            "SNS_S3_BUCKET": bucket,
            "SNS_S3_REGION": REGION,
            "SNS_S3_ENDPOINT_URL": self.endpoint_url,
            "SNS_S3_PATH_STYLE": "true",
            **DUMMY_AWS_ENV,
        }
