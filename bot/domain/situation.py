"""What a report says about the customer's situation (plain Python, offline, fast).

    language("Frau Kaiser schreibt, dass das Brautkleid eingerissen ist")  -> "de"
    stakes("her wedding dress arrived torn and the wedding is on Saturday")
    -> "wedding on Saturday"

`language` counts common function words of English, Spanish, French, German and
Portuguese (plus a few letters only one of them uses); `stakes` finds an occasion or a
deadline (wedding, funeral, flight, exam, payroll …) and, when the report says, when it
is. Both are word lists, not models: they never call out and cost microseconds.
"""

from __future__ import annotations

import re
import unicodedata

LANGUAGES = ("en", "es", "fr", "de", "pt")
_PUNCTUATION_TABLE = str.maketrans(dict.fromkeys(".,;:!?\"()[]«»“”¿¡-–—…/", " "))
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+(?:st|nd|rd|th)?")

# -- language ------------------------------------------------------------------------
_STOP = {
    "en": """the and is was to of a in for on with not has have had she he they her his it
        this that we you i my our their been are were at by from but no nobody after still
        just customer said says told asked wants would could can't isn't didn't won't""",
    "es": """el la los las del y que por con le les se es está muy pero una para me lo
        nadie ya su sus al como sin dice dijeron hemos han ha este esta llevo lleva mi
        cliente clienta señor señora también hay nos porque cuando después""",
    "fr": """le la les des du et est une pour qui pas il elle au sur ce je nous vous son sa
        ses avait été plus dans mais avec aucun personne très client cliente on lui leur
        n'a qu'il d'un l'agent c'est j'ai depuis toujours rien""",
    "de": """der die das und ist nicht ein eine mit auf sie er den dem zu hat seit wurde ich
        uns wir ihr ihm sich es im am bei von für dass noch nur wie kunde kundin aber
        schon auch keine niemand war heute""",
    "pt": """não com uma foi ele ela do da dos das no na ao os as que por para mas já
        ninguém cliente está disse diz tem ficou pra seu sua dona sr até depois sem
        quer muito também nem dia""",
}
_STOP_SETS = {lang: frozenset(words.split()) for lang, words in _STOP.items()}
_LETTERS = {"es": "ñ¿¡", "fr": "èêëœù", "de": "ßäöü", "pt": "ãõ"}
_MIN_VOTES = 2  # fewer foreign function words than this: keep English


def read(text: str) -> tuple[str | None, str]:
    """(stakes, language) of one report, sharing the work of reading its words."""
    lower = (text or "").casefold()
    words = set(lower.translate(_PUNCTUATION_TABLE).split())  # distinct words: set speed
    found = stakes(text) if _may_name_an_occasion(lower, words) else None
    return found, _language(lower, words)


def language(text: str) -> str:
    """ISO 639-1 code of the report's language: "en", "es", "fr", "de" or "pt" ("en"
    when unsure: short, mixed or other-language text)."""
    lower = (text or "").casefold()
    return _language(lower, set(lower.translate(_PUNCTUATION_TABLE).split()))


_SPECIAL_RE = re.compile(r"[ñ¿¡èêëœùßäöüãõ]|ção|ções|ç[ãa]")


def _language(lower: str, words: set[str]) -> str:
    scores = {lang: len(words & stop) for lang, stop in _STOP_SETS.items()}
    for special in _SPECIAL_RE.findall(lower):
        for lang, letters in _LETTERS.items():
            if special in letters or (lang == "pt" and special.startswith("ç")):
                scores[lang] += 2
    best = max(LANGUAGES, key=lambda lang: (scores[lang], lang == "en"))
    if best != "en" and (scores[best] < _MIN_VOTES or scores[best] <= scores["en"]):
        return "en"
    return best


