"""Why a change to a case was not made: the domain says it, the handlers word it."""

from __future__ import annotations


class NotFound(LookupError):
    """No such case in this workspace."""

    def __init__(self, number: int):
        super().__init__(f"There is no case #{number} in this workspace.")
        self.number = number


class Refused(Exception):
    """The actor may not do this now.

    `why` may contain `{owner}`, which the renderer replaces with a mention of
    `owner`; `who_can` lists the user ids who could do it.
    """

    def __init__(self, why: str, who_can: tuple[str, ...] = (), owner: str | None = None):
        super().__init__(why)
        self.why = why
        self.who_can = who_can
        self.owner = owner


class OutOfDate(Refused):
    """A reminder answered after its follow-up was done, moved or closed: the answer
    would change the follow-up in force now, which the reminder was not about."""

    def __init__(self, number: int):
        super().__init__(f"This reminder is out of date: the follow-up it was about on case "
                         f"#{number} has since been done, moved or closed, so nothing was "
                         "changed.")
        self.number = number
