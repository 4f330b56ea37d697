"""The first pass of the rewrite: the flagged words dropped or replaced, sentence by
sentence, the seams tidied, and the rule lines put after the sentences they answer."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence

from bot.domain.coach.document import Doc, Spans
from bot.domain.coach.judge import Hit
from bot.domain.coach.model import Rules
from bot.domain.coach.patterns import GROUP_REF_RE
from bot.domain.coach.wording import GREETING_RE, capitalise, fill_lines, gerund

_TRAILING_CONJUNCTION_RE = re.compile(
    r"[\s,;:\u2013\u2014-]*\b(?:and|but|so|or|because|as|which|then)\s*([.!?]*)\Z",
    re.IGNORECASE)
LEADING_JUNK_RE = re.compile(
    r"\A[\s,;:.\u2013\u2014-]*(?:(?:and|but|so|or|because|as(?! per)|which|then|also)\b[\s,]*)?",
    re.IGNORECASE)


Lines = dict[int, list[tuple[str, str | None]]]  # by sentence: (line, line_when_missing)
Tails = dict[int, str]  # by sentence: words joined to its end ("..., what I can do is [...]")


def plan_edits(doc: Doc, rules: Rules, fired: Mapping[str, list[Hit]], name: str) -> tuple[
        dict[int, list[tuple[int, int, str]]], set[int], Lines, Tails]:
    """Word edits by sentence, sentences to drop, rule lines to add after a sentence,
    and lines joined to the end of a sentence (`place: tail`)."""
    edits: dict[int, list[tuple[int, int, str]]] = {}
    tails: Tails = {}
    to_drop: dict[int, list[Hit]] = {}
    kept: dict[int, list[Hit]] = {}  # wording a `keep` rule flagged: worth keeping
    after: Lines = {}
    dropped_whole: set[int] = set()
    unanswered: set[int] = set()
    for rule in rules.rules:
        hits = [h for h in fired.get(rule.key, ()) if h.end > h.start]
        if not hits:
            continue
        for hit in hits:
            index = doc.sentence_at(hit.start)
            if hit.learned:  # a whole sentence the model flagged: gone unless it holds facts
                start, end = doc.spans[index]
                if rule.fix == "drop" and not _facts_in(doc, rules, start, end):
                    dropped_whole.add(index)
                else:  # kept as written: no line answering it (it would contradict it)
                    unanswered.add(id(hit))
                continue
            has_own = hit.pattern is not None and hit.pattern.rewrite is not None
            if rule.fires == "found" and rule.fix == "drop" and not has_own:
                to_drop.setdefault(index, []).append(hit)
                continue
            if rule.fix == "keep" and not has_own:
                kept.setdefault(index, []).append(hit)
            words = _replacement(doc, hit, always=rule.fix != "keep")
            if words is not None:
                edits.setdefault(index, []).append((hit.start, hit.end, words))
        hits = [h for h in hits if id(h) not in unanswered]
        if not hits:
            continue
        if rule.fires == "found" and rule.line and rule.place == "tail":
            # once, where the words were rewritten ("Instead of refunding X") if anywhere
            own = [h for h in hits if h.pattern is not None and h.pattern.rewrite is not None]
            tails[doc.sentence_at((own or hits)[-1].start)] = fill_lines([rule.line], name,
                                                                         False)
        elif rule.fires == "found" and rule.line:
            lines = after.setdefault(doc.sentence_at(hits[-1].start), [])
            # A line that answers the rule's `unless` ("What I can do instead...") goes
            # first, within the sentence after the match that `unless` looks at.
            lines.insert(0 if rule.unless is not None else len(lines),
                         (fill_lines([rule.line], name, greet_first=False),
                          rule.line_when_missing))
    dropped: set[int] = set(dropped_whole)
    for index, hits in to_drop.items():
        clauses = _clauses(doc, index, hits)
        if _worth_keeping(doc, rules, index, clauses, kept.get(index, ())) or _holds_facts(
                doc, rules, clauses, hits):
            edits.setdefault(index, []).extend(_cuts(doc, rules, clauses, hits))
        elif index == 0 and (greeting := _opening_greeting(doc)) is not None:
            edits[index] = [(greeting, doc.spans[0][1], "")]  # keep "Hi Ana," only
        else:
            dropped.add(index)
    return edits, dropped, after, {i: t for i, t in tails.items() if i not in dropped}


def _opening_greeting(doc: Doc) -> int | None:
    """Where a greeting that opens the draft ends ("Hi Ana," in "Hi Ana, the system..."),
    or None when the draft opens otherwise or the greeting is the whole sentence."""
    start, end = doc.spans[0]
    m = GREETING_RE.match(doc.mt, start, end)
    if m is None or not m.group("punct") or m.end() >= end:
        return None
    return m.end()


def _replacement(doc: Doc, hit: Hit, always: bool) -> str | None:
    """The pattern's own rewrite, else the rule's `replace` words when `always`."""
    if hit.pattern is not None and hit.pattern.rewrite is not None and hit.match is not None:
        return expand_template(hit.pattern.rewrite, hit.match, hit.group, doc.text)
    return hit.rule.replace if always else None


def expand_template(template: str, m: re.Match[str], group: int, original: str) -> str:
    """Copy \\N and \\g<N> groups of the pattern from the original (not the matching copy)."""
    def copy(ref: re.Match[str]) -> str:
        number = group + int(ref.group(1) or ref.group(2) or ref.group(3))
        start, end = m.span(number)
        words = original[start:end] if start >= 0 else ""
        return gerund(words) if ref.group(2) and words else words
    return GROUP_REF_RE.sub(copy, template)


_END_PUNCTUATION = ".!?\u2026\"')]\u3002\uff01\uff1f "
_CONDITION_RE = re.compile(r"(?:if|should|when|once|unless|in case)\b")
_CLAUSE_MARK_RE = re.compile(
    r"[,;()]|(?<!\d):(?!\d)|\s[-\u2013\u2014]+\s|[\u2013\u2014]"
    r"|(?<!\d)\s(?=(?:and|but|so|while|although|though)\s(?!\d))")


def _clauses(doc: Doc, index: int, hits: Sequence[Hit]) -> list[tuple[int, int]]:
    """The clauses (between commas, semicolons, dashes...) holding the hits, merged."""
    s_start, s_end = doc.spans[index]
    core_end = s_start + len(doc.mt[s_start:s_end].rstrip(_END_PUNCTUATION))  # keep the "."
    marks = [(m.start(), m.end()) for m in _CLAUSE_MARK_RE.finditer(doc.mt, s_start, core_end)]
    mark_starts = [begin for begin, _ in marks]
    mark_ends = [end for _, end in marks]
    spans: list[tuple[int, int]] = []
    for hit in sorted(hits, key=lambda h: h.start):
        before = bisect_right(mark_ends, hit.start)  # marks ending at or before the hit
        start = mark_ends[before - 1] if before else s_start
        if before == 1 and _CONDITION_RE.match(doc.mt, s_start):  # "If it breaks, call us"
            start = s_start
        after = bisect_left(mark_starts, hit.end)  # the first mark at or after its end
        end = mark_starts[after] if after < len(marks) else core_end
        end = max(end, min(hit.end, s_end))
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


# A capitalised word inside a sentence: a name, a place, a month, a weekday, a brand.
_NAME_RE = re.compile(r"(?<=[a-z,] )[A-Z][a-z]+(?:[A-Z]\w*)?\b")


def _facts_in(doc: Doc, rules: Rules, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of facts in doc.text[start:end]: numbers, dates, references (rewrite.facts)
    and names (capitalised words inside the sentence)."""
    found = [m.span() for m in rules.facts.regex.finditer(doc.mt, start, end)]
    return found + [m.span() for m in _NAME_RE.finditer(doc.text, start, end)]


