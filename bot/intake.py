"""Read an agent's free-text report into a structured `Report` (no Slack, no I/O).

    read_report("for Dana Lee: charged twice, emailed us furious", playbook)
    -> Report(summary="charged twice, emailed us furious", customer="Dana Lee",
              contact="email", category="billing_error", category_cues=("charged twice",),
              emotion="irate", severity="normal")

Everything the text is matched against (cues, thresholds) comes from the playbook;
the cue matchers are compiled once per playbook (see `Playbook.matchers`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.playbook import FALLBACK_CATEGORY, UNKNOWN_CONTACT, Playbook, tokenize

MAX_NAME_CHARS = 80  # longer names are cut at a word boundary
MAX_CANDIDATE_CHARS = 160  # anything longer before the separator is not a name
MAX_NAME_WORDS = 8
MAX_RUN_WORDS = 5


@dataclass(frozen=True)
class Report:
    summary: str  # the report without the customer prefix, whitespace-normalised
    customer: str | None  # None when the text names nobody
    contact: str  # a playbook channel key, or "unknown"
    category: str  # a playbook category key ("general" when nothing matched)
    category_cues: tuple[str, ...]  # the cues that chose the category, in text order
    emotion: str  # "calm" | "upset" | "irate"
    severity: str  # "normal" | "high" | "critical"


def read_report(text: str, playbook: Playbook) -> Report:
    """Turn an agent's description of what went wrong into a Report."""
    clean = _normalize(text)
    customer, summary = split_customer(clean)
    tokens = tokenize(summary)
    category, cues = _category(tokens, playbook)
    return Report(
        summary=summary,
        customer=customer,
        contact=_contact(tokens, playbook),
        category=category,
        category_cues=cues,
        emotion=_emotion(summary, tokens, playbook),
        severity=_severity(tokens, playbook),
    )


def _normalize(text: str | None) -> str:
    """NFC-normalise and collapse all runs of whitespace (incl. newlines) to one space."""
    if not text:
        return ""
    if not isinstance(text, str):
        text = str(text)
    return " ".join(unicodedata.normalize("NFC", text).split())


# -- customer name -------------------------------------------------------------------
# Slack references (<@U123>, <!channel>, <#C1|x>) before the name are skipped.
_LEADING_REFS_RE = re.compile(r"(?:<[^<>]{0,200}>\s*)+")
_LABEL_RE = re.compile(
    r"(?P<label>for|customer\s+name|customer|client|re)\b(?P<colon>\s*[:：])?\s*",
    re.IGNORECASE,
)
# Where a name ends: a colon (not a time like 10:30), a comma, or a spaced/long dash.
_SEP_RE = re.compile(r"\s*(?:[:：](?!\d)|[,，、;]|\s[-–—]+\s|[–—])\s*")
_WORD_RE = re.compile(r"\S+")
_FORBIDDEN_IN_NAME = frozenset("<>@#|*_~`[]{}=/\\")
_EDGE_PUNCT = ".,;:!?'\"()[]“”‘’"
_SENTENCE_END = ".!?"
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "mx", "dr", "prof", "st", "jr", "sr", "mt"})
_PARTICLES = frozenset({
    "de", "da", "do", "dos", "das", "del", "della", "der", "den", "di", "du", "la", "le",
    "van", "von", "y", "e", "bin", "binti", "al", "el", "ibn", "&", "and", "of",
})
# Capitalised words that start phrases like "For Two hours" rather than a name.
_STOP_WORDS = frozenset("""
    a an the this that these those my our your his her their its it i we you he she they
    me us him them one two three four five six seven eight nine ten eleven twelve twenty
    first second third fourth fifth last next several many most more less some any all
    every each another other over under about around almost nearly only just ever now
    today tonight tomorrow yesterday hours hour days day weeks week months month years year
    minutes minute ages monday tuesday wednesday thursday friday saturday sunday january
    february march july september october november december christmas weekend example
    instance reference context record what why how when where who which there here no not
    none nothing everyone everybody someone somebody anyone anybody urgent asap vip
    important critical priority please order ticket case invoice account booking issue
    complaint refund sure real once while info information hi hello hey thanks fyi note
    update still again also same new old angry furious irate livid upset frustrated
    annoyed unhappy disappointed mad high low normal escalated escalation sev1 p1 p2
""".split())


