"""Pictures over HTTP: the upload (``POST /post/img``) and the app-served objects (``/img/``).

The upload streams its body so that the image limit applies to this route alone (every
other route keeps the small form limit), and a declared body over the limit is answered
413 from its ``Content-Length`` before any of it is read.
"""

from __future__ import annotations

from tornado import httputil
from tornado.web import HTTPError, stream_request_body

from handlers.base import BaseHandler
from handlers.bodies import success_body
from handlers.streaming import StreamedBodyHandler
from resize.keys import KEY
from sns.errors import Invalid, Unauthorized
from sns.image_stores import CACHE_CONTROL, content_type
from sns.statements import start_counting

MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart boundaries and part headers around the file itself."""


@stream_request_body
class ImageUploadHandler(StreamedBodyHandler):
    """POST /post/img: multipart field ``img`` -> ``{url, originalUrl, name, width, height,
    placeholder}`` (the original's size and its blurhash).

    The XSRF token travels in the ``X-XSRFToken`` header: the body is not parsed when
    Tornado checks it.
    """

    _stored_bytes = 0

    async def before_body(self) -> None:
        if not self.current_user:
            raise Unauthorized("Please log in first.")
        limit = self.images.max_bytes + MULTIPART_OVERHEAD
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise self.images.too_large()
        await self.images.check_upload_budget(self.user.id)
        # Any wrapper of the HTTP/1 connection (the draining server's) passes this on.
        set_max_body_size = getattr(self.request.connection, "set_max_body_size", None)
        if set_max_body_size is not None:
            set_max_body_size(limit)

    def on_finish(self) -> None:
        """Counted for /metrics: stored, limited (429) or refused (any other answer)."""
        status = self.get_status()
        result = "stored" if status == 200 else "limited" if status == 429 else "refused"
        self.services.metrics.upload(result, self._stored_bytes)

    async def post(self) -> None:
        files = self._files()
        if list(files) != ["img"] or len(files["img"]) != 1:
            count = sum(len(parts) for parts in files.values())
            if count == 0:
                raise Invalid("Choose a picture to upload.", field="img")
            raise Invalid("Upload one picture at a time, in the field img.", field="img")
        picture = bytes(files["img"][0].body)
        uploaded = await self.images.upload(self.user.id, picture)
        self._stored_bytes = len(picture)
        self.write(
            success_body(
                url=uploaded.url,
                originalUrl=uploaded.original_url,
                name=uploaded.name,
                width=uploaded.width,
                height=uploaded.height,
                placeholder=uploaded.placeholder,
            )
        )

    def _files(self) -> dict[str, list[httputil.HTTPFile]]:
        kind = self.request.headers.get("Content-Type", "")
        if not kind.lower().startswith("multipart/form-data") or "boundary=" not in kind:
            raise Invalid("Send the picture as multipart/form-data in the field img.", field="img")
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        httputil.parse_body_arguments(kind, bytes(self._body), arguments, files)
        self._body = bytearray()
        return files


class ImageFileHandler(BaseHandler):
    """GET /img/<key>: an object of the image store, for the local store and for a
    private bucket without a public URL. Public, immutable, and never sniffed."""

    async def prepare(self) -> None:
        """Pictures are the same for everyone: no session lookup, no private caching."""
        self._statements = start_counting()

    async def get(self, key: str) -> None:
        if not KEY.fullmatch(key):
            raise HTTPError(404)
        data = await self.images.store.get(key)
        if data is None:
            raise HTTPError(404)
        self.set_header("Content-Type", content_type(key))
        self.set_header("Cache-Control", CACHE_CONTROL)
        self.write(data)


default_handlers = [
    (r"/post/img", ImageUploadHandler),
    (
        r"/img/((?:original|thumb/[0-9]{1,4}|avatar/original|avatar/[0-9]{1,4})/[^/]{1,64})",
        ImageFileHandler,
    ),
]
