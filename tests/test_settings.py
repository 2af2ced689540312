"""Settings: environment, .env, defaults, bad values, production rules, --help, README."""

from __future__ import annotations

import subprocess
import sys
import warnings
from dataclasses import fields
from pathlib import Path

import pytest

from sns.settings import (
    GROUPS,
    SETTINGS,
    RetiredSetting,
    Settings,
    SettingsError,
    markdown_tables,
    rows_of,
)

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_need_nothing_installed(tmp_path):
    settings = Settings.load(environ={}, dotenv_path=None)
    assert settings.port == 8001
    assert settings.sql_url.startswith("sqlite+aiosqlite:///")
    assert settings.sql_url.endswith("data/sns.sqlite3")
    assert settings.redis_url == ""
    assert settings.env == "development"


def test_environment_beats_dotenv_beats_defaults(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("SNS_PORT=9001\nSNS_PAGE_SIZE=7\n")
    settings = Settings.load(environ={"SNS_PORT": "9002"}, dotenv_path=dotenv)
    assert settings.port == 9002
    assert settings.page_size == 7
    flagged = Settings.load(
        environ={"SNS_PORT": "9002"}, overrides={"port": "9003"}, dotenv_path=dotenv
    )
    assert flagged.port == 9003


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SNS_PORT", "eighty"),
        ("SNS_PORT", "70000"),
        ("SNS_ENV", "staging"),
        ("SNS_BCRYPT_ROUNDS", "2"),
        ("SNS_TRUSTED_PROXIES", "10.0.0.0/8, nonsense"),
        ("SNS_DATABASE_URL", "just words"),
        ("SNS_DEBUG", "maybe"),
        ("SNS_PAGE_SIZE", "0"),
        ("SNS_KAKAO_AUTH_URL", "ftp://example.com/x"),
        ("SNS_REDIS_URL", "localhost:6379"),
        ("SNS_REDIS_PREFIX", "my site:"),
        ("SNS_REDIS_PREFIX", "   "),
        ("SNS_DATA_DIR", "  "),
        ("SNS_API_V1", "off"),
        ("SNS_RATE_FREE", "0"),
        ("SNS_RATE_ANONYMOUS", "many"),
        ("SNS_WORKERS", "-1"),
        ("SNS_PROCESSES", "-1"),
        ("SNS_SUPERVISOR_WORKERS", "many"),
        ("SNS_LISTEN_FD", "stdin"),
        ("SNS_SHUTDOWN_GRACE", "soon"),
        ("SNS_MIGRATE", "later"),
        ("SNS_DB_POOL_SIZE", "0"),
        ("SNS_LOG_TO", "syslog"),
        ("SNS_THUMB_SIZES", "200,huge"),
        ("SNS_THUMB_SIZES", "8"),
        ("SNS_THUMB_SIZES", " , "),
        ("SNS_RESIZE", "later"),
        ("SNS_S3_ENDPOINT_URL", "minio:9000"),
        ("SNS_SITE_HOSTS", "sns.example.com:443"),
        ("SNS_SITE_HOSTS", "https://sns.example.com"),
    ],
)
def test_a_bad_value_names_its_variable(variable, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RetiredSetting)
        with pytest.raises(SettingsError, match=variable):
            Settings.load(environ={variable: value}, dotenv_path=None)


def test_the_retired_sns_workers_is_read_as_both_new_counts_with_a_warning(tmp_path):
    with pytest.warns(RetiredSetting) as warned:
        settings = Settings.load(environ={"SNS_WORKERS": "3"}, dotenv_path=None)
    assert (settings.processes, settings.supervisor_workers) == (3, 3)
    message = str(warned[0].message)
    assert "SNS_WORKERS is retired" in message
    assert "SNS_PROCESSES" in message and "SNS_SUPERVISOR_WORKERS" in message
    dotenv = tmp_path / ".env"
    dotenv.write_text("SNS_WORKERS=4\n")  # an operator's env file, not only the environment
    with pytest.warns(RetiredSetting):
        settings = Settings.load(environ={"SNS_SUPERVISOR_WORKERS": "2"}, dotenv_path=dotenv)
    assert (settings.processes, settings.supervisor_workers) == (4, 2)  # the new name wins
    with pytest.warns(RetiredSetting, match="ignored"):
        settings = Settings.load(
            environ={"SNS_WORKERS": "4", "SNS_PROCESSES": "1", "SNS_SUPERVISOR_WORKERS": "2"},
            dotenv_path=None,
        )
    assert (settings.processes, settings.supervisor_workers) == (1, 2)
    with pytest.warns(RetiredSetting):
        flagged = Settings.load(
            environ={"SNS_WORKERS": "4"}, overrides={"processes": "2"}, dotenv_path=None
        )
    assert (flagged.processes, flagged.supervisor_workers) == (2, 4)  # --processes wins


