"""Advice for a report: steps, apologies, warnings and compensation from the playbook."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.domain.advice import (
    Advice,
    ApologyVariant,
    apology_variants,
    build_advice,
    display_name,
    promise_for,
)
from bot.domain.intake import Report, read_report
from bot.domain.playbook import (
    DEFAULT_PLAYBOOK_PATH,
    STEP_KEYS,
    PlaybookError,
    load_playbook,
    parse_playbook,
)


@pytest.fixture(scope="module")
def playbook():
    return load_playbook()


def report(**fields) -> Report:
    base = dict(summary="something went wrong", customer=None, contact="unknown",
                category="general", category_cues=(), emotion="calm", severity="normal")
    base.update(fields)
    return Report(**base)


def advise(playbook, **fields) -> Advice:
    return build_advice(report(**fields), playbook)


# -- warnings --------------------------------------------------------------------
def test_irate_email_gets_the_call_instead_warning(playbook):
    advice = advise(playbook, emotion="irate", contact="email")
    assert "irate_email" in advice.warning_keys
    text = advice.warnings[advice.warning_keys.index("irate_email")]
    assert "email" in text.lower() and "call" in text.lower()


def test_irate_email_warning_comes_from_a_real_report(playbook):
    text = "for Dana Lee: charged twice for her order, emailed us furious"
    advice = build_advice(read_report(text, playbook), playbook)
    assert advice.warning_keys[0] == "irate_email"


@pytest.mark.parametrize(("emotion", "contact"), [
    ("calm", "chat"), ("calm", "email"), ("irate", "phone"), ("upset", "email"),
])
def test_call_instead_warning_needs_both_irate_and_email(playbook, emotion, contact):
    assert "irate_email" not in advise(playbook, emotion=emotion, contact=contact).warning_keys


def test_calm_chat_gets_the_always_on_warnings_but_no_emotional_ones(playbook):
    advice = advise(playbook, emotion="calm", contact="chat")
    assert {"own_follow_up", "no_blame"} <= set(advice.warning_keys)
    assert not {"irate_email", "feeling_first"} & set(advice.warning_keys)


@pytest.mark.parametrize("emotion", ["upset", "irate"])
def test_upset_or_irate_customers_get_feeling_first(playbook, emotion):
    assert "feeling_first" in advise(playbook, emotion=emotion).warning_keys


def test_calm_customers_do_not_get_feeling_first(playbook):
    assert "feeling_first" not in advise(playbook, emotion="calm").warning_keys


@pytest.mark.parametrize(("category", "key"), [
    ("passed_around", "stay_with_them"),
    ("no_ownership", "give_direct_line"),
    ("broken_promise", "promise_only_what_you_control"),
    ("wrong_info", "check_history"),
])
def test_category_specific_warnings_follow_their_category(playbook, category, key):
    assert key in advise(playbook, category=category).warning_keys
    assert key not in advise(playbook, category="general").warning_keys


def test_critical_cases_bring_in_a_lead(playbook):
    assert "critical_lead" in advise(playbook, severity="critical").warning_keys
    assert "critical_lead" not in advise(playbook, severity="high").warning_keys


def test_warnings_and_their_keys_line_up(playbook):
    advice = advise(playbook, emotion="irate", contact="email", category="billing_error")
    by_key = {rule.key: rule.text for rule in playbook.warnings}
    assert advice.warnings == tuple(by_key[k] for k in advice.warning_keys)


# -- apologies -------------------------------------------------------------------
def test_apology_uses_the_name_and_names_the_breakdown(playbook):
    advice = advise(playbook, customer="Dana Lee", category="long_wait")
    breakdown = playbook.category("long_wait").breakdown
    assert advice.apology_say.startswith("Dana, ")
    assert advice.apology_write.startswith("Hi Dana,")
    for text in (advice.apology_say, advice.apology_write):
        assert f"sorry that we {breakdown}" in text
        assert playbook.category("long_wait").can_do in text


def test_apology_without_a_name_leaks_no_none_or_placeholder(playbook):
    advice = advise(playbook, customer=None, category="billing_error")
    for text in (advice.apology_say, advice.apology_write):
        assert "None" not in text
        assert not re.search(r"[{}]", text)
    assert advice.apology_say.startswith("I'm sorry")
    assert advice.apology_write.startswith("Hello,\n")


def test_apology_takes_ownership_and_blames_no_one(playbook):
    advice = advise(playbook, category="product_defect")
    for text in (advice.apology_say, advice.apology_write):
        assert "I'm sorry that we" in text and "What I can do right now is" in text
        assert not re.search(r"\b(policy|system|colleague|their fault)\b", text, re.I)


def test_apology_says_when_we_will_be_back(playbook):
    advice = build_advice(report(), playbook, when_text="by 3pm tomorrow")
    assert "by 3pm tomorrow" in advice.apology_say
    assert "by 3pm tomorrow" in advice.apology_write


def test_blank_when_text_falls_back_to_the_default_follow_up_time(playbook):
    # It used to fall back to "by the end of today", a day before the follow-up was due.
    advice = build_advice(report(), playbook, when_text="  ")
    assert playbook.settings.followup_default_hours == 24
    assert "by this time tomorrow" in advice.apology_say
    assert "end of today" not in advice.apology_say + advice.apology_write


def test_name_with_braces_is_inserted_literally(playbook):
    advice = advise(playbook, customer="{name} Corp")
    assert advice.apology_say.startswith("{name}, ")


def test_name_chosen_in_the_modal_is_used(playbook):
    read = read_report("charged twice", playbook)
    advice = build_advice(dataclasses.replace(read, customer="Kofi Mensah"), playbook)
    assert advice.apology_say.startswith("Kofi, ")


# -- steps, label, compensation -----------------------------------------------------
def test_steps_are_the_category_prompts_in_step_order(playbook):
    advice = advise(playbook, category="billing_error")
    category = playbook.category("billing_error")
    assert [title for title, _ in advice.steps] == [s.title for s in playbook.steps]
    assert [prompt for _, prompt in advice.steps] == [
        category.step_prompt(key) for key in STEP_KEYS]
    assert advice.category_label == category.label


def test_unknown_category_falls_back_to_general(playbook):
    advice = advise(playbook, category="retired_category")
    assert advice.category_label == playbook.category("general").label


@pytest.mark.parametrize("severity", ["normal", "high", "critical"])
def test_compensation_is_sized_by_severity(playbook, severity):
    advice = advise(playbook, severity=severity)
    assert advice.compensation == getattr(playbook.compensation, severity)
    assert advice.compensation_note == playbook.compensation.note


def test_bigger_severity_gets_a_different_bigger_gesture(playbook):
    offers = [advise(playbook, severity=s).compensation for s in ("normal", "high", "critical")]
    assert len(set(offers)) == 3
    assert "full refund" in offers[2].lower()


def test_advice_is_plain_text_without_slack_markup(playbook):
    advice = advise(playbook, customer="Dana", emotion="irate", contact="email")
    everything = " ".join([advice.apology_say, advice.apology_write, *advice.warnings,
                           advice.compensation, *(p for _, p in advice.steps)])
    assert not re.search(r"<[@#!]|:\w+:", everything)


# -- apology variants ----------------------------------------------------------------
VARIANT_KEYS = ("phone_warm", "phone_formal", "written_warm", "written_formal",
                "internal_warm", "internal_formal")
PLAYBOOK_TEXT = DEFAULT_PLAYBOOK_PATH.read_text(encoding="utf-8")


def without_variants(text: str) -> str:
    start = text.index("\napology_variants:\n")
    return text[:start] + text[text.index("\n# How the customer feels", start):]


def test_six_variants_cycle_phone_writing_and_internal_each_warm_then_formal(playbook):
    variants = apology_variants(report(category="billing_error"), playbook)
    assert tuple(v.key for v in variants) == VARIANT_KEYS
    assert len({v.label for v in variants}) == 6 and len({v.text for v in variants}) == 6
    assert all(isinstance(v, ApologyVariant) for v in variants)


@pytest.mark.parametrize("category", ["long_wait", "passed_around", "uncaring", "no_ownership",
                                      "wrong_info", "broken_promise", "product_defect",
                                      "billing_error", "general"])
def test_every_variant_names_the_problem_owns_it_and_says_what_and_by_when(playbook, category):
    details = playbook.category(category)
    for variant in apology_variants(report(category=category, customer="Dana Lee"), playbook,
                                    when_text="by 3pm tomorrow"):
        assert f"we {details.breakdown}" in variant.text, variant.key
        assert details.can_do in variant.text, variant.key
        assert "by 3pm tomorrow" in variant.text, variant.key
        assert "Dana" in variant.text and "Dana Lee" not in variant.text, variant.key
        assert re.search(r"\bI(?:'m|'ll| will| have| take| do| apologise)\b", variant.text)
        assert not re.search(r"\b(policy|system|colleague|their fault)\b", variant.text, re.I)


def test_variants_without_a_name_leak_no_none_or_placeholder(playbook):
    variants = {v.key: v.text for v in apology_variants(report(), playbook)}
    for text in variants.values():
        assert "None" not in text and not re.search(r"[{}]", text)
    assert variants["phone_warm"].startswith("I'm really sorry")
    assert variants["phone_formal"].startswith("I do apologise")
    assert variants["written_warm"].startswith("Hi there,\n\n")
    assert variants["written_formal"].startswith("Hello there,\n\n")


def test_spoken_variants_are_one_paragraph_and_written_ones_several(playbook):
    variants = {v.key: v.text for v in apology_variants(report(customer="Kofi"), playbook)}
    for key in ("phone_warm", "phone_formal", "internal_warm", "internal_formal"):
        assert "\n" not in variants[key], key
    for key in ("written_warm", "written_formal"):
        assert variants[key].count("\n\n") >= 2, key


def test_variants_fall_back_like_the_advice_for_an_unknown_category_and_blank_when(playbook):
    variants = apology_variants(report(category="retired_category"), playbook, when_text="  ")
    general = playbook.category("general")
    for variant in variants:
        assert f"we {general.breakdown}" in variant.text
        assert "by this time tomorrow" in variant.text


def test_a_name_with_braces_is_inserted_literally_in_variants(playbook):
    variants = apology_variants(report(customer="{name} Corp"), playbook)
    assert variants[0].text.startswith("{name}, ")


def test_a_playbook_without_variants_offers_its_say_and_write_pair():
    playbook = parse_playbook(without_variants(PLAYBOOK_TEXT), "old.yaml")
    assert playbook.apology_variants == ()
    variants = apology_variants(report(customer="Dana"), playbook)
    advice = build_advice(report(customer="Dana"), playbook)
    assert [(v.key, v.text) for v in variants] == [("say", advice.apology_say),
                                                   ("write", advice.apology_write)]
    assert all(v.label for v in variants)


def test_variants_leave_the_say_and_write_pair_unchanged(playbook):
    old = parse_playbook(without_variants(PLAYBOOK_TEXT))
    for customer in ("Dana Lee", None):
        new_advice = build_advice(report(customer=customer), playbook)
        old_advice = build_advice(report(customer=customer), old)
        assert (new_advice.apology_say, new_advice.apology_write) == (
            old_advice.apology_say, old_advice.apology_write)


def _variant_line(text: str, needle: str) -> int:
    return text[:text.index(needle, text.index("apology_variants:"))].count("\n") + 1


BROKEN_VARIANTS = [
    ("template without when", ("call you back {when} to make", "call you back to make"),
     "apology_variants[0].template", "must include {when}", "  - key: phone_warm", 2),
    ("template without the name", ("      Hi {name},\n\n      I'm so sorry", "      I'm so sorry"),
     "apology_variants[2].template", "must include {name} or {greeting}",
     "  - key: written_warm", 2),
    ("unknown placeholder", ("{greeting}I do apologise", "{customer}I do apologise"),
     "apology_variants[1].template", "unknown placeholder {customer}",
     "  - key: phone_formal", 2),
    ("duplicate key", ("  - key: phone_formal", "  - key: phone_warm"),
     "apology_variants[1].key", "duplicate apology variant key 'phone_warm'",
     "  - key: phone_warm\n    label: On the phone (formal)", 0),
    ("unknown field", ("    label: On the phone (warm)\n",
                       "    label: On the phone (warm)\n    tone: warm\n"),
     "apology_variants[0].tone", "unknown key", "    tone: warm", 0),
]


@pytest.mark.parametrize(("change", "key", "fragment", "anchor", "offset"),
                         [case[1:] for case in BROKEN_VARIANTS],
                         ids=[case[0] for case in BROKEN_VARIANTS])
def test_broken_apology_variants_are_refused_naming_key_and_line(
        tmp_path, change, key, fragment, anchor, offset):
    old, new = change
    assert old in PLAYBOOK_TEXT, f"test fixture out of date: {old!r}"
    text = PLAYBOOK_TEXT.replace(old, new, 1)
    path = tmp_path / "playbook.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    message = str(caught.value)
    assert message.startswith(f"{path} line {_variant_line(text, anchor) + offset}: "), message
    assert key in message and fragment in message, message


def test_an_empty_variant_list_is_refused():
    text = without_variants(PLAYBOOK_TEXT).replace(
        "\nemotion:\n", "\napology_variants: []\n\nemotion:\n", 1)
    with pytest.raises(PlaybookError, match=r"apology_variants: expected a non-empty list"):
        parse_playbook(text)


# -- the promised time matches the follow-up (review item 1) -------------------------
@pytest.mark.parametrize(("hours", "phrase"), [
    (24, "by this time tomorrow"), (48, "by this time in 2 days"), (4, "within 4 hours"),
    (1, "within the hour"), (30, "within 30 hours"), (0.2, "within the hour"),
])
def test_promise_is_worded_from_the_hours_until_the_follow_up(hours, phrase):
    assert promise_for(hours) == phrase


def test_default_promise_follows_the_playbooks_first_follow_up():
    text = PLAYBOOK_TEXT.replace("followup_default_hours: 24", "followup_default_hours: 4", 1)
    short = parse_playbook(text)
    advice = build_advice(report(), short)
    assert "within 4 hours" in advice.apology_say and "within 4 hours" in advice.apology_write
    assert all("within 4 hours" in v.text for v in apology_variants(report(), short))


def test_no_apology_promises_the_end_of_today(playbook):
    advice = advise(playbook, customer="Dana")
    texts = [advice.apology_say, advice.apology_write,
             *(v.text for v in apology_variants(report(customer="Dana"), playbook))]
    assert all("end of today" not in text and "by this time tomorrow" in text for text in texts)


# -- channel warnings look at every channel mentioned (items 10 and 20) ----------------
def test_call_instead_fires_when_any_mentioned_channel_is_written(playbook):
    advice = advise(playbook, emotion="irate", contact="phone", contacts=("phone", "email"))
    assert "irate_email" in advice.warning_keys and advice.call_first


def test_an_irate_customer_on_chat_is_also_told_to_call(playbook):
    advice = advise(playbook, emotion="irate", contact="chat", contacts=("chat",))
    assert "irate_email" in advice.warning_keys and advice.call_first
    assert not advise(playbook, emotion="upset", contact="chat").call_first


def test_a_public_post_after_a_call_gets_the_public_warning(playbook):
    advice = advise(playbook, contact="phone", contacts=("phone", "social"))
    assert "public_complaint" in advice.warning_keys
    assert "public_complaint" not in advise(playbook, contact="phone").warning_keys


@pytest.mark.parametrize(("contact", "contacts", "warned"), [
    ("phone", ("phone",), True), ("in_person", ("in_person",), True),
    ("unknown", (), True), ("email", ("email",), False), ("social", ("social",), False),
    ("email", ("email", "phone"), True),
])
def test_the_hold_warning_only_where_a_hold_is_possible(playbook, contact, contacts, warned):
    advice = advise(playbook, category="long_wait", contact=contact, contacts=contacts)
    assert ("explain_any_wait" in advice.warning_keys) is warned


def test_the_contact_chosen_in_the_modal_still_counts_with_the_ones_in_the_text(playbook):
    read = read_report("she tweeted about it, furious", playbook)
    advice = build_advice(dataclasses.replace(read, contact="email"), playbook)
    assert {"irate_email", "public_complaint"} <= set(advice.warning_keys)


# -- wording (items 11, 15, 16, 17, 19) ------------------------------------------------
@pytest.mark.parametrize("emotion", ["upset", "irate"])
def test_apologies_acknowledge_an_upset_customers_feeling_before_the_fix(playbook, emotion):
    advice = advise(playbook, emotion=emotion, category="billing_error")
    feeling = playbook.apology.feeling
    for text in (advice.apology_say, advice.apology_write):
        assert feeling in text
        assert text.index(feeling) < text.index("What I can do right now")


def test_a_calm_customer_is_not_told_how_they_feel(playbook):
    advice = advise(playbook, emotion="calm")
    assert playbook.apology.feeling not in advice.apology_say + advice.apology_write
    assert "  " not in advice.apology_say


def test_the_say_template_does_not_rule_out_bringing_in_a_lead(playbook):
    advice = advise(playbook, severity="critical")
    assert "critical_lead" in advice.warning_keys
    assert "pass you on" not in advice.apology_say
    assert "staying with this myself" in advice.apology_say


def test_faulty_product_wording_fits_a_service_as_well_as_an_item(playbook):
    defect = playbook.category("product_defect")
    assert "sold you" not in defect.breakdown
    assert "refund" in defect.can_do and "repair or a replacement" not in defect.can_do


def test_long_wait_promise_fits_every_channel(playbook):
    assert "hold" not in playbook.category("long_wait").can_do


def _prose(playbook) -> list[str]:
    """Every text an agent or customer reads (not cues, which must match either spelling)."""
    texts = [s.prompt for s in playbook.steps]
    for category in playbook.categories:
        texts += [category.label, category.breakdown, category.can_do,
                  *(prompt for _, prompt in category.steps)]
    texts += [playbook.apology.say, playbook.apology.write, playbook.apology.feeling,
              *(v.template for v in playbook.apology_variants),
              *(w.text for w in playbook.warnings),
              playbook.compensation.normal, playbook.compensation.high,
              playbook.compensation.critical, playbook.compensation.note]
    return texts


def test_wording_uses_british_spelling_and_real_dashes(playbook):
    for text in _prose(playbook):
        assert not re.search(r"\b(apologiz|recogniz|realiz|organiz|patroniz|colou?r\b)", text,
                             re.I), text
        assert " - " not in text, text


# -- names as the apology says them (item 8) -------------------------------------------
@pytest.mark.parametrize(("typed", "said"), [
    ("dana lee", "Dana Lee"), ("DANA LEE", "Dana Lee"), ("mrs o'brien", "Mrs O'Brien"),
    ("maria de la cruz", "Maria de la Cruz"), ("JOSÉ NÚÑEZ", "José Núñez"),
    ("ACME LTD", "Acme Ltd"), ("IBM", "IBM"), ("IBM UK", "IBM UK"), ("McAdam", "McAdam"),
    ("Dana Lee", "Dana Lee"), ("山田太郎", "山田太郎"), ("van der berg", "Van der Berg"),
])
def test_names_typed_in_one_case_are_title_cased_in_the_apology(typed, said):
    assert display_name(typed) == said


def test_the_apology_title_cases_the_name_but_the_report_keeps_it(playbook):
    read = read_report("for dana lee: charged twice", playbook)
    advice = build_advice(read, playbook)
    assert read.customer == "dana lee"
    assert advice.apology_say.startswith("Dana, ")
    assert advice.apology_write.startswith("Hi Dana,")


# -- a second problem keeps its warnings (item 12) -------------------------------------
def test_a_second_category_adds_its_warnings_and_its_label(playbook):
    text = "Priya Sharma (VIP) double billed and the agent hung up on her"
    advice = build_advice(read_report(text, playbook), playbook)
    assert {"full_attention", "fix_the_charge_first"} <= set(advice.warning_keys)
    assert advice.category_label == playbook.category("uncaring").label
    assert advice.also_labels == (playbook.category("billing_error").label,)


def test_a_second_category_the_playbook_no_longer_has_is_ignored(playbook):
    advice = advise(playbook, category="uncaring", also_categories=("retired", "uncaring"))
    assert advice.also_labels == ()


def test_advice_from_the_cache_key_is_the_advice_of_the_whole_report(playbook):
    """build_advice reads a report without its summary and cues where the apology does
    not name what happened: the advice is the one the whole report gets."""
    from pathlib import Path

    import yaml

    from bot.domain.advice import _advice
    from bot.runtime.reader import load_reader

    reader = load_reader()
    corpus = Path(__file__).resolve().parent.parent / "data/corpus/train_reports.yaml"
    texts = [item["text"] for item in yaml.safe_load(corpus.read_text("utf-8"))["reports"]]
    for text in texts[::9]:
        whole = read_report(text, playbook, reader)
        for when in (None, "within 4 hours"):
            assert build_advice(whole, playbook, when) == \
                _advice.__wrapped__(whole, playbook, when), text
