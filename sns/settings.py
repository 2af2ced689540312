"""Settings: read once from the environment, then `.env`, then the defaults below.

Every setting is one row of ``SETTINGS`` (variable, default, help), which also feeds
``python run.py --help``; a bad value raises ``SettingsError`` naming its variable.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values


class SettingsError(ValueError):
    """A setting has a value the program cannot use; the message names the variable."""


@dataclass(frozen=True)
class Setting:
    """One configurable value: its variable, the default as text, and what it means."""

    name: str
    variable: str
    default: str
    help: str
    flag: str | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir", "SNS_DATA_DIR", "./data", "where the embedded backends keep files", "--data-dir"
    ),
    Setting("host", "SNS_HOST", "localhost", "address to listen on", "--host"),
    Setting("port", "SNS_PORT", "8001", "port to listen on", "--port"),
    Setting(
        "env",
        "SNS_ENV",
        "development",
        "development or production (production refuses unsafe defaults)",
    ),
    Setting(
        "database_url",
        "SNS_DATABASE_URL",
        "",
        "SQLAlchemy URL, e.g. mysql+aiomysql://user:pw@127.0.0.1/sns?charset=utf8mb4; "
        "empty: SQLite in the data dir",
    ),
    Setting(
        "redis_url",
        "SNS_REDIS_URL",
        "",
        "redis://...; when set, sessions and rate limits live there",
    ),
    Setting(
        "cookie_secret",
        "SNS_COOKIE_SECRET",
        "",
        "signs cookies; empty: generated once into the data dir",
    ),
    Setting(
        "jwt_secret",
        "SNS_JWT_SECRET",
        "",
        "signs API tokens; empty: generated once into the data dir",
    ),
    Setting(
        "session_ttl", "SNS_SESSION_TTL", "1209600", "seconds a session lives without use (sliding)"
    ),
    Setting("bcrypt_rounds", "SNS_BCRYPT_ROUNDS", "12", "bcrypt cost factor (4..16)"),
    Setting(
        "bcrypt_concurrency",
        "SNS_BCRYPT_CONCURRENCY",
        "0",
        "bcrypt hashes and checks running at once in one process; 0: one per CPU core",
    ),
    Setting(
        "bcrypt_wait",
        "SNS_BCRYPT_WAIT",
        "5",
        "seconds a login, sign-up or password change waits for a bcrypt turn before it gets a 503",
    ),
    Setting(
        "login_max_failures",
        "SNS_LOGIN_MAX_FAILURES",
        "5",
        "failed logins per account in a window before logins for it are refused",
    ),
    Setting(
        "login_max_failures_ip",
        "SNS_LOGIN_MAX_FAILURES_IP",
        "30",
        "failed logins per client address in a window before its logins are refused",
    ),
    Setting(
        "login_failure_window",
        "SNS_LOGIN_FAILURE_WINDOW",
        "900",
        "seconds over which failed logins are counted",
    ),
    Setting(
        "trusted_proxies",
        "SNS_TRUSTED_PROXIES",
        "127.0.0.1",
        "comma-separated addresses/networks whose X-Forwarded-For / X-Real-IP are believed",
    ),
    Setting("page_size", "SNS_PAGE_SIZE", "20", "posts per timeline page"),
    Setting("log_dir", "SNS_LOG_DIR", "", "where JSON log files go; empty: <data dir>/logs"),
    Setting(
        "debug",
        "SNS_DEBUG",
        "false",
        "Tornado debug mode (autoreload, tracebacks on error pages); development only",
    ),
    Setting(
        "query_count_header",
        "SNS_QUERY_COUNT_HEADER",
        "false",
        "add X-SNS-Queries (SQL statements run for the request) to responses; for tests "
        "and profiling",
    ),
    Setting(
        "kakao_client_id",
        "SNS_KAKAO_CLIENT_ID",
        "",
        "Kakao REST API key; when set, the login box offers Kakao login",
    ),
    Setting(
        "kakao_client_secret",
        "SNS_KAKAO_CLIENT_SECRET",
        "",
        "Kakao client secret, if the app has one turned on",
    ),
    Setting(
        "kakao_auth_url",
        "SNS_KAKAO_AUTH_URL",
        "https://kauth.kakao.com/oauth/authorize",
        "Kakao's authorization endpoint (the browser goes there)",
    ),
    Setting(
        "kakao_token_url",
        "SNS_KAKAO_TOKEN_URL",
        "https://kauth.kakao.com/oauth/token",
        "Kakao's token endpoint (the server exchanges the code there)",
    ),
    Setting(
        "kakao_user_url",
        "SNS_KAKAO_USER_URL",
        "https://kapi.kakao.com/v2/user/me",
        "Kakao's user-info endpoint",
    ),
    Setting(
        "kakao_redirect_uri",
        "SNS_KAKAO_REDIRECT_URI",
        "",
        "the callback URL registered with Kakao; empty: <this site>/auth/kakao/callback",
    ),
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _as_int(setting: Setting, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{setting.variable} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{setting.variable} must be between {low} and {high}, not {value}")
    return value


def _as_bool(setting: Setting, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{setting.variable} must be true or false, not {raw!r}")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _as_networks(setting: Setting, raw: str) -> tuple[Network, ...]:
    networks = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"{setting.variable}: {part!r} is not an address or network"
            ) from None
    return tuple(networks)


def _as_http_url(setting: Setting, raw: str, *, required: bool) -> str:
    url = raw.strip()
    if not url and not required:
        return ""
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest or rest.startswith("/"):
        raise SettingsError(f"{setting.variable} must be an http(s):// URL, not {raw!r}")
    return url


@dataclass(frozen=True)
class Settings:
    """The whole configuration, typed; build it with ``Settings.load``."""

    data_dir: Path
    host: str
    port: int
    env: str
    database_url: str
    redis_url: str
    cookie_secret: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    session_ttl: int
    bcrypt_rounds: int
    bcrypt_concurrency: int
    bcrypt_wait: int
    login_max_failures: int
    login_max_failures_ip: int
    login_failure_window: int
    trusted_proxies: tuple[Network, ...]
    page_size: int
    log_dir: Path
    debug: bool
    query_count_header: bool
    kakao_client_id: str
    kakao_client_secret: str = field(repr=False)
    kakao_auth_url: str
    kakao_token_url: str
    kakao_user_url: str
    kakao_redirect_uri: str

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

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
    ) -> Settings:
        """Read settings: flag overrides, then the environment, then `.env`, then defaults."""
        environ = os.environ if environ is None else environ
        from_file = {}
        if dotenv_path and Path(dotenv_path).is_file():
            from_file = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
        raw: dict[str, str] = {}
        for setting in SETTINGS:
            value = setting.default
            if setting.variable in from_file:
                value = from_file[setting.variable]
            if setting.variable in environ:
                value = environ[setting.variable]
            if overrides and overrides.get(setting.name) is not None:
                value = str(overrides[setting.name])
            raw[setting.name] = value
        return cls._parse(raw)

    @classmethod
    def _parse(cls, raw: dict[str, str]) -> Settings:
        by_name = {s.name: s for s in SETTINGS}
        env = raw["env"].strip().lower()
        if env not in {"development", "production"}:
            raise SettingsError(f"SNS_ENV must be development or production, not {raw['env']!r}")
        data_dir = Path(raw["data_dir"]).expanduser().resolve()
        values = {
            "data_dir": data_dir,
            "host": raw["host"].strip() or "localhost",
            "port": _as_int(by_name["port"], raw["port"], 0, 65535),
            "env": env,
            "database_url": raw["database_url"].strip(),
            "redis_url": raw["redis_url"].strip(),
            "cookie_secret": raw["cookie_secret"],
            "jwt_secret": raw["jwt_secret"],
            "session_ttl": _as_int(by_name["session_ttl"], raw["session_ttl"], 60, 10**8),
            "bcrypt_rounds": _as_int(by_name["bcrypt_rounds"], raw["bcrypt_rounds"], 4, 16),
            "bcrypt_concurrency": _as_int(
                by_name["bcrypt_concurrency"], raw["bcrypt_concurrency"], 0, 1024
            ),
            "bcrypt_wait": _as_int(by_name["bcrypt_wait"], raw["bcrypt_wait"], 1, 600),
            "login_max_failures": _as_int(
                by_name["login_max_failures"], raw["login_max_failures"], 1, 10**6
            ),
            "login_max_failures_ip": _as_int(
                by_name["login_max_failures_ip"], raw["login_max_failures_ip"], 1, 10**6
            ),
            "login_failure_window": _as_int(
                by_name["login_failure_window"], raw["login_failure_window"], 1, 10**7
            ),
            "trusted_proxies": _as_networks(by_name["trusted_proxies"], raw["trusted_proxies"]),
            "page_size": _as_int(by_name["page_size"], raw["page_size"], 1, 200),
            "log_dir": Path(raw["log_dir"]).expanduser().resolve()
            if raw["log_dir"].strip()
            else data_dir / "logs",
            "debug": _as_bool(by_name["debug"], raw["debug"]),
            "query_count_header": _as_bool(
                by_name["query_count_header"], raw["query_count_header"]
            ),
            "kakao_client_id": raw["kakao_client_id"].strip(),
            "kakao_client_secret": raw["kakao_client_secret"].strip(),
            **{
                name: _as_http_url(by_name[name], raw[name], required=True)
                for name in ("kakao_auth_url", "kakao_token_url", "kakao_user_url")
            },
            "kakao_redirect_uri": _as_http_url(
                by_name["kakao_redirect_uri"], raw["kakao_redirect_uri"], required=False
            ),
        }
        for url_setting in ("database_url", "redis_url"):
            url = values[url_setting]
            if url and "://" not in url:
                raise SettingsError(f"{by_name[url_setting].variable} is not a URL: {url!r}")
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse what production must not run with, in one sentence each."""
        if not self.production:
            return
        if self.debug:
            raise SettingsError("SNS_DEBUG must be off when SNS_ENV=production")
        for name, variable in (
            ("cookie_secret", "SNS_COOKIE_SECRET"),
            ("jwt_secret", "SNS_JWT_SECRET"),
        ):
            if len(getattr(self, name)) < 32:
                raise SettingsError(
                    f"{variable} must be set to at least 32 characters when SNS_ENV=production"
                )

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
