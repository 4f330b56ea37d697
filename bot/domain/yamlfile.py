"""Read a YAML data file that people edit, keeping the line of every key for errors.

    text, source = read_source("data/playbook.yaml", PlaybookError, "playbook")
    data, lines = compose(text, source, PlaybookError)
    reader = Reader(source, lines, PlaybookError)
    top = reader.mapping(data, (), ["version", "steps"])  # or raises, e.g.
    -> PlaybookError("data/playbook.yaml line 42: steps.act: missing 'title'")

Every error is one line naming the file, the line and the key path. The playbook
and the coach rules are both read this way; each subclasses `Reader` for its own
sections and passes its own error class.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Sequence
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

KeyPath = tuple[str | int, ...]

_KEY_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_STR_TAG = "tag:yaml.org,2002:str"


def read_source(path: str | os.PathLike[str], error: type[Exception],
                what: str) -> tuple[str, str]:
    """(text, source name) of a data file, or `error` saying it cannot be read."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read(), source
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{source}: cannot read {what}: {exc}") from exc


def compose(text: str, source: str,
            error: type[Exception]) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML into Python data plus a map from key path to line number."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {(): 1}
        if node is not None:
            _map_lines(node, (), lines, source, error)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(f"{source}{where}: YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{source}: YAML syntax error: {exc}") from exc
    finally:
        loader.dispose()
    return data, lines


def _map_lines(node: Node, path: KeyPath, lines: dict[KeyPath, int], source: str,
               error: type[Exception]) -> None:
    """Record the line of every key and list item; reject duplicate or non-text keys."""
    if isinstance(node, MappingNode):
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "?"
                fail_at(error, source, line, path, f"key {shown!r} must be text")
            key = key_node.value
            if key in first_seen:
                fail_at(error, source, line, path,
                        f"duplicate key {key!r} (first defined on line {first_seen[key]})")
            first_seen[key] = line
            lines[path + (key,)] = line
            _map_lines(value_node, path + (key,), lines, source, error)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _map_lines(item, path + (i,), lines, source, error)


def dotted(path: KeyPath) -> str:
    """('warnings', 2, 'when') -> 'warnings[2].when'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def fail_at(error: type[Exception], source: str, line: int, path: KeyPath,
            message: str) -> NoReturn:
    """Raise `error` as "<source> line <line>: <key path>: <message>"."""
    where = dotted(path) if path else "top level"
    raise error(f"{source} line {line}: {where}: {message}")


def kind(value: Any) -> str:
    """A short name for a YAML value's type, for error messages."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


class Reader:
    """Checks parsed YAML piece by piece; every failure raises `error` at the key's line."""

    def __init__(self, source: str, lines: dict[KeyPath, int], error: type[Exception]):
        self.source = source
        self.lines = lines
        self.error = error

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        """Raise the error at the line of `path` (or its nearest known parent)."""
        probe = path
        while probe not in self.lines:
            probe = probe[:-1]
        fail_at(self.error, self.source, self.lines[probe], path, message)

    def mapping(self, value: Any, path: KeyPath, required: Sequence[str],
                optional: Sequence[str] = ()) -> dict[str, Any]:
        """Check `value` is a mapping with all `required` keys and nothing unknown."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of keys, got {kind(value)}")
        allowed = list(required) + list(optional)
        for key in value:
            if key not in allowed:
                self.fail(path + (key,), f"unknown key (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.fail(path, f"missing {key!r}")
        return value

    def text(self, value: Any, path: KeyPath) -> str:
        """A non-empty string, with surrounding whitespace removed."""
        if not isinstance(value, str):
            self.fail(path, f"expected text, got {kind(value)}")
        if not value.strip():
            self.fail(path, "must not be empty")
        return value.strip()

    def integer(self, value: Any, path: KeyPath, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected a whole number, got {kind(value)}")
        if value < minimum:
            self.fail(path, f"must be at least {minimum}, got {value}")
        return value

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {kind(value)}")
        return value

    def choice(self, value: Any, path: KeyPath, allowed: Sequence[str]) -> str:
        if value not in allowed:
            self.fail(path, f"expected one of: {', '.join(allowed)}, got {value!r}")
        return value

    def key_name(self, key: Any, path: KeyPath) -> str:
        if not _KEY_RE.match(key):
            self.fail(path, "keys must be lower-case letters, digits and underscores")
        return key

    def placeholders(self, value: Any, path: KeyPath, allowed: Sequence[str],
                     required: Sequence[str] = ()) -> str:
        """A text template using only `allowed` {placeholders}, including the `required` ones."""
        text = self.text(value, path)
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.fail(path, f"bad braces in template: {exc} (use {{{{ and }}}} for literal braces)")
        used = set()
        for _literal, field, spec, conversion in parsed:
            if field is None:
                continue
            if field not in allowed:
                self.fail(path, f"unknown placeholder {{{field}}} "
                                f"(allowed: {', '.join('{' + f + '}' for f in allowed)})")
            if spec or conversion:
                self.fail(path, f"placeholder {{{field}}} must not have a format or conversion")
            used.add(field)
        for field in required:
            if field not in used:
                self.fail(path, f"template must include {{{field}}}")
        return text