# -- stakes --------------------------------------------------------------------------
# (pattern, English name, strong): a strong occasion is at stake even with no date when
# it belongs to someone ("his mother's funeral", "for the wedding"); a weak one (a
# flight, a trip) only with a date ("flight tomorrow morning").
_OCCASIONS: tuple[tuple[str, str, bool], ...] = (
    (r"wedding|bridal|boda|mariage|hochzeit|braut\w{0,12}|casamento", "wedding", True),
    (r"funeral|wake|obs[eè]ques|enterrement|beerdigung|entierro|enterro", "funeral", True),
    (r"christening|baptism|first communion|comuni[oó]n|taufe|batizado", "christening", True),
    (r"(?:\d+(?:st|nd|rd|th) )?(?:birthday|anniversary)(?: \w+)?|(?<=['’]s )\d+(?:st|nd|rd|th)"
     r"|cumplea[nñ]os|anniversaire|geburtstag|anivers[aá]rio", "birthday", True),
    (r"graduation|thanksgiving|christmas|xmas|housewarming|gala|engagement party|ceremony",
     "celebration", True),
    (r"flight|flies out|fly|vuelo|vol|flug|voo", "flight", False),
    (r"exams?|resit|ex[aá]men|(?:abschluss|zwischen)?pr[uü]fung|exame|prova", "exam", True),
    (r"(?:job )?(?:interview|application)|entrevista|entretien|vorstellungsgespr[aä]ch",
     "interview", True),
    (r"(?:client )?pitch|presentation|present to|demo(?:s|ing)?|conference|board report",
     "presentation", False),
    (r"surgery|operation|hospital appointment|discharge|appointments?|appts",
     "appointment", False),
    (r"launch|go-live|goes live|opening|er[oö]ffnet|er[oö]ffnung", "opening", False),
    (r"payroll|paie|month-end|close the month|audit|completion|completing",
     "deadline", False),
    (r"deadline|due|closes|cierra|lizenzen|expire[sd]?|lapses?|uninsured|report"
     r"|prestação de contas",
     "deadline", False),
    (r"trip|holiday|vacation|viaje|viagem|voyage|vacances|f[ée]rias|urlaub|reise",
     "trip", False),
    (r"moving house|mudanza|mudança|d[ée]m[ée]nage\w*|emm[ée]nage\w*|umzug",
     "move", False),
    (r"party|dinner|lunch|beca|rentr[ée]e|cita|starts? (?:a )?(?:remote )?job|stay",
     "occasion", False),
)
# One pass finds the leftmost occasion; its group number says which one it is.
_OCCASION_RE = re.compile("|".join(rf"\b(?P<o{i}>{p})\b" for i, (p, _, _) in
                                   enumerate(_OCCASIONS)), re.I)
# A quick look before the regular expressions: most reports name no occasion at all.
_TRIGGER_WORDS = frozenset("""go goes due fly vol voo gala wake cita beca lunch dinner party
    stay trip month close closes report board demo demos pitch obsèques fête""".split())
_TRIGGER_STEMS = tuple("""wedding bridal boda mariage hochzeit braut casamento funeral enterr
    beerdigung entierro christening baptism communion comuni taufe batizado birthday
    anniversar cumplea geburtstag anivers graduation thanksgiving christmas xmas housewarming
    engagement ceremony flight flies vuelo flug exam resit exám abschluss zwischen prüfung
    prufung prova interview application entrevista entretien vorstellungsgespr presentation
    present conference surgery operation hospital discharge appointment appts launch opening
    eröffn eroffn payroll paie audit completi deadline cierra lizenzen expire lapse uninsured
    prestação viaje viagem voyage vacances férias ferias urlaub reise moving mudanza mudança
    déménag demenag emménag emmenag umzug rentr start""".split())
_TRIGGER_HEADS = frozenset(stem[:4] for stem in _TRIGGER_STEMS)
_ORDINAL_AFTER_OWNER_RE = re.compile(r"['’]s \d")


def _may_name_an_occasion(lower: str, words: set[str]) -> bool:
    if words & _TRIGGER_WORDS:
        return True
    for word in words:
        if word[:4] in _TRIGGER_HEADS and word.startswith(_TRIGGER_STEMS):
            return True
    return bool(_ORDINAL_AFTER_OWNER_RE.search(lower))