def _worth_keeping(doc: Doc, rules: Rules, index: int, clauses: Sequence[tuple[int, int]],
                   kept: Sequence[Hit]) -> bool:
    """True when the sentence has facts (numbers, dates, refs, names) or kept wording
    outside the clauses to be removed."""
    removed = Spans(clauses)
    s_start, s_end = doc.spans[index]
    if any(not removed.overlaps(h.start, h.end) for h in kept):
        return True
    return any(not removed.overlaps(*span) for span in _facts_in(doc, rules, s_start, s_end))


def _cuts(doc: Doc, rules: Rules, clauses: Sequence[tuple[int, int]],
          hits: Sequence[Hit]) -> list[tuple[int, int, str]]:
    """Removals for a sentence that stays: each flagged clause goes, except that a
    clause holding facts ("Your £19.20 has been refunded and I promise...") loses only
    the flagged words."""
    out = []
    for start, end in clauses:
        inside = [h for h in hits if start <= h.start < end]
        if _holds_facts(doc, rules, [(start, end)], inside):
            out.extend((h.start, h.end, "") for h in inside)
        else:
            out.append((start, end, ""))
    return out


def _holds_facts(doc: Doc, rules: Rules, clauses: Sequence[tuple[int, int]],
                 hits: Sequence[Hit]) -> bool:
    """True when the clauses to be removed hold facts outside the flagged words."""
    flagged = Spans((h.start, h.end) for h in hits)
    return any(not flagged.overlaps(*span)
               for start, end in clauses
               for span in _facts_in(doc, rules, start, end))


