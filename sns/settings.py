"""Settings: read once from flags, then the environment, then `.env`, then the defaults.

Each setting is one row: a field of ``Settings`` made by ``setting(group, flag, default,
parser, help)``. Its variable is ``SNS_`` + the field's name in capitals. Parsing is a loop
over the rows; ``python run.py --help`` and the README's tables (``python -m sns.settings``),
both grouped by the rows' ``Group``, and the error messages all come from them, so adding a
setting is one row here and one row in the README.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import secrets
import sys
import textwrap
import warnings
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values


class SettingsError(ValueError):
    """A setting has a value the program cannot use; the message names the variable."""


Parser = Callable[[str, str], Any]
"""Turns (variable, raw text) into a value, or raises ``SettingsError`` naming the variable."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bounded(kind: Callable[[str], float], noun: str, low: float, high: float) -> Parser:
    def parse(variable: str, raw: str) -> float:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise SettingsError(f"{variable} must be {noun}, not {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{variable} must be between {low} and {high}, not {value}")
        return value

    return parse


def whole(low: int, high: int) -> Parser:
    return _bounded(int, "a whole number", low, high)


def seconds(low: float, high: float) -> Parser:
    return _bounded(float, "a number of seconds", low, high)


def boolean(variable: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{variable} must be true or false, not {raw!r}")


def plain(variable: str, raw: str) -> str:
    return raw.strip()


def verbatim(variable: str, raw: str) -> str:
    """Kept exactly as given (secrets may end in spaces)."""
    return raw


def choice(*allowed: str) -> Parser:
    def parse(variable: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise SettingsError(f"{variable} must be {' or '.join(allowed)}, not {raw!r}")
        return value

    return parse


def directory(variable: str, raw: str) -> Path:
    if not raw.strip():
        raise SettingsError(f"{variable} must name a directory")
    return Path(raw.strip()).expanduser().resolve()


def optional_directory(variable: str, raw: str) -> Path | None:
    return directory(variable, raw) if raw.strip() else None


def descriptor(variable: str, raw: str) -> int | None:
    """A file descriptor number, or empty for none."""
    return None if not raw.strip() else int(whole(0, 65535)(variable, raw))


PRODUCTION_RISKS = ("sqlite", "sql-sessions", "generated-secrets", "local-images", "debug")


def risks(variable: str, raw: str) -> frozenset[str]:
    """Comma-separated names among ``PRODUCTION_RISKS``."""
    found = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = sorted(found - set(PRODUCTION_RISKS))
    if unknown:
        raise SettingsError(
            f"{variable}: {', '.join(unknown)} is not one of {', '.join(PRODUCTION_RISKS)}"
        )
    return frozenset(found)


def networks(variable: str, raw: str) -> tuple[Network, ...]:
    found = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(f"{variable}: {part!r} is not an address or network") from None
    return tuple(found)


def host_names(variable: str, raw: str) -> frozenset[str]:
    """Comma-separated host names or addresses, without a port, folded to lower case."""
    found = set()
    for part in raw.split(","):
        name = part.strip().lower().rstrip(".")
        if not name:
            continue
        bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        try:
            found.add(str(ipaddress.ip_address(bare)))
            continue
        except ValueError:
            pass
        labels = name.split(".")
        if len(name) > 253 or not all(
            label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
            for label in labels
        ):
            raise SettingsError(f"{variable}: {part.strip()!r} is not a host name (no port)")
        found.add(name)
    return frozenset(found)


def service_url(variable: str, raw: str) -> str:
    """A database or Redis URL, or empty for the embedded default."""
    url = raw.strip()
    if url and "://" not in url:
        raise SettingsError(f"{variable} is not a URL: {url!r}")
    return url


def key_prefix(variable: str, raw: str) -> str:
    """A prefix for Redis keys: 1 to 64 visible characters, no spaces."""
    value = raw.strip()
    if not 1 <= len(value) <= 64 or not value.isprintable() or any(c.isspace() for c in value):
        raise SettingsError(f"{variable} must be 1 to 64 characters without spaces, not {raw!r}")
    return value


def http_url(required: bool) -> Parser:
    def parse(variable: str, raw: str) -> str:
        url = raw.strip()
        if not url and not required:
            return ""
        scheme, _, rest = url.partition("://")
        if scheme not in ("http", "https") or not rest or rest.startswith("/"):
            raise SettingsError(f"{variable} must be an http(s):// URL, not {raw!r}")
        return url

    return parse


def sizes(variable: str, raw: str) -> tuple[int, ...]:
    """Comma-separated pixel sizes, smallest first, each 16..8192, at least one: the rule of
    the ``resize`` package, which the Lambda and the batch tool read the same variable by."""
    from resize.keys import ConfigError, parse_sizes

    try:
        return parse_sizes(raw, variable)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True)
class Group:
    """A heading the settings are listed under in ``--help`` and the README."""

    name: str
    about: str

    @property
    def title(self) -> str:
        return self.name[0].upper() + self.name[1:]


SERVER = Group("server", "Where this process listens and keeps its files, and what a page holds.")
DATABASE = Group("database", "The SQL database: which one, its connections and migrations.")
SESSIONS = Group(
    "sessions", "Who is logged in: cookies, the session store (Redis), passwords, Kakao login."
)
PICTURES = Group("pictures", "Uploads, where pictures are stored and how thumbnails are made.")
API = Group("API", "The API for other sites: its tokens, v1, and each site's quota.")
LIMITS = Group("limits", "What one client may ask of the server before it is refused.")
DEPLOYMENT = Group(
    "deployment", "Production rules, processes, the proxies in front, stopping and logs."
)
DEVELOPMENT = Group("development", "For working on SNS itself; leave them off in production.")
GROUPS = (SERVER, DATABASE, SESSIONS, PICTURES, API, LIMITS, DEPLOYMENT, DEVELOPMENT)


@dataclass(frozen=True)
class Setting:
    """One row: the field's name, its group, flag (if any), the default as text, parser and
    help."""

    name: str
    group: Group
    flag: str | None
    default: str
    parse: Parser
    help: str
    secret: bool = False

    @property
    def variable(self) -> str:
        return "SNS_" + self.name.upper()


def setting(
    group: Group,
    flag: str | None,
    default: str,
    parse: Parser,
    help: str,
    *,
    secret: bool = False,
) -> Any:
    """Declare a field of ``Settings`` together with its row (secrets stay out of ``repr``)."""
    row = {
        "group": group,
        "flag": flag,
        "default": default,
        "parse": parse,
        "help": help,
        "secret": secret,
    }
    return field(repr=not secret, metadata={"setting": row})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole configuration, typed; build it with ``Settings.load``.

    The fields are in the order of ``GROUPS``, so that ``--help`` and the README list them
    as they are written here.
    """

    data_dir: Path = setting(
        SERVER,
        "--data-dir",
        "./data",
        directory,
        "where the embedded backends keep files (SQLite, secrets, logs)",
    )
    host: str = setting(SERVER, "--host", "localhost", plain, "address to listen on")
    port: int = setting(SERVER, "--port", "8001", whole(0, 65535), "port to listen on")
    page_size: int = setting(SERVER, None, "20", whole(1, 200), "posts per timeline page")
    page_cache_bytes: int = setting(
        SERVER,
        None,
        "16777216",
        whole(0, 10**10),
        "bytes of drawn pages each process keeps for reuse until anything changes; 0: off",
    )
    fragment_cache_bytes: int = setting(
        SERVER,
        None,
        "8388608",
        whole(0, 10**10),
        "bytes of posts each process keeps drawn for every reader, kept until the post, its "
        "comments or its author change (not until anything changes); 0: off",
    )
    page_cache_ttl: int = setting(
        SERVER,
        None,
        "30",
        whole(1, 3600),
        "seconds a kept page may be served (relative times such as 3 minutes ago stay right)",
    )

    database_url: str = setting(
        DATABASE,
        None,
        "",
        service_url,
        "SQLAlchemy URL, e.g. `mysql+aiomysql://sns:pw@127.0.0.1/sns?charset=utf8mb4`; "
        "unset: SQLite in the data dir",
    )
    db_connect_timeout: int = setting(
        DATABASE,
        None,
        "5",
        whole(1, 600),
        "seconds to wait for MySQL/MariaDB to accept a connection",
    )
    db_query_timeout: int = setting(
        DATABASE,
        None,
        "10",
        whole(1, 3600),
        "seconds one MySQL/MariaDB transaction may take before the request fails with a 503",
    )
    db_pool_timeout: int = setting(
        DATABASE,
        None,
        "5",
        whole(1, 600),
        "seconds to wait for a free connection in the pool before the request fails with a 503",
    )
    db_pool_size: int = setting(
        DATABASE,
        None,
        "4",
        whole(1, 1000),
        "MySQL/MariaDB connections each process keeps open; every process of every node "
        "counts against the server's `max_connections`",
    )
    db_max_overflow: int = setting(
        DATABASE,
        None,
        "4",
        whole(0, 1000),
        "connections a process may open beyond the pool at busy times",
    )
    migrate: str = setting(
        DATABASE,
        None,
        "auto",
        choice("auto", "check"),
        "`auto`: start-up applies migrations (one process at a time); `check`: start-up only "
        "checks the database is at head and refuses to serve an older schema "
        "(run `python run.py migrate` first)",
    )

    redis_url: str = setting(
        SESSIONS,
        None,
        "",
        service_url,
        "`redis://...`: sessions and rate limits move to Redis",
    )
    redis_prefix: str = setting(
        SESSIONS,
        None,
        "sns:",
        key_prefix,
        "put before every Redis key (sessions, failed-login and API counters, the site "
        "version); deployments sharing one Redis need different ones. Changing it logs "
        "everyone out once and starts the counters afresh",
    )
    redis_timeout: float = setting(
        SESSIONS,
        None,
        "2",
        seconds(0.1, 600),
        "seconds to wait for Redis to connect or answer before the request fails with a 503",
    )
    cookie_secret: str = setting(
        SESSIONS,
        None,
        "",
        verbatim,
        "signs cookies; unset: generated once into `<data dir>/secrets.json` (0600); "
        "set it (32+ chars) in production",
        secret=True,
    )
    session_ttl: int = setting(
        SESSIONS,
        None,
        "1209600",
        whole(60, 10**8),
        "seconds a session lives without use; every visit pushes it forward",
    )
    bcrypt_rounds: int = setting(SESSIONS, None, "12", whole(4, 16), "bcrypt cost factor")
    kakao_client_id: str = setting(
        SESSIONS,
        None,
        "",
        plain,
        "Kakao REST API key; when set, the login box offers Kakao login (`/auth/kakao`), "
        "otherwise Kakao login is off (404)",
    )
    kakao_client_secret: str = setting(
        SESSIONS,
        None,
        "",
        plain,
        "Kakao client secret, sent with the code exchange when set",
        secret=True,
    )
    kakao_auth_url: str = setting(
        SESSIONS,
        None,
        "https://kauth.kakao.com/oauth/authorize",
        http_url(required=True),
        "Kakao's authorization endpoint (the browser is sent there)",
    )
    kakao_token_url: str = setting(
        SESSIONS,
        None,
        "https://kauth.kakao.com/oauth/token",
        http_url(required=True),
        "Kakao's token endpoint (the server exchanges the code there)",
    )
    kakao_user_url: str = setting(
        SESSIONS,
        None,
        "https://kapi.kakao.com/v2/user/me",
        http_url(required=True),
        "Kakao's user-info endpoint",
    )
    kakao_redirect_uri: str = setting(
        SESSIONS,
        None,
        "",
        http_url(required=False),
        "the callback URL registered with Kakao; unset: `<this site>/auth/kakao/callback` "
        "(set it behind a proxy that changes the host or scheme)",
    )

    s3_bucket: str = setting(
        PICTURES,
        None,
        "",
        plain,
        "S3 bucket for pictures (credentials: the usual AWS chain; no ACL headers are sent); "
        "unset: files in `<data dir>/images`",
    )
    s3_region: str = setting(
        PICTURES, None, "", plain, "the bucket's region, e.g. `ap-northeast-2`"
    )
    s3_endpoint_url: str = setting(
        PICTURES,
        None,
        "",
        http_url(required=False),
        "endpoint of an S3-compatible store (MinIO, R2, B2); unset: AWS",
    )
    s3_path_style: bool = setting(
        PICTURES, None, "false", boolean, "address the bucket as `<endpoint>/<bucket>/<key>`"
    )
    s3_public_url: str = setting(
        PICTURES,
        None,
        "",
        http_url(required=False),
        "public base URL of the bucket (a CDN or public bucket domain); pictures are linked "
        "there; unset: the app serves them under `/img/`",
    )
    image_max_bytes: int = setting(
        PICTURES,
        None,
        "20971520",
        whole(1024, 10**9),
        "largest picture upload in bytes (20 MiB: a phone's largest photos); a proxy in front "
        "must let this much through on the upload routes (deploy/nginx-sns.conf)",
    )
    image_max_side: int = setting(
        PICTURES,
        None,
        "4096",
        whole(16, 65535),
        "long side in pixels of a stored original; a larger still picture is scaled down to it "
        "once, on upload (a larger GIF or animated WebP is refused)",
    )
    image_max_pixels: int = setting(
        PICTURES,
        None,
        "50000000",
        whole(1, 10**10),
        "largest picture in pixels (width x height), and most pixels of all an animation's "
        "frames together (frames x width x height); larger ones are refused as bombs",
    )
    image_job_seconds: float = setting(
        PICTURES,
        None,
        "30",
        seconds(0.01, 3600),
        "seconds one picture may take in the process pool (checking and cleaning an upload, "
        "making its thumbnails); past it the upload gets a 413 and the worker is replaced",
    )
    thumb_sizes: tuple[int, ...] = setting(
        PICTURES,
        None,
        "200,1080",
        sizes,
        "long sides of the thumbnails: the smallest for timelines, the largest for a post's page",
    )
    resize: str = setting(
        PICTURES,
        None,
        "inline",
        choice("inline", "lambda"),
        "`inline`: thumbnails made in a process pool right after upload; `lambda`: left to the "
        "S3 trigger",
    )
    orphan_hours: int = setting(
        PICTURES,
        None,
        "24",
        whole(1, 10**5),
        "hours an uploaded picture may stay unused by any post before it is removed",
    )
    orphan_sweep: int = setting(
        PICTURES,
        None,
        "3600",
        whole(1, 10**7),
        "seconds between the server's sweeps of orphan pictures (`python run.py images clean` "
        "does the same by hand)",
    )

    jwt_secret: str = setting(
        API,
        None,
        "",
        verbatim,
        "signs API tokens; unset: generated once like the cookie secret",
        secret=True,
    )
    api_v1: str = setting(
        API,
        None,
        "gone",
        choice("gone", "on"),
        "`gone`: every `/v1/...` answers 410 telling clients to use v2; `on`: v1 is served, "
        "with 1-minute tokens",
    )
    rate_free: int = setting(
        API,
        None,
        "60",
        whole(1, 10**7),
        "API requests per minute for one site of the free tier (token requests are counted "
        "apart, with the same limit)",
    )
    rate_premium: int = setting(
        API, None, "1000", whole(1, 10**7), "the same for a site of the premium tier"
    )
    rate_anonymous: int = setting(
        API,
        None,
        "30",
        whole(1, 10**7),
        "API requests per minute from one client address that no site answers for (no token, "
        "a bad or expired token, an unknown client secret: what guessing looks like)",
    )

    max_body_bytes: int = setting(
        LIMITS,
        None,
        "65536",
        whole(1024, 10**8),
        "largest request body accepted from anyone (forms, fetch calls); larger ones are "
        "refused from their `Content-Length` before they are read",
    )
    idle_timeout: int = setting(
        LIMITS,
        None,
        "60",
        whole(1, 3600),
        "seconds a connection may sit idle, or take to send its request headers, before "
        "it is closed",
    )
    body_timeout: int = setting(
        LIMITS, None, "30", whole(1, 3600), "seconds a client may take to send a request body"
    )
    max_connections: int = setting(
        LIMITS,
        None,
        "0",
        whole(0, 10**6),
        "open connections one process serves at once; more are closed at once; "
        "0: the open-file limit less 64 for the database, Redis and logs",
    )
    bcrypt_concurrency: int = setting(
        LIMITS,
        None,
        "0",
        whole(0, 1024),
        "bcrypt hashes and checks running at once in one process; 0: one per CPU core",
    )
    bcrypt_wait: int = setting(
        LIMITS,
        None,
        "5",
        whole(1, 600),
        "seconds a login, sign-up or password change waits for a bcrypt turn; after that it "
        "gets a 503 busy page with `Retry-After` instead of queueing on",
    )
    login_max_failures: int = setting(
        LIMITS,
        None,
        "5",
        whole(1, 10**6),
        "failed logins for one account within the window before its logins are refused (429)",
    )
    login_max_failures_ip: int = setting(
        LIMITS, None, "30", whole(1, 10**6), "the same per client address"
    )
    login_failure_window: int = setting(
        LIMITS, None, "900", whole(1, 10**7), "seconds over which failed logins are counted"
    )
    uploads_per_hour: int = setting(
        LIMITS,
        None,
        "100",
        whole(1, 10**6),
        "pictures one account may upload in an hour, posted or not; past it a 429",
    )
    upload_bytes_per_hour: int = setting(
        LIMITS,
        None,
        "209715200",
        whole(1024, 10**12),
        "bytes of pictures one account may upload in an hour (200 MiB), posted or not",
    )
    # Limits against floods (#21): sns/floods.py.
    signups_per_address: int = setting(
        LIMITS,
        None,
        "5",
        whole(1, 10**6),
        "sign-ups from one client address within `SNS_SIGNUP_WINDOW`; past it a 429 "
        "(127.0.0.1 and ::1 are never counted)",
    )
    signup_window: int = setting(
        LIMITS, None, "1800", whole(1, 10**7), "seconds over which sign-ups are counted"
    )
    signup_exempt: tuple[Network, ...] = setting(
        LIMITS,
        None,
        "",
        networks,
        "comma-separated addresses or networks whose sign-ups are never counted, besides "
        "127.0.0.1 and ::1 (e.g. an office behind one address)",
    )
    posts_per_window: int = setting(
        LIMITS,
        None,
        "30",
        whole(1, 10**6),
        "posts one account may write within `SNS_WRITE_WINDOW` (pages and the API); past it a 429",
    )
    comments_per_window: int = setting(
        LIMITS,
        None,
        "30",
        whole(1, 10**6),
        "comments and replies one account may write within `SNS_WRITE_WINDOW`",
    )
    write_window: int = setting(
        LIMITS, None, "600", whole(1, 10**7), "seconds over which posts and comments are counted"
    )
    reports_per_hour: int = setting(
        LIMITS, None, "20", whole(1, 10**6), "reports one account may send in an hour"
    )
    # Live pages (#20): sns/live.py, handlers/live.py.
    live_per_user: int = setting(
        LIMITS,
        None,
        "5",
        whole(1, 1000),
        "live sockets (open pages) one person may hold on one process; one more closes "
        "their oldest",
    )
    live_max: int = setting(
        LIMITS,
        None,
        "4096",
        whole(0, 10**6),
        "live sockets one process holds at most; past it a page's socket is refused (503) "
        "and the page tries again later; 0: live updates off",
    )
    live_ping: int = setting(
        LIMITS,
        None,
        "25",
        whole(1, 3600),
        "seconds between two pings on a live socket; one that has not answered by the "
        "next ping is closed",
    )

    env: str = setting(
        DEPLOYMENT,
        None,
        "development",
        choice("development", "production"),
        "`production` refuses to start on SQLite, SQL sessions, generated secrets, local "
        "pictures or debug, unless `SNS_PRODUCTION_ALLOW` names them",
    )
    production_allow: frozenset[str] = setting(
        DEPLOYMENT,
        None,
        "",
        risks,
        "what `SNS_ENV=production` accepts anyway, comma-separated: "
        + ", ".join(f"`{name}`" for name in PRODUCTION_RISKS),
    )
    trusted_proxies: tuple[Network, ...] = setting(
        DEPLOYMENT,
        None,
        "127.0.0.1",
        networks,
        "comma-separated proxies whose `X-Forwarded-For`/`X-Real-IP`/`X-Forwarded-Proto` "
        "are believed; anyone else's are ignored",
    )
    site_hosts: frozenset[str] = setting(
        DEPLOYMENT,
        None,
        "",
        host_names,
        "comma-separated names this site is reached at (the `Host` browsers send, any port), "
        "e.g. `sns.example.com`; only pages asked for under them are kept by the page cache; "
        "unset: `localhost`, `127.0.0.1`, `::1` and `SNS_HOST`",
    )
    metrics_allow: tuple[Network, ...] = setting(
        DEPLOYMENT,
        None,
        "",
        networks,
        "comma-separated addresses/networks that may read `/metrics` (Prometheus text, every "
        "worker of the node; the address is the client's as `SNS_TRUSTED_PROXIES` resolve "
        "it); unset: metrics off and `/metrics` is a 404",
    )
    metrics_dir: Path | None = setting(
        DEPLOYMENT,
        None,
        "",
        optional_directory,
        "where every worker of a node writes its counts for `/metrics` (emptied when the "
        "node starts); unset: `<data dir>/metrics`",
    )
    # Processes and deployment (#10): docs/deploy.md, supervisord.conf. Two counts with
    # two names (#18): what `run.py` forks, and what supervisor starts.
    processes: int = setting(
        DEPLOYMENT,
        "--processes",
        "1",
        whole(0, 1024),
        "processes `python run.py` forks to serve the port, each on its own `SO_REUSEPORT` "
        "listener, restarted when they die; 0: one per CPU core",
    )
    supervisor_workers: int = setting(
        DEPLOYMENT,
        "--supervisor-workers",
        "0",
        whole(0, 1024),
        "workers `python run.py supervise` has supervisor start on its one socket "
        "(`numprocs` in supervisord.conf); 0: one per CPU core",
    )
    listen_fd: int | None = setting(
        DEPLOYMENT,
        "--fd",
        "",
        descriptor,
        "serve on this inherited listening socket instead of binding host and port "
        "(supervisor's `[fcgi-program]` passes it as 0)",
    )
    shutdown_grace: int = setting(
        DEPLOYMENT,
        None,
        "15",
        whole(0, 3600),
        "seconds a stopping process (SIGTERM, SIGINT) lets requests in flight finish; "
        "supervisor waits 5 more before SIGKILL",
    )
    live_bus: str = setting(
        DEPLOYMENT,
        None,
        "auto",
        choice("auto", "memory", "database"),
        "how live updates reach the other processes without Redis (with `SNS_REDIS_URL` "
        "always Redis pub/sub): `database`: the SQLite file's `live_events` table; "
        "`memory`: this process alone; `auto`: `database` under `--processes` or "
        "supervisor, else `memory`",
    )
    log_to: str = setting(
        DEPLOYMENT,
        None,
        "auto",
        choice("auto", "files", "stdout"),
        "`files`: JSON lines in the log dir, one pair of files per process; `stdout`: JSON "
        "lines on stdout (errors on stderr too); `auto`: stdout on an inherited socket "
        "(supervisor captures it), else files",
    )
    log_dir: Path | None = setting(
        DEPLOYMENT,
        None,
        "",
        optional_directory,
        "where the JSON log files `combined.log` and `error.log` go; unset: `<data dir>/logs`",
    )

    debug: bool = setting(
        DEVELOPMENT,
        None,
        "false",
        boolean,
        "Tornado debug mode (autoreload, tracebacks); refused in production",
    )
    query_count_header: bool = setting(
        DEVELOPMENT,
        None,
        "false",
        boolean,
        "adds `X-SNS-Queries` (SQL statements the request ran) to responses, for tests "
        "and profiling",
    )

    @functools.cached_property
    def site_host_names(self) -> frozenset[str]:
        """The names pages are kept for: ``SNS_SITE_HOSTS``, or the loopback names and
        the address this process listens on."""
        if self.site_hosts:
            return self.site_hosts
        loopback = frozenset({"localhost", "127.0.0.1", "::1"})
        try:
            return loopback | host_names("SNS_HOST", self.host)
        except SettingsError:
            return loopback

    @property
    def several_processes(self) -> bool:
        """Whether other processes serve the same site beside this one (``--processes``,
        or supervisor's workers on an inherited socket)."""
        return self.listen_fd is not None or (self.processes or os.cpu_count() or 1) > 1

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "sns.sqlite3"

    @property
    def sql_url(self) -> str:
        """The database URL in force: the configured one, else SQLite in the data dir."""
        return self.database_url or f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def metrics_directory(self) -> Path | None:
        """Where the node's metrics are kept, or None when metrics are off."""
        if not self.metrics_allow:
            return None
        return self.metrics_dir or self.data_dir / "metrics"

    @property
    def logs_dir(self) -> Path:
        return self.log_dir or self.data_dir / "logs"

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, str | None] | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
    ) -> Settings:
        """Read settings: flag overrides, then the environment, then `.env`, then defaults."""
        environ = os.environ if environ is None else environ
        from_file: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            from_file = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
        given = {**from_file, **environ}
        stand_ins = _stand_ins(given)
        values: dict[str, Any] = {}
        for row in SETTINGS:
            source, raw = row.variable, given.get(row.variable, row.default)
            if row.variable in stand_ins:
                old = stand_ins[row.variable]
                source, raw = f"{old} (read as {row.variable})", given[old]
            if overrides and overrides.get(row.name) is not None:
                source, raw = row.variable, str(overrides[row.name])
            values[row.name] = row.parse(source, raw)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse what production must not run with, naming each setting to change."""
        if not self.production:
            return
        short = [
            row.variable
            for row in SETTINGS
            if row.name in ("cookie_secret", "jwt_secret") and len(getattr(self, row.name)) < 32
        ]
        risky = {
            "sqlite": "" if self.database_url else "SNS_DATABASE_URL is unset: the embedded SQLite",
            "sql-sessions": ""
            if self.redis_url
            else "SNS_REDIS_URL is unset: sessions in SQL, rate limits in each process",
            "generated-secrets": f"{' and '.join(short)} must be set to at least 32 characters"
            if short
            else "",
            "local-images": ""
            if self.s3_bucket
            else "SNS_S3_BUCKET is unset: pictures on this disk",
            "debug": "SNS_DEBUG must be off" if self.debug else "",
        }
        problems = [
            f"{problem} (to accept that, add `{name}` to SNS_PRODUCTION_ALLOW)."
            for name, problem in risky.items()
            if problem and name not in self.production_allow
        ]
        if problems:
            raise SettingsError(" ".join(["SNS_ENV=production refuses to start.", *problems]))

    def advice(self) -> list[str]:
        """What works but costs a production site: said in the log at start, not refused."""
        if self.production and not self.site_hosts:
            return [
                "SNS_SITE_HOSTS is unset: pages asked for under any name but "
                f"{', '.join(sorted(self.site_host_names))} are drawn afresh every time; "
                "set it to the names browsers use for this site"
            ]
        return []

    def with_secrets(self) -> Settings:
        """Fill empty secrets from ``<data dir>/secrets.json``, creating it once (mode 0600)."""
        if self.cookie_secret and self.jwt_secret:
            return self
        path = self.data_dir / "secrets.json"
        stored: dict[str, str] = {}
        if path.is_file():
            stored = json.loads(path.read_text())
        changed = False
        for name in ("cookie_secret", "jwt_secret"):
            if not stored.get(name):
                stored[name] = secrets.token_urlsafe(48)
                changed = True
        if changed:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(stored, out)
            os.replace(tmp, path)
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["cookie_secret"] = self.cookie_secret or stored["cookie_secret"]
        values["jwt_secret"] = self.jwt_secret or stored["jwt_secret"]
        return Settings(**values)


RETIRED: dict[str, dict[str, str]] = {
    "SNS_WORKERS": {
        "SNS_PROCESSES": "the processes `run.py --processes` forks",
        "SNS_SUPERVISOR_WORKERS": "the workers `run.py supervise` starts",
    },
}
"""Old variables still read for this release, each standing in for its new ones left unset.

