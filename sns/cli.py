"""Command line: ``python run.py [serve]``, ``migrate``, ``demo``, ``supervise``,
``images usage|clean`` and ``search reindex``.

Serving is handed in by ``handlers.server``, which owns the web layer.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dotenv import dotenv_values

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
        choices=("serve", "migrate", "demo", "supervise", "images", "search"),
        help="serve (default): run the web server; migrate: apply database migrations and "
        "exit; demo: fill an empty database with a few people, posts, likes and comments; "
        "supervise: migrate, then run supervisord.conf (one worker per core, SNS_WORKERS); "
        "images usage|clean: what the image store holds, and removing its orphans; "
        "search reindex: rebuild the search index from the stored posts",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("usage", "clean", "reindex"),
        help="images: usage or clean; search: reindex",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="images clean: list what would go, remove nothing"
    )
    parser.add_argument("--yes", action="store_true", help="images clean: remove the orphans")
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


Serve = Callable[[Settings], int]
"""Serves until stopped and returns the exit status (``handlers.server.run``)."""


def main(argv: Sequence[str] | None = None, *, serve: Serve) -> int:
    """Run a command; ``serve`` is handed in by the web layer (``handlers.server``)."""
    args = build_parser().parse_args(argv)
    overrides = {row.name: getattr(args, row.name) for row in SETTINGS if row.flag}
    try:
        settings = Settings.load(overrides=overrides, dotenv_path=args.env_file).with_secrets()
    except SettingsError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return serve(settings)  # sets up logging for each of its processes
    if args.command == "supervise":
        from sns.supervise import supervise

        return supervise(settings, workers_given=_given("workers", overrides, args.env_file))
    from sns.logs import setup_logging

    setup_logging(settings.logs_dir, console=not settings.production)
    if args.command == "migrate":
        from sns.db import run_migrations

        run_migrations(settings.sql_url)
        log.info("migrations applied")
        return 0
    if args.command == "images":
        if args.action not in (None, "usage", "clean"):
            print("run.py: images takes usage or clean", file=sys.stderr)
            return 2
        return asyncio.run(images(settings, args.action or "usage", args.dry_run, args.yes))
    if args.command == "search":
        if args.action != "reindex":
            print("run.py: search needs an action: search reindex", file=sys.stderr)
            return 2
        return asyncio.run(search_reindex(settings))
    return asyncio.run(demo(settings))


def _given(name: str, overrides: dict[str, str | None], env_file: str) -> bool:
    """Whether a setting was given at all (flag, environment or .env), not defaulted."""
    variable = "SNS_" + name.upper()
    in_file = bool(env_file) and Path(env_file).is_file() and variable in dotenv_values(env_file)
    return overrides.get(name) is not None or variable in os.environ or in_file


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


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1024
    return f"{count} B"


async def images(settings: Settings, action: str, dry_run: bool, yes: bool) -> int:
    """``images usage``: what the store holds; ``images clean``: remove orphans."""
    from sns.services import build_services

    if action == "clean" and dry_run == yes:
        print("run.py images clean: say --dry-run (list) or --yes (remove)", file=sys.stderr)
        return 2
    services = await build_services(settings)
    try:
        if action == "usage":
            usage = await services.orphans.usage()
        else:
            usage = await services.orphans.clean(dry_run=dry_run)
    finally:
        await services.close()
    where = f"s3://{settings.s3_bucket}" if settings.s3_bucket else settings.data_dir / "images"
    print(f"image store: {where}")
    rows = (
        ("objects", usage.objects, usage.bytes),
        ("originals", usage.originals, usage.original_bytes),
        ("thumbnails", usage.thumbnails, usage.thumbnail_bytes),
        ("orphans", usage.orphans, usage.orphan_bytes),
        (f"orphans older than {settings.orphan_hours} h", usage.removable, usage.removable_bytes),
    )
    for label, count, size in rows:
        print(f"{label:<28} {count:>9}  {size:>14} bytes  ({_size(size)})")
    if action == "clean":
        verb = "would remove" if dry_run else "removed"
        for key in usage.removable_keys:
            print(f"{verb} {key}")
        print(f"{verb} {usage.removable} objects, {_size(usage.removable_bytes)}")
    return 0


async def search_reindex(settings: Settings) -> int:
    """Rebuild the search index from every stored post, with a progress bar."""
    from tqdm import tqdm

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
