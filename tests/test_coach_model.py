"""The coach's own model (bot/domain/coach/learned.py, data/model/coach_head.npz) and the
rewrite's turn of a flat "no" into what we'll do instead."""

from __future__ import annotations

import numpy as np
import pytest

from bot.domain.coach import check, load_rules
from bot.domain.coach.document import Doc
from bot.domain.coach.edits import instead_of_limit
from bot.domain.coach.learned import (
    DEFAULT_COACH_HEAD,
    CoachHead,
    CoachModelUnavailable,
    CoachScorer,
    coach_scorer,
    fingerprint,
    load_head,
    signals_in,
)
from bot.domain.coach.rewrite import says_done


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def reader():
    from bot.runtime.reader import load_reader

    model = load_reader()
    if model is None:
        pytest.skip("the reading model (wordllama) is not installed")
    return model


def test_the_shipped_head_was_trained_for_the_shipped_rules_and_signals(rules):
    head = load_head(DEFAULT_COACH_HEAD)
    assert head.fingerprint == fingerprint(rules)
    assert set(head.keys) <= set(rules.keys) and "name_unused" not in head.keys
    assert np.all((head.thresholds > 0) & (head.thresholds < 1))


def test_the_scorer_handed_to_check_is_the_coach_model(rules, reader):
    scorer = coach_scorer(reader)
    assert isinstance(scorer, CoachScorer) and scorer.usable_with(rules)
    assert coach_scorer(reader) is scorer  # loaded once
    assert scorer("Our courier lost it.") == reader.concepts("Our courier lost it.")


@pytest.mark.parametrize(("draft", "rule"), [
    # training drafts whose blame, hand-off or reproach no pattern lists
    ("Our warehouse team sent the wrong colour, apologies. Please return it using the label "
     "attached and we'll send the blue one once it's back with us.", "blame"),
    ("The extended warranty is run by a third party, so you'd have to take that up with "
     "Domestic & General. Apologies.", "passed_on"),
    ("Dear customer, our records show the engineer arrived at 10:12, within the booked "
     "window. We are therefore unable to refund the call-out fee.", "defensive"),
])
def test_the_model_catches_what_the_patterns_miss(rules, reader, draft, rule):
    assert rule not in check(draft, rules).keys
    review = check(draft, rules, scorer=coach_scorer(reader))
    assert rule in review.keys
    quote = next(f.quote for f in review.findings if f.key == rule)
    assert quote and quote in draft  # the sentence that looks most like it


def test_a_good_reply_stays_clean_with_the_model(rules, reader):
    draft = ("Hi Priya, I'm really sorry your order #48213 arrived with the lamp base cracked, "
             "I can only imagine how disappointing that was to unbox. I've sent a replacement "
             "by express courier today and it will reach you by Thursday 14 March before 1pm. "
             "I'll email you the tracking number by 5pm today.")
    review = check(draft, rules, customer_name="Priya Nair", scorer=coach_scorer(reader))
    assert review.findings == ()


def test_a_head_for_other_rules_is_not_used_and_the_rules_decide(rules, reader, tmp_path):
    head = load_head(DEFAULT_COACH_HEAD)
    stale = CoachHead(head.keys, head.weights, head.bias, head.thresholds, "0" * 16,
                      head.symbolic)
    scorer = CoachScorer(reader, stale)
    assert not scorer.usable_with(rules)
    draft = "That wasn't my shift so I can't say what happened."
    assert check(draft, rules, scorer=scorer).keys == check(draft, rules,
                                                           scorer=reader.concepts).keys