def test_the_new_counts_need_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = Settings.load(
            environ={"SNS_PROCESSES": "2", "SNS_SUPERVISOR_WORKERS": "5"}, dotenv_path=None
        )
    assert (settings.processes, settings.supervisor_workers) == (2, 5)


def test_the_sites_names_are_the_setting_or_else_loopback_and_the_listening_address():
    named = Settings.load(environ={"SNS_SITE_HOSTS": "SNS.example.com., [::1]"}, dotenv_path=None)
    assert named.site_host_names == {"sns.example.com", "::1"}
    unset = Settings.load(environ={"SNS_HOST": "10.0.0.5"}, dotenv_path=None)
    assert unset.site_host_names == {"localhost", "127.0.0.1", "::1", "10.0.0.5"}


PRODUCTION = {
    "SNS_ENV": "production",
    "SNS_DATABASE_URL": "mysql+aiomysql://sns:pw@127.0.0.1/sns",
    "SNS_REDIS_URL": "redis://127.0.0.1:6379/0",
    "SNS_COOKIE_SECRET": "c" * 40,
    "SNS_JWT_SECRET": "j" * 40,
    "SNS_S3_BUCKET": "sns-pictures",
}


def test_production_without_the_sites_names_is_told_its_pages_are_not_kept():
    [advice] = Settings.load(environ=PRODUCTION, dotenv_path=None).advice()
    assert "SNS_SITE_HOSTS is unset" in advice
    named = {**PRODUCTION, "SNS_SITE_HOSTS": "sns.example.com"}
    assert Settings.load(environ=named, dotenv_path=None).advice() == []
    assert Settings.load(environ={}, dotenv_path=None).advice() == []


def test_production_starts_when_every_backend_is_configured():
    assert Settings.load(environ=PRODUCTION, dotenv_path=None).production


@pytest.mark.parametrize(
    ("change", "named", "allowance"),
    [
        ({"SNS_DATABASE_URL": ""}, "SNS_DATABASE_URL is unset", "sqlite"),
        ({"SNS_REDIS_URL": ""}, "SNS_REDIS_URL is unset", "sql-sessions"),
        ({"SNS_COOKIE_SECRET": ""}, "SNS_COOKIE_SECRET must be set", "generated-secrets"),
        ({"SNS_JWT_SECRET": "short"}, "SNS_JWT_SECRET must be set", "generated-secrets"),
        ({"SNS_S3_BUCKET": ""}, "SNS_S3_BUCKET is unset", "local-images"),
        ({"SNS_DEBUG": "true"}, "SNS_DEBUG must be off", "debug"),
    ],
)
def test_production_names_the_one_unsafe_setting_unless_it_is_allowed(change, named, allowance):
    with pytest.raises(SettingsError) as refused:
        Settings.load(environ={**PRODUCTION, **change}, dotenv_path=None)
    message = str(refused.value)
    assert named in message and f"`{allowance}`" in message
    assert message.count("SNS_PRODUCTION_ALLOW") == 1  # only what is wrong is named
    allowed = {**PRODUCTION, **change, "SNS_PRODUCTION_ALLOW": f"{allowance}, debug"}
    assert Settings.load(environ=allowed, dotenv_path=None).production


def test_production_with_nothing_configured_lists_every_missing_setting():
    with pytest.raises(SettingsError) as refused:
        Settings.load(environ={"SNS_ENV": "production"}, dotenv_path=None)
    for variable in ("SNS_DATABASE_URL", "SNS_REDIS_URL", "SNS_COOKIE_SECRET", "SNS_S3_BUCKET"):
        assert variable in str(refused.value)


