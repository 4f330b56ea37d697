"""The shipped playbook loads, and every kind of broken file is refused with key and line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.domain.playbook import (
    DEFAULT_PLAYBOOK_PATH,
    STEP_KEYS,
    TEMPLATE_FIELDS,
    PlaybookError,
    load_playbook,
)

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "playbook.yaml"
BASE = SHIPPED.read_text(encoding="utf-8")
REQUIRED_CATEGORIES = (
    "long_wait", "passed_around", "uncaring", "no_ownership", "wrong_info",
    "broken_promise", "product_defect", "billing_error", "general",
)


@pytest.fixture(scope="module")
def playbook():
    return load_playbook(SHIPPED)


# -- the shipped file ------------------------------------------------------------------
def test_shipped_playbook_is_the_default_path_and_loads():
    assert DEFAULT_PLAYBOOK_PATH == SHIPPED
    assert load_playbook().version == 1


def test_steps_are_the_five_recovery_steps_in_order(playbook):
    assert playbook.step_keys == STEP_KEYS
    assert all(step.title and step.prompt for step in playbook.steps)


def test_all_required_categories_exist_with_general_last_and_cueless(playbook):
    assert set(REQUIRED_CATEGORIES) <= set(playbook.category_keys)
    assert playbook.category_keys[-1] == "general"
    assert playbook.category("general").cues == ()
    assert playbook.fallback.key == "general"


def test_every_category_has_cues_and_a_prompt_for_every_step(playbook):
    for category in playbook.categories:
        assert [key for key, _ in category.steps] == list(STEP_KEYS)
        assert all(prompt for _, prompt in category.steps)
        if category.key != "general":
            assert category.cues, category.key
        assert all(cue == cue.casefold() for cue in category.cues)


def test_breakdowns_and_can_dos_continue_a_sentence(playbook):
    for category in playbook.categories:
        for phrase in (category.breakdown, category.can_do):
            assert phrase[0].islower(), phrase
            assert not phrase.endswith("."), phrase


def test_billing_cues_are_generous(playbook):
    cues = set(playbook.category("billing_error").cues)
    assert {"charged twice", "double charged", "overcharged", "refund", "invoice",
            "bill", "billing", "charge"} <= cues


def test_unknown_category_key_raises_key_error(playbook):
    with pytest.raises(KeyError):
        playbook.category("no_such_thing")


def test_templates_use_only_known_placeholders(playbook):
    for template in (playbook.apology.say, playbook.apology.write):
        fields = set(re.findall(r"{(\w+)}", template))
        assert {"can_do"} <= fields <= set(TEMPLATE_FIELDS)
        assert fields & {"what", "breakdown"}  # what went wrong, in the report's words


def test_required_warnings_are_present(playbook):
    keys = {rule.key for rule in playbook.warnings}
    assert {"irate_email", "feeling_first", "own_follow_up", "no_blame"} <= keys
    irate_email = next(r for r in playbook.warnings if r.key == "irate_email")
    # chat carries tone no better than email: an irate writer on either gets a call
    assert irate_email.emotion == ("irate",) and irate_email.contact == ("email", "chat")
    assert irate_email.call_first


def test_settings_and_compensation_have_the_agreed_values(playbook):
    assert playbook.settings.followup_default_hours == 24
    assert playbook.settings.satisfaction_followup_days == 2
    assert playbook.settings.max_open_per_owner == 8
    comp = playbook.compensation
    assert len({comp.normal, comp.high, comp.critical}) == 3
    assert comp.for_severity("critical") == comp.critical
    assert comp.for_severity("bogus") == comp.normal


def test_contact_channels_are_the_five_known_ones(playbook):
    assert playbook.contact.keys == ("email", "phone", "chat", "in_person", "social")


def test_loading_twice_gives_the_same_content(playbook):
    again = load_playbook(SHIPPED)
    assert again.steps == playbook.steps and again.warnings == playbook.warnings
    assert [vars(c) for c in again.categories] == [vars(c) for c in playbook.categories]
    assert (again.apology, again.settings) == (playbook.apology, playbook.settings)


def test_wording_changes_in_the_file_need_no_code(tmp_path):
    path = tmp_path / "playbook.yaml"
    path.write_text(BASE.replace("label: Billing error", "label: Money taken wrongly"),
                    encoding="utf-8")
    assert load_playbook(path).category("billing_error").label == "Money taken wrongly"


# -- broken files ----------------------------------------------------------------------
def line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first `needle` (searching from `after` when given)."""
    start = text.index(after) if after else 0
    return text[:text.index(needle, start)].count("\n") + 1


