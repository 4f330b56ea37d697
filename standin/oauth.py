"""Several workspaces, OAuth installs and the tokens they hand out, for SlackStandIn.

- ``add_workspace("T2", "Beta")`` (or ``enterprise_id="E1"`` for a workspace in a grid)
  registers another workspace; the stand-in's own ``team_id`` (T1) is there from the
  start, with ``bot_token``.
- ``GET /oauth/v2/authorize?client_id=…&scope=…&state=…&redirect_uri=…&team=T2`` is the
  authorise page: without ``team`` it lists the workspaces to pick from; with it, it
  approves at once and redirects to ``redirect_uri`` (or ``oauth_redirect_uri``) with a
  one-time ``code``. ``user=U…`` names the installer (default ``U_INSTALLER``);
  ``org=1`` installs org-wide in the workspace's grid.
- ``oauth.v2.access`` exchanges a code (``grant_type=authorization_code``) or a refresh
  token (``grant_type=refresh_token``) for a bot token, checking the client id and
  secret (form fields or HTTP Basic, as slack_sdk sends them). With ``token_lifetime``
  set (seconds), tokens rotate: each answer carries ``refresh_token`` and
  ``expires_in``, an expired token answers ``token_expired``, and a refresh token
  works once.
- Every Web API call is checked against the workspace its token belongs to: a channel
  or user of another workspace answers ``channel_not_found`` / ``user_not_found``
  (a channel first used by a workspace belongs to it from then on). ``Call.team_id``
  records whose token each call carried.
- ``uninstall("T2")`` revokes the workspace's tokens (``token_revoked`` from then on).
"""

from __future__ import annotations

import base64
import html
import itertools
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from .methods import ApiError

OAUTH_METHODS = frozenset({"oauth.v2.access"})
_WORKSPACE_ARGS = (("channel", "channel_not_found"), ("user", "user_not_found"),
                   ("user_id", "user_not_found"), ("users", "user_not_found"))


