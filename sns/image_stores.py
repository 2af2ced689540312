"""Where pictures' bytes are kept: a folder in the data dir (the embedded default) or an S3
bucket, behind one small interface, ``ImageStore``; keys follow ``resize.keys``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from resize.keys import KEY, write_atomically
from resize.sizes import CONTENT_TYPES

CACHE_CONTROL = "public, max-age=31536000, immutable"


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: float
    """Seconds since the epoch."""


class ImageStore(Protocol):
    """Where the bytes are: a local folder or a bucket; keys are ``original/...``/``thumb/...``
    (and ``avatar/...``)."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove the objects; keys that do not exist are no error."""

    def objects(self) -> AsyncIterator[StoredObject]:
        """Every object in the store, in no particular order."""

    async def close(self) -> None: ...


class LocalImageStore:
    """Files under one folder; each written to a temporary name, then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not KEY.fullmatch(key):
            raise ValueError(f"not an image key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(write_atomically, self._path(key), data)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(read)

    async def delete(self, keys: Iterable[str]) -> None:
        paths = [self._path(key) for key in keys]

        def remove() -> None:
            for path in paths:
                path.unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    async def objects(self) -> AsyncIterator[StoredObject]:
        def walk() -> list[StoredObject]:
            found = []
            for path in self.root.rglob("*"):
                key = path.relative_to(self.root).as_posix()
                if path.is_file() and KEY.fullmatch(key):
                    stat = path.stat()
                    found.append(StoredObject(key, stat.st_size, stat.st_mtime))
            return found

        for item in await asyncio.to_thread(walk):
            yield item

    async def close(self) -> None:
        return None


class S3ImageStore:
    """A bucket on S3 or any S3-compatible store, through aiobotocore.

    No ACL header is ever sent (R2, B2 and MinIO refuse them; buckets stay private).
    Credentials come from the usual AWS chain (environment, profile, instance role).
    """

    def __init__(
        self, bucket: str, *, region: str = "", endpoint_url: str = "", path_style: bool = False
    ) -> None:
        self.bucket = bucket
        self.region = region or None
        self.endpoint_url = endpoint_url or None
        self.path_style = path_style
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
                    from aiobotocore.session import get_session  # type: ignore[import-untyped]

                    config = AioConfig(
                        s3={"addressing_style": "path" if self.path_style else "auto"},
                        connect_timeout=5,
                        read_timeout=30,
                        retries={"max_attempts": 3, "mode": "standard"},
                    )
                    self._client = await self._stack.enter_async_context(
                        get_session().create_client(
                            "s3",
                            region_name=self.region,
                            endpoint_url=self.endpoint_url,
                            config=config,
                        )
                    )
        return self._client

    async def put(self, key: str, data: bytes) -> None:
        s3 = await self._s3()
        await s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type(key),
            CacheControl=CACHE_CONTROL,
        )

    async def get(self, key: str) -> bytes | None:
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        async with answer["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, keys: Iterable[str]) -> None:
        s3 = await self._s3()
        batch = list(keys)
        for start in range(0, len(batch), 1000):
            objects = [{"Key": key} for key in batch[start : start + 1000]]
            await s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    async def objects(self) -> AsyncIterator[StoredObject]:
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        for prefix in ("original/", "thumb/", "avatar/"):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(
                        item["Key"], int(item["Size"]), item["LastModified"].timestamp()
                    )

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None


def build_image_store(settings: Any) -> ImageStore:
    """The configured store: S3 when a bucket is set, else ``<data dir>/images``."""
    if settings.s3_bucket:
        return S3ImageStore(
            settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            path_style=settings.s3_path_style,
        )
    return LocalImageStore(settings.data_dir / "images")
