"""Settings: read once from flags, then the environment, then `.env`, then the defaults.

Each setting is one row: a field of ``Settings`` made by ``setting(flag, default, parser,
help)``. Its variable is ``SNS_`` + the field's name in capitals. Parsing is a loop over the
rows; ``python run.py --help``, the README's table (``python -m sns.settings``) and the error
messages all come from them, so adding a setting is one row here and one row in the README.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import secrets
import sys
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
class Setting:
    """One row: the field's name, its flag (if any), the default as text, parser and help."""

    name: str
    flag: str | None
    default: str
    parse: Parser
    help: str
    secret: bool = False

    @property
    def variable(self) -> str:
        return "SNS_" + self.name.upper()


def setting(
    flag: str | None, default: str, parse: Parser, help: str, *, secret: bool = False
) -> Any:
    """Declare a field of ``Settings`` together with its row (secrets stay out of ``repr``)."""
    row = {"flag": flag, "default": default, "parse": parse, "help": help, "secret": secret}
    return field(repr=not secret, metadata={"setting": row})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole configuration, typed; build it with ``Settings.load``."""

    data_dir: Path = setting(
        "--data-dir",
        "./data",
        directory,
        "where the embedded backends keep files (SQLite, secrets, logs)",
    )
    host: str = setting("--host", "localhost", plain, "address to listen on")
    port: int = setting("--port", "8001", whole(0, 65535), "port to listen on")
    env: str = setting(
        None,
        "development",
        choice("development", "production"),
        "`production` refuses to start on SQLite, SQL sessions, generated secrets, local "
        "pictures or debug, unless `SNS_PRODUCTION_ALLOW` names them",
    )
    database_url: str = setting(
        None,
        "",
        service_url,
        "SQLAlchemy URL, e.g. `mysql+aiomysql://sns:pw@127.0.0.1/sns?charset=utf8mb4`; "
        "unset: SQLite in the data dir",
    )
    redis_url: str = setting(
        None, "", service_url, "`redis://...`: sessions and rate limits move to Redis"
    )
    redis_prefix: str = setting(
        None,
        "sns:",
        key_prefix,
        "put before every Redis key (sessions, failed-login and API counters, the site "
        "version); deployments sharing one Redis need different ones. Changing it logs "
        "everyone out once and starts the counters afresh",
    )
    cookie_secret: str = setting(
        None,
        "",
        verbatim,
        "signs cookies; unset: generated once into `<data dir>/secrets.json` (0600); "
        "set it (32+ chars) in production",
        secret=True,
    )
    jwt_secret: str = setting(
        None,
        "",
        verbatim,
        "signs API tokens; unset: generated once like the cookie secret",
        secret=True,
    )
    session_ttl: int = setting(
        None,
        "1209600",
        whole(60, 10**8),
        "seconds a session lives without use; every visit pushes it forward",
    )
    bcrypt_rounds: int = setting(None, "12", whole(4, 16), "bcrypt cost factor")
    bcrypt_concurrency: int = setting(
        None,
        "0",
        whole(0, 1024),
        "bcrypt hashes and checks running at once in one process; 0: one per CPU core",
    )
    bcrypt_wait: int = setting(
        None,
        "5",
        whole(1, 600),
        "seconds a login, sign-up or password change waits for a bcrypt turn; after that it "
        "gets a 503 busy page with `Retry-After` instead of queueing on",
    )
    login_max_failures: int = setting(
        None,
        "5",
        whole(1, 10**6),
        "failed logins for one account within the window before its logins are refused (429)",
    )
    login_max_failures_ip: int = setting(None, "30", whole(1, 10**6), "the same per client address")
    login_failure_window: int = setting(
        None, "900", whole(1, 10**7), "seconds over which failed logins are counted"
    )
    trusted_proxies: tuple[Network, ...] = setting(
        None,
        "127.0.0.1",
        networks,
        "comma-separated proxies whose `X-Forwarded-For`/`X-Real-IP`/`X-Forwarded-Proto` "
        "are believed; anyone else's are ignored",
    )
    site_hosts: frozenset[str] = setting(
        None,
        "",
        host_names,
        "comma-separated names this site is reached at (the `Host` browsers send, any port), "
        "e.g. `sns.example.com`; only pages asked for under them are kept by the page cache; "
        "unset: `localhost`, `127.0.0.1`, `::1` and `SNS_HOST`",
    )
    page_size: int = setting(None, "20", whole(1, 200), "posts per timeline page")
    page_cache_bytes: int = setting(
        None,
        "16777216",
        whole(0, 10**10),
        "bytes of drawn pages each process keeps for reuse until anything changes; 0: off",
    )
    page_cache_ttl: int = setting(
        None,
        "30",
        whole(1, 3600),
        "seconds a kept page may be served (relative times such as 3 minutes ago stay right)",
    )
    db_connect_timeout: int = setting(
        None, "5", whole(1, 600), "seconds to wait for MySQL/MariaDB to accept a connection"
    )
    db_query_timeout: int = setting(
        None,
        "10",
        whole(1, 3600),
        "seconds one MySQL/MariaDB transaction may take before the request fails with a 503",
    )
    db_pool_timeout: int = setting(
        None,
        "5",
        whole(1, 600),
        "seconds to wait for a free connection in the pool before the request fails with a 503",
    )
    redis_timeout: float = setting(
        None,
        "2",
        seconds(0.1, 600),
        "seconds to wait for Redis to connect or answer before the request fails with a 503",
    )
    max_body_bytes: int = setting(
        None,
        "65536",
        whole(1024, 10**8),
        "largest request body accepted from anyone (forms, fetch calls); larger ones are "
        "refused from their `Content-Length` before they are read",
    )
    idle_timeout: int = setting(
        None,
        "60",
        whole(1, 3600),
        "seconds a connection may sit idle, or take to send its request headers, before "
        "it is closed",
    )
    body_timeout: int = setting(
        None, "30", whole(1, 3600), "seconds a client may take to send a request body"
    )
    max_connections: int = setting(
        None,
        "0",
        whole(0, 10**6),
        "open connections one process serves at once; more are closed at once; "
        "0: the open-file limit less 64 for the database, Redis and logs",
    )
    # Processes and deployment (#10): docs/deploy.md, supervisord.conf.
    workers: int = setting(
        "--processes",
        "1",
        whole(0, 1024),
        "processes serving the port, each on its own `SO_REUSEPORT` listener, restarted when "
        "they die; 0: one per CPU core (`python run.py supervise` starts one per core)",
    )
    listen_fd: int | None = setting(
        "--fd",
        "",
        descriptor,
        "serve on this inherited listening socket instead of binding host and port "
        "(supervisor's `[fcgi-program]` passes it as 0)",
    )
    shutdown_grace: int = setting(
        None,
        "15",
        whole(0, 3600),
        "seconds a stopping process (SIGTERM, SIGINT) lets requests in flight finish; "
        "supervisor waits 5 more before SIGKILL",
    )
    migrate: str = setting(
        None,
        "auto",
        choice("auto", "check"),
        "`auto`: start-up applies migrations (one process at a time); `check`: start-up only "
        "checks the database is at head and refuses to serve an older schema "
        "(run `python run.py migrate` first)",
    )
    db_pool_size: int = setting(
        None,
        "4",
        whole(1, 1000),
        "MySQL/MariaDB connections each process keeps open; every process of every node "
        "counts against the server's `max_connections`",
    )
    db_max_overflow: int = setting(
        None, "4", whole(0, 1000), "connections a process may open beyond the pool at busy times"
    )
    log_to: str = setting(
        None,
        "auto",
        choice("auto", "files", "stdout"),
        "`files`: JSON lines in the log dir, one pair of files per process; `stdout`: JSON "
        "lines on stdout (errors on stderr too); `auto`: stdout on an inherited socket "
        "(supervisor captures it), else files",
    )
    production_allow: frozenset[str] = setting(
        None,
        "",
        risks,
        "what `SNS_ENV=production` accepts anyway, comma-separated: "
        + ", ".join(f"`{name}`" for name in PRODUCTION_RISKS),
    )

    log_dir: Path | None = setting(
        None,
        "",
        optional_directory,
        "where the JSON log files `combined.log` and `error.log` go; unset: `<data dir>/logs`",
    )
    debug: bool = setting(
        None,
        "false",
        boolean,
        "Tornado debug mode (autoreload, tracebacks); refused in production",
    )
    query_count_header: bool = setting(
        None,
        "false",
        boolean,
        "adds `X-SNS-Queries` (SQL statements the request ran) to responses, for tests "
        "and profiling",
    )
    kakao_client_id: str = setting(
        None,
        "",
        plain,
        "Kakao REST API key; when set, the login box offers Kakao login (`/auth/kakao`), "
        "otherwise Kakao login is off (404)",
    )
    kakao_client_secret: str = setting(
        None, "", plain, "Kakao client secret, sent with the code exchange when set", secret=True
    )
    kakao_auth_url: str = setting(
        None,
        "https://kauth.kakao.com/oauth/authorize",
        http_url(required=True),
        "Kakao's authorization endpoint (the browser is sent there)",
    )
    kakao_token_url: str = setting(
        None,
        "https://kauth.kakao.com/oauth/token",
        http_url(required=True),
        "Kakao's token endpoint (the server exchanges the code there)",
    )
    kakao_user_url: str = setting(
        None,
        "https://kapi.kakao.com/v2/user/me",
        http_url(required=True),
        "Kakao's user-info endpoint",
    )
    kakao_redirect_uri: str = setting(
        None,
        "",
        http_url(required=False),
        "the callback URL registered with Kakao; unset: `<this site>/auth/kakao/callback` "
        "(set it behind a proxy that changes the host or scheme)",
    )
    s3_bucket: str = setting(
        None,
        "",
        plain,
        "S3 bucket for pictures (credentials: the usual AWS chain; no ACL headers are sent); "
        "unset: files in `<data dir>/images`",
    )
    s3_region: str = setting(None, "", plain, "the bucket's region, e.g. `ap-northeast-2`")
    s3_endpoint_url: str = setting(
        None,
        "",
        http_url(required=False),
        "endpoint of an S3-compatible store (MinIO, R2, B2); unset: AWS",
    )
    s3_path_style: bool = setting(
        None, "false", boolean, "address the bucket as `<endpoint>/<bucket>/<key>`"
    )
    s3_public_url: str = setting(
        None,
        "",
        http_url(required=False),
        "public base URL of the bucket (a CDN or public bucket domain); pictures are linked "
        "there; unset: the app serves them under `/img/`",
    )
    image_max_bytes: int = setting(
        None, "5242880", whole(1024, 10**9), "largest picture upload in bytes"
    )
    image_max_pixels: int = setting(
        None,
        "50000000",
        whole(1, 10**10),
        "largest picture in pixels (width x height), and most pixels of all an animation's "
        "frames together (frames x width x height); larger ones are refused as bombs",
    )
    image_job_seconds: float = setting(
        None,
        "30",
        seconds(0.01, 3600),
        "seconds one picture may take in the process pool (checking and cleaning an upload, "
        "making its thumbnails); past it the upload gets a 413 and the worker is replaced",
    )
    uploads_per_hour: int = setting(
        None,
        "100",
        whole(1, 10**6),
        "pictures one account may upload in an hour, posted or not; past it a 429",
    )
    upload_bytes_per_hour: int = setting(
        None,
        "209715200",
        whole(1024, 10**12),
        "bytes of pictures one account may upload in an hour (200 MiB), posted or not",
    )
    thumb_sizes: tuple[int, ...] = setting(
        None,
        "200,1080",
        sizes,
        "long sides of the thumbnails: the smallest for timelines, the largest for a post's page",
    )
    resize: str = setting(
        None,
        "inline",
        choice("inline", "lambda"),
        "`inline`: thumbnails made in a process pool right after upload; `lambda`: left to the "
        "S3 trigger",
    )
    orphan_hours: int = setting(
        None,
        "24",
        whole(1, 10**5),
        "hours an uploaded picture may stay unused by any post before it is removed",
    )
    orphan_sweep: int = setting(
        None,
        "3600",
        whole(1, 10**7),
        "seconds between the server's sweeps of orphan pictures (`python run.py images clean` "
        "does the same by hand)",
    )
    api_v1: str = setting(
        None,
        "gone",
        choice("gone", "on"),
        "`gone`: every `/v1/...` answers 410 telling clients to use v2; `on`: v1 is served, "
        "with 1-minute tokens",
    )
    rate_free: int = setting(
        None,
        "60",
        whole(1, 10**7),
        "API requests per minute for one site of the free tier (token requests are counted "
        "apart, with the same limit)",
    )
    rate_premium: int = setting(
        None, "1000", whole(1, 10**7), "the same for a site of the premium tier"
    )
    rate_anonymous: int = setting(
        None,
        "30",
        whole(1, 10**7),
        "API requests per minute from one client address that no site answers for (no token, "
        "a bad or expired token, an unknown client secret: what guessing looks like)",
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
        values: dict[str, Any] = {}
        for row in SETTINGS:
            raw = row.default
            raw = from_file.get(row.variable, raw)
            raw = environ.get(row.variable, raw)
            if overrides and overrides.get(row.name) is not None:
                raw = str(overrides[row.name])
            values[row.name] = row.parse(row.variable, raw)
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


def _row(item: Field[Any]) -> Setting:
    return Setting(name=item.name, **item.metadata["setting"])


SETTINGS: tuple[Setting, ...] = tuple(_row(item) for item in fields(Settings))


def help_lines() -> list[str]:
    """The settings as ``--help`` lists them."""
    lines = ["settings (environment variable [flag], default: meaning); a .env file is read too:"]
    for row in SETTINGS:
        flag = f" [{row.flag}]" if row.flag else ""
        default = row.default or "(unset)"
        lines.append(f"  {row.variable}{flag}, default {default}: {row.help.replace('`', '')}")
    return lines


def markdown_table() -> str:
    """The README's settings table, made from the rows (``python -m sns.settings``)."""
    lines = ["| variable (flag) | default | meaning |", "|---|---|---|"]
    for row in SETTINGS:
        name = f"`{row.variable}`" + (f" (`{row.flag}`)" if row.flag else "")
        default = f"`{row.default}`" if row.default else "unset"
        lines.append(f"| {name} | {default} | {row.help} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
