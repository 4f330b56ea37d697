"""Wiring for the two ways Mend runs: one workspace (`SLACK_BOT_TOKEN`) or installed
through OAuth in many (`SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET`): the per-workspace
clients, and what Bolt's AsyncApp needs for the install flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.clients import Clients, MendAuthorize
from bot.runtime.config import Settings
from bot.runtime.installations import INSTALL_PATH, REDIRECT_PATH, MendStateStore
from bot.storage.sqlite import Store

# The bot scopes an install asks for (app.distributed.yaml lists the same).
SCOPES = ("commands", "chat:write", "users:read", "channels:history", "groups:history",
          "channels:read", "groups:read", "im:write", "files:write", "reactions:read")


def authorize_url(api_url: str) -> str:
    """Slack's authorize page next to its Web API (https://slack.com/oauth/v2/authorize),
    or the stand-in's when SLACK_API_URL points at one."""
    return urljoin(api_url, "../oauth/v2/authorize")


def build_clients(settings: Settings, store: Store, client: AsyncWebClient,
                  poster: AsyncWebClient, make: Callable[..., AsyncWebClient]) -> Clients:
    """The shared clients for one workspace; a client per installed workspace else.
    `make(token, retry_ambiguous=...)` builds a client aimed at SLACK_API_URL."""
    if not settings.distributed:
        return Clients(client, poster)
    rotator = AsyncTokenRotator(client_id=settings.client_id,
                                client_secret=settings.client_secret, client=make(None))
    return Clients(client, poster, store=store, make=make, rotator=rotator,
                   refresh_minutes=settings.refresh_minutes)


def oauth_app_args(settings: Settings, store: Store, clients: Clients) -> dict[str, Any]:
    """AsyncApp's keyword arguments for the install flow (none for one workspace)."""
    if not settings.distributed:
        return {}
    oauth = AsyncOAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=list(SCOPES),
        redirect_uri=settings.redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorize_url(settings.api_url),
        installation_store=clients.installs,
        installation_store_bot_only=True,
        state_store=MendStateStore(store),
        token_rotation_expiration_minutes=settings.refresh_minutes,
    )
    return {"oauth_settings": oauth, "authorize": MendAuthorize(clients),
            "installation_store_bot_only": True}
