"""The kit from the command line::

python -m testkit --ensure   # install the servers if missing (root + apt only)
python -m testkit --smoke    # start MariaDB and Redis, print URLs, create a database, stop
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

from testkit.install import ensure_installed
from testkit.mariadb import MariaDBServer
from testkit.redis import RedisServer


def _smoke() -> None:
    """Start both servers, print their URLs, create a database, stop them."""
    ensure_installed(required=True)
    with tempfile.TemporaryDirectory(prefix="sns-services-") as tmp:
        base = pathlib.Path(tmp)
        with MariaDBServer(base / "mariadb") as db, RedisServer(base / "redis") as redis:
            print(f"mariadb: {db.host}:{db.port} (started in {db.startup_seconds:.2f} s)")
            print(f"redis:   {redis.url} (started in {redis.startup_seconds:.2f} s)")
            url = db.create_database("sns_smoke")
            print(f"database url: {url}")
        print("stopped")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: --ensure or --smoke."""
    args = sys.argv[1:] if argv is None else argv
    if "--ensure" in args:
        ensure_installed(required=True)
        return 0
    if "--smoke" in args:
        _smoke()
        return 0
    print("usage: python -m testkit [--ensure | --smoke]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
