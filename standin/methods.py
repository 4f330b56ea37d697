"""The Web API methods the stand-in models, over an in-memory workspace.

``WebApiMethods`` is mixed into SlackStandIn: each ``_<method>`` handler takes the call's
arguments (already authenticated and checked for required fields) and returns the JSON to
answer, or raises ApiError for an ``{"ok": false, "error": ...}`` answer. State (messages,
channels, users, views, files) lives on the SlackStandIn instance.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .blockkit import (
    MESSAGE_MAX_BLOCKS,
    BlockError,
    check_blocks,
    check_view,
    parse_json_field,
)

#: Message text longer than this is refused with ``msg_too_long``.
MAX_TEXT = 40000

_CHANNEL_ID = re.compile(r"^[CGD][A-Za-z0-9_]*$")
_USER_ID = re.compile(r"^[UW][A-Za-z0-9_]*$")

_TZ_LABELS = {
    "UTC": "Coordinated Universal Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "IST": "India Standard Time",
    "JST": "Japan Standard Time",
    "AEST": "Australian Eastern Standard Time",
    "AEDT": "Australian Eastern Daylight Time",
}


class ApiError(Exception):
    """Raised inside a method handler to answer ``{"ok": false, "error": error, **extra}``."""

    def __init__(self, error: str, status: int = 200, **extra: Any):
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def _invalid_arguments(*messages: str) -> ApiError:
    return ApiError("invalid_arguments", response_metadata={"messages": list(messages)})


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _present(args: Mapping[str, Any], name: str) -> bool:
    return args.get(name) is not None and args.get(name) != ""


class WebApiMethods:
    """Handlers for auth.test, apps.connections.open, chat.*, conversations.*, users.info,
    views.* and files.*Upload*External, plus the workspace helpers they share."""

    # Provided by SlackStandIn.
    team_id: str
    team_domain: str
    team_name: str
    bot_user_id: str
    bot_id: str
    bot_name: str
    app_id: str
    base_url: str
    socket_url: str
    ephemerals: list[dict[str, Any]]
    views: dict[str, dict[str, Any]]
    view_users: dict[str, str]
    triggers: dict[str, str]
    home: dict[str, dict[str, Any]]
    files: dict[str, dict[str, Any]]
    _users: dict[str, dict[str, Any]]
    _channels: dict[str, dict[str, Any]]
    _messages: dict[str, list[dict[str, Any]]]
    _last_ts_us: int
    _ids: Any
    add_channel: Callable[..., dict[str, Any]]
    _notify: Callable[[], None]

    def _method_handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """Method name -> handler, for the methods modelled here."""
        return {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "users.conversations": self._users_conversations,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # ------------------------------------------------------------------ helpers

    def _new_ts(self) -> str:
        """A unique, strictly increasing Slack timestamp ("1764150000.000100")."""
        us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _lookup_channel(self, channel: str) -> str:
        """Map ``#name``/name/user id to a channel id without creating anything."""
        if channel.startswith("#"):
            channel = channel[1:]
        if _USER_ID.match(channel):
            return "D" + channel
        if channel in self._channels:
            return channel
        for cid, record in self._channels.items():
            if record["name"] == channel:
                return cid
        return channel

    def _resolve_channel(self, channel: Any) -> str:
        """Like _lookup_channel, but refuses names that match nothing and auto-creates
        unknown channel ids (bot as member) and DMs."""
        if not isinstance(channel, str) or not channel:
            raise ApiError("channel_not_found")
        channel_id = self._lookup_channel(channel)
        if channel_id not in self._channels:
            if not _CHANNEL_ID.match(channel_id) or channel.startswith("#"):
                raise ApiError("channel_not_found")
            record = self.add_channel(channel_id)
            if channel_id.startswith("D") and _USER_ID.match(channel_id[1:]):
                record["name"] = channel_id[1:]
                record["user"] = channel_id[1:]
                record["is_im"] = True
        return channel_id

    def _require_bot_in(self, channel_id: str) -> dict[str, Any]:
        record = self._channels[channel_id]
        if record.get("is_archived"):
            raise ApiError("is_archived")
        if not record["bot_member"]:
            raise ApiError("not_in_channel")
        return record

    def _find_message(self, channel_id: str, ts: Any) -> dict[str, Any] | None:
        for msg in self._messages.get(channel_id, []):
            if msg["ts"] == ts:
                return msg
        return None

    def _message_content(self, args: dict[str, Any], *, require: bool) -> dict[str, Any]:
        """Validate text/blocks/attachments/metadata of a message-bearing call."""
        content: dict[str, Any] = {}
        try:
            if "blocks" in args and args["blocks"] is not None:
                content["blocks"] = check_blocks(args["blocks"], limit=MESSAGE_MAX_BLOCKS)
            if args.get("attachments") is not None:
                content["attachments"] = parse_json_field(args["attachments"], "attachments")
        except BlockError as exc:
            raise ApiError(exc.error, response_metadata={"messages": [str(exc)]}) from exc
        if args.get("text") is not None:
            content["text"] = str(args["text"])
            if len(content["text"]) > MAX_TEXT:
                raise ApiError("msg_too_long")
        if require and not (
            content.get("text") or content.get("blocks") or content.get("attachments")
        ):
            raise ApiError("no_text")
        if args.get("metadata") is not None:
            try:
                metadata = parse_json_field(args["metadata"], "metadata")
            except BlockError as exc:
                raise ApiError("invalid_metadata_format") from exc
            if (
                not isinstance(metadata, dict)
                or not isinstance(metadata.get("event_type"), str)
                or not isinstance(metadata.get("event_payload"), dict)
            ):
                raise ApiError("invalid_metadata_format")
            content["metadata"] = metadata
        return content

    def _store_message(
        self,
        channel_id: str,
        *,
        text: str,
        blocks: list,
        thread_ts: str | None,
        metadata: dict | None,
        user: str | None = None,
        ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        msg = {
            "type": "message",
            "ts": ts or self._new_ts(),
            "channel": channel_id,
            "text": text,
            "blocks": blocks,
            "thread_ts": thread_ts or None,
            "user": user or self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "metadata": metadata,
            **extra,
        }
        stored = self._messages.setdefault(channel_id, [])
        stored.append(msg)
        if ts is not None:
            stored.sort(key=lambda m: float(m["ts"]))
        self._notify()
        return msg

    def _render(
        self, msg: dict[str, Any], *, with_metadata: bool, for_history: bool = True
    ) -> dict:
        """A stored message as Slack's API shows it (no channel, no empty fields; thread
        parents get reply_count/reply_users/latest_reply)."""
        out = {
            k: copy.deepcopy(v)
            for k, v in msg.items()
            if v not in (None, [], {}) and k != "channel"
        }
        if not with_metadata:
            out.pop("metadata", None)
        if for_history:
            replies = [
                m
                for m in self._messages.get(msg["channel"], [])
                if m["thread_ts"] == msg["ts"] and m["ts"] != msg["ts"]
            ]
            if replies:
                out["thread_ts"] = msg["ts"]
                out["reply_count"] = len(replies)
                out["reply_users"] = sorted({m["user"] for m in replies})
                out["latest_reply"] = replies[-1]["ts"]
        return out

    @staticmethod
    def _page(items: list, args: dict[str, Any], default_limit: int = 100) -> tuple[list, dict]:
        """Cursor pagination over a list (cursor = "next:<offset>")."""
        try:
            limit = int(args.get("limit") or default_limit)
            start = int(str(args.get("cursor") or "next:0").split(":", 1)[1])
        except (ValueError, IndexError) as exc:
            raise ApiError("invalid_cursor") from exc
        limit = max(1, min(limit, 1000))
        page = items[start : start + limit]
        more = start + limit < len(items)
        meta = {
            "has_more": more,
            "response_metadata": {"next_cursor": f"next:{start + limit}" if more else ""},
        }
        return page, meta

    @staticmethod
    def _in_range(ts: str, args: dict[str, Any]) -> bool:
        inclusive = _truthy(args.get("inclusive"))
        value = float(ts)
        if args.get("oldest"):
            oldest = float(args["oldest"])
            if value < oldest or (value == oldest and not inclusive):
                return False
        if args.get("latest"):
            latest = float(args["latest"])
            if value > latest or (value == latest and not inclusive):
                return False
        return True

    def _user_object(self, user_id: str) -> dict[str, Any]:
        """users.info's ``user`` object for a registered user (or the bot user)."""
        if user_id == self.bot_user_id and user_id not in self._users:
            return {
                "id": self.bot_user_id,
                "team_id": self.team_id,
                "name": self.bot_name,
                "deleted": False,
                "real_name": self.bot_name.title(),
                "is_bot": True,
                "is_app_user": False,
                "is_admin": False,
                "is_owner": False,
                "updated": int(time.time()),
                "profile": {
                    "real_name": self.bot_name.title(),
                    "display_name": "",
                    "bot_id": self.bot_id,
                    "api_app_id": self.app_id,
                    "team": self.team_id,
                },
            }
        rec = self._users[user_id]
        now = datetime.now(ZoneInfo(rec["tz"]))
        offset = now.utcoffset()
        abbreviation = now.tzname() or rec["tz"]
        profile = {
            "real_name": rec["real_name"],
            "real_name_normalized": rec["real_name"],
            "display_name": rec["display_name"],
            "display_name_normalized": rec["display_name"],
            "team": rec["team_id"],
        }
        if rec["email"]:
            profile["email"] = rec["email"]
        return {
            "id": rec["id"],
            "team_id": rec["team_id"],
            "name": rec["name"],
            "deleted": rec["deleted"],
            "color": "9f69e7",
            "real_name": rec["real_name"],
            "tz": rec["tz"],
            "tz_label": rec["tz_label"] or _TZ_LABELS.get(abbreviation, abbreviation),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
            "is_admin": rec["is_admin"],
            "is_owner": rec["is_owner"],
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": rec["is_bot"],
            "is_app_user": False,
            "updated": int(time.time()),
            **copy.deepcopy(rec["extra"]),
        }

    # ------------------------------------------------------------------ methods: auth, apps

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_url}

    # ------------------------------------------------------------------ methods: chat

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        self._require_bot_in(channel_id)
        content = self._message_content(args, require=True)
        thread_ts = args.get("thread_ts") or None
        extra = {}
        if thread_ts and _truthy(args.get("reply_broadcast")):
            extra["reply_broadcast"] = True
        if content.get("attachments"):
            extra["attachments"] = content["attachments"]
        msg = self._store_message(
            channel_id,
            text=content.get("text", ""),
            blocks=content.get("blocks", []),
            thread_ts=thread_ts,
            metadata=content.get("metadata"),
            **extra,
        )
        return {
            "ok": True,
            "channel": channel_id,
            "ts": msg["ts"],
            "message": self._render(msg, with_metadata=True, for_history=False),
        }

    def _owned_message(self, args: dict[str, Any], ts_arg: str, refusal: str) -> tuple[str, dict]:
        channel_id = self._resolve_channel(args.get("channel"))
        msg = self._find_message(channel_id, args.get(ts_arg))
        if msg is None:
            raise ApiError("message_not_found")
        if msg["user"] != self.bot_user_id:
            raise ApiError(refusal)
        return channel_id, msg

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        content = self._message_content(args, require=True)
        channel_id, msg = self._owned_message(args, "ts", "cant_update_message")
        if "text" in content:
            msg["text"] = content["text"]
        if "blocks" in content:
            msg["blocks"] = content["blocks"]
        if "attachments" in content:
            msg["attachments"] = content["attachments"]
        if "metadata" in content:
            msg["metadata"] = content["metadata"]
        msg["edited"] = {"user": self.bot_user_id, "ts": self._new_ts()}
        self._notify()
        return {
            "ok": True,
            "channel": channel_id,
            "ts": msg["ts"],
            "text": msg["text"],
            "message": self._render(msg, with_metadata=True, for_history=False),
        }

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id, msg = self._owned_message(args, "ts", "cant_delete_message")
        self._messages[channel_id].remove(msg)
        self._notify()
        return {"ok": True, "channel": channel_id, "ts": msg["ts"]}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        record = self._require_bot_in(channel_id)
        user = args.get("user")
        if record["members"] is not None and user not in record["members"]:
            raise ApiError("user_not_in_channel")
        content = self._message_content(args, require=True)
        message_ts = self._new_ts()
        self.ephemerals.append(
            {
                "channel": channel_id,
                "user": user,
                "text": content.get("text", ""),
                "blocks": content.get("blocks", []),
                "thread_ts": args.get("thread_ts") or None,
                "message_ts": message_ts,
            }
        )
        self._notify()
        return {"ok": True, "message_ts": message_ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        ts = str(args.get("message_ts"))
        msg = self._find_message(channel_id, ts)
        if msg is None:
            raise ApiError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
        if msg["thread_ts"] and msg["thread_ts"] != ts:
            link += f"?thread_ts={msg['thread_ts']}&cid={channel_id}"
        return {"ok": True, "channel": channel_id, "permalink": link}

    # ------------------------------------------------------------------ methods: conversations

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        if not _present(args, "channel"):
            raise ApiError("channel_not_found")
        channel_id = self._resolve_channel(args["channel"])
        self._require_bot_in(channel_id)
        with_metadata = _truthy(args.get("include_all_metadata"))
        top = [
            m
            for m in self._messages.get(channel_id, [])
            if (not m["thread_ts"] or m["thread_ts"] == m["ts"] or m.get("reply_broadcast"))
            and self._in_range(m["ts"], args)
        ]
        page, meta = self._page(list(reversed(top)), args)
        return {
            "ok": True,
            "messages": [self._render(m, with_metadata=with_metadata) for m in page],
            "pin_count": 0,
            **meta,
        }

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        if not _present(args, "channel"):
            raise ApiError("channel_not_found")
        if not _present(args, "ts"):
            raise ApiError("thread_not_found")
        channel_id = self._resolve_channel(args["channel"])
        self._require_bot_in(channel_id)
        ts = str(args["ts"])
        parent = self._find_message(channel_id, ts)
        if parent is None:
            raise ApiError("thread_not_found")
        if parent["thread_ts"] and parent["thread_ts"] != ts:  # ts of a reply: use its thread
            ts = parent["thread_ts"]
            parent = self._find_message(channel_id, ts) or parent
        with_metadata = _truthy(args.get("include_all_metadata"))
        replies = [
            m
            for m in self._messages.get(channel_id, [])
            if m["thread_ts"] == ts and m["ts"] != ts and self._in_range(m["ts"], args)
        ]
        page, meta = self._page([parent, *replies], args, default_limit=1000)
        rendered = []
        for m in page:
            out = self._render(m, with_metadata=with_metadata)
            if m is not parent:
                out["parent_user_id"] = parent["user"]
            rendered.append(out)
        return {"ok": True, "messages": rendered, **meta}

    def _channel_object(self, channel_id: str) -> dict[str, Any]:
        rec = self._channels[channel_id]
        is_im = bool(rec.get("is_im"))
        out = {
            "id": channel_id,
            "name": rec["name"],
            "is_channel": not is_im and not rec["is_private"],
            "is_group": False,
            "is_im": is_im,
            "is_private": rec["is_private"] or is_im,
            "is_archived": rec["is_archived"],
            "is_member": rec["bot_member"],
            "created": rec["created"],
            "context_team_id": self.team_id,
        }
        if is_im:
            out["user"] = rec["user"]
        return out

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        return {"ok": True, "channel": self._channel_object(channel_id)}

    def _users_conversations(self, args: dict[str, Any]) -> dict[str, Any]:
        """Channels the user is in: those listing them as a member, and those whose
        membership was never given (anyone may be in them)."""
        user = args.get("user") or self.bot_user_id
        ids = [cid for cid, rec in self._channels.items()
               if rec["members"] is None or user in rec["members"]]
        page, meta = self._page(ids, args)
        return {"ok": True, "channels": [self._channel_object(c) for c in page], **meta}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        rec = self._channels[channel_id]
        members = list(rec["members"] or [])
        if rec["bot_member"] and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        page, meta = self._page(members, args)
        meta.pop("has_more")
        return {"ok": True, "members": page, **meta}

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        rec = self._channels[channel_id]
        if rec["is_archived"]:
            raise ApiError("is_archived")
        rec["bot_member"] = True
        return {"ok": True, "channel": self._channel_object(channel_id)}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "").split(",")
        if args.get("channel"):
            channel_id = self._resolve_channel(args["channel"])
        elif len(users) == 1 and _USER_ID.match(users[0]):
            channel_id = self._resolve_channel(users[0])
        else:
            raise ApiError("users_list_not_supplied" if not users[0] else "not_implemented")
        return {"ok": True, "channel": {"id": channel_id}}

    # ------------------------------------------------------------------ methods: users

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user")
        if user_id not in self._users and user_id != self.bot_user_id:
            raise ApiError("user_not_found")
        user = self._user_object(user_id)
        if _truthy(args.get("include_locale")):
            user["locale"] = "en-US"
        return {"ok": True, "user": user}

    # ------------------------------------------------------------------ methods: views

    def _checked_view(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return check_view(args.get("view"))
        except BlockError as exc:
            raise ApiError(exc.error, response_metadata={"messages": [str(exc)]}) from exc

    def _store_view(
        self,
        view: dict[str, Any],
        view_id: str | None = None,
        root: str | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": root or view_id,
            "previous_view_id": previous,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            **copy.deepcopy(view),
        }
        stored["id"] = view_id
        stored["hash"] = f"{int(time.time())}.{secrets.token_hex(4)}"
        self.views[view_id] = stored
        self._notify()
        return stored

    def _remember_opener(self, view_id: str, trigger_id: Any) -> None:
        """Note whose click or command opened a modal (when the trigger is known)."""
        user = self.triggers.get(str(trigger_id or ""))
        if user:
            self.view_users[view_id] = user

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._checked_view(args)
        if view["type"] != "modal":
            raise _invalid_arguments(
                "[ERROR] views.open needs a modal view [json-pointer:/view/type]"
            )
        stored = self._store_view(view)
        self._remember_opener(stored["id"], args.get("trigger_id"))
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._checked_view(args)
        if view["type"] != "modal":
            raise _invalid_arguments(
                "[ERROR] views.push needs a modal view [json-pointer:/view/type]"
            )
        modals = [v for v in self.views.values() if v["type"] == "modal"]
        previous = modals[-1] if modals else None
        stored = self._store_view(
            view,
            root=previous["root_view_id"] if previous else None,
            previous=previous["id"] if previous else None,
        )
        self._remember_opener(stored["id"], args.get("trigger_id"))
        return {"ok": True, "view": copy.deepcopy(stored)}

    def put_view(
        self,
        view: Any,
        *,
        view_id: str | None = None,
        previous_id: str | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Store a view the app answered with instead of calling the API (a
        ``view_submission`` ack with ``response_action`` ``update`` or ``push``), checked as
        views.open checks it. ``view_id`` replaces that view; ``previous_id`` pushes on top
        of it. Returns the stored view; raises ApiError when Slack would refuse it."""
        view = self._checked_view({"view": view})
        if view["type"] != "modal":
            raise _invalid_arguments("[ERROR] a submission can only answer with a modal")
        current = self.views.get(view_id) if view_id else None
        previous = self.views.get(previous_id) if previous_id else None
        if current is not None:
            stored = self._store_view(
                view, current["id"], current["root_view_id"], current["previous_view_id"]
            )
        else:
            stored = self._store_view(
                view,
                root=previous["root_view_id"] if previous else None,
                previous=previous["id"] if previous else None,
            )
        if user:
            self.view_users[stored["id"]] = user
        return copy.deepcopy(stored)

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._checked_view(args)
        if _present(args, "view_id"):
            current = self.views.get(args["view_id"])
        elif _present(args, "external_id"):
            current = next(
                (v for v in self.views.values() if v.get("external_id") == args["external_id"]),
                None,
            )
        else:
            raise _invalid_arguments("[ERROR] either view_id or external_id is required")
        if current is None:
            raise ApiError("not_found")
        if _present(args, "hash") and args["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        stored = self._store_view(
            view, current["id"], current["root_view_id"], current["previous_view_id"]
        )
        for user_id, home in list(self.home.items()):
            if home["id"] == stored["id"]:
                self.home[user_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._checked_view(args)
        if view["type"] != "home":
            raise _invalid_arguments(
                "[ERROR] views.publish needs a home view [json-pointer:/view/type]"
            )
        user_id = str(args["user_id"])
        current = self.home.get(user_id)
        if current and _present(args, "hash") and args["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        stored = self._store_view(view, current["id"] if current else None)
        self.home[user_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    # ------------------------------------------------------------------ methods: files

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(args["length"])
        except (TypeError, ValueError) as exc:
            raise _invalid_arguments("[ERROR] length must be an integer") from exc
        file_id = self._new_id("F")
        self.files[file_id] = {
            "bytes": None,
            "filename": str(args["filename"]),
            "title": None,
            "length": length,
            "alt_txt": args.get("alt_txt"),
            "snippet_type": args.get("snippet_type"),
            "channel_id": None,
            "initial_comment": None,
            "thread_ts": None,
            "completed": False,
        }
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            files = parse_json_field(args["files"], "files")
        except BlockError as exc:
            raise _invalid_arguments(str(exc)) from exc
        if not isinstance(files, list) or not files:
            raise _invalid_arguments("[ERROR] files must be a non-empty array")
        ids = [f.get("id") if isinstance(f, dict) else None for f in files]
        if any(fid not in self.files for fid in ids):
            raise ApiError("file_not_found")
        channel = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        channel_id = self._resolve_channel(channel) if channel else None
        if channel_id:
            self._require_bot_in(channel_id)
        out = []
        for f in files:
            record = self.files[f["id"]]
            record.update(
                title=f.get("title") or record["filename"],
                channel_id=channel_id,
                initial_comment=args.get("initial_comment"),
                thread_ts=args.get("thread_ts") or None,
                completed=True,
            )
            out.append({"id": f["id"], "title": record["title"], "name": record["filename"]})
        if channel_id:
            self._store_message(
                channel_id,
                text=str(args.get("initial_comment") or ""),
                blocks=[],
                thread_ts=args.get("thread_ts") or None,
                metadata=None,
                files=copy.deepcopy(out),
                upload=True,
            )
        return {"ok": True, "files": out}
