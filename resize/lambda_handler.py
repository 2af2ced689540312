"""AWS Lambda: the thumbnails of every picture put under ``original/`` of the bucket, and the
sizes of every avatar put under ``avatar/original/``.

Wire it to the bucket's ``s3:ObjectCreated:*`` events filtered on the prefixes ``original/``
and ``avatar/original/`` (``python -m resize package`` prints the commands); every other
key, the thumbnails and avatar sizes it writes above all, is ignored. Each record of the
event is handled on its own: a picture that cannot be read fails only its record, which is
logged and listed in the returned result, and the others still get their thumbnails.
Nothing is raised for a bad record, so the event is not retried for it; a thumbnail lost to
an S3 outage is made later by the batch tool (``python -m resize s3://bucket``), which skips
the ones that exist.

Settings (environment): ``SNS_THUMB_SIZES`` (default ``200,1080``), ``SNS_IMAGE_MAX_PIXELS``
(default 50 000 000), and for S3-compatible stores or tests ``SNS_S3_ENDPOINT_URL``,
``SNS_S3_REGION``, ``SNS_S3_PATH_STYLE``.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from resize import avatars, core
from resize.errors import ImageError
from resize.keys import (
    AVATAR_SIZES,
    THUMB_CACHE_CONTROL,
    ConfigError,
    avatar_key,
    avatar_name_of,
    avatar_original_key,
    env_max_pixels,
    env_sizes,
    name_of,
    original_key,
    thumb_key,
)
from resize.s3 import S3Options, make_client

log = logging.getLogger("resize.lambda")
log.setLevel(logging.INFO)

MAX_OBJECT_BYTES = 100 * 1024 * 1024
"""Objects above this are refused before they are read (the app stores a few MiB at most)."""

_clients: dict[S3Options, Any] = {}


@dataclass(frozen=True)
class HandlerSettings:
    sizes: tuple[int, ...]
    max_pixels: int
    s3: S3Options

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> HandlerSettings:
        return cls(
            sizes=env_sizes(environ),
            max_pixels=env_max_pixels(environ, core.DEFAULT_MAX_PIXELS),
            s3=S3Options.from_env(environ),
        )


@dataclass
class Result:
    """What became of each record: thumbnails made, ignored, or failed with a reason."""

    done: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"done": self.done, "ignored": self.ignored, "failed": self.failed}


def _client(options: S3Options) -> Any:
    """One client per configuration, kept while the Lambda's container is warm."""
    if options not in _clients:
        _clients[options] = make_client(options)
    return _clients[options]


def event_key(record: Mapping[str, Any]) -> str:
    """The object key of a record, decoded: S3 sends it form-encoded (``+`` for a space)."""
    return urllib.parse.unquote_plus(str(record["s3"]["object"]["key"]))


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Make the thumbnails of every original in an S3 event; returns ``Result.as_dict()``."""
    try:
        settings = HandlerSettings.from_env()
    except ConfigError as error:
        # A wrong setting fails every record alike: say so once, loudly.
        log.error("resize: bad configuration: %s", error)
        raise
    result = Result()
    for record in event.get("Records", []):
        handle_record(record, settings, result)
    log.info(
        "resize: %d done, %d ignored, %d failed",
        len(result.done),
        len(result.ignored),
        len(result.failed),
    )
    return result.as_dict()


def handle_record(record: Mapping[str, Any], settings: HandlerSettings, result: Result) -> None:
    """One record; whatever goes wrong is recorded in ``result`` and the log, never raised."""
    try:
        bucket = str(record["s3"]["bucket"]["name"])
        key = event_key(record)
    except (KeyError, TypeError) as error:
        result.failed.append({"key": "", "reason": "bad_record", "message": repr(error)})
        log.error("resize: a record without bucket or key: %r", record)
        return
    event_name = str(record.get("eventName", ""))
    name = name_of(key)
    avatar = avatar_name_of(key)
    if (name is None and avatar is None) or not event_name.startswith("ObjectCreated:"):
        # thumb/... and avatar/<size>/... keys above all: our own writes must never start
        # another round.
        result.ignored.append({"bucket": bucket, "key": key})
        return
    try:
        if avatar is not None:
            made = make_avatar_sizes(_client(settings.s3), bucket, avatar, settings)
        else:
            assert name is not None
            made = make_thumbnails(_client(settings.s3), bucket, name, settings)
    except ImageError as error:
        fail(result, bucket, key, error.reason, str(error))
    except Exception as error:  # S3 errors and anything unforeseen: this record only
        log.exception("resize: %s/%s failed", bucket, key)
        fail(result, bucket, key, type(error).__name__, str(error))
    else:
        result.done.append({"bucket": bucket, "key": key, "thumbnails": made})
        log.info("resize: %s/%s -> %s", bucket, key, ", ".join(made))


def fail(result: Result, bucket: str, key: str, reason: str, message: str) -> None:
    result.failed.append({"bucket": bucket, "key": key, "reason": reason, "message": message})
    log.warning("resize: %s/%s failed (%s): %s", bucket, key, reason, message)


def make_thumbnails(client: Any, bucket: str, name: str, settings: HandlerSettings) -> list[str]:
    """Read ``original/<name>``, write ``thumb/<size>/<name>`` for every size; the keys."""
    response = client.get_object(Bucket=bucket, Key=original_key(name))
    with response["Body"] as body:
        if int(response.get("ContentLength", 0)) > MAX_OBJECT_BYTES:
            raise ImageError("too_large", f"The object is larger than {MAX_OBJECT_BYTES:,} bytes.")
        data = body.read()
    extension, _, _ = core.inspect(data, settings.max_pixels)
    thumbs = core.thumbnails(data, settings.sizes, settings.max_pixels)
    written = []
    for size, encoded in sorted(thumbs.items()):
        key = thumb_key(size, name)
        # No ACL: the bucket stays private and ACL-less stores (R2, B2, MinIO) work.
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=encoded,
            ContentType=core.CONTENT_TYPES[extension],
            CacheControl=THUMB_CACHE_CONTROL,
        )
        written.append(key)
    return written


def make_avatar_sizes(client: Any, bucket: str, name: str, settings: HandlerSettings) -> list[str]:
    """Read ``avatar/original/<name>``, write ``avatar/<size>/<name>`` for every avatar size
    (``resize.keys.AVATAR_SIZES``, not the thumbnail sizes); the keys."""
    response = client.get_object(Bucket=bucket, Key=avatar_original_key(name))
    with response["Body"] as body:
        if int(response.get("ContentLength", 0)) > MAX_OBJECT_BYTES:
            raise ImageError("too_large", f"The object is larger than {MAX_OBJECT_BYTES:,} bytes.")
        data = body.read()
    extension, _, _ = core.inspect(data, settings.max_pixels)
    written = []
    for size, encoded in sorted(avatars.sizes(data, settings.max_pixels, AVATAR_SIZES).items()):
        key = avatar_key(size, name)
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=encoded,
            ContentType=core.CONTENT_TYPES[extension],
            CacheControl=THUMB_CACHE_CONTROL,
        )
        written.append(key)
    return written
