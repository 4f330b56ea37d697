"""Read an agent's free-text report into a structured `Report` (no Slack, no I/O).

    read_report("for Dana Lee: charged twice, emailed us furious", playbook)
    -> Report(summary="charged twice, emailed us furious", customer="Dana Lee",
              contact="email", category="billing_error", category_cues=("charged twice",),
              emotion="irate", severity="normal", contacts=("email",), also_categories=())

Everything the text is matched against (cues, thresholds) comes from the playbook;
the cue matchers are compiled once per playbook (see `Playbook.matchers`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from bot.domain import situation
from bot.domain.name_finder import find_customer
from bot.domain.names import split_customer
from bot.domain.playbook import (
    FALLBACK_CATEGORY,
    IGNORED_CONTACT,
    UNKNOWN_CONTACT,
    Playbook,
)
from bot.domain.text import CueHit, normalize, tokenize

__all__ = ["Report", "read_report", "split_customer"]


@dataclass(frozen=True)
class Report:
    summary: str  # the report without the customer prefix, whitespace-normalised
    customer: str | None  # None when the text names nobody
    contact: str  # a playbook channel key, or "unknown"
    category: str  # a playbook category key ("general" when nothing matched)
    category_cues: tuple[str, ...]  # the cues that chose the category, in text order
    emotion: str  # "calm" | "upset" | "irate"
    severity: str  # "normal" | "high" | "critical"
    contacts: tuple[str, ...] = ()  # every channel mentioned, in text order
    also_categories: tuple[str, ...] = ()  # a second breakdown the report describes
    stakes: str | None = None  # what is at stake and when ("wedding on Saturday")
    language: str = "en"  # ISO 639-1 code of the report's language


# A Report is immutable and depends only on the text, the playbook (identity-hashed: a
# reloaded playbook is a new key) and the model: a Slack retry, a form sent again, a
# report pasted twice is read once.
REPORTS_KEPT = 1024


def read_report(text: str, playbook: Playbook, reader: Reader | None = None) -> Report:
    """Turn an agent's description of what went wrong into a Report. With a `reader` (the
    language model), what the cue lists can't enumerate is read from the meaning too."""
    return _read_report(text, playbook, reader)


def forget_reports() -> None:
    """Drop the kept readings: after the thresholds below change (cross-validation)."""
    _read_report.cache_clear()


@lru_cache(maxsize=REPORTS_KEPT)
def _read_report(text: str, playbook: Playbook, reader: Reader | None) -> Report:
    clean = normalize(text)
    customer, summary = split_customer(clean, playbook.cue_words)
    customer = customer or find_customer(clean)
    tokens = tokenize(summary)
    category, cues, also = _category(tokens, playbook)
    contacts = _contacts(tokens, playbook, summary)
    emotion = _emotion(summary, tokens, playbook)
    if reader is not None:
        guess = reader.predict(summary)
        read = _model_category(category, cues, guess)
        if read != category and read in also:  # the model puts the second problem first
            also = (category,)
        category = read
        emotion = _model_feeling(emotion, guess)
        contacts = _model_contacts(contacts, guess)
    stakes, language = situation.read(clean)
    return Report(
        summary=summary,
        customer=customer,
        contact=contacts[0] if contacts else UNKNOWN_CONTACT,
        category=category,
        category_cues=cues,
        emotion=emotion,
        severity=_severity(tokens, playbook),
        contacts=contacts,
        also_categories=also,
        stakes=stakes,
        language=language,
    )


class Guess(Protocol):
    category_probs: Mapping[str, float]
    feeling_probs: Mapping[str, float]
    channel_probs: Mapping[str, float]  # empty when the model has no channel heads


class Reader(Protocol):
    def predict(self, text: str) -> Guess: ...


# How sure the model must be to overrule the cue lists. Chosen by grouped cross-validation
# on the train part (scripts/cv_reader.py, 1,573 reports): for the category the model's
# reading beat the cues at every threshold tried (0.0: 0.774, 0.5: 0.736, 0.7: 0.705), so
# with the model loaded it decides, and the cues name the second problem and serve when
# there is no model; for the feeling, 0.7 read best (0.5: 0.769, 0.6: 0.777, 0.7: 0.781,
# 0.8: 0.780) over a default "upset" (anger or calm found by the cues always stands).
MODEL_OVERRULES_CUES = 0.0
MODEL_OVERRULES_DEFAULT_FEELING = 0.7


