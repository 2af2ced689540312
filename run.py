"""Start SNS: ``python run.py [--port N] [--data-dir DIR]``; ``--help`` lists every setting.

Start-up in named steps: the flags and the settings (``sns.cli``), then, in each process
that serves, the services (``sns.services``) and the Application on them
(``handlers.app``), then serving them (``serving``) until stopped. Every other command
(migrate, demo, supervise, images, search) needs no web server: ``sns.cli.run_command``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from handlers.app import make_app
from serving.process import EXIT_CONFIG, Build, Site
from serving.start import serve
from sns import cli, metrics
from sns.services import build_services
from sns.settings import Settings, SettingsError


async def build_site(settings: Settings, *, connection_cap: int) -> Site:
    """The services, then the Application on them; run in each serving process, since
    database and Redis pools do not survive a fork."""
    services = await build_services(settings, connection_cap=connection_cap)
    try:
        return Site(services, make_app(services))
    except BaseException:
        await services.close()
        raise


def main(argv: Sequence[str] | None = None, *, build: Build = build_site) -> int:
    """``python run.py`` and the ``sns`` command; the exit status."""
    args = cli.parse_args(argv)
    try:
        settings = cli.load_settings(args)
    except SettingsError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command != "serve":
        return cli.run_command(args, settings)
    if settings.metrics_directory is not None:  # before any worker imports prometheus_client
        metrics.prepare(settings.metrics_directory, clean=settings.listen_fd is None)
    return serve(settings, build)  # sets up logging for each of its processes


if __name__ == "__main__":
    sys.exit(main())
