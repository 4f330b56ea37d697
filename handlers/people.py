"""What Mend knows about Slack users: timezone and admin rights (cached)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.runtime.clients import Clients

log = logging.getLogger("mend.people")
TTL_SECONDS = 6 * 3600
NEGATIVE_TTL_SECONDS = 300  # after a failed users.info, ask again only this much later


@dataclass(frozen=True)
class Person:
    user_id: str
    tz: str = "UTC"
    is_admin: bool = False
    known: bool = True  # False: Slack could not say just now, tz is a guess
    name: str = ""  # as Slack shows them (display name, else real name)


CHANNELS_TTL_SECONDS = 600


class People:
    """users.info, remembered for a few hours per workspace and user; and the
    channels each person is in (users.conversations, for a few minutes)."""

    def __init__(self, clients: Clients, ttl: float = TTL_SECONDS,
                 negative_ttl: float = NEGATIVE_TTL_SECONDS):
        self.clients = clients  # each workspace's own token
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self._cache: dict[tuple[str, str], tuple[float, Person]] = {}
        self._failed: dict[tuple[str, str], float] = {}  # when users.info last failed
        self._channels: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}

    def cached_channels(self, team_id: str, user_id: str) -> tuple[str, ...] | None:
        hit = self._channels.get((team_id, user_id))
        if hit and time.monotonic() - hit[0] < CHANNELS_TTL_SECONDS:
            return hit[1]
        return None

    async def channels(self, team_id: str, user_id: str) -> tuple[str, ...]:
        """The channels `user_id` is a member of (empty if Slack can't say)."""
        cached = self.cached_channels(team_id, user_id)
        if cached is not None:
            return cached
        found: list[str] = []
        cursor = None
        try:
            for _ in range(20):
                resp = await self.clients.call(
                    team_id, "users_conversations",
                    user=user_id, types="public_channel,private_channel",
                    exclude_archived=True, limit=200, **({"cursor": cursor} if cursor else {}))
                found += [c["id"] for c in resp.get("channels") or []]
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except Exception as exc:  # noqa: BLE001 - then they see only their own cases
            log.warning("users.conversations failed for %s: %s", user_id, type(exc).__name__)
            return ()
        self._channels[(team_id, user_id)] = (time.monotonic(), tuple(found))
        return tuple(found)

    def cached(self, team_id: str, user_id: str) -> Person | None:
        """The person if known and fresh, without asking Slack."""
        hit = self._cache.get((team_id, user_id))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    async def get(self, team_id: str, user_id: str) -> Person:
        """The person, from the cache or users.info. When Slack can't answer, what we
        knew before (however old), else a guess marked `known=False`; Slack is asked
        again `negative_ttl` seconds after a failure, not at every call."""
        key = (team_id, user_id)
        person = self.cached(team_id, user_id)
        if person:
            return person
        failed = self._failed.get(key)
        if failed is None or time.monotonic() - failed >= self.negative_ttl:
            person = await self._fetch(team_id, user_id)
            if person is not None:
                self._failed.pop(key, None)
                self._cache[key] = (time.monotonic(), person)
                return person
            self._failed[key] = time.monotonic()  # not asked again at every sweep
        stale = self._cache.get(key)
        return stale[1] if stale else Person(user_id, known=False)

    async def _fetch(self, team_id: str, user_id: str) -> Person | None:
        try:
            user = (await self.clients.call(team_id, "users_info", user=user_id))["user"]
        except SlackApiError as exc:
            log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return None
        except Exception as exc:  # noqa: BLE001 - a slow Slack must not stop the caller
            log.warning("users.info failed for %s: %s", user_id, type(exc).__name__)
            return None
        profile = user.get("profile") or {}
        name = (profile.get("display_name") or profile.get("real_name")
                or user.get("real_name") or user.get("name") or "")
        return Person(user_id, user.get("tz") or "UTC",
                      bool(user.get("is_admin") or user.get("is_owner")), name=str(name))
