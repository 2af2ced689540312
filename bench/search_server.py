"""``run.py`` as it is, with or without the search index: the server ``bench/search.py``
times ``POST /post`` against.

There is deliberately no setting to turn the index off (a site without it would return
wrong search results); this wrapper hands ``run.main`` a build step of its own, which gives
the app a ``PostService`` whose ``search_index`` is None. Everything else (settings, the
HTTP server and its limits, sessions, XSRF) is ``run.py``'s own. It is used as
``SnsServer.command_prefix``, so it is given the command ``SnsServer`` would run and drops
the interpreter and ``run.py`` from it:

    python bench/search_server.py --no-index PYTHON run.py --env-file ""
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import run
from handlers.app import make_app
from serving.process import Site
from sns.services import build_services
from sns.settings import Settings


async def build_without_index(settings: Settings, *, connection_cap: int) -> Site:
    """``run.build_site``, but the posts service keeps no search index."""
    services = await build_services(settings, connection_cap=connection_cap)
    posts = copy.copy(services.posts)
    posts.search_index = None
    services = dataclasses.replace(services, posts=posts)
    return Site(services, make_app(services))


def main() -> int:
    mode, _python, _run_py, *run_args = sys.argv[1:]
    if mode not in ("--index", "--no-index"):
        raise SystemExit(f"{sys.argv[0]}: --index or --no-index first, not {mode}")
    if mode == "--no-index":
        return run.main(run_args, build=build_without_index)
    return run.main(run_args)


if __name__ == "__main__":
    sys.exit(main())
