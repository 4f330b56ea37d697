"""Escaping and truncation of user text for Slack."""

from handlers.mrkdwn import escape, mention, quote, truncate


def test_escape_neutralises_mentions_and_links():
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_truncate_keeps_short_text():
    assert truncate("abc", 3) == "abc"


def test_truncate_marks_the_cut_and_respects_limit():
    out = truncate("x" * 100, 10)
    assert len(out) <= 10 and out.endswith("…")


def test_truncate_never_splits_an_escape():
    out = truncate(escape("a" * 7 + "<b"), 10)
    assert "&l…" not in out and out.endswith("…") and len(out) <= 10


def test_quote_marks_every_line():
    assert quote("one\ntwo") == "&gt;one\n&gt;two"


def test_mention_refuses_non_ids():
    assert mention("U123") == "<@U123>"
    assert "<" not in mention("!channel")
    assert "<" not in mention(None)
