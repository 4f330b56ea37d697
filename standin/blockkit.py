"""Block Kit checks, so the stand-in refuses the blocks Slack would refuse.

Slack answers ``invalid_blocks`` (with a reason in ``response_metadata.messages``) when a
message or view carries blocks it can't render: too many blocks, unknown types, texts over
their length limits, duplicate ids. We lean on slack_sdk's models
(``Block.parse_all(...)`` + ``validate_json()``) and add the checks those models skip,
mainly on elements nested inside blocks (buttons in an actions block or a section
accessory) and on section fields.

This is a guard against mistakes, not a full re-implementation of Slack's validator: a
block that passes here may still be refused by Slack for a rule not listed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk.models.blocks import Block, BlockElement

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
SECTION_FIELDS_MAX_ITEMS = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
BLOCK_ID_MAX = 255
HEADER_TEXT_MAX = 150

# slack_sdk logs a warning for every unknown type it skips; we report those ourselves.
_sdk_loggers = ("slack_sdk.models.blocks.blocks", "slack_sdk.models.blocks.block_elements")


class BlockError(ValueError):
    """A block list Slack would refuse. ``error`` is Slack's error code, ``str(self)`` the
    reason reported in ``response_metadata.messages``."""

    def __init__(self, reason: str, error: str = "invalid_blocks"):
        super().__init__(reason)
        self.error = error


def parse_json_field(value: Any, field: str) -> Any:
    """Decode a field that may arrive as a JSON string (form bodies) or as an already-decoded
    value (JSON bodies). Raises BlockError(invalid_<field>_format)-style errors on bad JSON."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise BlockError(
                f"[ERROR] {field} is not valid JSON: {exc}", f"invalid_{field}_format"
            ) from exc
    return value


def _quiet(parse: Any, obj: dict) -> Any:
    """Run a slack_sdk ``parse`` without its "Unknown block detected" warnings."""
    loggers = [logging.getLogger(name) for name in _sdk_loggers]
    previous = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        return parse(obj)
    finally:
        for lg, was in zip(loggers, previous, strict=True):
            lg.disabled = was


def _err(pointer: str, message: str) -> BlockError:
    return BlockError(f"[ERROR] {message} [json-pointer:{pointer}]")