def split_customer(text: str) -> tuple[str | None, str]:
    """Return (customer name or None, the rest of the report).

    Accepted forms, at the start of the report:
      "for Dana Lee: ...", "for Dana Lee - ...", "for Dana Lee, ...", "for Dana Lee waited ...",
      "customer: Acme Corp, ...", "client: Acme ...", "customer Acme: ...", "re: Dana Lee: ...".
    The name must start with a capital or a letter from an uncased script (山田, محمد),
    must not be a number or a filler word ("for 2 hours", "for the third time"), and is
    capped at 80 characters. Without a name the whole text is returned as the rest.
    """
    body = _LEADING_REFS_RE.sub("", text, count=1) if text.startswith("<") else text
    label = _LABEL_RE.match(body)
    if not label:
        return None, text
    word = label.group("label").casefold()
    has_colon = label.group("colon") is not None
    if word == "re" and not has_colon:
        return None, text
    lenient = word == "for" or (has_colon and word != "re")
    found = _name_before_separator(body, label.end()) or (
        _name_run(body, label.end()) if lenient else None)
    if not found:
        return None, text
    name, rest = found
    return name, rest or text


def _name_before_separator(body: str, start: int) -> tuple[str, str] | None:
    """A name followed by ':' ',' or a dash, e.g. "José Núñez: ..."."""
    sep = _SEP_RE.search(body, start, start + MAX_CANDIDATE_CHARS + 2)
    if not sep:
        return None
    candidate = body[start:sep.start()].strip()
    if not _is_name(candidate.split()):
        return None
    return _clean_name(candidate), body[sep.end():].strip()


def _name_run(body: str, start: int) -> tuple[str, str] | None:
    """A short run of capitalised words with no separator: "Dana Lee waited ..."."""
    words: list[str] = []
    end = start
    rest_from: int | None = None
    for match in _WORD_RE.finditer(body, start):
        word = match.group()
        core = word.strip(_EDGE_PUNCT)
        if not _run_word_ok(core, first=not words):
            break
        if len(words) == MAX_RUN_WORDS:
            return None  # a long run of capitalised words is a title or a shout, not a name
        if core.endswith(("'s", "’s")):  # "for Dana Lee's order ..." keeps the possessive
            words.append(core[:-2])
            rest_from = _start_of_run(body, start)
            break
        words.append(core)
        end = match.end()
        if _ends_run(word, core):
            break
    while words and words[-1].casefold() in _PARTICLES:
        words.pop()
    if not words or not _is_name(words):
        return None
    rest = body[rest_from:] if rest_from is not None else body[end:]
    return _clean_name(" ".join(words)), rest.lstrip(" ,;:-–—").strip()


def _start_of_run(body: str, start: int) -> int:
    return start + (len(body[start:]) - len(body[start:].lstrip()))


def _run_word_ok(core: str, first: bool) -> bool:
    if not core or any(ch in _FORBIDDEN_IN_NAME for ch in core):
        return False
    if first:
        return _starts_like_name(core)
    return _starts_like_name(core) or core.casefold() in _PARTICLES


def _ends_run(word: str, core: str) -> bool:
    """Stop after "Lee." or "Lee," or an uncased-script word (山田太郎 has no spaces)."""
    if _is_uncased(core[0]):
        return True
    if word[-1] in ",;:":
        return True
    if word[-1] in _SENTENCE_END:
        return not (len(core) == 1 or core.casefold() in _ABBREVIATIONS)
    return False


