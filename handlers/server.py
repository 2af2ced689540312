"""Serving: the entry point of ``python run.py`` and the ``sns`` command.

The commands that need no web server (migrate, demo) live in ``sns.cli``; this module
hands it the one that does, so that ``sns`` stays free of the web layer.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import tornado.httpserver

from handlers.app import make_app
from sns import cli
from sns.services import build_services
from sns.settings import Settings

log = logging.getLogger("sns")

MAX_BODY_BYTES = 8 * 1024 * 1024


async def serve(settings: Settings) -> None:
    """Listen until SIGTERM/SIGINT, then let in-flight requests finish and close backends."""
    services = await build_services(settings)
    app = make_app(services)
    # Tornado buffers whole bodies in memory (100 MB by default): cap them well below that.
    # X-Forwarded-* headers are read by the handlers, only from trusted proxies.
    server = tornado.httpserver.HTTPServer(app, xheaders=False, max_body_size=MAX_BODY_BYTES)
    server.listen(settings.port, address=settings.host)
    log.info(
        "SNS listening on http://%s:%d (database: %s, sessions: %s)",
        settings.host,
        settings.port,
        "sqlite" if services.db.is_sqlite else "mysql",
        services.session_backend,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping: finishing in-flight requests")
    server.stop()
    try:
        await asyncio.wait_for(server.close_all_connections(), timeout=10)
    except TimeoutError:
        log.warning("some connections were still open after 10 s")
    await services.close()


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, serve=serve)


if __name__ == "__main__":
    sys.exit(main())