def test_the_model_cannot_clear_ignored_feelings_when_nothing_acknowledges_them(rules, reader):
    head = load_head(DEFAULT_COACH_HEAD)
    clears_all = CoachScorer(reader, CoachHead(head.keys, head.weights * 0,
                                               head.bias * 0 - 50, head.thresholds,
                                               head.fingerprint, head.symbolic))
    assert clears_all.usable_with(rules)
    # a bare "sorry" or "any inconvenience" acknowledges no feeling (data/corpus/LABELS.md)
    for draft in ("Sorry Dana, I'll call you at 3pm today.",
                  "Apologies for any inconvenience, I'll call you at 3pm today."):
        assert "feelings_ignored" in check(draft, rules, scorer=clears_all).keys
        assert check(draft, rules, customer_upset=False, scorer=clears_all).keys == ()
    # a feeling named, or time lost, is something the model may read as acknowledged
    for draft in ("Sorry, I know you'd cleared your whole day. I'll call you at 3pm today.",
                  "Sorry you lost your whole morning. I'll call you at 3pm today."):
        assert "feelings_ignored" in check(draft, rules).keys
        assert "feelings_ignored" not in check(draft, rules, scorer=clears_all).keys


def test_a_missing_or_broken_head_falls_back_to_the_reading_model(reader, tmp_path):
    missing = tmp_path / "none.npz"
    assert coach_scorer(reader, missing) == reader.concepts
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(CoachModelUnavailable):
        load_head(broken)
    assert coach_scorer(None) is None


def test_signals_are_read_per_pattern(rules):
    doc = Doc("We were short-staffed because of the storm.")
    found = signals_in(doc, rules)
    assert found.sum() >= 2 and set(np.unique(found)) <= {0.0, 1.0}


@pytest.mark.parametrize(("sentence", "turned"), [
    ("Refunds can't be given for weather cancellations",
     "Instead of giving refunds for weather cancellations"),
    ("Please note that data deleted more than 30 days ago cannot be recovered",
     "Instead of recovering data deleted more than 30 days ago"),
    ("Sadly, it isn't possible to reopen the booking now the tour is full",
     "Sadly, instead of reopening the booking now the tour is full"),
    ("The Garden Room is no longer available on 22 June",
     "Instead of the Garden Room on 22 June"),
    ("We don't have any weekend slots for physio", "Instead of weekend slots for physio"),
    ("Legal won't let us sign your DPA amendments", "Instead of signing your DPA amendments"),
    ("The deposit of £2,000 is outside our refund terms and cannot be transferred to 2026",
     "The deposit of £2,000 is outside our refund terms, and instead of transferring it to 2026"),
    ("Accordingly, no service credit is payable for the incident on 4 April",
     "Accordingly, instead of service credit for the incident on 4 April"),
    ("I'll call you at 3pm", None),
])
def test_a_flat_no_is_turned_into_what_we_do_instead(sentence, turned):
    assert instead_of_limit(sentence) == turned


def test_a_limit_with_no_verb_is_rewritten_not_left_standing(rules):
    review = check("Sorry Mr Wu, compensation cannot be offered for service interruptions "
                   "under 48 hours.", rules)
    assert "cannot" not in review.rewrite
    assert "Instead of offering compensation for service interruptions under 48 hours, what " \
           "I can do is [an option you can offer]." in review.rewrite


@pytest.mark.parametrize(("draft", "done"), [
    ("I've refunded the £23.50 to your card and it has already gone through.", True),
    ("Your refund has been processed and will reach you shortly.", True),
    ("It's all sorted now. Let us know if it happens again.", True),
    ("We're working on a fix and will let you know as soon as it's ready.", False),
    ("I've passed this to billing and they'll be in touch soon.", False),
])
def test_a_reply_that_says_the_matter_is_done(draft, done):
    assert says_done(Doc(draft)) is done


def test_no_follow_up_is_promised_in_a_reply_that_says_it_is_done(rules):
    review = check("Hi Gary, I'm really sorry about the cold pizza, I know it spoiled your "
                   "film night. I've refunded the full £23.50 to your card. Let us know if "
                   "it happens again.", rules, customer_name="Gary Holt")
    assert "[" not in review.rewrite and "£23.50" in review.rewrite
