"""The headers every answer carries, pages, API and static files alike (helmet's set)."""

from __future__ import annotations

import functools
import os

from tornado.web import RequestHandler, StaticFileHandler

HSTS = "max-age=15552000; includeSubDomains"  # 180 days, sent only over HTTPS
PRIVATE = "private, no-store"  # what a logged-in person sees is theirs alone


@functools.cache
def content_security_policy(image_origin: str | None = None) -> str:
    """helmet's policy; pictures may also come from the bucket's public URL when set, and
    from ``blob:`` URLs: the compose form previews a chosen file before it is uploaded."""
    images = "img-src 'self' data:" + (f" {image_origin}" if image_origin else "") + " blob:"
    return "; ".join(
        (
            "default-src 'self'",
            images,
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def set_common_headers(handler: RequestHandler) -> None:
    """Headers every response carries, pages and static files alike (helmet's set)."""
    handler.set_header("X-SNS-Worker", str(os.getpid()))  # read per call: workers fork
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "strict-origin-when-cross-origin")
    handler.set_header("Cross-Origin-Opener-Policy", "same-origin")
    services = handler.settings.get("services")
    origin = services.images.origin if services is not None else None
    handler.set_header("Content-Security-Policy", content_security_policy(origin))
    handler.clear_header("Server")


class StaticHandler(StaticFileHandler):
    """Static files with the same headers as pages."""

    def set_default_headers(self) -> None:
        set_common_headers(self)
