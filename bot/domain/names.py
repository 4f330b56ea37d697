"""The customer's name at the start of an agent's report (plain text, no Slack).

    split_customer("for Dana Lee: charged twice")  -> ("Dana Lee", "charged twice")
    split_customer("for 2 hours nobody answered")  -> (None, "for 2 hours nobody answered")
"""

from __future__ import annotations

import re

MAX_NAME_CHARS = 80  # longer names are cut at a word boundary
MAX_CANDIDATE_CHARS = 160  # anything longer before the separator is not a name
MAX_NAME_WORDS = 8
MAX_RUN_WORDS = 5
# Slack references (<@U123>, <!channel>, <#C1|x>) before the name are skipped, and so
# are the "@maria" / "#support" they read as once the command text has been made plain.
_LEADING_REFS_RE = re.compile(r"(?:(?:<[^<>]{0,200}>|[@#][\w.\-]{1,80})\s*)+")
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
    thirteen fourteen fifteen sixteen seventeen eighteen nineteen thirty forty fifty
    sixty seventy eighty ninety hundred half quarter couple few dozen
    customer customers client clients guest guests caller callers patient patients user
    users member members visitor visitors buyer shopper tenant resident subscriber
    internal external team staff agent colleague someone visibility background awareness
    whatever summary details detail subject urgently immediately called emailed rang
    phoned texted wrote says said was is has had got came went wants needs
""".split())
# Words of a subject line rather than a name ("Re: Late Delivery", "for August delivery").
_SUBJECT_WORDS = frozenset("""
    late wrong missing delivery deliveries delivered charge charges charged refund refunds
    order orders invoice invoices payment payments billing broken damaged delayed lost
    faulty overcharged double complaint complaints issue issues problem problems outage
    error errors cancellation cancelled subscription parcel package shipment return
    returns query request ticket account booking reservation
""".split())
# Words typed after a name that belong to the report: "for Dana Lee URGENT:", "Dana Lee
# VIP charged twice", "Dana Lee Called 3 times". Short words ("An", "Le") may end a name.
_TAIL_WORDS = frozenset("""
    urgent urgently asap vip important critical priority please high low normal escalated
    escalation sev1 sev2 p1 p2 angry furious irate livid upset frustrated annoyed unhappy
    disappointed mad fyi again also still today tonight yesterday tomorrow now again
    called emailed rang phoned texted wrote says said was is has had got came went wants
    needs complained customer client guest