``SNS_WORKERS`` was both ``run.py --processes`` and supervisor's count, a different thing
depending on the command; read as both, it keeps meaning what it meant for each (#18).
"""


class RetiredSetting(FutureWarning):
    """An old variable is set: it still works for this release; the message names the new."""


def _stand_ins(given: Mapping[str, str]) -> dict[str, str]:
    """New variable -> the old one read in its place; warns once per old variable set."""
    stand_ins: dict[str, str] = {}
    for old, new in RETIRED.items():
        if old not in given:
            continue
        unset = [variable for variable in new if variable not in given]
        stand_ins.update(dict.fromkeys(unset, old))
        now = f"read as {' and '.join(unset)}" if unset else "ignored, as its new names are set"
        instead = " or ".join(f"{variable} for {meaning}" for variable, meaning in new.items())
        warnings.warn(
            f"{old} is retired and will be refused in the next release; for now it is {now}. "
            f"Set {instead}.",
            RetiredSetting,
            stacklevel=3,
        )
    return stand_ins


def _row(item: Field[Any]) -> Setting:
    return Setting(name=item.name, **item.metadata["setting"])


SETTINGS: tuple[Setting, ...] = tuple(_row(item) for item in fields(Settings))


def rows_of(group: Group) -> tuple[Setting, ...]:
    return tuple(row for row in SETTINGS if row.group is group)


def help_text(group: Group, width: int = 96) -> str:
    """A group's heading text in ``--help``: what the group is for, then its settings that
    have no flag (the flagged ones follow as the group's options)."""
    lines = textwrap.wrap(group.about, width=width)
    for row in rows_of(group):
        if not row.flag:
            text = f"{row.variable} (default {row.default or 'unset'}): {row.help}"
            lines += textwrap.wrap(
                text.replace("`", ""),
                width=width,
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
    return "\n".join(lines)


def markdown_tables() -> str:
    """The README's settings: a small heading and a table per group, made from the rows
    (``python -m sns.settings``)."""
    parts = []
    for group in GROUPS:
        lines = [f"### {group.title}", "", group.about, ""]
        lines += ["| variable (flag) | default | meaning |", "|---|---|---|"]
        for row in rows_of(group):
            name = f"`{row.variable}`" + (f" (`{row.flag}`)" if row.flag else "")
            default = f"`{row.default}`" if row.default else "unset"
            lines.append(f"| {name} | {default} | {row.help} |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(markdown_tables())