def _model_category(category: str, cues: tuple[str, ...], guess: Guess) -> str:
    best = max(guess.category_probs, key=guess.category_probs.get)
    if not cues:  # no cue matched: the model's reading, not "general" by default
        return best
    if best != category and guess.category_probs[best] >= MODEL_OVERRULES_CUES:
        return best
    return category


# How sure the model must be that the customer was in touch a way the cue lists did not
# read ("the nurse told him", "came back to the counter": in person, never named), and how
# unsure to drop a channel the cues read. Chosen by grouped cross-validation on the train
# part (scripts/cv_reader.py --channel-adds … --channel-drops …).
MODEL_ADDS_CHANNEL = 0.95
MODEL_DROPS_CHANNEL = 0.0


def _model_contacts(contacts: tuple[str, ...], guess: Guess) -> tuple[str, ...]:
    probs = getattr(guess, "channel_probs", None) or {}
    kept = tuple(c for c in contacts if probs.get(c, 1.0) >= MODEL_DROPS_CHANNEL)
    added = tuple(c for c, p in probs.items() if p >= MODEL_ADDS_CHANNEL and c not in kept)
    return kept + added


def _model_feeling(emotion: str, guess: Guess) -> str:
    """The cue lists decide when they found anger or calm; when they found nothing
    (upset by default) the model may read anger or calm from the situation."""
    if emotion != "upset":
        return emotion
    best = max(guess.feeling_probs, key=guess.feeling_probs.get)
    return best if guess.feeling_probs[best] >= MODEL_OVERRULES_DEFAULT_FEELING else emotion


# -- category, contact, severity, emotion ---------------------------------------------
# A second category must score this much (a two-word cue, or two cues) to be shown with
# the first: "double billed and the agent hung up on her" is rude *and* a billing error.
SECONDARY_MIN_SCORE = 2


def _category(tokens: tuple[str, ...],
              playbook: Playbook) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(category, its cues, a second category or ()). Highest cue score wins (a cue
    scores its word count); ties go to playbook order."""
    scores: dict[str, int] = {}
    cues: dict[str, list[str]] = {}
    for hit in playbook.matchers.category.find(tokens):
        for label in hit.labels:
            scores[label] = scores.get(label, 0) + hit.weight
            found = cues.setdefault(label, [])
            if hit.cue not in found:
                found.append(hit.cue)
    if not scores:
        return FALLBACK_CATEGORY, (), ()
    best, best_score, second, second_score = FALLBACK_CATEGORY, 0, "", 0
    for category in playbook.categories:  # strictly higher wins: ties keep playbook order
        score = scores.get(category.key, 0)
        if score > best_score:
            second, second_score = best, best_score
            best, best_score = category.key, score
        elif score > second_score:
            second, second_score = category.key, score
    also = (second,) if second_score >= SECONDARY_MIN_SCORE else ()
    return best, tuple(cues.get(best, ())), also


def _contacts(tokens: tuple[str, ...], playbook: Playbook, text: str = "") -> tuple[str, ...]:
    """Every channel the customer used, first mention first ("email address" is not a
    channel). `text`, the report as written, lets a public @handle read as social media.
    A letter in the customer's own words names no channel by itself: it may have come
    by post, form or chat."""
    found: list[str] = []
    hits = [hit for hit in playbook.matchers.contact.find(tokens)
            if not _contact_denied(tokens, hit)]
    in_chat = any("chat" in hit.labels for hit in hits)
    for hit in hits:
        # "says she'll put it on Instagram" is a threat, not a post
        if "social" in hit.labels and _threatened(tokens, hit.position):
            continue
        # "transferred four times in the chat": a hand-over there is no phone call
        if in_chat and hit.cue in _HAND_OVERS:
            continue
        for label in hit.labels:
            if label != IGNORED_CONTACT and label not in found:
                found.append(label)
            break
    if text and "social" not in found and _HANDLE_RE.search(text):
        found.append("social")
    return tuple(found)


# Cues that say the customer was handed on, which is a call unless the report is about
# a chat ("put through to 4 different specialists in this chat").
_HAND_OVERS = frozenset("""transferred transfers transférée transféré transferida transferido
    weiterverbunden verbunden doorverbonden durchgestellt herverbunden przełączali""".split()
                        + ["put through", "me pasaron", "me han pasado", "spoke to",
                           "cut off", "got cut off"])

# A public handle written to or quoted: "@NorthRailHelp your guard ...", "tweeted @us".
# An email address (name@example.com) has no space before its "@".
_HANDLE_RE = re.compile(r"(?:^|(?<=[\s(\"'“‘]))@[A-Za-z_][A-Za-z0-9_]{1,30}\b")


def _contact_denied(tokens: tuple[str, ...], hit: CueHit) -> bool:
    """A mention that is no contact: denied ("nobody rang her back", "nadie me llama",
    "personne ne l'a rappelée"), only promised or expected ("was supposed to call",
    "devait me rappeler"), or a name ("a lady called Sue",
    "called my husband a useless old man", "calling us thieves")."""
    position = hit.position
    if hit.cue in ("called", "calling", "calls") and _names_someone(tokens, position):
        return True
    medium = tokens[position] in _MEDIUM or (position and tokens[position - 1] in _MEDIUM)
    for i in range(position - 1, max(-1, position - 1 - CONTACT_DENIAL_REACH), -1):
        token = tokens[i]
        if token in _NEGATIONS or token in _CONTACT_DENIALS or \
                (token in _NOT_YET and not medium):
            if token in _NEGATIONS and _intensifies(tokens, i, position):
                return False
            return True
        if token in _NEGATION_STOPS or not token[0].isalnum():
            return False
    return False


CONTACT_DENIAL_REACH = 3
# Denials in the report's other languages (the English ones are the feelings' own).
_CONTACT_DENIALS = frozenset("""
    nadie ni ningún ninguna nunca jamás sin personne ne jamais aucun aucune sans ninguém nem
    nenhum nenhuma niemand kein keine keinen keiner nie nicht ohne nessuno nessuna mai non
    senza geen niet nooit zonder nikt nie
