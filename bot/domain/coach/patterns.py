"""Coach patterns as written in data/coach.yaml, made ready and compiled.

A pattern is a regular expression with a few conveniences: a space matches any
whitespace ("a ?b": an optional one), "n't" also matches "nt", capitals match
either case, and {name} inserts a phrase list defined under `phrases`. Each list
of patterns is compiled into one whole-word expression (`PatternSet`), and the
same list used twice is compiled once.
"""

from __future__ import annotations

import re
from typing import Any

from bot.domain.coach.model import Pattern, PatternSet
from bot.domain.yamlfile import KeyPath, Reader, kind

MACRO_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# \1 or \g<1> copies a group; \i<1> copies it as an -ing form ("offer" -> "offering").
GROUP_REF_RE = re.compile(r"\\(?:g<(\d+)>|i<(\d+)>|(\d+))")


def whole_words(prepared: str) -> str:
    """A match may not start or end inside a word."""
    return rf"(?<!\w)(?:{prepared})(?!\w)"


class PatternReader(Reader):
    """Reads phrase lists and pattern lists (errors name file, line and key)."""

    def __init__(self, source: str, lines: dict[KeyPath, int], error: type[Exception]):
        super().__init__(source, lines, error)
        self.phrases: dict[str, str] = {}
        self.shared: dict[str, PatternSet] = {}

    def phrase_lists(self, value: Any, path: KeyPath) -> None:
        """Named pattern lists, usable as {name} inside later lists and patterns."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of phrase lists, got {kind(value)}")
        for name, items in value.items():
            where = path + (name,)
            self.key_name(name, where)
            if not isinstance(items, list) or not items:
                self.fail(where, f"expected a non-empty list of patterns, got {kind(items)}")
            prepared = [self.regex(item, where + (i,))[0] for i, item in enumerate(items)]
            self.phrases[name] = "(?:" + "|".join(prepared) + ")"

    def regex(self, value: Any, path: KeyPath) -> tuple[str, re.Pattern[str]]:
        """A pattern made ready (spaces, n't, {lists}) and compiled alone to check it."""
        source = self.text(value, path)
        prepared = self.prepare(source, path)
        try:
            compiled = re.compile(whole_words(prepared))
        except re.error as exc:
            self.fail(path, f"bad regex {source!r}: {exc}")
        if compiled.groupindex:
            self.fail(path, f"named groups are not allowed in {source!r}; use (...) or (?:...)")
        if compiled.search(""):
            self.fail(path, f"pattern {source!r} matches empty text")
        return prepared, compiled

    def prepare(self, source: str, path: KeyPath) -> str:
        """Spaces match any whitespace, n't also matches nt, {list} inserts a phrase list.

        Inside a look-behind, which must have a fixed width, both are kept as written.
        """
        out: list[str] = []
        i, n = 0, len(source)
        in_class = False
        groups: list[bool] = []  # per open group: is it a look-behind (fixed width)?
        while i < n:
            syntax = _syntax_piece(source, i, in_class, groups)
            if syntax is not None:
                piece, i, in_class = syntax
            elif not any(groups) and (loose := _loose_piece(source, i)) is not None:
                piece, i = loose
            elif (macro := MACRO_RE.match(source, i)) is not None:
                piece, i = self.phrase(macro.group(1), path), macro.end()
            else:  # capitals: matched against a lower-case copy of the draft
                ch = source[i]
                piece, i = (ch.lower() if ch.isupper() else ch), i + 1
            out.append(piece)
        return "".join(out)

    def phrase(self, name: str, path: KeyPath) -> str:
        """The prepared alternatives of the phrase list `name`, defined above."""
        if name not in self.phrases:
            known = ", ".join(self.phrases) or "none defined above"
            self.fail(path, f"unknown phrase list {{{name}}} (known: {known})")
        return self.phrases[name]

    def pattern_set(self, value: Any, path: KeyPath, options: bool = True) -> PatternSet:
        """A non-empty list of patterns; with `options`, an item may be a mapping
        {match, unless, rewrite}."""
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of patterns, got {kind(value)}")
        patterns: list[Pattern] = []
        prepared: list[str] = []
        for i, item in enumerate(value):
            pattern, text = self.pattern(item, path + (i,), options)
            patterns.append(pattern)
            prepared.append(text)
        combined = "|".join(f"(?P<p{i}>{text})" for i, text in enumerate(prepared))
        shared = self.shared.get(combined)  # the same list elsewhere: one set, matched once
        if shared is not None and shared.patterns == tuple(patterns):
            return shared
        regex = re.compile(whole_words(combined))
        offsets = tuple(regex.groupindex[f"p{i}"] for i in range(len(prepared)))
        self.shared[combined] = PatternSet(tuple(patterns), regex, offsets)
        return self.shared[combined]

    def pattern(self, item: Any, where: KeyPath, options: bool) -> tuple[Pattern, str]:
        """One item of a pattern list and its prepared regex text."""
        if isinstance(item, dict) and "match" not in item and len(item) == 1:
            self.fail(where, "this reads as a mapping: a pattern containing \": \" must "
                             "be quoted or written on the next line after \">-\"")
        if not (isinstance(item, dict) and options):
            text, _compiled = self.regex(item, where)
            return Pattern(str(item).strip()), text
        spec = self.mapping(item, where, ["match"], ["unless", "rewrite"])
        text, compiled = self.regex(spec["match"], where + ("match",))
        unless = (self.pattern_set(spec["unless"], where + ("unless",), options=False)
                  if "unless" in spec else None)
        rewrite = (self.rewrite_text(spec["rewrite"], where + ("rewrite",), compiled.groups)
                   if "rewrite" in spec else None)
        return Pattern(str(spec["match"]).strip(), unless, rewrite), text

    def rewrite_text(self, value: Any, path: KeyPath, groups: int) -> str:
        """Replacement words (may be empty); \\N must name a group of the pattern."""
        if not isinstance(value, str):
            self.fail(path, f"expected text, got {kind(value)}")
        for ref in GROUP_REF_RE.finditer(value):
            number = int(ref.group(1) or ref.group(2) or ref.group(3))
            if number > groups:
                self.fail(path, f"{ref.group()} but the pattern has {groups} group(s)")
        return value.strip()


def _syntax_piece(source: str, i: int, in_class: bool,
                  groups: list[bool]) -> tuple[str, int, bool] | None:
    """Regex syntax at `i` kept as written: (piece, next index, inside a [class] after it),
    or None. Opening and closing groups are tracked in `groups`."""
    ch = source[i]
    if ch == "\\":
        return source[i:i + 2], i + 2, in_class
    if in_class:
        return ch.lower(), i + 1, ch != "]"
    if ch == "[":
        close = i + 1 + (source[i + 1:i + 2] == "^")
        close += source[close:close + 1] == "]"
        return source[i:close], close, True
    if source.startswith("(?P", i):  # kept as written: named groups are refused
        groups.append(False)
        return "(?P", i + 3, False
    if ch in "()":
        if ch == "(":
            groups.append(source.startswith(("(?<!", "(?<="), i))
        elif groups:
            groups.pop()
        return ch, i + 1, False
    return None


def _loose_piece(source: str, i: int) -> tuple[str, int] | None:
    """A space (any whitespace; "a ?b": optional) or n't (also nt), outside a look-behind."""
    if source[i] == " ":
        n = len(source)
        while i < n and source[i] == " ":
            i += 1
        if source[i:i + 1] in ("?", "*"):  # "a ?b": the space is optional
            return r"\s*", i + 1
        return r"\s+", i
    if source.startswith("n't", i):
        return "n'?t", i + 3
    return None