_DAY = (r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|"
        r"thurs|fri|sat|sun|lunes|martes|miércoles|jueves|viernes|sábado|domingo|lundi|"
        r"mardi|mercredi|jeudi|vendredi|samedi|dimanche|montag|dienstag|mittwoch|"
        r"donnerstag|freitag|samstag|sonntag|segunda|terça|quarta|quinta|sexta")
_WHEN_PATTERNS = (
    rf"(?:this|next|last|on|by|before|from|due|este|el|le|am|für|na|no|até|ce)?\s*"
    rf"(?:{_DAY})\b(?:\s+(?:morning|night|evening|noon|at noon))?",
    r"tomorrow(?:\s+(?:morning|night|evening|at \d+\s*(?:am|pm)?))?|tonight|today"
    r"|demain(?: matin| soir)?|morgen|amanhã",
    r"(?<!la )(?<!toda la )(?<!esta )mañana",
    r"\b(?:in|within|dans|en|em)\s+(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|"
    r"ten|deux|trois|quatre|cinq|six|dos|tres|cuatro|cinco|seis|duas|três)\s+"
    r"(?:days?|weeks?|wks?|months?|jours|semaines|días|semanas|dias|tagen|wochen)",
    r"(?:next|this|la semaine prochaine|nächste|la próxima|esta)\s*(?:week|month|woche|semana)",
    r"à trois jours|à deux jours|(?:on|by|for) the \d+(?:st|nd|rd|th)|am \d+\.|"
    r"(?:el|le|dia|até dia) \d{1,2}\b|on \d{1,2} (?:january|february|march|april|may|"
    r"june|july|august|september|october|november|december)"
    r"|\bat \d{1,2}(?::\d\d)?\s*(?:am|pm)?\b"
    r"|às \d{1,2}h",
    r"\b(?:two|three|four|five|\d+) days before|(?:that|this) (?:morning|week)|all week"
    r"|weeks ago|last (?:week|sunday|saturday)",
)
_WHEN_RE = re.compile("|".join(f"(?:{p})" for p in _WHEN_PATTERNS), re.I)
_OWNER_RE = re.compile(r"(?:\b(?:my|our|his|her|their|the|for|before|pour|para|de|"
                       r"sa|son|su|da|do|für|zur|zum)\s+(?:\w+\s+)?|'s\s+|’s\s+)$", re.I)
_ABBREVIATION_RE = re.compile(r"\b(?:mr|mrs|ms|dr|sr|sra|srta|st|m|mme|fr|hr|prof)\.$", re.I)
_SENTENCE_RE = re.compile(r"(?<=[.!?;])\s+|\s+[-–—]\s+")
_TIME_WORDS = {
    "mañana": "tomorrow", "demain": "tomorrow", "morgen": "tomorrow", "amanhã": "tomorrow",
    "demain matin": "tomorrow morning", "demain soir": "tomorrow evening",
}
_DAY_NAMES = dict(zip(
    _DAY.split("|"),
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Monday Tuesday Tuesday "
    "Wednesday Thursday Thursday Friday Saturday Sunday Monday Tuesday Wednesday Thursday "
    "Friday Saturday Sunday Monday Tuesday Wednesday Thursday Friday Saturday Sunday Monday "
    "Tuesday Wednesday Thursday Friday Saturday Sunday Monday Tuesday Wednesday Thursday "
    "Friday".split(), strict=True))


def stakes(text: str) -> str | None:
    """What is at stake and when, as a short English phrase ("wedding on Saturday",
    "flight tomorrow morning", "funeral"), or None when the report names no occasion
    or deadline."""
    text = unicodedata.normalize("NFC", text or "")
    if not _OCCASION_RE.search(text):
        return None  # most reports: no occasion at all
    for sentence in _sentences(text):
        found = _occasion(sentence)
        if found is None:
            continue
        name, strong, start = found
        when = _WHEN_RE.search(sentence)
        if when and when.group().strip():
            return f"{name} {_english_when(when.group())}".strip()
        if strong and _OWNER_RE.search(sentence[:start]):
            return name
    return None