class OAuthWorkspaces:
    """Mixed into SlackStandIn: the workspaces and the tokens Slack would hand out."""

    # Provided by SlackStandIn.
    team_id: str
    team_name: str
    team_domain: str
    bot_name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    app_id: str
    _users: dict[str, dict[str, Any]]
    _channels: dict[str, dict[str, Any]]

    def _init_oauth(self) -> None:
        self.oauth_client_id = "client-id"
        self.oauth_client_secret = "client-secret"
        self.oauth_redirect_uri: str | None = None  # the app's configured redirect URL
        self.token_lifetime: int | None = None  # seconds; None: tokens never expire
        self.workspaces: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._serial = itertools.count(1)
        self._acting: dict[str, Any] | None = None
        self.add_workspace(self.team_id, self.team_name, bot_user_id=self.bot_user_id,
                           bot_id=self.bot_id)
        self._tokens[self.bot_token] = {"team": self.team_id, "enterprise": None,
                                        "org_wide": False, "expires_at": None, "revoked": False}

    # -- the directory --------------------------------------------------------------------
    def add_workspace(self, team_id: str, name: str | None = None, *,
                      enterprise_id: str | None = None, bot_user_id: str | None = None,
                      bot_id: str | None = None) -> dict[str, Any]:
        record = {"id": team_id, "name": name or team_id, "enterprise_id": enterprise_id,
                  "bot_user_id": bot_user_id or f"UBOT{team_id}",
                  "bot_id": bot_id or f"BBOT{team_id}"}
        self.workspaces[team_id] = record
        return record

    def tokens_of(self, team_id: str) -> list[str]:
        """The bot tokens issued for a workspace (org-wide ones count for each of the
        grid's workspaces), oldest first, revoked ones included."""
        return [t for t, rec in self._tokens.items() if self._covers(rec, team_id)]

    def team_of_token(self, token: str | None) -> str | None:
        rec = self._tokens.get(token or "")
        return rec["team"] or rec["enterprise"] if rec else None

    def uninstall(self, team_id: str) -> None:
        """Revoke every token of the workspace, as Slack does when the app is removed."""
        for token in self.tokens_of(team_id):
            self._tokens[token]["revoked"] = True
        for key, rec in list(self._refresh.items()):
            if self._covers(rec, team_id):
                del self._refresh[key]

    def _covers(self, rec: dict[str, Any], team_id: str) -> bool:
        if rec["org_wide"]:
            return (self.workspaces.get(team_id) or {}).get("enterprise_id") == rec["enterprise"]
        return rec["team"] == team_id

    # -- checking each call -----------------------------------------------------------------
    def _check_token(self, token: str, method: str, args: dict[str, Any]) -> None:
        """Raise what Slack answers for a token it won't take, or for a call that acts on
        another workspace's channel or user."""
        rec = self._tokens.get(token)
        if rec is None:
            raise ApiError("invalid_auth")
        if rec["revoked"]:
            raise ApiError("token_revoked")
        if rec["expires_at"] is not None and time.time() >= rec["expires_at"]:
            raise ApiError("token_expired")
        self._acting = rec
        for name, error in _WORKSPACE_ARGS:
            for value in str(args.get(name) or "").split(","):
                if value and not self._belongs(rec, value.strip(), name == "channel"):
                    raise ApiError(error)

    def _belongs(self, rec: dict[str, Any], ident: str, channel: bool) -> bool:
        if channel:
            record = self._channels.get(ident) or self._channels.get(ident.lstrip("#"))
            if record is None:
                return True  # created on first use, below, then claimed
            if record.get("team_id") is None:
                record["team_id"] = rec["team"] or self._grid_team(rec)
            return self._covers(rec, record["team_id"])
        user = self._users.get(ident)
        return user is None or self._covers(rec, user["team_id"])

    def _grid_team(self, rec: dict[str, Any]) -> str | None:
        return next((t for t, w in self.workspaces.items()
                     if w["enterprise_id"] == rec["enterprise"]), None)

    def _claim_channel(self, channel_id: str) -> None:
        """A channel created by a call belongs to the caller's workspace."""
        record = self._channels.get(channel_id)
        if record is not None and record.get("team_id") is None and self._acting:
            record["team_id"] = self._acting["team"] or self._grid_team(self._acting)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        rec = self._acting or {"team": self.team_id, "enterprise": None, "org_wide": False}
        team = self.workspaces.get(rec["team"] or self._grid_team(rec) or self.team_id)
        domain = self.team_domain if team["id"] == self.team_id else team["id"].lower()
        return {"ok": True, "url": f"https://{domain}.slack.com/",
                "team": team["name"], "user": self.bot_name, "team_id": rec["team"] or team["id"],
                "user_id": team["bot_user_id"], "bot_id": team["bot_id"],
                "enterprise_id": rec["enterprise"], "is_enterprise_install": rec["org_wide"]}

    # -- the authorise page -------------------------------------------------------------------
    async def _handle_authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        if q.get("client_id") != self.oauth_client_id:
            return web.Response(status=400, text="invalid_client_id")
        redirect = q.get("redirect_uri") or self.oauth_redirect_uri
        if not redirect:
            return web.Response(status=400, text="bad_redirect_uri")
        team = q.get("team")
        if team not in self.workspaces:
            links = "".join(
                f'<li><a href="?{html.escape(urlencode({**q, "team": t}))}">'
                f"Allow in {html.escape(w['name'])}</a></li>" for t, w in self.workspaces.items())
            return web.Response(text=f"<h1>Install the app</h1><ul>{links}</ul>",
                                content_type="text/html")
        org_wide = q.get("org") == "1" and bool(self.workspaces[team]["enterprise_id"])
        code = f"code-{next(self._serial)}"
        self._codes[code] = {"team": team, "user": q.get("user") or "U_INSTALLER",
                             "redirect_uri": q.get("redirect_uri"), "org_wide": org_wide,
                             "scope": q.get("scope") or ""}
        raise web.HTTPFound(f"{redirect}{'&' if '?' in redirect else '?'}"
                            + urlencode({"code": code, "state": q.get("state") or ""}))

    # -- oauth.v2.access ----------------------------------------------------------------------
    @staticmethod
    def _basic_auth(header: str, args: dict[str, Any]) -> None:
        """slack_sdk sends the client id and secret as HTTP Basic auth."""
        if header.lower().startswith("basic "):
            raw = base64.b64decode(header[6:].strip()).decode("utf-8", "replace")
            client_id, _, secret = raw.partition(":")
            args.setdefault("client_id", client_id)
            args.setdefault("client_secret", secret)

    def _oauth_access(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("client_id") != self.oauth_client_id:
            raise ApiError("invalid_client_id")
        if args.get("client_secret") != self.oauth_client_secret:
            raise ApiError("bad_client_secret")
        if args.get("grant_type") == "refresh_token":
            grant = self._refresh.pop(str(args.get("refresh_token") or ""), None)
            if grant is None:
                raise ApiError("invalid_refresh_token")
            return self._grant(grant)
        grant = self._codes.pop(str(args.get("code") or ""), None)
        if grant is None:
            raise ApiError("invalid_code")
        if grant["redirect_uri"] and args.get("redirect_uri") != grant["redirect_uri"]:
            raise ApiError("bad_redirect_uri")
        return self._grant(grant)

    def _grant(self, grant: dict[str, Any]) -> dict[str, Any]:
        ws = self.workspaces[grant["team"]]
        serial = next(self._serial)
        token = f"xoxb-{ws['id']}-{serial}"
        expires = time.time() + self.token_lifetime if self.token_lifetime else None
        self._tokens[token] = {"team": None if grant["org_wide"] else ws["id"],
                               "enterprise": ws["enterprise_id"], "org_wide": grant["org_wide"],
                               "expires_at": expires, "revoked": False}
        answer: dict[str, Any] = {
            "ok": True, "access_token": token, "token_type": "bot", "scope": grant["scope"],
            "bot_user_id": ws["bot_user_id"], "app_id": self.app_id,
            "team": None if grant["org_wide"] else {"id": ws["id"], "name": ws["name"]},
            "enterprise": ({"id": ws["enterprise_id"], "name": ws["enterprise_id"]}
                           if ws["enterprise_id"] else None),
            "is_enterprise_install": grant["org_wide"],
            "authed_user": {"id": grant["user"]},
        }
        if self.token_lifetime:
            refresh = f"xoxe-1-{ws['id']}-{serial}"
            self._refresh[refresh] = grant
            answer.update(refresh_token=refresh, expires_in=self.token_lifetime)
        return answer
