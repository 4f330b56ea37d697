"""Installs through OAuth: slack_sdk's installation and state stores over Mend's own
database, and the two pages Bolt's OAuth flow serves (`/slack/install`,
`/slack/oauth_redirect`).

Only bot tokens are kept: an installation is its workspace's (or its grid's, for an
org-wide install) bot token, its refresh token and expiry when tokens rotate, and who
installed it. `find_installation` answers with that, without a user token.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.storage.sqlite import Store

log = logging.getLogger("mend.installs")
STATE_SECONDS = 600  # an "Add to Slack" link works for ten minutes, once
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bot_row(bot: Bot | Installation, installer_id: str | None = None) -> dict[str, Any]:
    """The stored form of a slack_sdk Bot (or the bot half of an Installation)."""
    scopes = bot.bot_scopes
    return {
        "enterprise_id": bot.enterprise_id or "",
        "team_id": "" if bot.is_enterprise_install else (bot.team_id or ""),
        "is_enterprise_install": int(bool(bot.is_enterprise_install)),
        "app_id": bot.app_id, "enterprise_name": bot.enterprise_name,
        "enterprise_url": getattr(bot, "enterprise_url", None), "team_name": bot.team_name,
        "bot_token": bot.bot_token, "bot_id": bot.bot_id, "bot_user_id": bot.bot_user_id,
        "bot_scopes": ",".join(scopes) if isinstance(scopes, list | tuple) else scopes,
        "bot_refresh_token": bot.bot_refresh_token,
        "bot_token_expires_at": bot.bot_token_expires_at,
        "installer_id": installer_id,
        "installed_at": bot.installed_at or time.time(),
    }


def to_bot(row: dict[str, Any]) -> Bot:
    return Bot(app_id=row["app_id"], enterprise_id=row["enterprise_id"] or None,
               enterprise_name=row["enterprise_name"], team_id=row["team_id"] or None,
               team_name=row["team_name"], bot_token=row["bot_token"], bot_id=row["bot_id"],
               bot_user_id=row["bot_user_id"], bot_scopes=row["bot_scopes"] or "",
               bot_refresh_token=row["bot_refresh_token"],
               bot_token_expires_at=row["bot_token_expires_at"],
               is_enterprise_install=bool(row["is_enterprise_install"]),
               installed_at=row["installed_at"])


def to_installation(row: dict[str, Any]) -> Installation:
    return Installation(
        app_id=row["app_id"], enterprise_id=row["enterprise_id"] or None,
        enterprise_name=row["enterprise_name"], enterprise_url=row["enterprise_url"],
        team_id=row["team_id"] or None, team_name=row["team_name"],
        bot_token=row["bot_token"], bot_id=row["bot_id"], bot_user_id=row["bot_user_id"],
        bot_scopes=row["bot_scopes"] or "", bot_refresh_token=row["bot_refresh_token"],
        bot_token_expires_at=row["bot_token_expires_at"], user_id=row["installer_id"] or "",
        is_enterprise_install=bool(row["is_enterprise_install"]), token_type="bot",
        installed_at=row["installed_at"])


class MendInstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store, bot tokens only, in Mend's database."""

    def __init__(self, store: Store):
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self.store.save_installation(bot_row(installation, installation.user_id),
                                           _now_iso())
        log.info("installed in %s", installation.team_id or installation.enterprise_id)

    async def async_save_bot(self, bot: Bot) -> None:
        row = bot_row(bot)
        old = await self.store.installation_at(row["enterprise_id"], row["team_id"])
        if old:  # a rotated token: the rest of the install stays as it was
            await self.store.update_bot_token(row["enterprise_id"], row["team_id"],
                                              bot.bot_token, bot.bot_refresh_token,
                                              bot.bot_token_expires_at)
        else:
            await self.store.save_installation(row, _now_iso())

    async def _row(self, enterprise_id, team_id, is_enterprise_install) -> dict | None:
        return await self.store.installation(enterprise_id, team_id,
                                             org_wide=bool(is_enterprise_install))

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        row = await self._row(enterprise_id, team_id, is_enterprise_install)
        return to_bot(row) if row else None

    async def async_find_installation(self, *, enterprise_id: str | None,
                                      team_id: str | None, user_id: str | None = None,
                                      is_enterprise_install: bool | None = False,
                                      ) -> Installation | None:
        row = await self._row(enterprise_id, team_id, is_enterprise_install)
        if row is None or (user_id and user_id != row["installer_id"]):
            return None  # no user tokens are kept: only the installer's row exists
        return to_installation(row)

    async def async_delete_bot(self, *, enterprise_id: str | None,
                               team_id: str | None) -> None:
        await self.store.delete_installation(enterprise_id, team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None,
                                        team_id: str | None,
                                        user_id: str | None = None) -> None:
        if user_id is None:  # a user's own token is never stored: nothing to delete
            await self.store.delete_installation(enterprise_id, team_id)


class MendStateStore(AsyncOAuthStateStore):
    """One-time OAuth states: each is accepted once, within `expiration_seconds`."""

    def __init__(self, store: Store, expiration_seconds: int = STATE_SECONDS):
        self.store = store
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(24)
        await self.store.save_state(state, time.time() + self.expiration_seconds)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self.store.consume_state(state, time.time())


def add_oauth_routes(app: web.Application, flow: AsyncOAuthFlow) -> None:
    """`GET /slack/install` (the "Add to Slack" page) and `GET /slack/oauth_redirect`."""

    async def install(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_installation(
            await to_bolt_request(request)))

    async def redirect(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_callback(
            await to_bolt_request(request)))

    app.router.add_get(flow.install_path, install)
    app.router.add_get(flow.redirect_uri_path, redirect)