def _check_text_object(obj: Any, pointer: str, limit: int, *, plain_only: bool) -> None:
    if not isinstance(obj, dict):
        raise _err(pointer, "must be a text object, not " + type(obj).__name__)
    kind = obj.get("type")
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if kind not in allowed:
        raise _err(pointer + "/type", f"must be one of {', '.join(allowed)}, got {kind!r}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise _err(pointer + "/text", "must be a non-empty string")
    if len(text) > limit:
        raise _err(pointer + "/text", f"must be no more than {limit} characters (got {len(text)})")


def _check_element(element: Any, pointer: str) -> None:
    """Check one interactive element (button, select, input...)."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        raise _err(pointer, "element must be an object with a type")
    kind = element["type"]
    if kind == "button":
        _check_text_object(element.get("text"), pointer + "/text", BUTTON_TEXT_MAX, plain_only=True)
        value = element.get("value")
        if value is not None and len(str(value)) > BUTTON_VALUE_MAX:
            raise _err(pointer + "/value", f"must be no more than {BUTTON_VALUE_MAX} characters")
    action_id = element.get("action_id")
    if action_id is not None and len(str(action_id)) > ACTION_ID_MAX:
        raise _err(pointer + "/action_id", f"must be no more than {ACTION_ID_MAX} characters")
    if kind in ("image", "plain_text", "mrkdwn"):
        return  # not BlockElements in slack_sdk's sense (context elements)
    parsed = _quiet(BlockElement.parse, element)
    if parsed is None:
        raise _err(pointer + "/type", f"unsupported element type: {kind}")
    try:
        parsed.validate_json()
    except Exception as exc:  # slack_sdk raises SlackObjectFormationError
        raise _err(pointer, str(exc)) from exc


def _check_block(block: Any, pointer: str) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _err(pointer, "block must be an object with a type")
    kind = block["type"]
    block_id = block.get("block_id")
    if block_id is not None and len(str(block_id)) > BLOCK_ID_MAX:
        raise _err(pointer + "/block_id", f"must be no more than {BLOCK_ID_MAX} characters")

    if kind == "section":
        if block.get("text") is None and not block.get("fields"):
            raise _err(pointer, "section must have text or fields")
        if block.get("text") is not None:
            _check_text_object(block["text"], pointer + "/text", SECTION_TEXT_MAX, plain_only=False)
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS_MAX_ITEMS:
            raise _err(
                pointer + "/fields", f"no more than {SECTION_FIELDS_MAX_ITEMS} items allowed"
            )
        for i, f in enumerate(fields):
            _check_text_object(f, f"{pointer}/fields/{i}", SECTION_FIELD_MAX, plain_only=False)
        if block.get("accessory") is not None:
            _check_element(block["accessory"], pointer + "/accessory")
    elif kind == "header":
        _check_text_object(block.get("text"), pointer + "/text", HEADER_TEXT_MAX, plain_only=True)
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements:
            raise _err(pointer + "/elements", "must have at least 1 element")
        seen: set[str] = set()
        for i, element in enumerate(elements):
            _check_element(element, f"{pointer}/elements/{i}")
            action_id = element.get("action_id")
            if action_id is not None:
                if action_id in seen:
                    raise _err(
                        f"{pointer}/elements/{i}/action_id", f"duplicate action_id: {action_id}"
                    )
                seen.add(action_id)
    elif kind == "input":
        if block.get("element") is None:
            raise _err(pointer + "/element", "input block must have an element")
        _check_element(block["element"], pointer + "/element")
    elif kind == "context":
        for i, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict) and element.get("type") in ("plain_text", "mrkdwn"):
                _check_text_object(element, f"{pointer}/elements/{i}", 3000, plain_only=False)

    parsed = _quiet(Block.parse, block)
    if parsed is None:
        raise _err(pointer + "/type", f"unsupported type: {kind}")
    try:
        parsed.validate_json()
    except Exception as exc:  # SlackObjectFormationError
        raise _err(pointer, str(exc)) from exc


def check_blocks(blocks: Any, *, limit: int, pointer: str = "/blocks") -> list[dict]:
    """Validate a block list (JSON string or list) and return it decoded.

    ``limit`` is 50 for messages, 100 for views. Raises BlockError with Slack's error code
    (``invalid_blocks`` or ``invalid_blocks_format``) and a reason.
    """
    decoded = parse_json_field(blocks, "blocks")
    if decoded is None:
        return []
    if not isinstance(decoded, list):
        raise BlockError("[ERROR] blocks must be an array", "invalid_blocks_format")
    if len(decoded) > limit:
        raise _err(pointer, f"no more than {limit} items allowed (got {len(decoded)})")
    seen: set[str] = set()
    for i, block in enumerate(decoded):
        _check_block(block, f"{pointer}/{i}")
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                raise _err(f"{pointer}/{i}/block_id", f"duplicate block_id: {block_id}")
            seen.add(block_id)
    return decoded


VIEW_TITLE_MAX = 24
VIEW_TYPES = ("modal", "home")


def check_view(view: Any) -> dict:
    """Validate a view (JSON string or dict) as views.open/push/update/publish would, and
    return it decoded. Block problems raise BlockError(``invalid_blocks``); view-level
    problems (type, title, submit/close, private_metadata, callback_id) raise
    BlockError(``invalid_arguments``) as Slack does."""
    decoded = parse_json_field(view, "view")
    if not isinstance(decoded, dict):
        raise BlockError("[ERROR] view must be an object [json-pointer:/view]", "invalid_arguments")
    decoded = dict(decoded)

    def bad(pointer: str, message: str) -> BlockError:
        return BlockError(f"[ERROR] {message} [json-pointer:/view{pointer}]", "invalid_arguments")

    kind = decoded.get("type")
    if kind not in VIEW_TYPES:
        raise bad("/type", f"must be one of {', '.join(VIEW_TYPES)}, got {kind!r}")
    if kind == "modal" and decoded.get("title") is None:
        raise bad("/title", "modal views require a title")
    for key in ("title", "submit", "close"):
        if decoded.get(key) is not None:
            try:
                _check_text_object(decoded[key], "/" + key, VIEW_TITLE_MAX, plain_only=True)
            except BlockError as exc:
                raise BlockError(
                    str(exc).replace("json-pointer:/", "json-pointer:/view/"), "invalid_arguments"
                ) from exc
    if kind == "home" and (decoded.get("submit") or decoded.get("close")):
        raise bad("", "home views cannot have submit or close")
    if len(str(decoded.get("private_metadata") or "")) > 3000:
        raise bad("/private_metadata", "must be no more than 3000 characters")
    if len(str(decoded.get("callback_id") or "")) > 255:
        raise bad("/callback_id", "must be no more than 255 characters")
    if decoded.get("blocks") is None:
        raise bad("/blocks", "missing required field: blocks")
    decoded["blocks"] = check_blocks(
        decoded["blocks"], limit=VIEW_MAX_BLOCKS, pointer="/view/blocks"
    )
    return decoded
