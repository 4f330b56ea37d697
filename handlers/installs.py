"""Leaving a workspace: `app_uninstalled` and `tokens_revoked`.

Either one stops the workspace's work at once: its tokens are deleted, its pending and
in-flight nudges cancelled, and the scheduler no longer visits it, so nothing is sent
and nothing fails later. Its cases stay for `MEND_RETENTION_DAYS` (a reinstall finds
them again), then the scheduler purges them (`python -m bot purge --team T…` does it
at once).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers import payload
from handlers.context import Deps

log = logging.getLogger("mend.installs")
APP_UNINSTALLED = "app_uninstalled"
TOKENS_REVOKED = "tokens_revoked"
INSTALL_EVENTS = (APP_UNINSTALLED, TOKENS_REVOKED)


async def workspace_left(deps: Deps, enterprise_id: str | None, team_id: str | None) -> None:
    if not deps.clients.distributed:  # SLACK_BOT_TOKEN: one workspace, run as it always was
        log.warning("Slack says Mend was removed from %s: set a new SLACK_BOT_TOKEN", team_id)
        return
    teams = await deps.workspaces.left(enterprise_id, team_id)
    for team in teams:
        deps.home_viewers.difference_update({v for v in deps.home_viewers if v[0] == team})
    log.info("uninstalled from %s: work stopped, cases kept for %s days",
             ", ".join(teams) or enterprise_id, deps.retention.days)


def register(app: AsyncApp, deps: Deps) -> None:
    async def uninstalled(context: Any):
        await workspace_left(deps, context.enterprise_id,
                             None if context.is_enterprise_install else context.team_id)

    async def revoked(context: Any):
        if not (payload.of(context).event.get("tokens") or {}).get("bot"):
            return  # only user tokens, which Mend does not keep
        await workspace_left(deps, context.enterprise_id,
                             None if context.is_enterprise_install else context.team_id)

    app.event(APP_UNINSTALLED)(uninstalled)
    app.event(TOKENS_REVOKED)(revoked)
