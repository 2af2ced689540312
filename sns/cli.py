"""Command line: ``python run.py [serve]``, ``migrate``, ``demo`` and ``search reindex``.

Serving is handed in by ``handlers.server``, which owns the web layer.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from sns.settings import SETTINGS, Settings, SettingsError, help_lines

log = logging.getLogger("sns")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="SNS: a small social network service on Tornado.",
        epilog="\n".join(help_lines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=("serve", "migrate", "demo", "search"),
        help="serve (default): run the web server; migrate: apply database migrations and "
        "exit; demo: fill an empty database with a few people, posts, likes and comments; "
        "search reindex: rebuild the search index from the stored posts",
    )
    parser.add_argument("action", nargs="?", choices=("reindex",), help=argparse.SUPPRESS)
    for row in SETTINGS:
        if row.flag:
            parser.add_argument(
                row.flag,
                dest=row.name,
                default=None,
                help=f"{row.help} (env {row.variable}, default {row.default})".replace("`", ""),
            )
    parser.add_argument("--env-file", default=".env", help="optional .env file (default .env)")
    return parser


Serve = Callable[[Settings], Coroutine[Any, Any, None]]


def main(argv: Sequence[str] | None = None, *, serve: Serve) -> int:
    """Run a command; ``serve`` is handed in by the web layer (``handlers.server``)."""
    args = build_parser().parse_args(argv)
    overrides = {row.name: getattr(args, row.name) for row in SETTINGS if row.flag}
    try:
        settings = Settings.load(overrides=overrides, dotenv_path=args.env_file).with_secrets()
    except SettingsError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    from sns.logs import setup_logging

    setup_logging(settings.logs_dir, console=not settings.production)
    if args.command == "migrate":
        from sns.db import run_migrations

        run_migrations(settings.sql_url)
        log.info("migrations applied")
        return 0
    if args.command == "demo":
        return asyncio.run(demo(settings))
    if args.command == "search":
        if args.action != "reindex":
            print("run.py: search needs an action: search reindex", file=sys.stderr)
            return 2
        return asyncio.run(search_reindex(settings))
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


async def search_reindex(settings: Settings) -> int:
    """Rebuild the search index from every stored post, with a progress bar."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from sns.services import build_services

    services = await build_services(settings)
    try:
        total = await services.search.count_posts()
        with tqdm(total=total, unit="post", desc="search reindex") as bar:
            indexed = await services.search.reindex(progress=bar.update)
    finally:
        await services.close()
    print(f"Indexed {indexed} posts for search.")
    return 0