def test_production_allow_refuses_an_unknown_word():
    with pytest.raises(SettingsError, match="SNS_PRODUCTION_ALLOW: sqlight is not one of"):
        Settings.load(environ={"SNS_PRODUCTION_ALLOW": "sqlight"}, dotenv_path=None)


def test_production_refusal_stops_run_py_before_it_listens(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--env-file", ""],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SNS_ENV": "production", "SNS_DATA_DIR": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 2
    assert "SNS_ENV=production refuses to start" in result.stderr
    assert "SNS_S3_BUCKET is unset" in result.stderr


def test_secrets_hide_in_repr_and_are_made_once(tmp_path):
    settings = Settings.load(environ={"SNS_DATA_DIR": str(tmp_path)}, dotenv_path=None)
    filled = settings.with_secrets()
    assert len(filled.cookie_secret) >= 32
    assert filled.cookie_secret not in repr(filled)
    again = Settings.load(environ={"SNS_DATA_DIR": str(tmp_path)}, dotenv_path=None)
    assert again.with_secrets().cookie_secret == filled.cookie_secret
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def help_output(env: dict[str, str] | None = None) -> str:
    """What ``python run.py --help`` prints."""
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    ).stdout


def test_help_lists_every_variable_and_flag():
    shown = help_output()
    for setting in SETTINGS:
        assert setting.variable in shown
        if setting.flag:
            assert setting.flag in shown


def test_help_lists_every_variable_under_its_group_heading():
    shown = help_output({"PATH": "/usr/bin:/bin", "COLUMNS": "100"})
    headings = [shown.index(f"\n{group.name} settings:\n") for group in GROUPS]
    assert headings == sorted(headings)
    ends = [*headings[1:], len(shown)]
    for group, start, end in zip(GROUPS, headings, ends, strict=True):
        section = shown[start:end]
        for row in rows_of(group):
            assert row.variable in section, (group.name, row.variable)
            if row.flag:
                assert row.flag in section, (group.name, row.flag)


def test_readme_settings_tables_are_the_ones_made_from_the_rows():
    readme = (ROOT / "README.md").read_text()
    assert markdown_tables() in readme, "README is stale: paste `python -m sns.settings`"
    for setting in SETTINGS:
        assert f"| `{setting.variable}`" in readme, setting.variable


def test_readme_shows_each_group_under_its_own_heading_in_order():
    settings_section = (ROOT / "README.md").read_text().split("\n## Settings\n")[1]
    settings_section = settings_section.split("\n## ")[0]
    headings = [settings_section.index(f"\n### {group.title}\n") for group in GROUPS]
    assert headings == sorted(headings)
    ends = [*headings[1:], len(settings_section)]
    for group, start, end in zip(GROUPS, headings, ends, strict=True):
        table = settings_section[start:end]
        listed = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
        assert listed == [row.variable for row in rows_of(group)], group.name


def test_every_row_has_one_of_the_groups_and_every_group_has_rows():
    assert {row.group for row in SETTINGS} == set(GROUPS)
    assert [row.name for group in GROUPS for row in rows_of(group)] == [
        row.name for row in SETTINGS
    ], "keep the fields of Settings in the order of GROUPS"


def test_every_field_of_settings_is_one_row_with_its_own_variable():
    assert [row.name for row in SETTINGS] == [f.name for f in fields(Settings)]
    assert len({row.variable for row in SETTINGS}) == len(SETTINGS)
    for row in SETTINGS:
        assert row.variable == "SNS_" + row.name.upper()
        assert row.help, row.name
        row.parse(row.variable, row.default)  # every default parses


def test_secret_rows_stay_out_of_repr():
    secret = {"SNS_COOKIE_SECRET": "c" * 40, "SNS_KAKAO_CLIENT_SECRET": "k" * 40}
    text = repr(Settings.load(environ=secret, dotenv_path=None))
    assert "c" * 40 not in text and "k" * 40 not in text
    assert {row.name for row in SETTINGS if row.secret} == {
        "cookie_secret",
        "jwt_secret",
        "kakao_client_secret",
    }


def test_readme_starts_with_the_two_commands():
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:15])
    assert "make run" in head and "make test" in head


def test_a_bad_setting_stops_run_py_with_a_clear_message(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--port", "x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "SNS_PORT must be a whole number" in result.stderr
