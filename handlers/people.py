"""What Mend knows about Slack users: timezone and admin rights (cached)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("mend.people")
TTL_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Person:
    user_id: str
    tz: str = "UTC"
    is_admin: bool = False


class People:
    """users.info, remembered for a few hours per workspace and user."""

    def __init__(self, client: AsyncWebClient, ttl: float = TTL_SECONDS):
        self.client = client
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, Person]] = {}

    def cached(self, team_id: str, user_id: str) -> Person | None:
        """The person if known and fresh, without asking Slack."""
        hit = self._cache.get((team_id, user_id))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    async def get(self, team_id: str, user_id: str) -> Person:
        key = (team_id, user_id)
        person = self.cached(team_id, user_id)
        if person:
            return person
        person = await self._fetch(user_id)
        self._cache[key] = (time.monotonic(), person)
        return person

    async def _fetch(self, user_id: str) -> Person:
        try:
            user = (await self.client.users_info(user=user_id))["user"]
        except SlackApiError as exc:
            # Without users.info we still work, reading times in UTC.
            log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return Person(user_id)
        except Exception as exc:  # noqa: BLE001 - a slow Slack must not stop the caller
            log.warning("users.info failed for %s: %s", user_id, type(exc).__name__)
            return Person(user_id)
        return Person(user_id, user.get("tz") or "UTC",
                      bool(user.get("is_admin") or user.get("is_owner")))