""".split())
# A contact still to come: promised or expected, not made ("was supposed to call",
# "devait me rappeler"). A channel named as the medium stays a contact: "promised on
# the phone", "le prometieron por chat".
_NOT_YET = frozenset("""
    will ll would wd supposed promised promise promising expecting
    devait devaient doit promis debía iba prometió prometieron
    deveria devia prometeu prometeram sollte wollte versprochen doveva dovevano
""".split())
_MEDIUM = frozenset("""on over by via in through per por en pelo pela no na par au am im
    al sur op""".split())
# "called" names someone when it comes after "a"/"an" and a noun ("a lady called Sue")
# or before who was called what ("called my husband a useless old man", 'called him "mate"').
_CALLED_OBJECTS = frozenset("me him her them us you my his their our your the".split())
_CALLED_WHAT = frozenset({"a", "an", '"', "“", "«", "„"})
# Words after "called" that go on about a call, not a name ("a customer called in today").
_CALL_GOES_ON = frozenset("""in to us we you me him her them back again twice about and at on
    from for yesterday today tonight this last earlier before after the our your his their
    my a an up round over several three four five six ten re""".split())


_CALLED_PERSONS = frozenset("me him her them us you it".split())
# What follows "called her" when it was a call: "called her twice", "called us every day".
_CALL_OBJECT_GOES_ON = frozenset("""every each daily weekly nonstop non constantly repeatedly
    multiple several many once twice three four five six ten first last earlier later late
    early immediately straight right directly personally myself himself herself ourselves
    instead then so now when while after before because as re regarding asking saying
    telling but or if with until till since during within around just only also still
    yet even all both either lots loads numerous countless this that these those
    tomorrow tonight morning afternoon evening night monday tuesday wednesday thursday
    friday saturday sunday""".split())


def _names_someone(tokens: tuple[str, ...], position: int) -> bool:
    after = tokens[position + 1] if position + 1 < len(tokens) else ""
    if position >= 2 and tokens[position - 2] in ("a", "an") and \
            tokens[position - 1].isalpha() and after.isalpha() and after not in _CALL_GOES_ON:
        return True  # "a lady called Sue", not "a customer called in" or "an agent called us"
    rest = tokens[position + 1:position + 4]
    if not rest or rest[0] not in _CALLED_OBJECTS:
        return False
    if rest[0] in _CALLED_PERSONS and len(rest) > 1 and rest[1].isalpha() and \
            rest[1] not in _CALL_GOES_ON and rest[1] not in _CALL_OBJECT_GOES_ON:
        return True  # "called her clueless", "calling us thieves", "called him mate"
    return any(token in _CALLED_WHAT for token in rest[1:3])


# Words that make a later social-media mention a threat, not a contact: "will post it on
# Facebook", "threatening a Google review", "va a contarlo en redes", "menace de … avis".
_THREAT_WORDS = frozenset("""
    will ll ill shell theyll youll going gonna threatening threatens threatened threat
    wants plans planning about
    if unless otherwise va vais vai vou voy vamos menace menacé menaça amenaza amenazó ameaça
    droht wird werde
    hell or si parle wenn falls
