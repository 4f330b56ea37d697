"""Load and validate data/coach.yaml into `Rules` (errors name file, line and key path).

    data/coach.yaml line 211: rules[0].patterns[6]: bad regex 'rules are (rules': missing ), ...
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from bot.domain.coach.model import (
    DEFAULT_COACH_PATH,
    FIRES,
    FIXES,
    LINE_FIELDS,
    PLACES,
    SEVERITIES,
    SUPPORTED_VERSIONS,
    CoachError,
    PatternSet,
    Rule,
    Rules,
    Strength,
)
from bot.domain.coach.patterns import PatternReader
from bot.domain.yamlfile import KeyPath, compose, kind, read_source

# The fields a rule may have, by what makes it fire.
_COMMON_FIELDS = {"key", "title", "why", "suggestion", "severity", "fires", "upset_only"}
_FIELDS_BY_FIRES = {
    "found": {"patterns", "unless", "fix", "replace", "line", "place", "line_when_missing",
              "cues"},
    "missing": {"patterns", "with", "quote", "fix", "replace", "line", "place", "needs",
                "settled", "cleared_by"},
    "name_missing": set(),
}


def load_rules(path: str | os.PathLike[str] = DEFAULT_COACH_PATH) -> Rules:
    """Read, validate and compile the coach rules at `path`; raise CoachError if invalid."""
    return parse_rules(*read_source(path, CoachError, "coach rules"))


def parse_rules(text: str, source: str = "<coach>") -> Rules:
    """Validate coach rules YAML text; `source` names the file in error messages."""
    data, lines = compose(text, source, CoachError)
    return RulesReader(source, lines).rules(data)


class RulesReader(PatternReader):
    """Validates the coach file and compiles its patterns (errors name file, line, key)."""

    def __init__(self, source: str, lines: dict[KeyPath, int]):
        super().__init__(source, lines, CoachError)

    def rules(self, data: Any) -> Rules:
        top = self.mapping(data, (), ["version", "rules", "strengths", "rewrite"],
                           ["phrases", "signals"])
        version = self.integer(top["version"], ("version",))
        if version not in SUPPORTED_VERSIONS:
            self.fail(("version",), f"unsupported version {version} "
                                    f"(this Mend reads version {SUPPORTED_VERSIONS[-1]})")
        if "phrases" in top:
            self.phrase_lists(top["phrases"], ("phrases",))
        rules = self.rule_list(top["rules"], ("rules",))
        keys = tuple(rule.key for rule in rules)
        strengths = self.strength_list(top["strengths"], ("strengths",), keys)
        rewrite = self.mapping(top["rewrite"], ("rewrite",), ["greeting", "facts"], ["problem"])
        return Rules(
            version=version,
            rules=rules,
            strengths=strengths,
            greeting=self.line_template(rewrite["greeting"], ("rewrite", "greeting"),
                                        required=("name",)),
            facts=self.pattern_set(rewrite["facts"], ("rewrite", "facts"), options=False),
            problem=(self.pattern_set(rewrite["problem"], ("rewrite", "problem"))
                     if "problem" in rewrite else None),
            signals=(self.signal_lists(top["signals"], ("signals",), keys)
                     if "signals" in top else ()),
            source=self.source,
        )

    def signal_lists(self, value: Any, path: KeyPath,
                     keys: Sequence[str]) -> tuple[tuple[str, PatternSet], ...]:
        """Wording that hints at a rule, by rule key: what the coach's model reads
        next to the draft's meaning (never a finding on its own)."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of rule keys to patterns, got {kind(value)}")
        out = []
        for key, items in value.items():
            if key not in keys:
                self.fail(path + (key,), f"unknown rule key {key!r}")
            if not isinstance(items, list) or not items:
                self.fail(path + (key,),
                          f"expected a non-empty list of patterns, got {kind(items)}")
            out.append((key, self.pattern_set(items, path + (key,), options=False)))
        return tuple(out)

    def line_template(self, value: Any, path: KeyPath, required: Sequence[str] = ()) -> str:
        """Text that may use {name}, {greeting} and {problem}."""
        return self.placeholders(value, path, LINE_FIELDS, required)

    # - sections -
    def rule_list(self, value: Any, path: KeyPath) -> tuple[Rule, ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of rules, got {kind(value)}")
        rules: list[Rule] = []
        for i, item in enumerate(value):
            rule = self.rule(item, path + (i,))
            if any(r.key == rule.key for r in rules):
                self.fail(path + (i, "key"), f"duplicate rule key {rule.key!r}")
            rules.append(rule)
        missing = [r.key for r in rules if r.fires == "missing"]
        for i, rule in enumerate(rules):
            if rule.line_when_missing is not None and rule.line_when_missing not in missing:
                self.fail(path + (i, "line_when_missing"),
                          f"{rule.line_when_missing!r} is not a rule that fires when missing "
                          f"(one of: {', '.join(missing) or 'none'})")
        return tuple(rules)

    def rule(self, value: Any, path: KeyPath) -> Rule:
        item = self.mapping(value, path, ["key", "title", "why", "suggestion", "severity"],
                            ["fires", "patterns", "unless", "with", "quote", "upset_only",
                             "fix", "replace", "line", "place", "line_when_missing",
                             "needs", "settled", "cues", "cleared_by"])
        key = self.key_name(self.text(item["key"], path + ("key",)), path + ("key",))
        fires = self.choice(item.get("fires", "found"), path + ("fires",), FIRES)
        self.rule_fields(item, path, fires)
        fix = self.choice(item.get("fix", "keep"), path + ("fix",),
                          FIXES if fires == "found" else ("replace", "keep"))
        place = self.choice(item.get("place", "here" if fires == "found" else "end"),
                            path + ("place",), PLACES if fires == "found" else ("start", "end"))

        when_path = path + ("line_when_missing",)

        def patterns(field: str) -> PatternSet | None:
            if field not in item:
                return None
            return self.pattern_set(item[field], path + (field,), options=field != "with")

        return Rule(
            key=key,
            title=self.text(item["title"], path + ("title",)),
            why=" ".join(self.text(item["why"], path + ("why",)).split()),
            suggestion=self.line_template(item["suggestion"], path + ("suggestion",)),
            severity=self.choice(item["severity"], path + ("severity",), SEVERITIES),
            fires=fires,
            patterns=patterns("patterns"),
            unless=patterns("unless"),
            together=patterns("with"),
            quote=patterns("quote"),
            needs=patterns("needs"),
            settled=patterns("settled"),
            cues=patterns("cues"),
            cleared_by=patterns("cleared_by"),
            upset_only=self.boolean(item.get("upset_only", False), path + ("upset_only",)),
            fix=fix,
            replace=(self.rewrite_text(item["replace"], path + ("replace",), 0)
                     if "replace" in item else ""),
            line=(self.line_template(item["line"], path + ("line",))
                  if "line" in item else None),
            place=place,
            line_when_missing=(self.key_name(self.text(item["line_when_missing"], when_path),
                                             when_path)
                               if "line_when_missing" in item else None),
        )

    def rule_fields(self, item: dict[str, Any], path: KeyPath, fires: str) -> None:
        """A rule has only the fields used when it fires that way, and those it needs."""
        allowed_fields = _FIELDS_BY_FIRES[fires] | _COMMON_FIELDS
        for field in item:
            if field not in allowed_fields:
                self.fail(path + (field,), f"not used by a rule that fires when {fires}")
        if fires != "name_missing" and "patterns" not in item:
            self.fail(path, "missing 'patterns'")
        if "line_when_missing" in item and "line" not in item:
            self.fail(path + ("line_when_missing",), "needs a 'line' to add")

    def strength_list(self, value: Any, path: KeyPath,
                      keys: Sequence[str]) -> tuple[Strength, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of strengths, got {kind(value)}")
        return tuple(self.strength(item, path + (i,), keys) for i, item in enumerate(value))

    def strength(self, value: Any, path: KeyPath, keys: Sequence[str]) -> Strength:
        item = self.mapping(value, path, ["label"], ["patterns", "with", "not_with",
                                                     "uses_name"])
        uses_name = self.boolean(item.get("uses_name", False), path + ("uses_name",))
        if uses_name == ("patterns" in item):
            self.fail(path, "needs either 'patterns' or 'uses_name: true'")
        not_with = item.get("not_with", [])
        if not isinstance(not_with, list):
            self.fail(path + ("not_with",), f"expected a list of rule keys, got {kind(not_with)}")
        for i, key in enumerate(not_with):
            if key not in keys:
                self.fail(path + ("not_with", i), f"unknown rule key {key!r}")
        return Strength(
            label=self.text(item["label"], path + ("label",)),
            patterns=(self.pattern_set(item["patterns"], path + ("patterns",))
                      if "patterns" in item else None),
            together=(self.pattern_set(item["with"], path + ("with",), options=False)
                      if "with" in item else None),
            not_with=tuple(not_with),
            uses_name=uses_name,
        )