def _is_name(words: list[str]) -> bool:
    """True for 1-8 name-like words that start with a capital and aren't filler."""
    if not words or len(words) > MAX_NAME_WORDS:
        return False
    text = " ".join(words)
    if len(text) > MAX_CANDIDATE_CHARS or any(ch in _FORBIDDEN_IN_NAME for ch in text):
        return False
    first = words[0].strip(_EDGE_PUNCT)
    if not first or not _starts_like_name(first) or first.casefold() in _STOP_WORDS:
        return False
    if words[-1].strip(_EDGE_PUNCT).casefold() in _PARTICLES:
        return False
    for word in words[1:]:
        core = word.strip(_EDGE_PUNCT)
        if core and not (_starts_like_name(core) or core.isdigit()
                         or core.casefold() in _PARTICLES):
            return False
    return True


def _starts_like_name(word: str) -> bool:
    """Starts with an upper-case letter, or a letter of a script without case (漢字, عربي)."""
    ch = word[0]
    return ch.isalpha() and not ch.islower()


def _is_uncased(ch: str) -> bool:
    return ch.isalpha() and not ch.isupper() and not ch.islower()


def _clean_name(name: str) -> str:
    """Trim stray punctuation (but keep "Inc." style dots); cut at a word within 80 chars."""
    name = name.strip(" ,;:-–—\"'“”‘’()")
    if len(name) > MAX_NAME_CHARS:
        cut = name[:MAX_NAME_CHARS + 1].rsplit(" ", 1)[0]
        name = cut if cut and len(cut) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS]
    return name.rstrip(" ,;:-–—")


# -- category, contact, severity, emotion ---------------------------------------------
def _category(tokens: tuple[str, ...], playbook: Playbook) -> tuple[str, tuple[str, ...]]:
    """Highest cue score wins (a cue scores its word count); ties go to playbook order."""
    scores: dict[str, int] = {}
    cues: dict[str, list[str]] = {}
    for hit in playbook.matchers.category.find(tokens):
        for label in hit.labels:
            scores[label] = scores.get(label, 0) + hit.weight
            found = cues.setdefault(label, [])
            if hit.cue not in found:
                found.append(hit.cue)
    if not scores:
        return FALLBACK_CATEGORY, ()
    best, best_score = FALLBACK_CATEGORY, 0
    for category in playbook.categories:
        score = scores.get(category.key, 0)
        if score > best_score:
            best, best_score = category.key, score
    return best, tuple(cues.get(best, ()))


def _contact(tokens: tuple[str, ...], playbook: Playbook) -> str:
    """The channel mentioned first, or "unknown"."""
    hits = playbook.matchers.contact.find(tokens)
    return hits[0].labels[0] if hits else UNKNOWN_CONTACT


def _severity(tokens: tuple[str, ...], playbook: Playbook) -> str:
    """critical beats high beats normal."""
    labels = {label for hit in playbook.matchers.severity.find(tokens) for label in hit.labels}
    if "critical" in labels:
        return "critical"
    return "high" if "high" in labels else "normal"


_LETTER_WORD_RE = re.compile(r"[^\W\d_]{3,}")
_BANG_RUN_RE = re.compile(r"[!！?？]+")


def _emotion(summary: str, tokens: tuple[str, ...], playbook: Playbook) -> str:
    """irate: irate cue, shouting or many "!"; upset: upset cue or "!!"; else calm."""
    rules = playbook.emotion
    labels = {label for hit in playbook.matchers.emotion.find(tokens) for label in hit.labels}
    marks = _exclamations(summary)
    if "irate" in labels or marks >= rules.irate_exclamations or _is_shouting(summary, playbook):
        return "irate"
    if "upset" in labels or marks >= rules.upset_exclamations:
        return "upset"
    return "calm"


def _exclamations(text: str) -> int:
    """The most exclamation marks in one run of !/? ("WHY?!?!" counts 2)."""
    if "!" not in text and "！" not in text:
        return 0
    return max(run.count("!") + run.count("！") for run in _BANG_RUN_RE.findall(text))


def _is_shouting(text: str, playbook: Playbook) -> bool:
    """Mostly capitals, counting only letters of words with 3+ letters."""
    letters = "".join(_LETTER_WORD_RE.findall(text))
    if len(letters) < playbook.emotion.shouting_min_letters:
        return False
    upper = sum(map(str.isupper, letters))
    return upper / len(letters) >= playbook.emotion.shouting_ratio