""".split())  # "he'll" is "hell" once tokenized; "refund me or it goes on Reddit"
THREAT_REACH = 6


def _threatened(tokens: tuple[str, ...], position: int) -> bool:
    for i in range(position - 1, max(-1, position - 1 - THREAT_REACH), -1):
        token = tokens[i]
        if token in _THREAT_WORDS:
            return True
        if not token[0].isalnum() or token in _NEGATION_STOPS:
            return False
    return False


def _severity(tokens: tuple[str, ...], playbook: Playbook) -> str:
    """critical beats high beats normal; "not urgent" counts for nothing."""
    hits = _affirmed(playbook.matchers.severity.find(tokens), tokens)
    labels = {label for hit in hits for label in hit.labels}
    if "critical" in labels:
        return "critical"
    if "high" in labels or _repeated(tokens, playbook.severity.repeat_times):
        return "high"
    return "normal"


# "not", "nobody", "isn't" (tokenized "isnt") … up to three words before a feeling or
# severity cue cancel it: "she is not angry", "nobody is angry", "not urgent".
_NEGATIONS = frozenset("""
    not no nobody noone never neither nor none without hardly isnt wasnt arent werent
    dont doesnt didnt hasnt havent hadnt wont wouldnt cant cannot couldnt shouldnt aint