def assemble(doc: Doc, edits: Mapping[int, list[tuple[int, int, str]]], dropped: set[int],
             after: Mapping[int, list[str]], tails: Tails | None = None) -> list[list[str]]:
    """[separator, sentence] pairs of the first pass, keeping the draft's line breaks."""
    items: list[list[str]] = []
    pending: str | None = None  # the separator of a dropped sentence, kept for the next one
    previous_end = 0
    for index, (start, end) in enumerate(doc.spans):
        sep = doc.text[previous_end:start] if index else ""
        previous_end = end
        pending = sep if pending is None else _stronger(pending, sep)
        if index not in dropped:
            text = _apply(doc, start, end, edits.get(index, ()))
            if text and tails and index in tails:
                text = join_tail(text, tails[index])
            if text:
                items.append([pending if items else "", text])
                pending = None
        for line in after.get(index, ()):
            items.append([(" " if pending is None else pending) if items else "", line])
            pending = None
    return items


# A limit with no verb of ours to lead with, said as what we'll do in its place:
#   "Refunds can't be given for X"           -> "Instead of giving refunds for X"
#   "it isn't possible to reopen the booking" -> "Instead of reopening the booking"
#   "The room is no longer available on 22 June" -> "Instead of the room on 22 June"
#   "We don't do refunds on custom orders"   -> "Instead of doing refunds on custom orders"
_LIMIT_SHAPES = (
    ("passive", re.compile(
        r"(?P<subject>[^,;:]+?)\s+(?:cannot|can't|can not)\s+be\s+"
        r"(?P<done>(?!expected\b|able\b)[a-z]+)\b(?P<rest>[^;:]*)$", re.IGNORECASE)),
    ("possible", re.compile(
        r"(?P<subject>)\b(?:it|this|that)\s+(?:is not|isn't|is no longer|was not|wasn't)\s+"
        r"possible\s+(?:for (?:us|me) )?to\s+(?P<verb>[a-z]+)\b(?P<rest>[^;:]*)$",
        re.IGNORECASE)),
    ("unavailable", re.compile(
        r"(?P<subject>[^,;:]+?)\s+(?:(?:is|are|was|were)\s+(?:not|no longer)|isn't|aren't|"
        r"wasn't|weren't)\s+(?:possible|available|refundable|eligible|offered)\b"
        r"(?P<rest>[^;:]*)$", re.IGNORECASE)),
    ("none", re.compile(
        r"(?P<subject>)\bno\s+(?P<thing>[\w-]+(?: [\w-]+)?)\s+(?:is|are|will be)\s+"
        r"(?:payable|due|available|possible|refundable|offered)\b(?P<rest>[^;:]*)$",
        re.IGNORECASE)),
    ("expected", re.compile(
        r"(?P<subject>\b(?:we|I))\s+(?:\w+ly\s+)?(?:can't|cannot|can not)\s+be\s+expected\s+to\s+"
        r"(?P<verb>[a-z]+)\b(?P<rest>[^;:]*)$", re.IGNORECASE)),
    ("let", re.compile(
        r"(?P<subject>[^,;:]+?)\s+(?:won't|will not|doesn't|does not|don't|do not)\s+"
        r"(?:let|allow)\s+(?:us|me)\s+(?:to\s+)?(?P<verb>[a-z]+)\b(?P<rest>[^;:]*)$",
        re.IGNORECASE)),
    ("refuse", re.compile(
        r"(?P<subject>\b(?:we|I|our [\w-]+))\s+(?:don't|do not|doesn't|does not|can't|cannot|"
        r"won't|will not)\s+(?P<verb>(?!let\b|be\b|know\b|think\b)[a-z]+)\b"
        r"(?P<rest>[^;:]*)$", re.IGNORECASE)),
)
# Where the subject of the limit starts: after a clause mark or a reporting frame
# ("please note that", "the form says"); the frame goes with the limit.
_SUBJECT_START_RE = re.compile(
    r"(?:^|,\s+|\b(?:that|and|but|so|however|unfortunately|sadly)\s+|"
    r"\b(?:says|said|states|stated|means|explained|confirm(?:ed|s)?)\s+)", re.IGNORECASE)