def replace_once(old: str, new: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        assert old in text, f"test fixture out of date: {old!r} not in playbook"
        return text.replace(old, new, 1)
    return mutate


def drop_settings(text: str) -> str:
    return text.split("\nsettings:")[0] + "\n"


# (id, mutation, key path in message, message fragment, line finder on the mutated text)
BROKEN = [
    ("unknown top-level key", lambda t: t + "colour: blue\n", "colour",
     "unknown key", lambda t: line_of(t, "colour: blue")),
    ("missing top-level key", drop_settings, "top level",
     "missing 'settings'", lambda t: 1),
    ("unsupported version", replace_once("version: 1", "version: 2"), "version",
     "unsupported version 2", lambda t: line_of(t, "version: 2")),
    ("wrong type for cues", replace_once("cues: []", "cues: nothing at all"),
     "categories.general.cues", "expected a list", lambda t: line_of(t, "cues: nothing")),
    ("wrong type for a setting",
     replace_once("followup_default_hours: 24", "followup_default_hours: soon"),
     "settings.followup_default_hours", "expected a whole number",
     lambda t: line_of(t, "followup_default_hours: soon")),
    ("boolean where a number is needed",
     replace_once("max_open_per_owner: 8", "max_open_per_owner: yes"),
     "settings.max_open_per_owner", "expected a whole number",
     lambda t: line_of(t, "max_open_per_owner: yes")),
    ("empty label", replace_once("label: Billing error", 'label: ""'),
     "categories.billing_error.label", "must not be empty", lambda t: line_of(t, 'label: ""')),
    ("category missing a step",
     replace_once("      follow_up: >-\n        Check the refund has actually landed, then let "
                  "them know it has.\n", ""),
     "categories.billing_error.steps", "missing 'follow_up'",
     lambda t: line_of(t, "    steps:", after="  billing_error:")),
    ("unknown key in a category", replace_once("    label: Billing error",
                                               "    label: Billing error\n    colour: red"),
     "categories.billing_error.colour", "unknown key", lambda t: line_of(t, "colour: red")),
    ("duplicate category key", replace_once("  general:\n",
                                            "  long_wait:\n    label: Again\n  general:\n"),
     "categories", "duplicate key 'long_wait'", lambda t: line_of(t, "label: Again") - 1),
    ("missing fallback category", replace_once("  general:\n", "  other:\n"),
     "categories", "missing 'general'", lambda t: line_of(t, "categories:")),
    ("unknown placeholder", replace_once("{greeting}I'm sorry", "{greting}I'm sorry"),
     "apology.say", "unknown placeholder {greting}", lambda t: line_of(t, "  say:")),
    ("template without can_do", replace_once("What I can do right now is {can_do}. I'll contact",
                                             "I'll contact"),
     "apology.write", "must include {can_do}", lambda t: line_of(t, "  write:")),
    ("unbalanced brace", replace_once("{greeting}I'm sorry", "{greeting I'm sorry"),
     "apology.say", "bad braces", lambda t: line_of(t, "  say:")),
    ("warning with unknown emotion",
     replace_once("when: {emotion: [irate], contact: [email, chat]}",
                  "when: {emotion: [angry], contact: [email]}"),
     "warnings[0].when.emotion[0]", "unknown emotion 'angry'",
     lambda t: line_of(t, "emotion: [angry]")),
    ("warning with unknown contact",
     replace_once("when: {emotion: [irate], contact: [email, chat]}",
                  "when: {emotion: [irate], contact: [fax]}"),
     "warnings[0].when.contact[0]", "unknown contact 'fax'",
     lambda t: line_of(t, "contact: [fax]")),
    ("warning with unknown category",
     replace_once("when: {category: [passed_around]}", "when: {category: [long_waits]}"),
     "when.category[0]", "unknown category 'long_waits'",
     lambda t: line_of(t, "category: [long_waits]")),
    ("warning with unknown condition",
     replace_once("when: {category: [passed_around]}", "when: {mood: [sad]}"),
     "when.mood", "unknown key", lambda t: line_of(t, "mood: [sad]")),
    ("warning with always false", replace_once("when: {always: true}", "when: {always: false}"),
     "when.always", "must be true", lambda t: line_of(t, "always: false")),
    ("warning with no conditions", replace_once("when: {always: true}", "when: {}"),
     "when", "at least one condition", lambda t: line_of(t, "when: {}")),
    ("duplicate warning key", replace_once("key: no_blame", "key: own_follow_up"),
     "key", "duplicate warning key 'own_follow_up'",
     lambda t: t[:t.rindex("key: own_follow_up")].count("\n") + 1),
    ("duplicate cue", replace_once("cues: [charged twice,", "cues: [charged twice, charged twice,"),
     "categories.billing_error.cues[1]", "duplicate cue", lambda t: line_of(t, "charged twice,")),
    ("upset needs more marks than irate",
     replace_once("    upset: 2\n", "    upset: 5\n"),
     "emotion.exclamations.upset", "must not be more than irate",
     lambda t: line_of(t, "upset: 5")),
    ("shouting ratio out of range", replace_once("shouting_ratio: 0.6", "shouting_ratio: 6"),
     "emotion.shouting_ratio", "at most 1", lambda t: line_of(t, "shouting_ratio: 6")),
    ("reserved contact key", replace_once("  email: [email,", "  unknown: [email,"),
     "contact.unknown", "reserved", lambda t: line_of(t, "  unknown: [email,")),
    ("ignored contact phrases not a list",  # the rest of the list becomes a channel "x"
     replace_once("  ignore: [email address,", "  ignore: email address\n  x: [email address,"),
     "contact.ignore", "expected a list of cues", lambda t: line_of(t, "  ignore: email")),
    ("call_first not true or false",
     replace_once("    call_first: true", "    call_first: yes please"),
     "warnings[0].call_first", "expected true or false",
     lambda t: line_of(t, "call_first: yes please")),
    ("repeat count too small", replace_once("  repeat_times: 3", "  repeat_times: 1"),
     "severity.repeat_times", "must be at least 2", lambda t: line_of(t, "repeat_times: 1")),
    ("feeling with a placeholder",
     replace_once("  feeling: I understand", "  feeling: Dear {name}, I understand"),
     "apology.feeling", "without {placeholders}", lambda t: line_of(t, "  feeling: Dear")),
    ("yaml syntax error", replace_once("version: 1", "version: 1\n  stray: indent"),
     "YAML syntax error", "not allowed", lambda t: line_of(t, "  stray: indent")),
    ("unclosed flow list", replace_once("    label: Long wait or hold\n",
                                        "    label: [Long wait or hold\n"),
     "YAML syntax error", "expected ','", lambda t: line_of(t, "[Long wait") + 1),
]


@pytest.mark.parametrize(("mutate", "key", "fragment", "expected_line"),
                         [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_broken_playbook_is_refused_naming_file_key_and_line(
        tmp_path, mutate, key, fragment, expected_line):
    path = tmp_path / "playbook.yaml"
    text = mutate(BASE)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    message = str(caught.value)
    assert message.startswith(f"{path} line {expected_line(text)}: "), message
    assert key in message and fragment in message, message
    assert "\n" not in message


def test_missing_file_is_a_playbook_error_naming_the_path(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(PlaybookError, match="nope.yaml"):
        load_playbook(path)


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "just text\n"],
                         ids=["empty", "list", "scalar"])
def test_file_that_is_not_a_mapping_is_refused(tmp_path, text):
    path = tmp_path / "playbook.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError, match=r"line 1: top level: expected a mapping"):
        load_playbook(path)


def test_single_value_condition_is_accepted_like_a_list(tmp_path):
    path = tmp_path / "playbook.yaml"
    path.write_text(BASE.replace("when: {category: [long_wait]}", "when: {category: long_wait}"),
                    encoding="utf-8")
    rule = next(r for r in load_playbook(path).warnings if r.key == "explain_any_wait")
    assert rule.category == ("long_wait",)
