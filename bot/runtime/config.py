"""Settings read from the environment (and a `.env` file when present).

A missing or malformed setting raises ConfigError with one line that says
what to set; `python -m bot` prints it and exits with status 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bot.domain.datafiles import data_file, in_checkout

ROOT = Path(__file__).resolve().parents[2]  # the checkout (site-packages when installed)
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DB = Path("data") / "mend.db"  # under the working directory, installed or not
DEFAULT_PLAYBOOK = data_file("playbook.yaml")

NO_CREDENTIALS = (
    "Mend needs a Slack app to talk to. Create one from app.yaml (see README, "
    "'Create the Slack app'), then set SLACK_BOT_TOKEN (xoxb-...) and either "
    "SLACK_SIGNING_SECRET (HTTP mode, Slack calls http://<host>:$PORT/slack/events) "
    "or SLACK_APP_TOKEN (xapp-..., Socket Mode, no public URL needed), in the "
    "environment or in a .env file next to README.md."
)


class ConfigError(Exception):
    """A setting is missing or malformed; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str
    port: int
    db_path: str
    playbook_path: str
    leads: tuple[str, ...] = ()
    sweep_seconds: float = 30.0
    metrics: bool = True  # GET /metrics (MEND_METRICS=0: off)
    replica_id: str = ""  # MEND_REPLICA_ID; empty: host name and process id
    # Distribution (OAuth install to many workspaces): set instead of bot_token.
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    retention_days: int = 30
    refresh_minutes: int = 120  # refresh a rotating token this long before it expires

    @property
    def distributed(self) -> bool:
        """OAuth installs, a token per workspace (no SLACK_BOT_TOKEN)."""
        return not self.bot_token and bool(self.client_id)
    database_url: str | None = None  # postgresql://…: PostgreSQL instead of db_path
    pg_group_commit: bool = False  # PostgreSQL: cases arriving together share a commit

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


def default_db() -> str:
    """`data/mend.db` under the working directory, as an absolute path."""
    return str(Path.cwd() / DEFAULT_DB)


def load_dotenv_file(path: Path | None = None) -> None:
    """Read `.env` (next to README.md in a checkout, else in the working directory)
    without overriding variables already set."""
    path = path or (ROOT if in_checkout() else Path.cwd()) / ".env"
    if path.exists():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)


def has_credentials(env: dict[str, str] | None = None) -> bool:
    """Whether any Slack credential is set (none: the run command opens the sandbox)."""
    env = os.environ if env is None else env
    return any((env.get(name) or "").strip()
               for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
                            "SLACK_CLIENT_ID"))


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from `env` (default: os.environ)."""
    env = dict(os.environ if env is None else env)
    get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
    bot_token, secret, app_token = (
        get("SLACK_BOT_TOKEN"),
        get("SLACK_SIGNING_SECRET"),
        get("SLACK_APP_TOKEN"),
    )
    if not (bot_token or secret or app_token or get("SLACK_CLIENT_ID")):
        raise ConfigError(NO_CREDENTIALS)
    if not bot_token and get("SLACK_CLIENT_ID"):
        return _distributed(get)
    if not bot_token:
        raise ConfigError("Set SLACK_BOT_TOKEN to the app's bot token (starts with xoxb-).")
    if not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-.")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-.")
    if not app_token and not secret:
        raise ConfigError(
            "Set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)."
        )
    return Settings(
        bot_token=bot_token,
        signing_secret=secret,
        app_token=app_token,
        **_common(get),
    )


def _common(get) -> dict:
    return dict(
        api_url=_api_url(get("SLACK_API_URL") or DEFAULT_API_URL),
        port=_port(get("PORT") or "3000"),
        db_path=get("MEND_DB") or default_db(),
        playbook_path=get("MEND_PLAYBOOK") or str(DEFAULT_PLAYBOOK),
        leads=_user_ids(get("MEND_LEADS") or ""),
        sweep_seconds=_seconds(get("MEND_SWEEP_SECONDS") or "30"),
        metrics=(get("MEND_METRICS") or "1").lower() not in ("0", "false", "no", "off"),
        replica_id=get("MEND_REPLICA_ID") or "",
        retention_days=_days(get("MEND_RETENTION_DAYS") or "30"),
        database_url=_database_url(get("MEND_DATABASE_URL")),
        pg_group_commit=get("MEND_PG_GROUP_COMMIT") == "1",
    )


def _distributed(get) -> Settings:
    """SLACK_CLIENT_ID without SLACK_BOT_TOKEN: installs through /slack/install."""
    if not get("SLACK_CLIENT_SECRET"):
        raise ConfigError("Set SLACK_CLIENT_SECRET (Basic Information, App Credentials) "
                          "with SLACK_CLIENT_ID.")
    if not get("SLACK_SIGNING_SECRET"):
        raise ConfigError("Set SLACK_SIGNING_SECRET: a distributed Mend serves HTTP "
                          "(/slack/events, /slack/install, /slack/oauth_redirect).")
    return Settings(
        bot_token="",
        signing_secret=get("SLACK_SIGNING_SECRET"),
        app_token=None,
        client_id=get("SLACK_CLIENT_ID"),
        client_secret=get("SLACK_CLIENT_SECRET"),
        redirect_uri=get("SLACK_REDIRECT_URI"),
        **_common(get),
    )


def _days(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 3650:
        raise ConfigError(f"MEND_RETENTION_DAYS must be a number of days from 1 to 3650 "
                          f"(got {value!r}).")
    return int(value)


def _database_url(value: str | None) -> str | None:
    if value and urlparse(value).scheme not in ("postgresql", "postgres"):
        raise ConfigError("MEND_DATABASE_URL must be a PostgreSQL URL such as "
                          f"postgresql://mend@db.internal/mend (got {value.split(':')[0]}:…).")
    return value


def _api_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"SLACK_API_URL must be an http(s) URL such as {DEFAULT_API_URL} (got {value!r})."
        )
    return value if value.endswith("/") else value + "/"


def _port(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        raise ConfigError(f"PORT must be a number from 1 to 65535 (got {value!r}).")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= 3600:
        raise ConfigError(f"MEND_SWEEP_SECONDS must be a number of seconds from 1 to 3600 "
                          f"(got {value!r}).")
    return seconds


def _user_ids(value: str) -> tuple[str, ...]:
    ids = tuple(part.strip().strip("<@>") for part in value.replace(",", " ").split())
    bad = [i for i in ids if not i.isalnum() or i[:1] not in ("U", "W")]
    if bad:
        raise ConfigError(f"MEND_LEADS must list Slack user ids like U0123ABC (got {bad[0]!r}).")
    return ids
