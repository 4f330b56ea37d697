"""The suggested rewrite of a draft: the first pass (`bot.domain.coach.edits`), then
the lines for what is still missing and the customer's name in the opening."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.domain.coach.document import (
    MATCH_TABLE,
    TITLES,
    Doc,
    Spans,
    lower_same_length,
    matches,
    name_regex,
)
from bot.domain.coach.edits import Lines, assemble, expand_template, plan_edits
from bot.domain.coach.judge import Hit, evaluate
from bot.domain.coach.model import Rules
from bot.domain.coach.wording import (
    GREETING_RE,
    address,
    capitalise,
    fill_lines,
    template_values,
)

_GENERIC_ADDRESSEE = frozenset({
    "", "there", "customer", "valued customer", "sir", "madam", "sir or madam", "sir/madam",
    "team", "all", "friend", "student", "guest", "member", "patient", "everyone", "folks",
})
_SIGNOFF_RE = re.compile(
    r"(?:thanks|thank you|many thanks|with thanks|best|best wishes|best regards|regards|"
    r"kind regards|warm regards|warmly|cheers|sincerely|yours sincerely|yours faithfully|"
    r"yours truly|all the best|take care|speak soon|talk soon)\b[^\n]{0,40}\Z", re.IGNORECASE)


def rewrite_draft(doc: Doc, rules: Rules, fired: Mapping[str, list[Hit]], name: str,
                  upset: bool) -> str:
    """The draft with flagged words dropped or replaced and the missing lines added.

    1. Found wording is fixed as its rule says: a pattern's own `rewrite` replaces the
       words; otherwise `drop` removes the sentence, or only the clauses holding the
       words when the rest of the sentence has facts (numbers, dates, references) or
       wording a `keep` rule flagged; `replace` swaps the words for the rule's
       `replace`; `keep` leaves them. A rule's `line` goes after the sentence where
       it last fired (an `unless` looks at that sentence and the next).
    2. The result is checked again; rules still missing (no apology, no empathy,
       no concrete next step) add their lines at the start or the end.
    3. The customer's name goes into the greeting or the opening line if still unused.
    """
    multiline = "\n" in doc.text.strip()
    if says_done(doc):  # nothing left to time: no "[by 3pm today]" put in its wording
        fired = {key: hits for key, hits in fired.items() if key != "vague_next_step"}
    edits, dropped, planned, tails = plan_edits(doc, rules, fired, name)
    after = _lines_needed(doc, rules, edits, dropped, planned, name, upset)
    items = assemble(doc, edits, dropped, after, tails)
    first_pass = "".join(sep + text for sep, text in items).strip()

    missing_rules = [r for r in rules.rules if r.fires == "missing" and r.line]
    if not (edits or dropped or after or tails):  # the first pass is the draft: nothing changed
        still: Mapping[str, list[Hit]] = fired
    else:
        again = Doc(first_pass, doc.scorer) if first_pass else None
        still = evaluate(again or Doc(" "), rules, name, upset, missing_rules, doc)
    if says_done(doc):  # a reply about a matter that is done gets no follow-up promise
        still = {key: hits for key, hits in still.items() if key != "vague_next_step"}
    start_lines = [r.line for r in missing_rules if r.key in still and r.place == "start"]
    end_lines = [r.line for r in missing_rules if r.key in still and r.place != "start"]
    problem = _problem(doc, rules, fired)
    greeting = GREETING_RE.match(items[0][1]) if items else None
    opening = greeting.end() if greeting else (
        _opening_address(items[0][1], name) if items else None)
    wants_name = bool(name) and any(r.fires == "name_missing" for r in rules.rules) and not (
        _name_near_start(items, name, pushed=bool(start_lines) and opening is None))

    if greeting and wants_name and greeting.group("who").strip().casefold() in _GENERIC_ADDRESSEE:
        named = f"{greeting.group('word')} {address(name)}{greeting.group('punct') or ','}"
        items[0][1] = named + items[0][1][greeting.end():]
        opening = GREETING_RE.match(items[0][1]).end()  # type: ignore[union-attr]
        wants_name = False
    start_text = fill_lines(start_lines, name, greet_first=wants_name, problem=problem)
    if wants_name and not start_text:  # "Hi Dana," on top: "Hi Dana, sorry, ..."
        _insert_start(items, rules.greeting.format(**template_values(name, greet=False)),
                      None, multiline)
        if not multiline and len(items) > 1 and items[0][1].endswith(","):
            items[1][1] = _lower_first(items[1][1])
    elif start_text:  # after the agent's own opening ("Hi Ana,", "Sorry Dana,")
        _insert_start(items, start_text, opening, multiline)
    if end_lines:
        _insert_end(items, fill_lines(end_lines, name, greet_first=False), multiline)

    out = "".join(sep + text for sep, text in items)
    out = re.sub(r"[ \t]+\n", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


# What was done for the customer ("has been refunded", "I've replaced it", "is now
# fixed"), and what would still be open ("will", "soon", "once it arrives").
_DONE_RE = re.compile(
    r"(?:\b(?:has|have|is|are|was|were)|'s|'re|'ve)(?: now| already| just| all| fully| been)* "
    r"(?:been )?(?:fully |now |all |already )?"
    r"(?:refunded|credited|fixed|sorted|resolved|replaced|cancell?ed|removed|reversed|waived|"
    r"corrected|updated|restored|reinstated|processed|approved|applied|reset|unlocked|"
    r"reactivated|rebooked|settled|closed|paid|issued|done|complete|completed|rolled back|"
    r"back online|back to normal|taken care of|gone through|set|good to go|squared away|"
    r"delivered|dispatched|shipped|sent|posted|emailed|added|booked|confirmed|unblocked|"
    r"activated|returned|repaired|swapped|exchanged|upgraded|dealt with)\b"
    r"|\b(?:i|we)(?:'ve| have)?(?: now| already| just| also| gone ahead and)* "
    r"(?:refunded|credited|fixed|sorted|replaced|cancell?ed|removed|reversed|waived|corrected|"
    r"updated|restored|reinstated|processed|approved|applied|reset|unlocked|reactivated|"
    r"rebooked|issued|paid|sent|added|booked|posted|emailed|extended|fitted|installed|repaired|"
    r"upgraded|arranged)\b"
    r"|(?<!when )(?<!once )(?<!until )(?<!till )(?<!as )(?<!if )\b(?:it|this|the \w+|your \w+)"
    r"(?: is|'s) "
    r"(?:now )?ready\b"
    r"|\b(?:all|everything)(?: is|'s)? (?:sorted|done|fixed|settled|set|good)\b"
    r"|\b(?:put (?:it|this|that|things|everything) right|(?:back )?up and running|"
    r"taken off|written off|cleared|wiped|(?:fixed|sorted|resolved|done) now)\b"
    r"|\bno (?:further )?action (?:is )?(?:needed|required)|\bnothing (?:else |more |further )?"
    r"(?:you need|for you|left) to (?:do|change)"
    r"|\bnothing (?:else |more |further )?(?:is )?(?:needed|required)(?: from you)?\b")
# Wording that leaves something open without saying when ("soon", "once it arrives").
_OPEN_RE = re.compile(
    r"\b(?:soon|shortly|asap|as soon as|in due course|once|until|till|pending|waiting|"
    r"awaiting|looking into|look into|investigat\w*|chas(?:e|ing)|in progress|"
    r"get back to you|be in touch|let you know|update you|keep you (?:posted|updated)|"
    r"(?:still|yet) to|not yet|hasn't|haven't)\b")


def says_done(doc: Doc) -> bool:
    """The draft says what was done and leaves nothing open without a time ("has been
    refunded and will reach you shortly" counts as done): no follow-up to promise."""
    if not _DONE_RE.search(doc.mt):
        return False
    return all(_DONE_RE.search(doc.mt, start, end) or not _OPEN_RE.search(doc.mt, start, end)
               for start, end in doc.spans)


def _name_near_start(items: list[list[str]], name: str, pushed: bool) -> bool:
    """True when the first sentence of the rewrite already uses the customer's name
    (and no added line is going to be put in front of it)."""
    if pushed or not items or (regex := name_regex(name)) is None:
        return False
    first = items[0][1]
    low = lower_same_length(first.translate(MATCH_TABLE))
    return any(not first[m.start()].islower() for m in regex.finditer(low))


def _problem(doc: Doc, rules: Rules, fired: Mapping[str, list[Hit]]) -> str:
    """What the draft says went wrong, for an added apology ("your parcel was late",
    "about the delay"), or "" when it does not say (wording a rule flagged is no use)."""
    if rules.problem is None:
        return ""
    flagged = Spans((h.start, h.end) for hits in fired.values() for h in hits if h.end > h.start)
    for pattern, m, group in matches(doc, rules.problem):
        if flagged.overlaps(m.start(), m.end()):
            continue
        words = expand_template(pattern.rewrite or "\\g<0>", m, group, doc.text)
        words = " ".join(words.split()).rstrip(",;:-")
        if words:
            return _lower_first(words)
    return ""


def _lines_needed(doc: Doc, rules: Rules, edits: Mapping[int, list[tuple[int, int, str]]],
                  dropped: set[int], planned: Lines, name: str,
                  upset: bool) -> dict[int, list[str]]:
    """The rule lines to add after each sentence. A line with `line_when_missing` is
    added only when that rule still fires on the rewrite without it: "I'll check in
    with you [on Friday]" is not added to a draft that already says "I'll call you at
    3pm", so the rewrite never makes a second promise."""
    keys = list(dict.fromkeys(key for lines in planned.values() for _, key in lines if key))
    needed: Mapping[str, object] = {}
    if keys:
        bare = {i: [line for line, key in lines if key is None] for i, lines in planned.items()}
        text = "".join(sep + t for sep, t in assemble(doc, edits, dropped, bare)).strip()
        which = [rules.rule(key) for key in keys]
        needed = evaluate(Doc(text or " ", doc.scorer), rules, name, upset, which, doc)
        if says_done(doc):
            needed = {key: hits for key, hits in needed.items() if key != "vague_next_step"}
    # two lines that each stand in for the same missing rule ("I'll call you back myself
    # [by 3pm today]" for a hand-off, "I'll check in with you [on Friday]" for a
    # call-back left to the customer) would be two promises: only the first is added
    out: dict[int, list[str]] = {}
    for i in sorted(planned):
        kept = []
        for line, key in planned[i]:
            if key is None:
                kept.append(line)
            elif key in needed:
                kept.append(line)
                needed = {k: v for k, v in needed.items() if k != key}
        out[i] = kept
    return out


def _insert_start(items: list[list[str]], text: str, opening: int | None,
                  multiline: bool) -> None:
    """After the opening (greeting) that ends at `opening` in the first item, else at
    the very top."""
    paragraph = "\n\n" if multiline else " "
    if opening is None or not items:
        if items:
            items[0][0] = paragraph
        items.insert(0, ["", text])
        return
    first = items[0][1]
    rest = first[opening:].strip()
    if not rest:
        items.insert(1, [paragraph, text])
        return
    items[0][1] = first[:opening]
    items.insert(1, [" ", text])
    # "As discussed, ..." after "Hi Mr Fenwick," opens a sentence of its own: keep "as".
    items.insert(2, [" ", capitalise(_OPENING_JUNK_RE.sub("", rest))])


_OPENING_JUNK_RE = re.compile(
    r"\A[\s,;:.\u2013\u2014-]*(?:(?:and|but|so|or|because|which|then|also)\b[\s,]*)?",
    re.IGNORECASE)


# "Sorry Dana," or "I'm so sorry, Mr Okafor!" opening a reply: the agent's own greeting.
_APOLOGY_ADDRESS_RE = re.compile(
    r"(?i:(?:I'm |I am |we're |we are )?(?:so |really |very |truly |terribly )?"
    r"(?:sorry|apologies|my apologies)(?: again)?),? "
    r"(?P<who>(?:(?:Mr|Mrs|Ms|Mx|Dr|Miss|Prof)\.? )?[A-Z][a-z][\w'\u2019-]*"
    r"(?: [A-Z][\w'\u2019-]+)?)\s*[,!:;\u2013\u2014-]")
_NOT_A_NAME = frozenset(
    "unfortunately however but again though thanks please sadly honestly truly everyone "
    "folks all team guys".split())
# The name alone opening a reply: "Dana, ..." (only when the customer's name is known).
_NAME_ADDRESS_RE = re.compile(r"(?P<who>[^\W\d_][\w'.\u2019-]*(?: [^\W\d_][\w'.\u2019-]*){0,2})"
                              r"\s*[,!:]")


def _opening_address(text: str, name: str) -> int | None:
    """Where an opening that addresses the customer ends: an apology with a name
    ("Sorry Dana,") or the customer's own name ("Dana, ..."); None otherwise."""
    m = _APOLOGY_ADDRESS_RE.match(text)
    if m and m.group("who").split()[0].casefold() not in _NOT_A_NAME:
        return m.end()
    m = _NAME_ADDRESS_RE.match(text)
    if m and name and (regex := name_regex(name)) is not None:
        who = lower_same_length(m.group("who").translate(MATCH_TABLE))
        words = who.split()
        while words and words[0].strip(".") in TITLES:
            words = words[1:]
        if words and regex.fullmatch(" ".join(words)) and m.group("who")[:1].isupper():
            return m.end()
    return None


# Words that may start a sentence and go on in lower case after "Hi Dana Lee,".
_COMMON_OPENERS = frozenset(
    "sorry apologies thanks thank unfortunately sadly we we're we've we'll we'd our your you "
    "you're you've you'll the this that these those it it's there there's here here's please "
    "just so as yes no ok okay good great after following regarding about my a an again "
    "really firstly first sure of in on when if once can could would hope hopefully many "
    "today further".split())


def _lower_first(text: str) -> str:
    """The text with its first word in lower case if it is a common word ("Sorry" ->
    "sorry"); names, "I" and anything unusual keep their capital."""
    m = re.match(r"\s*([A-Z][a-z'\u2019]*)(?![\w'\u2019])", text)
    if not m or m.group(1).casefold().replace("\u2019", "'") not in _COMMON_OPENERS:
        return text
    return text[:m.start(1)] + m.group(1)[0].lower() + text[m.start(1) + 1:]


def _insert_end(items: list[list[str]], text: str, multiline: bool) -> None:
    """Before a sign-off on its own line ("Kind regards,"), else at the end."""
    for index in range(max(1, len(items) - 3), len(items)):
        sep, line = items[index]
        if "\n" in sep and _SIGNOFF_RE.match(line):
            items.insert(index, ["\n\n", text])
            items[index + 1][0] = "\n\n"
            return
    items.append(["\n\n" if multiline else (" " if items else ""), text])
