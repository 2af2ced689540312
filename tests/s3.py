"""A real S3 API on loopback for the tests: moto in server mode, not mocks in-process."""

from __future__ import annotations

import uuid

import boto3
from moto.server import ThreadedMotoServer

from tests.services import free_port

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class MotoS3:
    """moto's HTTP server on 127.0.0.1, and a boto3 client to look into its buckets."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> MotoS3:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"sns-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

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
            **CREDENTIALS,
        }
