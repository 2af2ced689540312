"""The S3 client of the Lambda handler and the batch tool: plain botocore, no ACL headers.

botocore rather than aiobotocore: both the handler and the batch workers do one thing at a
time, and botocore is already in the Lambda runtime, so the Lambda zip carries only Pillow.
Any S3-compatible store works (``SNS_S3_ENDPOINT_URL``, ``SNS_S3_PATH_STYLE``); credentials
come from the usual AWS chain (the Lambda's role, the environment, a profile).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from resize.keys import parse_flag


@dataclass(frozen=True)
class S3Options:
    """Where the bucket lives; the empty string means "ask the AWS chain"."""

    endpoint_url: str = ""
    region: str = ""
    path_style: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> S3Options:
        return cls(
            endpoint_url=environ.get("SNS_S3_ENDPOINT_URL", "").strip(),
            region=environ.get("SNS_S3_REGION", "").strip(),
            path_style=parse_flag(environ.get("SNS_S3_PATH_STYLE", ""), "SNS_S3_PATH_STYLE"),
        )


def make_client(options: S3Options) -> Any:
    """A botocore S3 client (not thread-safe to create, safe to use from one thread).

    botocore is imported here: batch workers on a local folder never pay for it."""
    import botocore.session
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path" if options.path_style else "auto"},
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    return botocore.session.get_session().create_client(
        "s3",
        region_name=options.region or None,
        endpoint_url=options.endpoint_url or None,
        config=config,
    )