""".split())
_MONTHS = frozenset("""january february march april may june july august september
    october november december""".split())
MAX_LOWERCASE_NAME_WORDS = 4


def split_customer(text: str,
                   cue_words: frozenset[str] = frozenset()) -> tuple[str | None, str]:
    """Return (customer name or None, the rest of the report).

    Accepted forms, at the start of the report:
      "for Dana Lee: ...", "for Dana Lee - ...", "for Dana Lee, ...", "for Dana Lee waited ...",
      "customer: Acme Corp, ...", "client: Acme ...", "customer Acme: ...", "re: Dana Lee: ...".
    The name must start with a capital or a letter from an uncased script (山田, محمد),
    must not be a number or a filler word ("for 2 hours", "for the third time"), and is
    capped at 80 characters. After a label and a colon ("for dana lee:", "customer: dana
    lee,") a lower-case name is accepted too, unless its words are filler or `cue_words`.
    Words typed after the name ("Dana Lee URGENT:", "Dana Lee (VIP),") stay in the rest.
    Without a name the whole text is returned as the rest.
    """
    body = _LEADING_REFS_RE.sub("", text, count=1) if text.startswith(("<", "@", "#")) else text
    label = _LABEL_RE.match(body)
    if not label:
        return None, text
    word = label.group("label").casefold()
    has_colon = label.group("colon") is not None
    if word == "re" and not has_colon:
        return None, text
    lenient = word == "for" or (has_colon and word != "re")
    lower_ok = cue_words if lenient else None
    found = _name_before_separator(body, label.end(), has_colon, lower_ok) or (
        _name_run(body, label.end()) if lenient else None)
    if not found:
        return None, text
    name, rest = found
    return name, rest or text


def _name_before_separator(body: str, start: int, has_colon: bool,
                           cue_words: frozenset[str] | None) -> tuple[str, str] | None:
    """A name followed by ':' ',' or a dash, e.g. "José Núñez: ..."."""
    sep = _SEP_RE.search(body, start, start + MAX_CANDIDATE_CHARS + 2)
    if not sep:
        return None
    name, extra = _split_off_extra(body[start:sep.start()].strip())
    words = name.split()
    if not _is_name(words):
        # "for dana lee: ..." or "customer: dana lee, ...": the label and colon say it is one
        colon = has_colon or sep.group().strip() in (":", "：")
        if cue_words is None or not colon or not _is_lowercase_name(words, cue_words):
            return None
    # Words cut off the name ("URGENT", "(VIP)") stay in the report, with what follows.
    rest = extra + body[sep.start():] if extra else body[sep.end():]
    return _clean_name(name), rest.strip()


def _name_run(body: str, start: int) -> tuple[str, str] | None:
    """A short run of capitalised words with no separator: "Dana Lee waited ..."."""
    words: list[tuple[str, int]] = []  # (word, where it starts in body)
    end = start
    rest_from: int | None = None
    following = ""  # the word that ended the run
    for match in _WORD_RE.finditer(body, start):
        word = match.group()
        core = word.strip(_EDGE_PUNCT)
        if not _run_word_ok(core, first=not words):
            following = core
            break
        if len(words) == MAX_RUN_WORDS:
            return None  # a long run of capitalised words is a title or a shout, not a name
        if core.endswith(("'s", "’s")):  # "for Dana Lee's order ..." keeps the possessive
            words.append((core[:-2], match.start()))
            rest_from = _start_of_run(body, start)
            break
        words.append((core, match.start()))
        end = match.end()
        if _ends_run(word, core):
            break
    while words and _not_name_tail(words[-1][0]):
        if rest_from is None:  # "Dana Lee URGENT refund ...": URGENT belongs to the report
            end = words[-1][1]
        words.pop()
    names = [w for w, _ in words]
    if not names or not _is_name(names):
        return None
    if names[-1].casefold() in _MONTHS and _is_subject(following):
        return None  # "for May invoice ...", "for August 3 delivery ..."
    rest = body[rest_from:] if rest_from is not None else body[end:]
    return _clean_name(" ".join(names)), rest.lstrip(" ,;:-–—").strip()


def _split_off_extra(candidate: str) -> tuple[str, str]:
    """("Dana Lee", "URGENT") from "Dana Lee URGENT"; ("Dana Lee", "(VIP)") from
    "Dana Lee (VIP)": severity words and remarks after a name belong to the report."""
    if "(" not in candidate and not _not_name_tail(candidate[candidate.rfind(" ") + 1:]
                                                   .strip(_EDGE_PUNCT)):
        return candidate, ""  # the usual case: nothing after the name
    words = list(_WORD_RE.finditer(candidate))
    keep = next((i for i, m in enumerate(words) if m.group().startswith("(")), len(words))
    while keep and _not_name_tail(words[keep - 1].group().strip(_EDGE_PUNCT)):
        keep -= 1
    if keep == len(words):
        return candidate, ""
    if keep == 0:
        return "", candidate
    return candidate[:words[keep - 1].end()], candidate[words[keep].start():]


def _not_name_tail(word: str) -> bool:
    folded = word.casefold()
    return folded in _TAIL_WORDS or folded in _PARTICLES


def _is_subject(word: str) -> bool:
    return word.isdigit() or word.casefold() in _SUBJECT_WORDS


def _is_lowercase_name(words: list[str], cue_words: frozenset[str]) -> bool:
    """"dana lee", "mrs o'brien": letters only, no filler, no word of a cue."""
    if not words or len(words) > MAX_LOWERCASE_NAME_WORDS:
        return False
    for word in words:
        core = word.strip(_EDGE_PUNCT).casefold()
        if not core or not core.replace("'", "").replace("’", "").replace("-", "").isalpha():
            return False
        if core in _STOP_WORDS or core in _SUBJECT_WORDS or core in cue_words:
            return False
    return words[-1].strip(_EDGE_PUNCT).casefold() not in _PARTICLES


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
    if not first or not _starts_like_name(first) or _is_filler(first):
        return False
    if words[-1].strip(_EDGE_PUNCT).casefold() in _PARTICLES:
        return False
    for word in words[1:]:
        core = word.strip(_EDGE_PUNCT)
        if core and not (_starts_like_name(core) or core.isdigit()
                         or core.casefold() in _PARTICLES):
            return False
        if core.casefold() in _SUBJECT_WORDS:
            return False
    return True


def _is_filler(word: str) -> bool:
    """A filler, number, label or subject word: "For Fifteen", "For Forty-five", "Re: Late"."""
    folded = word.casefold()
    head = folded.partition("-")[0]
    return folded in _STOP_WORDS or head in _STOP_WORDS or folded in _SUBJECT_WORDS


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