""".split())
# A negation's reach ends at punctuation or a word that turns the sentence around.
_NEGATION_STOPS = frozenset({"but", "though", "although", "yet", "however", "and", "so"})
# A negation that stresses the cue rather than denying it, told by the word after it:
# "never been so angry", "no wonder she's furious", "no doubt critical", "can't believe
# how angry she is", "can't stop crying", "won't stop shouting", "not only upset".
_INTENSIFIED = {
    "never": frozenset({"been", "felt", "seen", "heard", "had"}),
    "no": frozenset({"wonder", "doubt", "question", "surprise"}),
    "without": frozenset({"doubt"}),
    "not": frozenset({"only", "just", "surprised", "surprising", "surprisingly"}),
    "cant": frozenset({"believe"}),
    "cannot": frozenset({"believe"}),
    "couldnt": frozenset({"believe"}),
}
_STOP = frozenset({"stop", "stops", "stopped", "stopping"})
# "couldn't be more upset", "can't get any angrier", "couldn't be angrier": a comparison
# nothing could top. "couldn't be less upset" and "can't be angry" stay denials.
_COULD_NOT = frozenset({"cant", "cannot", "couldnt"})
_BE = frozenset({"be", "feel", "get", "look", "sound", "have", "been"})
NEGATION_REACH = 3


def _affirmed(hits: list[CueHit], tokens: tuple[str, ...]) -> list[CueHit]:
    """The hits not negated by a word just before them (most reports have no hit)."""
    return [hit for hit in hits if not _negated(tokens, hit.position)] if hits else hits


# "upset rather than angry", "annoyed more than angry": the feeling after "than" is the
# one the customer does not have ("more than angry" alone is denied too: rarely said).
_COMPARED = frozenset({"rather", "more"})


def _compared_away(tokens: tuple[str, ...], position: int) -> bool:
    return position > 0 and tokens[position - 1] == "than" and \
        not _COMPARED.isdisjoint(tokens[max(0, position - 4):position - 1])


def _negated(tokens: tuple[str, ...], position: int) -> bool:
    for i in range(position - 1, max(-1, position - 1 - NEGATION_REACH), -1):
        token = tokens[i]
        if token in _NEGATIONS:
            return not _intensifies(tokens, i, position)
        if token in _NEGATION_STOPS or not token[0].isalnum():
            return False
    return False


def _intensifies(tokens: tuple[str, ...], at: int, cue: int) -> bool:
    """Whether the negation at `at` stresses the cue at `cue` instead of denying it."""
    token, follows = tokens[at], tokens[at + 1]  # the cue comes after, so at + 1 exists
    if follows in _STOP or follows in _INTENSIFIED.get(token, ()):
        return True
    if token not in _COULD_NOT:
        return False
    j = at + 1
    while j < cue and tokens[j] in _BE:
        j += 1
    if j == at + 1:
        return False
    # "be more upset", "get any angrier"; or the cue itself a comparative ("angrier")
    return tokens[j] in ("more", "any") if j < cue else tokens[cue].endswith("er")


_ORDINAL_RE = re.compile(r"(\d{1,4})(?:st|nd|rd|th)\Z")
_COUNT_WORDS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "dozen": 12}


def _repeated(tokens: tuple[str, ...], at_least: int) -> bool:
    """Repeat contact in figures or words: "3rd time", "called 5 times", "four times"."""
    if "times" not in tokens and "time" not in tokens:
        return False
    for i in range(1, len(tokens)):
        if tokens[i] == "times" and _count(tokens[i - 1]) >= at_least:
            return True
        if tokens[i] == "time":
            ordinal = _ORDINAL_RE.match(tokens[i - 1])
            if ordinal and int(ordinal.group(1)) >= 2:  # like "second time", already high
                return True
    return False


def _count(token: str) -> int:
    if token.isdigit() and len(token) <= 4:
        return int(token)
    return _COUNT_WORDS.get(token, 0)


_LETTER_WORD_RE = re.compile(r"[^\W\d_]{3,}")
_BANG_RUN_RE = re.compile(r"[!！?？]+")


def _emotion(summary: str, tokens: tuple[str, ...], playbook: Playbook) -> str:
    """irate: irate cue, shouting or many "!"; calm: the report says so (a calm cue and no
    upset one); otherwise upset, because nobody opens a complaint calmly."""
    rules = playbook.emotion
    found = playbook.matchers.emotion.find(tokens)
    hits = [hit for hit in _affirmed(found, tokens) if not _compared_away(tokens, hit.position)]
    labels = {label for hit in hits for label in hit.labels}
    denied = {label for hit in found if hit not in hits for label in hit.labels}
    if denied & {"upset", "irate"} and not labels & {"upset", "irate"}:
        labels.add("calm")  # "she isn't upset": the report says how they are not
    if "calm" in denied:
        labels.add("upset")  # "not calm", "wasn't polite about it": not calm at all
    marks = _exclamations(summary)
    if "irate" in labels or marks >= rules.irate_exclamations or \
            _is_shouting(summary, playbook) or _shouts_a_word(summary):
        return "irate"
    if "upset" in labels or marks >= rules.upset_exclamations:
        return "upset"
    return "calm" if "calm" in labels else "upset"


# Capitalised abbreviations are not shouting ("GDPR", "ASAP", "VAT").
_ACRONYMS = frozenset("""ASAP GDPR VAT HMRC NHS IBAN SWIFT HTML JSON HTTP HTTPS URL API SLA
    ETA ETF RSVP FAQ PDF CSV USB WIFI SMS DVLA ICO BBC CEO CFO CTO COO VIP ADSL FTTP FTTC
    MRI ECG DHL UPS TNT USPS NASA IKEA EDF SNCF RENFE DPD GLS TGV AVE IVA DNI NIF CPF RIB
    TVA TTC BAFIN DSGVO SEPA UEFA FIFA NATO TOEFL IELTS GCSE SATS""".split())
_CAPS_WORD_RE = re.compile(r"\b[A-ZÀ-Ý]{4,}\b")


def _shouts_a_word(text: str) -> bool:
    """A word of four or more capitals that is no abbreviation ("NEVER", "3 WEEKS")."""
    return any(w not in _ACRONYMS for w in _CAPS_WORD_RE.findall(text))


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
