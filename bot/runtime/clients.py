"""A Web API client per workspace, with that workspace's bot token.

Every call Mend makes to Slack goes through `Clients`: `await clients.for_team(team_id)`
(retries everything) or `await clients.poster(team_id)` (does not retry a timeout
blindly: see handlers/nudges.py). With `SLACK_BOT_TOKEN` (one workspace) both answer
the shared clients. Installed through OAuth, they read the workspace's installation
(its own, or its grid's org-wide one); a rotating token that expires within
`refresh_minutes` is refreshed first, under a lock row in the database so that two
Mend processes never refresh the same workspace at once (the loser of the race waits
and reads the winner's token). A workspace with no installation (never installed,
uninstalled, revoked) raises `NotInstalled`, a SlackApiError like Slack's own
`invalid_auth`, so the callers' usual handling applies.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.runtime.installations import MendInstallationStore, to_bot
from bot.storage.sqlite import Store

log = logging.getLogger("mend.tokens")
LOCK_SECONDS = 30.0  # a refresh that takes longer than this is presumed dead
LOCK_WAIT = 20.0  # how long a process waits for another's refresh before giving up
POLL = 0.05


class NotInstalled(SlackApiError):
    """Mend has no usable token for the workspace (never installed, uninstalled,
    revoked, or its refresh was refused)."""

    def __init__(self, team_id: str | None, error: str = "not_installed"):
        response = AsyncSlackResponse(client=None, http_verb="POST", api_url="", req_args={},
                                      data={"ok": False, "error": error}, headers={},
                                      status_code=200)
        super().__init__(f"no token for workspace {team_id}: {error}", response)


class Clients:
    """The shared clients (one workspace), or a client per installed workspace."""

    def __init__(self, client: AsyncWebClient, poster: AsyncWebClient,
                 store: Store | None = None, make: Callable[..., AsyncWebClient] | None = None,
                 rotator: AsyncTokenRotator | None = None, refresh_minutes: int = 120):
        self.client, self.posting = client, poster
        self.store = store  # None: one workspace, SLACK_BOT_TOKEN
        self.make = make
        self.rotator = rotator
        self.refresh_minutes = refresh_minutes
        self.holder = uuid.uuid4().hex
        self.installs = MendInstallationStore(store) if store is not None else None
        self._clients: dict[tuple[str, bool], AsyncWebClient] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._enterprises: dict[str, str] = {}  # team -> grid, noted once per process

    @property
    def distributed(self) -> bool:
        return self.store is not None

    async def for_team(self, team_id: str) -> AsyncWebClient:
        """A client with the workspace's bot token (retries timeouts)."""
        return await self._client(team_id, retrying=True)

    async def poster(self, team_id: str) -> AsyncWebClient:
        """A client with the workspace's bot token that does not retry timeouts."""
        return await self._client(team_id, retrying=False)

    async def _client(self, team_id: str, retrying: bool) -> AsyncWebClient:
        if self.store is None:
            return self.client if retrying else self.posting
        bot = await self.bot(None, team_id)
        key = (bot.bot_token, retrying)
        if key not in self._clients:
            self._forget(team_id, bot.bot_token)
            self._clients[key] = self.make(bot.bot_token, retry_ambiguous=retrying)
            self._clients[key].team_id = team_id
        return self._clients[key]

    def _forget(self, team_id: str, token: str) -> None:
        """Drop clients built with a token the workspace no longer uses."""
        for key, client in list(self._clients.items()):
            if getattr(client, "team_id", None) == team_id and client.token != token:
                del self._clients[key]

    async def call(self, team_id: str, method: str, **kwargs: Any) -> Any:
        """`await (await for_team(team_id)).<method>(**kwargs)`, as one awaitable."""
        return await getattr(await self.for_team(team_id), method)(**kwargs)

    async def installed(self, team_id: str) -> bool:
        """Whether work for the workspace can reach Slack (single mode: always)."""
        return self.store is None or not await self.store.is_uninstalled(team_id)

    # -- tokens -----------------------------------------------------------------------
    async def bot(self, enterprise_id: str | None, team_id: str | None,
                  org_wide: bool = False) -> Bot:
        """The workspace's installation, its token refreshed first when due."""
        row = await self.store.installation(enterprise_id, team_id, org_wide)
        if row is None:
            raise NotInstalled(team_id or enterprise_id)
        bot = to_bot(row)
        return await self._refreshed(bot) if self._due(bot) else bot

    def _due(self, bot: Bot) -> bool:
        return bool(self.rotator and bot.bot_refresh_token and bot.bot_token_expires_at
                    and bot.bot_token_expires_at <= time.time() + self.refresh_minutes * 60)

    async def _refreshed(self, bot: Bot) -> Bot:
        key = (bot.enterprise_id or "", "" if bot.is_enterprise_install else bot.team_id or "")
        async with self._locks.setdefault(key, asyncio.Lock()):  # one try per process
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                latest = await self.store.installation_at(*key)
                if latest is None:
                    raise NotInstalled(bot.team_id)
                if not self._due(to_bot(latest)):
                    return to_bot(latest)  # refreshed meanwhile, here or by another process
                now = time.time()
                if await self.store.lock_token(*key, self.holder, now, now + LOCK_SECONDS):
                    try:
                        return await self._rotate(to_bot(latest))
                    finally:
                        await self.store.unlock_token(*key, self.holder)
                if time.monotonic() > deadline:
                    return to_bot(latest)  # the other refresh is stuck: try the old token
                await asyncio.sleep(POLL)

    async def _rotate(self, bot: Bot) -> Bot:
        try:
            new = await self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self.refresh_minutes)
        except SlackTokenRotationError as exc:
            error = exc.api_error.response.get("error") if exc.api_error else "refresh failed"
            log.warning("could not refresh the token of %s: %s", bot.team_id, error)
            raise NotInstalled(bot.team_id, str(error)) from None
        if new is None:
            return bot
        await self.installs.async_save_bot(new)
        log.info("refreshed the bot token of %s", bot.team_id or bot.enterprise_id)
        return new

    # -- requests ---------------------------------------------------------------------
    async def note_team(self, team_id: str | None, enterprise_id: str | None) -> None:
        """Remember which grid a workspace is in (for work no request started)."""
        if team_id and enterprise_id and self._enterprises.get(team_id) != enterprise_id:
            self._enterprises[team_id] = enterprise_id
            await self.store.note_enterprise(team_id, enterprise_id,
                                             datetime.now(UTC).isoformat())


class MendAuthorize(AsyncAuthorize):
    """Bolt's authorize for incoming requests: the same tokens (refreshed the same way,
    under the same lock) as the work no request started."""

    def __init__(self, clients: Clients):
        self.clients = clients
        self.token_rotation_expiration_minutes = clients.refresh_minutes

    async def __call__(self, *, context: Any, enterprise_id: str | None,
                       team_id: str | None, user_id: str | None,
                       **_actor: Any) -> AuthorizeResult | None:
        try:
            bot = await self.clients.bot(enterprise_id, team_id,
                                         org_wide=bool(context.is_enterprise_install))
        except NotInstalled:
            return None
        await self.clients.note_team(team_id, enterprise_id)
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                               bot_token=bot.bot_token, bot_id=bot.bot_id,
                               bot_user_id=bot.bot_user_id, bot_scopes=bot.bot_scopes,
                               user_id=user_id)