_FRAMES = ("that", "says", "said", "states", "stated", "means", "explained", "confirm",
           "confirmed", "confirms")
_IRREGULAR = {"given": "giving", "made": "making", "done": "doing", "sent": "sending",
              "paid": "paying", "taken": "taking", "kept": "keeping", "held": "holding",
              "sold": "selling", "seen": "seeing", "shown": "showing", "put": "putting",
              "found": "finding", "brought": "bringing", "bought": "buying", "told": "telling",
              "set": "setting", "left": "leaving", "met": "meeting", "built": "building"}
_DETERMINERS = frozenset("the a an your our this that these those any some".split())


def _gerund_of(done: str) -> str | None:
    """"cancelled" -> "cancelling", "applied" -> "applying", "given" -> "giving"."""
    low = done.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low.endswith("ied"):
        return low[:-3] + "ying"
    if low.endswith("eed"):
        return low[:-1] + "ing"
    if low.endswith("ed") and len(low) > 4:
        return low[:-2] + "ing"
    return None


def instead_of_limit(core: str) -> str | None:
    """The sentence with its limit said as "instead of ..." (see _LIMIT_SHAPES), or None
    when it is not shaped so."""
    for shape, regex in _LIMIT_SHAPES:
        m = regex.search(core)
        if m is None:
            continue
        subject_end = m.end("subject")
        loose = shape in ("possible", "none")  # the limit starts its own clause
        limit = m.start() + 1 if loose else subject_end + 1
        starts = [f for f in _SUBJECT_START_RE.finditer(core, 0, limit)
                  if loose or f.end() <= subject_end + 1]
        if not starts:
            continue
        frame = starts[-1]
        subject = "" if loose else core[frame.end():subject_end].strip()
        rest = m.group("rest").rstrip()
        if shape == "passive":
            gerund = _gerund_of(m.group("done"))
            if not subject and frame.group().strip().casefold() == "and":
                subject = "it"  # "The deposit is non-refundable and cannot be moved"
            if gerund is None or not subject or len(subject.split()) > 8:
                continue
            words = f"{gerund} {_lower_common(subject)}{rest}"
        elif shape == "possible":
            words = f"{gerund_of_verb(m.group('verb'))}{rest}"
        elif shape == "unavailable":
            if not subject or len(subject.split()) > 8 or subject.casefold() in (
                    "it", "this", "that", "there"):
                continue
            words = f"{_lower_common(subject)}{rest}"
        elif shape == "none":
            words = f"{m.group('thing')}{rest}"
        elif shape in ("expected", "let"):
            words = f"{gerund_of_verb(m.group('verb'))}{rest}"
        else:  # refuse
            verb = m.group("verb")
            rest_words = rest.lstrip()
            if verb.casefold() in ("have", "offer", "provide", "give") and rest_words.casefold(
                    ).startswith(("any ", "a ", "an ")):
                words = rest_words.split(" ", 1)[1] if " " in rest_words else rest_words
            else:
                words = f"{gerund_of_verb(verb)}{rest}"
        head = frame.group().strip().rstrip(",").casefold()
        before = core[:frame.start()].rstrip(" ,")
        if head == "and" and before:
            return f"{before}, and instead of {words.strip()}"
        if head in _FRAMES or head in ("however", "unfortunately", "sadly", "but", "so"):
            before = before if head in ("but", "so", "however") else ""
            if head in _FRAMES:
                before = ""  # "Please note that ...", "the form says ...": the frame goes too
        phrase = f"instead of {words.strip()}"
        if before:
            return f"{before}, {phrase}"
        greeting = GREETING_RE.match(core, 0, frame.start())
        if greeting is not None and greeting.group("punct"):
            # "Hi Mr Delgado, unfortunately we do not ...": the frame goes, the greeting stays
            return f"{core[:greeting.end()].rstrip()} {phrase}"
        return phrase[:1].upper() + phrase[1:]
    return None


