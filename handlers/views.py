"""Modal submissions: the intake form behind a bare `/recover`."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.cases import BadReport
from handlers import blocks
from handlers.cards import submit_card
from handlers.commands import SAVE_FAILED, SLACK_ID
from handlers.context import Deps
from handlers.ids import Action, Block, Callback

log = logging.getLogger("mend.views")
VIEWS = (Callback.INTAKE,)


def field(values: dict[str, Any], block: str, action: str) -> str | None:
    """The text or selected option of one input in a submitted view."""
    element = values.get(block, {}).get(action, {})
    if element.get("selected_option"):
        return element["selected_option"].get("value")
    value = element.get("value")
    return value if isinstance(value, str) else None


def metadata(view: dict[str, Any]) -> dict[str, str]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def on_intake(ack, body: dict[str, Any], deps: Deps) -> None:
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    user = body.get("user") or {}
    team_id = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    channel_id = metadata(view).get("channel_id", "")
    if not all(SLACK_ID.match(str(x or "")) for x in (team_id, user.get("id"), channel_id)):
        await ack(response_action="errors",
                  errors={Block.WHAT: "This form lost track of its channel. Close it and run "
                                      "/recover again."})
        return
    contact = field(values, Block.CONTACT, Action.CONTACT)
    severity = field(values, Block.SEVERITY, Action.SEVERITY)
    try:
        opened = await deps.recovery.open_case(
            team_id, channel_id, user["id"], field(values, Block.WHAT, Action.WHAT) or "",
            customer=(field(values, Block.CUSTOMER, Action.CUSTOMER) or "")[:80],
            contact=contact if contact in deps.recovery.contact_keys() else None,
            severity=severity if severity in blocks.SEVERITY_LABELS else None,
        )
    except BadReport as exc:
        await ack(response_action="errors", errors={Block.WHAT: str(exc)})
        return
    except sqlite3.Error as exc:
        log.error("case not saved: %s", type(exc).__name__)
        await ack(response_action="errors", errors={Block.WHAT: SAVE_FAILED})
        return
    await ack(response_action="update", view=blocks.playbook_modal(opened.case, opened.advice))
    response_url = metadata(view).get("response_url") or None
    submit_card(deps, opened.case, response_url)


def register(app: AsyncApp, deps: Deps) -> None:
    async def intake(ack, body):
        await on_intake(ack, body, deps)

    app.view(Callback.INTAKE)(intake)
