"""Command line: ``python run.py [serve]``, ``migrate``, ``demo``,
``supervise [status|start|stop|restart]``, ``images usage|clean``, ``search reindex`` and
``admin grant|revoke|suspend|unsuspend <email>``.

``run.py`` parses the flags and loads the settings with this module, then serves itself
(``serving``) or hands every other command to ``run_command``, which needs no web server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import warnings
from collections.abc import Sequence

from sns.settings import GROUPS, SETTINGS, RetiredSetting, Settings, help_text, rows_of

log = logging.getLogger("sns")

ADMIN_ACTIONS = ("grant", "revoke", "suspend", "unsuspend")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="SNS: a small social network service on Tornado.",
        epilog="Every setting is an environment variable, also read from a .env file; a flag\n"
        "wins over both. Each group above lists its settings without a flag, then its flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=("serve", "migrate", "demo", "supervise", "images", "search", "admin"),
        help="serve (default): run the web server; migrate: apply database migrations and "
        "exit; demo: fill an empty database with a few people, posts, likes and comments; "
        "supervise: migrate, then run supervisord.conf (SNS_SUPERVISOR_WORKERS workers); "
        "images usage|clean: what the image store holds, and removing its orphans; "
        "search reindex: rebuild the search index from the stored posts; "
        "admin grant|revoke|suspend|unsuspend EMAIL: make an account a moderator (or no "
        "longer), suspend it or lift its suspension",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=(
            "usage",
            "clean",
            "reindex",
            "status",
            "start",
            "stop",
            "restart",
            *ADMIN_ACTIONS,
        ),
        help="images: usage or clean; search: reindex; supervise: status, start, stop or "
        "restart (one worker after the other) the workers of a running supervise; admin: "
        "grant, revoke, suspend or unsuspend",
    )
    parser.add_argument("email", nargs="?", help="admin: the account's email")
    parser.add_argument(
        "--reason",
        default="",
        help="admin: why, for the audit log (default: said from the command line)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="images clean: list what would go, remove nothing"
    )
    parser.add_argument("--yes", action="store_true", help="images clean: remove the orphans")
    parser.add_argument("--env-file", default=".env", help="optional .env file (default .env)")
    for group in GROUPS:
        section = parser.add_argument_group(f"{group.name} settings", help_text(group))
        for row in rows_of(group):
            if row.flag:
                default = row.default or "unset"
                section.add_argument(
                    row.flag,
                    dest=row.name,
                    default=None,
                    help=f"{row.help} (env {row.variable}, default {default})".replace("`", ""),
                )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command, its action and the flags (``--help`` lists every setting)."""
    return build_parser().parse_args(argv)


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings: flags, then environment, then ``.env``, then defaults; secrets made
    once into the data dir. A bad value raises ``SettingsError`` naming its variable; a
    retired variable still read is said on stderr."""
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", RetiredSetting)
        settings = Settings.load(overrides=_overrides(args), dotenv_path=args.env_file)
    for warning in warned:
        print(f"run.py: warning: {warning.message}", file=sys.stderr)
    return settings.with_secrets()


def _overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {row.name: getattr(args, row.name) for row in SETTINGS if row.flag}


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run any command but ``serve``; the exit status."""
    if args.command == "supervise":
        from sns import supervise

        if args.action is not None:
            if args.action not in supervise.CONTROL_ACTIONS:
                print("run.py: supervise takes status, start, stop or restart", file=sys.stderr)
                return 2
            return supervise.control(settings, args.action)
        if args.processes is not None:
            print(
                "run.py supervise: --processes is what `run.py serve` forks; supervisor's "
                "workers are --supervisor-workers (SNS_SUPERVISOR_WORKERS)",
                file=sys.stderr,
            )
            return 2
        return supervise.supervise(settings)
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
    if args.command == "admin":
        if args.action not in ADMIN_ACTIONS or not args.email:
            print(
                "run.py: admin takes grant, revoke, suspend or unsuspend, then an email",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(admin(settings, args.action, args.email, args.reason))
    if args.command == "search":
        if args.action != "reindex":
            print("run.py: search needs an action: search reindex", file=sys.stderr)
            return 2
        return asyncio.run(search_reindex(settings))
    return asyncio.run(demo(settings))


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


async def admin(settings: Settings, action: str, email: str, reason: str) -> int:
    """``admin grant|revoke <email>``: the moderator role; ``admin suspend|unsuspend
    <email>``: a suspension (its sessions end at once). Each goes into the audit log."""
    from sns.errors import ServiceError
    from sns.services import build_services

    services = await build_services(settings)
    moderation = services.moderation
    reason = reason.strip() or "said from the command line"
    try:
        user_id = await moderation.user_id_for_email(email)
        if action in ("grant", "revoke"):
            changed = await moderation.set_moderator(user_id, action == "grant", reason)
        else:
            changed = await moderation.set_suspended(user_id, action == "suspend", reason)
    except ServiceError as exc:
        print(f"run.py admin: {exc}", file=sys.stderr)
        return 1
    finally:
        await services.close()
    done = {
        "grant": "is a moderator",
        "revoke": "is no longer a moderator",
        "suspend": "is suspended",
        "unsuspend": "is no longer suspended",
    }[action]
    print(f"{email} {done}." if changed else f"{email} {done} already: nothing changed.")
    return 0
