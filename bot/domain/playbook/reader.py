"""Validate the playbook YAML section by section and build its dataclasses.

Errors name the file, the line and the key path, e.g.::

    data/playbook.yaml line 42: categories.billing_error.steps: missing 'follow_up'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import time, timedelta
from typing import Any

from bot.domain.playbook.model import (
    EMOTIONS,
    FALLBACK_CATEGORY,
    IGNORED_CONTACT,
    REQUIRED_TEMPLATE_FIELDS,
    SEVERITIES,
    STEP_KEYS,
    SUPPORTED_VERSIONS,
    TEMPLATE_FIELDS,
    TRANSLATION_FIELDS,
    UNKNOWN_CONTACT,
    WHEN_KEYS,
    Apology,
    ApologyTemplate,
    Category,
    Channel,
    Compensation,
    ContactRules,
    EmotionRules,
    NudgeRules,
    Playbook,
    PlaybookError,
    Settings,
    SeverityRules,
    Step,
    Translation,
    WarningRule,
)
from bot.domain.text import tokenize
from bot.domain.yamlfile import KeyPath, Reader, kind

_DURATION_RE = re.compile(r"(\d{1,5})\s*([mhd])\Z")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})\Z")


class PlaybookReader(Reader):
    """Validates the parsed playbook piece by piece and builds the dataclasses."""

    def __init__(self, source: str, lines: dict[KeyPath, int]):
        super().__init__(source, lines, PlaybookError)

    def cues(self, value: Any, path: KeyPath, allow_empty: bool = False) -> tuple[str, ...]:
        """A list of distinct, non-empty cue strings, case-folded."""
        if not isinstance(value, list):
            self.fail(path, f"expected a list of cues, got {kind(value)}")
        if not value and not allow_empty:
            self.fail(path, "needs at least one cue")
        seen: set[str] = set()
        out = []
        for i, item in enumerate(value):
            cue = " ".join(self.text(item, path + (i,)).casefold().split())
            if not tokenize(cue):
                self.fail(path + (i,), f"cue {item!r} has no words or symbols to match")
            if cue in seen:
                self.fail(path + (i,), f"duplicate cue {cue!r}")
            seen.add(cue)
            out.append(cue)
        return tuple(out)

    def template(self, value: Any, path: KeyPath) -> str:
        """A text template using only the playbook's {placeholders}, including
        {can_do} and {what} or {breakdown}."""
        text = self.placeholders(value, path, TEMPLATE_FIELDS, REQUIRED_TEMPLATE_FIELDS)
        if "{what}" not in text and "{breakdown}" not in text:
            self.fail(path, "template must include {what} or {breakdown}")
        return text

    # - sections -
    def playbook(self, data: Any) -> Playbook:
        top = self.mapping(data, (), ["version", "steps", "categories", "apology", "emotion",
                                      "severity", "contact", "compensation", "warnings",
                                      "settings", "nudges"],
                           ["apology_variants", "translations"])
        version = self.integer(top["version"], ("version",))
        if version not in SUPPORTED_VERSIONS:
            self.fail(("version",), f"unsupported version {version} "
                                    f"(this Mend reads version {SUPPORTED_VERSIONS[-1]})")
        categories = self.categories(top["categories"], ("categories",))
        contact = self.contact(top["contact"], ("contact",))
        return Playbook(
            version=version,
            steps=self.steps(top["steps"], ("steps",)),
            categories=categories,
            apology=self.apology(top["apology"], ("apology",)),
            emotion=self.emotion(top["emotion"], ("emotion",)),
            severity=self.severity(top["severity"], ("severity",)),
            contact=contact,
            compensation=self.compensation(top["compensation"], ("compensation",)),
            warnings=self.warnings(top["warnings"], ("warnings",), categories, contact),
            settings=self.settings(top["settings"], ("settings",)),
            nudges=self.nudges(top["nudges"], ("nudges",)),
            apology_variants=self.apology_variants(top.get("apology_variants"),
                                                   ("apology_variants",)),
            translations=self.translations(top.get("translations"), ("translations",),
                                           categories),
        )

    def steps(self, value: Any, path: KeyPath) -> tuple[Step, ...]:
        steps = self.mapping(value, path, STEP_KEYS)
        out = []
        for key in STEP_KEYS:
            item = self.mapping(steps[key], path + (key,), ["title", "prompt"])
            out.append(Step(key, self.text(item["title"], path + (key, "title")),
                            self.text(item["prompt"], path + (key, "prompt"))))
        return tuple(out)

    def categories(self, value: Any, path: KeyPath) -> tuple[Category, ...]:
        if not isinstance(value, dict) or not value:
            self.fail(path, f"expected a mapping of categories, got {kind(value)}")
        if FALLBACK_CATEGORY not in value:
            self.fail(path, f"missing {FALLBACK_CATEGORY!r} (the fallback category)")
        return tuple(self.category(key, item, path + (key,)) for key, item in value.items())

    def category(self, key: str, value: Any, path: KeyPath) -> Category:
        self.key_name(key, path)
        item = self.mapping(value, path, ["label", "cues", "breakdown", "can_do", "steps"],
                            ["compensation"])
        prompts = self.mapping(item["steps"], path + ("steps",), STEP_KEYS)
        return Category(
            key=key,
            label=self.text(item["label"], path + ("label",)),
            cues=self.cues(item["cues"], path + ("cues",),
                           allow_empty=key == FALLBACK_CATEGORY),
            breakdown=self.text(item["breakdown"], path + ("breakdown",)),
            can_do=self.text(item["can_do"], path + ("can_do",)),
            steps=tuple((k, self.text(prompts[k], path + ("steps", k))) for k in STEP_KEYS),
            compensation=self.gestures(item.get("compensation"), path + ("compensation",)),
        )

    def gestures(self, value: Any, path: KeyPath) -> tuple[tuple[str, str], ...]:
        """Optional {severity: text}: a category's own goodwill gesture."""
        if value is None:
            return ()
        item = self.mapping(value, path, [], SEVERITIES)
        return tuple((k, self.text(item[k], path + (k,))) for k in SEVERITIES if k in item)

    def apology(self, value: Any, path: KeyPath) -> Apology:
        item = self.mapping(value, path, ["say", "write"],
                            ["feeling", "stakes_ahead", "stakes_past", "salutation"])
        feeling = self.text(item["feeling"], path + ("feeling",)) if "feeling" in item else ""
        if feeling and any(ch in feeling for ch in "{}"):
            self.fail(path + ("feeling",), "must be plain text without {placeholders}")
        stakes = {k: self.placeholders(item[k], path + (k,), ("stakes",), ("stakes",))
                  for k in ("stakes_ahead", "stakes_past") if k in item}
        names = {"first": ("first",), "title": ("title",), "nameless": ()}
        greet = self.mapping(item.get("salutation", {}), path + ("salutation",), [], names)
        salutation = tuple(self.placeholders(greet[k], path + ("salutation", k), used, used)
                           if k in greet else default for (k, used), default
                           in zip(names.items(), Apology.salutation, strict=True))
        return Apology(say=self.template(item["say"], path + ("say",)),
                       write=self.template(item["write"], path + ("write",)),
                       feeling=feeling, salutation=salutation, **stakes)

    def translations(self, value: Any, path: KeyPath,
                     categories: tuple[Category, ...]) -> tuple[Translation, ...]:
        """Optional {language code: the apology written in that language}."""
        if value is None:
            return ()
        if not isinstance(value, dict) or not value:
            self.fail(path, f"expected a mapping of language codes, got {kind(value)}")
        return tuple(self.translation(code, item, path + (code,), categories)
                     for code, item in value.items())

    def translation(self, code: Any, value: Any, path: KeyPath,
                    categories: tuple[Category, ...]) -> Translation:
        if not isinstance(code, str) or not re.fullmatch(r"[a-z]{2}", code):
            self.fail(path, "expected a two-letter language code like es")
        item = self.mapping(value, path, ["label", "salutation", "feeling", "stakes", "when",
                                          "template", "categories"])
        greet = self.mapping(item["salutation"], path + ("salutation",), ["named", "nameless"])
        when = self.mapping(item["when"], path + ("when",), WHEN_KEYS)
        words = self.mapping(item["categories"], path + ("categories",),
                             [c.key for c in categories])
        return Translation(
            language=code,
            label=self.text(item["label"], path + ("label",)),
            salutation=(self.placeholders(greet["named"], path + ("salutation", "named"),
                                          ("name",), ("name",)),
                        self.placeholders(greet["nameless"], path + ("salutation", "nameless"),
                                          ())),
            feeling=self.placeholders(item["feeling"], path + ("feeling",), ()),
            stakes=self.placeholders(item["stakes"], path + ("stakes",), ()),
            when=tuple((k, self.placeholders(when[k], path + ("when", k), ("n",)))
                       for k in WHEN_KEYS),
            template=self.placeholders(item["template"], path + ("template",),
                                       TRANSLATION_FIELDS, TRANSLATION_FIELDS),
            categories=tuple(self.category_words(key, words[key], path + ("categories", key))
                             for key in words),
        )

    def category_words(self, key: str, value: Any, path: KeyPath) -> tuple[str, str, str]:
        item = self.mapping(value, path, ["breakdown", "can_do"])
        return (key, self.text(item["breakdown"], path + ("breakdown",)),
                self.text(item["can_do"], path + ("can_do",)))

    def apology_variants(self, value: Any, path: KeyPath) -> tuple[ApologyTemplate, ...]:
        """Optional: [{key, label, template}], each template saying by {when}."""
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            self.fail(path, "expected a non-empty list of {key, label, template} "
                            "(remove the key to use the apology say/write pair)")
        out: list[ApologyTemplate] = []
        for i, item in enumerate(value):
            where = path + (i,)
            fields = self.mapping(item, where, ["key", "label", "template"])
            key = self.key_name(self.text(fields["key"], where + ("key",)), where + ("key",))
            if any(variant.key == key for variant in out):
                self.fail(where + ("key",), f"duplicate apology variant key {key!r}")
            template = self.template(fields["template"], where + ("template",))
            if "{when}" not in template:
                self.fail(where + ("template",), "template must include {when}")
            if "{name}" not in template and "{greeting}" not in template:
                self.fail(where + ("template",), "template must include {name} or {greeting}")
            out.append(ApologyTemplate(key, self.text(fields["label"], where + ("label",)),
                                       template))
        return tuple(out)

    def emotion(self, value: Any, path: KeyPath) -> EmotionRules:
        item = self.mapping(value, path, ["irate", "upset", "shouting_ratio", "exclamations"],
                            ["shouting_min_letters", "calm"])
        ratio = item["shouting_ratio"]
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1:
            self.fail(path + ("shouting_ratio",), "expected a number above 0 and at most 1")
        marks = self.mapping(item["exclamations"], path + ("exclamations",), ["irate", "upset"])
        irate_marks = self.integer(marks["irate"], path + ("exclamations", "irate"))
        upset_marks = self.integer(marks["upset"], path + ("exclamations", "upset"))
        if upset_marks > irate_marks:
            self.fail(path + ("exclamations", "upset"), "must not be more than irate")
        return EmotionRules(
            irate=self.cues(item["irate"], path + ("irate",)),
            upset=self.cues(item["upset"], path + ("upset",)),
            calm=self.cues(item["calm"], path + ("calm",)) if "calm" in item else (),
            shouting_ratio=float(ratio),
            shouting_min_letters=self.integer(item.get("shouting_min_letters", 8),
                                              path + ("shouting_min_letters",)),
            irate_exclamations=irate_marks,
            upset_exclamations=upset_marks,
        )

    def severity(self, value: Any, path: KeyPath) -> SeverityRules:
        item = self.mapping(value, path, ["critical", "high"], ["repeat_times"])
        return SeverityRules(critical=self.cues(item["critical"], path + ("critical",)),
                             high=self.cues(item["high"], path + ("high",)),
                             repeat_times=self.integer(item.get("repeat_times", 3),
                                                       path + ("repeat_times",), minimum=2))

    def contact(self, value: Any, path: KeyPath) -> ContactRules:
        if not isinstance(value, dict) or not value:
            self.fail(path, f"expected a mapping of channels, got {kind(value)}")
        channels = []
        ignore: tuple[str, ...] = ()
        for key, cues in value.items():
            self.key_name(key, path + (key,))
            if key == UNKNOWN_CONTACT:
                self.fail(path + (key,), f"{UNKNOWN_CONTACT!r} is reserved for no match")
            if key == IGNORED_CONTACT:
                ignore = self.cues(cues, path + (key,))
            else:
                channels.append(Channel(key, self.cues(cues, path + (key,))))
        if not channels:
            self.fail(path, "needs at least one channel besides 'ignore'")
        return ContactRules(tuple(channels), ignore)

    def compensation(self, value: Any, path: KeyPath) -> Compensation:
        item = self.mapping(value, path, ["normal", "high", "critical", "note"])
        return Compensation(**{k: self.text(item[k], path + (k,)) for k in item})

    def warnings(self, value: Any, path: KeyPath, categories: tuple[Category, ...],
                 contact: ContactRules) -> tuple[WarningRule, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of warning rules, got {kind(value)}")
        known = {
            "emotion": EMOTIONS,
            "contact": contact.keys + (UNKNOWN_CONTACT,),
            "category": tuple(c.key for c in categories),
            "severity": SEVERITIES,
        }
        rules: list[WarningRule] = []
        for i, item in enumerate(value):
            rule = self.warning(item, path + (i,), known)
            if any(r.key == rule.key for r in rules):
                self.fail(path + (i, "key"), f"duplicate warning key {rule.key!r}")
            rules.append(rule)
        return tuple(rules)

    def warning(self, value: Any, path: KeyPath, known: Mapping[str, Sequence[str]]) -> WarningRule:
        item = self.mapping(value, path, ["key", "text", "when"], ["call_first"])
        key = self.key_name(self.text(item["key"], path + ("key",)), path + ("key",))
        call_first = self.boolean(item.get("call_first", False), path + ("call_first",))
        when_path = path + ("when",)
        when = self.mapping(item["when"], when_path, [], ["always", *known])
        if not when:
            self.fail(when_path, "needs at least one condition (always, " + ", ".join(known) + ")")
        if "always" in when and when["always"] is not True:
            self.fail(when_path + ("always",), "must be true (remove it to drop the rule)")
        conditions = {name: self.values(when[name], when_path + (name,), name, allowed)
                      for name, allowed in known.items() if name in when}
        return WarningRule(key=key, text=self.text(item["text"], path + ("text",)),
                           always="always" in when, call_first=call_first, **conditions)

    def values(self, value: Any, path: KeyPath, name: str,
               allowed: Sequence[str]) -> tuple[str, ...]:
        """A non-empty list drawn from `allowed` (a single value is accepted too)."""
        items = value if isinstance(value, list) else [value]
        if not items:
            self.fail(path, f"needs at least one {name}")
        out = []
        for i, item in enumerate(items):
            where = path + (i,) if isinstance(value, list) else path
            if item not in allowed:
                self.fail(where, f"unknown {name} {item!r} (expected one of: {', '.join(allowed)})")
            out.append(item)
        return tuple(out)

    def nudges(self, value: Any, path: KeyPath) -> NudgeRules:
        names = ["remind_every", "max_reminders", "escalate_after", "unassign_after",
                 "update_every", "work_days", "work_start", "work_end"]
        item = self.mapping(value, path, names)
        start = self.clock_time(item["work_start"], path + ("work_start",))
        end = self.clock_time(item["work_end"], path + ("work_end",))
        if end <= start:
            self.fail(path + ("work_end",), "must be later than work_start")
        return NudgeRules(
            remind_every=self.duration(item["remind_every"], path + ("remind_every",)),
            max_reminders=self.integer(item["max_reminders"], path + ("max_reminders",)),
            escalate_after=self.duration(item["escalate_after"], path + ("escalate_after",)),
            unassign_after=self.duration(item["unassign_after"], path + ("unassign_after",),
                                         allow_off=True),
            update_every=self.duration(item["update_every"], path + ("update_every",)),
            work_days=self.weekdays(item["work_days"], path + ("work_days",)),
            work_start=start,
            work_end=end,
        )

    def duration(self, value: Any, path: KeyPath, allow_off: bool = False) -> timedelta | None:
        """`30m`, `2h`, `1d` (or `off` where allowed)."""
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        if allow_off and text in ("off", "never", "0"):
            return None
        match = _DURATION_RE.match(text)
        if not match or int(match.group(1)) == 0:
            hint = "a duration like 30m, 2h or 1d" + (", or off" if allow_off else "")
            self.fail(path, f"expected {hint}, got {value!r}")
        amount, unit = int(match.group(1)), match.group(2)
        return timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})

    def clock_time(self, value: Any, path: KeyPath) -> time:
        match = _CLOCK_RE.match(str(value).strip()) if isinstance(value, str) else None
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            self.fail(path, f"expected a time like \"09:00\", got {value!r}")
        return time(int(match.group(1)), int(match.group(2)))

    def weekdays(self, value: Any, path: KeyPath) -> tuple[int, ...]:
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        days = self.values(value, path, "day", names)
        return tuple(sorted({names.index(d) for d in days}))

    def settings(self, value: Any, path: KeyPath) -> Settings:
        names = ["followup_default_hours", "satisfaction_followup_days", "max_open_per_owner"]
        item = self.mapping(value, path, names)
        return Settings(**{k: self.integer(item[k], path + (k,)) for k in names})

