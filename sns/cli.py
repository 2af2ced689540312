"""Command line: ``python run.py`` (serve) and ``python run.py migrate`` (apply migrations)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from sns.settings import SETTINGS, Settings, SettingsError

log = logging.getLogger("sns")

MAX_BODY_BYTES = 8 * 1024 * 1024


def build_parser() -> argparse.ArgumentParser:
    lines = ["settings (environment variable, default: meaning); a .env file is read too:"]
    for setting in SETTINGS:
        default = setting.default or "(empty)"
        flag = f" [{setting.flag}]" if setting.flag else ""
        lines.append(f"  {setting.variable}{flag}, default {default}: {setting.help}")
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="SNS: a small social network service on Tornado.",
        epilog="\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=("serve", "migrate", "demo"),
        help="serve (default): run the web server; migrate: apply database migrations and "
        "exit; demo: fill an empty database with a few people, posts, likes and comments",
    )
    for setting in SETTINGS:
        if setting.flag:
            parser.add_argument(
                setting.flag,
                dest=setting.name,
                default=None,
                help=f"{setting.help} (env {setting.variable}, default {setting.default})",
            )
    parser.add_argument("--env-file", default=".env", help="optional .env file (default .env)")
    return parser


async def serve(settings: Settings) -> None:
    """Listen until SIGTERM/SIGINT, then let in-flight requests finish and close backends."""
    import tornado.httpserver

    from sns.app import make_app
    from sns.services import build_services

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
    args = build_parser().parse_args(argv)
    overrides = {s.name: getattr(args, s.name) for s in SETTINGS if s.flag}
    try:
        settings = Settings.load(overrides=overrides, dotenv_path=args.env_file).with_secrets()
    except SettingsError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    from sns.logs import setup_logging

    setup_logging(settings.log_dir, console=not settings.production)
    if args.command == "migrate":
        from sns.db import run_migrations

        run_migrations(settings.sql_url)
        log.info("migrations applied")
        return 0
    if args.command == "demo":
        return asyncio.run(demo(settings))
    asyncio.run(serve(settings))
    return 0


async def demo(settings: Settings) -> int:
    from sns.demo import DEMO_PASSWORD, PEOPLE, load_demo
    from sns.services import build_services

    services = await build_services(settings)
    try:
        written = await load_demo(services)
    finally:
        await services.close()
    if not written:
        print("run.py demo: the database already has users; nothing was added", file=sys.stderr)
        return 1
    emails = ", ".join(email for email, _ in PEOPLE)
    print(
        f"Added {len(PEOPLE)} people and {written} posts. Log in as any of {emails} "
        f"with the password {DEMO_PASSWORD!r}."
    )
    return 0