def _sentences(text: str) -> list[str]:
    """Sentences, not split after a title ("Sra. Beatriz", "Mr. Lee")."""
    out: list[str] = []
    for piece in _SENTENCE_RE.split(text):
        if out and _ABBREVIATION_RE.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _occasion(sentence: str) -> tuple[str, bool, int] | None:
    """The first occasion the sentence names: (English name, strong, where it starts)."""
    match = _OCCASION_RE.search(sentence)
    if match is None or match.lastgroup is None:
        return None
    _, name, strong = _OCCASIONS[int(match.lastgroup[1:])]
    return name, strong, match.start()


def _english_when(found: str) -> str:
    """The time as said in English: "samedi" -> "on Saturday", "demain matin" ->
    "tomorrow morning"; English times are kept as written."""
    words = " ".join(found.split())
    lower = words.casefold()
    if lower.endswith("days before"):
        return "in " + words.rsplit(" ", 1)[0]
    if lower in _TIME_WORDS:
        return _TIME_WORDS[lower]
    for word in lower.split():
        if word in _DAY_NAMES:
            prefix = lower.split()[0]
            if prefix in ("next", "this", "last", "by", "due", "from", "before"):
                return f"{prefix} {_DAY_NAMES[word]}"
            return f"on {_DAY_NAMES[word]}"
    return words if words.isascii() else "soon"


# -- what happened, in the report's words ----------------------------------------------
_DETERMINER = frozenset("my our his her their the your its".split())
_PRONOUNS = frozenset("i we he she they him them me us it hes shes theyre im ive".split())
_VERBS = frozenset("""is was were are has had have arrived came turned stopped keeps kept broke
    went got started wont doesnt didnt isnt wasnt hasnt never still failed leaked crashed
    died snapped froze came delivered showed""".split())
_CONTRACTIONS = {"wont": "won't", "doesnt": "doesn't", "didnt": "didn't", "isnt": "isn't",
                 "wasnt": "wasn't", "hasnt": "hasn't", "cant": "can't"}
_TAIL_STOP = frozenset("""and but or before after since on in at for to from two three four
    five six days weeks today yesterday tomorrow so because with""".split())
MAX_WHAT_WORDS = 10


def what_happened(summary: str, cues: tuple[str, ...]) -> str | None:
    """The thing and what went wrong with it, said to the customer: "your wedding dress
    arrived with a torn hem" from "her wedding dress arrived with a torn hem". None
    when the report gives no short, clean phrase (the caller then uses the category)."""
    words = re.sub(r"(?<=\w)['’](?=\w)", "", summary or "").replace("-", " ").split()
    plain = [w.strip(".,;:!?\"()").casefold() for w in words]
    breaks = [w[-1:] in ".,;:!?)" for w in words]
    for cue in cues:
        cue_words = cue.split()
        for end in range(len(cue_words), len(plain) + 1):
            if plain[end - len(cue_words):end] == cue_words:
                phrase = _phrase(plain, breaks, end - len(cue_words), end)
                if phrase:
                    return phrase
    return None


def _phrase(plain: list[str], breaks: list[bool], cue_start: int, cue_end: int) -> str | None:
    starts = [i for i in range(max(0, cue_start - 8), cue_start) if plain[i] in _DETERMINER]
    if not starts or any(breaks[starts[-1]:cue_end - 1]):
        return None
    start = starts[-1]
    verbs = [i for i in range(start + 1, cue_end) if plain[i] in _VERBS]
    if not verbs or not 1 < verbs[0] - start <= 4:
        return None  # "your <thing> <verb> … <cue>", the thing in at most three words
    end = cue_end
    while end < len(plain) and end - cue_end < 2 and not breaks[end - 1] and \
            plain[end].isalpha() and \
            plain[end] not in _TAIL_STOP and plain[end] not in _VERBS:
        end += 1
    chosen = plain[start:end]
    if not chosen or any(w in _PRONOUNS or not w or not w[0].isalnum() for w in chosen) \
            or len(chosen) > MAX_WHAT_WORDS:
        return None
    chosen = ["your" if w in _DETERMINER else _CONTRACTIONS.get(w, w) for w in chosen]
    return " ".join(chosen)
