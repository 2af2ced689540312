"""``run.py`` as it is, with or without the search index: the server ``bench/search.py``
times ``POST /post`` against.

There is deliberately no setting to turn the index off (a site without it would return
wrong search results); this wrapper takes the place of ``sns.services.build_services`` in
``handlers.server`` with one that hands the app a ``PostService`` whose ``search_index`` is
None. Everything else (settings, the HTTP server and its limits, sessions, XSRF) is
``run.py``'s own. It is used as ``SnsServer.command_prefix``, so it is given the command
``SnsServer`` would run and drops the interpreter and ``run.py`` from it:

    python bench/search_server.py --no-index PYTHON run.py --env-file ""
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handlers import server
from sns.services import Services, build_services
from sns.settings import Settings


def main() -> int:
    mode, _python, _run_py, *run_args = sys.argv[1:]
    if mode not in ("--index", "--no-index"):
        raise SystemExit(f"{sys.argv[0]}: --index or --no-index first, not {mode}")
    if mode == "--no-index":

        async def build_without_index(settings: Settings, **kwargs: Any) -> Services:
            services = await build_services(settings, **kwargs)
            posts = copy.copy(services.posts)
            posts.search_index = None
            return dataclasses.replace(services, posts=posts)

        server.build_services = build_without_index  # type: ignore[attr-defined]
    return server.main(run_args)


if __name__ == "__main__":
    sys.exit(main())
