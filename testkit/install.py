"""Where the test services' programs are, and installing the missing ones (root + apt only).

``python -m testkit --ensure`` (run by ``make test`` and .ci/run before pytest) calls
``ensure_installed``; fixtures never install anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess

_MARIADBD_CANDIDATES = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
_INSTALL_DB_NAMES = ("mariadb-install-db", "mysql_install_db")


def _which_any(names: tuple[str, ...], extra_paths: tuple[str, ...] = ()) -> str | None:
    """Return the first existing executable among explicit paths and names on PATH."""
    for path in extra_paths:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    search_path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin:/usr/local/sbin"
    for name in names:
        found = shutil.which(name, path=search_path)
        if found:
            return found
    return None


def find_mariadbd() -> str | None:
    """Locate the MariaDB server binary (Debian puts it in /usr/sbin, often not on PATH)."""
    return _which_any(("mariadbd", "mysqld"), _MARIADBD_CANDIDATES)


def find_install_db() -> str | None:
    """Locate the datadir bootstrap script."""
    return _which_any(_INSTALL_DB_NAMES)


def find_redis_server() -> str | None:
    """Locate redis-server."""
    return _which_any(("redis-server",), ("/usr/bin/redis-server",))


def find_nginx() -> str | None:
    """Locate nginx (the reverse proxy in front of several nodes)."""
    return _which_any(("nginx",), ("/usr/sbin/nginx",))


CHROMIUM = "/usr/bin/chromium"
KOREAN_FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/nanum")


def _missing() -> dict[str, str]:
    """What is missing, by what it is called, with the Debian package that brings it."""
    missing = {}
    if find_mariadbd() is None:
        missing["mariadbd"] = "mariadb-server"
    if find_install_db() is None:
        missing["mariadb-install-db"] = "mariadb-server"
    if find_redis_server() is None:
        missing["redis-server"] = "redis-server"
    if find_nginx() is None:
        missing["nginx"] = "nginx-light"
    if not os.path.exists(CHROMIUM):
        missing["chromium"] = "chromium"
    if not any(os.path.isdir(path) for path in KOREAN_FONT_DIRS):
        missing["a Korean font"] = "fonts-noto-cjk"
    return missing


def ensure_installed(required: bool) -> None:
    """Make sure MariaDB, Redis, nginx, Chromium and a Korean font exist, installing them
    via apt when we can.

    Fresh CI machines may lack them; as root with apt-get we install them once. Otherwise
    raise (when ``required``) or return quietly so the caller can skip the tests.
    """
    missing = _missing()
    if not missing:
        return
    apt_get = shutil.which("apt-get")
    if os.geteuid() == 0 and apt_get:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([apt_get, "update", "-q"], env=env, check=False)
        subprocess.run(
            [apt_get, "install", "-y", "-q", *sorted(set(missing.values()))],
            env=env,
            check=False,
        )
        missing = _missing()
        if not missing:
            return
    if required:
        raise RuntimeError(
            "Test services missing: "
            + ", ".join(missing)
            + ". Install the Debian packages (apt-get install -y "
            + " ".join(sorted(set(missing.values())))
            + "), or run the tests as root on a machine with apt-get so they are installed "
            "automatically."
        )
