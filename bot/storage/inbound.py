"""Inbound requests already taken: Slack's retries and replays are done once.

One row per request key (a slash command's trigger_id, an event's event_id, a view's
id and values…), claimed before the work with one indexed insert; a command's answer
is kept on the row so that a duplicate gets it again. Plain portable SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.engine import Engine


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a request key."""

    first: bool  # this request is the first with its key: do the work
    at: str  # when the key was first claimed
    answer: str | None = None  # the first answer, where it was kept ('' when not kept)


CLAIM = "INSERT INTO inbound (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING"
CLAIMED = "SELECT at, answer FROM inbound WHERE key = ?"


def _taken(row: tuple | None, at: str) -> Claim:
    """A key claimed before: what its first claim kept. (Gone meanwhile: forgotten as a
    day old, so answered long ago.)"""
    return Claim(False, row[0], row[1]) if row else Claim(False, at, "")


class Inbound(Engine):
    """Claims on inbound request keys, and the answers kept for them."""

    async def claim_inbound(self, key: str, at: str) -> Claim:
        """Claim `key` at `at`; a key claimed before returns what the first claim kept."""
        if await self._write(CLAIM, [key, at]) == 1:
            return Claim(True, at)
        return _taken(await self._row(CLAIMED, [key]), at)

    async def claim_inbounds(self, claims: list[tuple[str, str]]) -> list[Claim]:
        """Claim several keys, (key, at) each, in one transaction: one commit for the
        requests that arrived together. Each is answered as `claim_inbound` would (a
        key twice in the batch: the second finds the first's claim)."""
        found: list[Claim] = []
        async with self._tx() as tx:
            for key, at in claims:
                if await tx.run(CLAIM, [key, at]) == 1:
                    found.append(Claim(True, at))
                else:
                    rows = await tx.rows(CLAIMED, [key])
                    found.append(_taken(rows[0] if rows else None, at))
        return found

    async def retake_inbound(self, key: str, claimed_at: str, at: str) -> bool:
        """Take over a claim whose request died before answering (compare-and-set on
        its time, so that only one retry takes it)."""
        return await self._write("UPDATE inbound SET at = ? WHERE key = ? AND at = ? AND "
                                 "answer IS NULL", [at, key, claimed_at]) == 1

    async def answer_inbound(self, key: str, answer: str) -> None:
        """Keep the answer the request got ('' to say it was answered but not kept)."""
        await self.answer_inbounds([(key, answer)])

    async def answer_inbounds(self, answers: list[tuple[str, str]]) -> None:
        """Keep several requests' answers, (key, answer) each, in one transaction."""
        if len(answers) == 1:  # one statement: its own transaction (one round trip)
            await self._write("UPDATE inbound SET answer = ? WHERE key = ?",
                              [answers[0][1], answers[0][0]])
            return
        async with self._tx() as tx:
            await tx.many("UPDATE inbound SET answer = ? WHERE key = ?",
                          [(answer, key) for key, answer in answers])

    async def forget_inbound(self, before: str) -> int:
        """Drop claims older than `before` (Slack retries within minutes, not days)."""
        return await self._write("DELETE FROM inbound WHERE at < ?", [before])

    async def case_opened_by(self, team_id: str, key: str) -> int | None:
        """The number of the case request `key` opened (recorded with the case, in its
        transaction), if it opened one: what a request that died before its answer had
        opened. By the request's key, not by who, where and when: one person opening
        several cases in one channel within seconds gets each retry its own case."""
        return await self._value(
            "SELECT c.number FROM inbound i JOIN cases c ON c.id = i.case_id WHERE "
            "i.key = ? AND c.team_id = ?", [key, team_id])