def gerund_of_verb(verb: str) -> str:
    return gerund(verb.lower())


def _lower_common(subject: str) -> str:
    """The subject as it reads after "instead of": "The PCN" -> "the PCN"; names keep
    their capitals."""
    first = subject.split()[0]
    if first.casefold() in _DETERMINERS or first.islower() or (
            first[:1].isupper() and first[1:].islower() and first.casefold() in _COMMON_NOUNS):
        return subject[:1].lower() + subject[1:]
    return subject


_COMMON_NOUNS = frozenset("refunds refund tickets ticket data deposits gift vouchers voucher "
                          "late bespoke orders returns exchanges bookings payments".split())


def join_tail(sentence: str, line: str) -> str:
    """The line joined to the end of the sentence: "Instead of X, what I can do is [...]."
    When the sentence already holds the line's opening words ("What I can do about the
    fee"), only the rest of the line is added ("... is [...]"). A limit with no verb of
    ours to lead with ("Refunds can't be given for X") is turned round first."""
    core = sentence.rstrip(_END_PUNCTUATION)
    close = sentence[len(core):].strip() or "."
    if line.casefold().startswith("what i can do") and (turned := instead_of_limit(core)):
        core = turned
    words = line.rstrip(".!?\u2026 ")
    lead, sep, rest = words.partition(" is ")
    if sep and lead.casefold() in core.casefold():
        return f"{core} is {rest}{close}"
    return f"{core}, {words[:1].lower()}{words[1:]}{close}"


def _stronger(a: str, b: str) -> str:
    """Of two separators, the one with more line breaks."""
    return a if a.count("\n") >= b.count("\n") else b


def _apply(doc: Doc, start: int, end: int, edits: Sequence[tuple[int, int, str]]) -> str:
    """The sentence with its word edits applied and the seams tidied."""
    if not edits:
        return doc.text[start:end]
    parts: list[str] = []
    cursor = start
    at_start = False
    for e_start, e_end, words in sorted(edits):
        e_start, e_end = _with_marks(doc.text, e_start, e_end)
        if e_start < cursor:  # overlaps an earlier edit: a removal goes on past it
            if words or e_end <= cursor:
                continue
            e_start = cursor
        at_start = at_start or not doc.text[start:e_start].strip()
        parts.append(doc.text[cursor:e_start])
        parts.append(words)
        cursor = e_end
    parts.append(doc.text[cursor:end])
    return _tidy("".join(parts), at_start)


def _with_marks(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen an edit to take the other half of a Slack mark (*bold*) it cuts through."""
    for mark in "*_~":
        if text.count(mark, start, end) % 2:
            if text.startswith(mark, end):
                end += 1
            elif start > 0 and text[start - 1] == mark:
                start -= 1
    return start, end


_PLACEHOLDER_RE = re.compile(r"\s*\[[^\[\]\n]{1,60}\]")


def _once_per_sentence(text: str) -> str:
    """A placeholder ("[by 3pm today]") said once per sentence: later copies go."""
    seen: set[str] = set()

    def once(m: re.Match[str]) -> str:
        key = m.group().strip()
        if key in seen:
            return ""
        seen.add(key)
        return m.group()
    return _PLACEHOLDER_RE.sub(once, text)


def _tidy(text: str, at_start: bool) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"\s*[,;:\u2013\u2014-]\s*([.!?])", r"\1", text)
    text = re.sub(r"[ \t]+([,.;:!?])", r"\1", text)
    text = _TRAILING_CONJUNCTION_RE.sub(r"\1", text.strip())
    text = _once_per_sentence(text)
    if at_start:
        text = LEADING_JUNK_RE.sub("", text)
        text = capitalise(text)
    if not re.search(r"\w", text):
        return ""
    return text.strip()
