"""The customer's name anywhere in a report, when it is not the report's prefix.

Reports name the customer in many places: after a title ("the agent told Mrs. Sato"),
after a role word ("O cliente Rafael disse…"), first, before a verb or a dash
("Haddad again - 4th call", "Dr Chen rang to say"), or as a pasted message's
signature ("… Thanks, Priya"). The name is returned as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.domain.names import _STOP_WORDS, _SUBJECT_WORDS

_UP = r"[A-ZÀ-ÖØ-ÞĀ-Ž]"
_NAME_WORD = rf"{_UP}\.|{_UP}[\w'’\-]*"
_PARTICLE = r"de|da|do|dos|das|del|der|den|di|du|ter|ten|van|von|la|le"
_NAME = rf"(?:{_NAME_WORD})(?:\s+(?:(?:{_PARTICLE}|&)\s+)?(?:{_NAME_WORD})){{0,2}}"
_TITLES = (r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Sr|Sra|Srta|Sras?|Señor|Señora|Señorita|"
           r"Don|Doña|Dona|Seu|Dom|Herr|Frau|Mme|Mlle|Monsieur|Madame|Mademoiselle|Signor|"
           r"Signora|Meneer|Mevrouw|Mevr|Dhr|Familie|Famille|Familia|Família|Aunty|Auntie|"
           r"Uncle|Rev|Pastor")
# Capitalised only ("bis Fr. Antwort" is Friday, "pan" a pan): Polish, German and Italian
# abbreviations, Portuguese "D." (Dona).
_CASED_TITLES = r"Pani|Pan|Hr|Fr|Fam|D|M|Sig\.ra|Sig\.na|Sr\.ª|Sra\.ª"
_ANY_TITLE = rf"(?:(?i:{_TITLES}|senhor|senhora|herrn)\.?|(?:{_CASED_TITLES})\.?)"
_TITLED = re.compile(rf"(?<![\w])((?:{_ANY_TITLE}\s+(?:and|&|et|y|e|und)\s+)?"
                     rf"{_ANY_TITLE}\s+(?:(?:Dr|Prof)\.?\s+)?(?:(?:de|van|von|ter|da|di|du|le|la)\s+)?"
                     rf"{_NAME})")
# Words for the customer that a name follows: "cx Ravi", "Kd. Petersen", "client (Acme
# Ltd)", "executor Robert Hale", "Verkäufer Richter" (a marketplace's seller is its customer).
_ROLES = (r"customer|cust|cx|client|cliente|clienta|kunde|kundin|kundschaft|kd|guest|caller|"
          r"patient|member|tenant|subscriber|chef|owner|visitor|seller|landlord|executor|"
          r"socia|socio|inquilin[oa]|segurad[oa]|verkäufer|verkäuferin|widow|widower|"
          r"key acc(?:oun)?t|enterprise contact|firma|empresa")
_TITLE_WORD = re.compile(_ANY_TITLE)
_ROLE_AT = re.compile(rf"\b(?:{_ROLES})\b")
# A full stop after the role word abbreviates it ("Kd. Petersen", "cust. Ravi"); after a
# whole word it ends the sentence ("… le service client. Bravo …", "al cliente. Solo …").
_ROLE = re.compile(rf"(?i:\b(?:(?:{_ROLES})\b|(?:cust|cx|kd)\.))\s*(?:\(\s*)?({_NAME})")
# Told to or spoken with: "chat agent told Liesbeth an 8-week pause was fine", "Spoke with
# Harjit Singh re ...", "le dijeron a Lucía", "disse à D. Graça" (titled names are found
# by _TITLED), "dm from @jules.bakes" (a handle names the customer on social media).
_TOLD = re.compile(rf"\b(?:told|(?i:spoke|spoken|talked)\s+(?:with|to)|(?i:just had)|"
                   rf"(?:dijeron|dijo|explicaron|disse|disseram)\s+(?:a|à|ao)|"
                   rf"(?:le|lui)\s+(?:dijeron|dijo|a dit))\s+(?!\S*\d)({_NAME})")
# A full name inside a sentence, then what the customer did: "... and Emma Clarke sent the
# clause", "Hey team, Priyanka Sharma says ...". One capitalised word is not enough there.
_MID_PAIR = re.compile(rf"(?<=[a-z,;:.!?] )({_UP}[\w'’\-]+\s+{_UP}[\w'’\-]+)\s+"
                       r"(?:says|said|asked|asks|sent|called|rang|phoned|emailed|wrote|posted|"
                       r"already|wants|noticed|complained|is|was|has|had)\b")
# Whose thing it is, inside a sentence: "nobody owns Chloe Marsh's claim".
_MID_POSSESSIVE = re.compile(rf"(?<=[a-z] )({_UP}[\w\-]+(?:\s+{_UP}[\w\-]+)?)['’]s\s+[a-z]")
# A caller or writer introducing themselves: "this is Ana Lima", "soy Carmen Ruiz".
# "hi it's, uh, Gerald Moss again": a caller's greeting, then who it is.
_SELF = re.compile(rf"\b(?i:this is|my name is|(?:hi|hello|hey),?\s+it['’]s,?|soy|me llamo|"
                   rf"je m'appelle|mein name ist|ik ben|sou o|sou a)\s+(?:(?i:uh|um|er),?\s+)?"
                   rf"({_NAME})")
_HANDLE = re.compile(r"\b(?i:from|by|de|von)\s+(@[\w.]*\w)")
# "Mi madre, Pilar Domínguez, ...", "my neighbour, Tom Hart, ...": a relative named aside.
_RELATIVE = re.compile(rf"\b(?i:my|mi|mia|mio|meine?|ma|mon|minha|meu|mijn)\s+[^\W\d_]+,\s+"
                       rf"({_NAME}),")
# A name set off by commas after a word for the person: "Lovely lady, Pat, very patient",
# "member at front desk, Paulo, polite".
_APPOSED = re.compile(rf"\b(?i:lady|gentleman|gent|man|woman|guy|member|customer|guest|"
                      rf"patient|caller|client|tenant|passenger|student|parent)\b"
                      rf"[^,.;:!?]{{0,25}},\s+({_NAME}),")
_PERSONAL_A = re.compile(rf"(?:^|\s)[Aa]\s+({_NAME})\s+(?:le|les|lhe)\b")
_BY = re.compile(rf"(?i:\b(?:from|by|for|de|von|par)\s+(?:a|an|one|un|une|uma|um)?\s*)"
                 rf"({_NAME})(?=\s*(?:[:,(–—-]|\s(?:who|says|said|wrote|called|rang)\b))")
# After the name: a spaced dash ("Long-standing" is one word), a colon, a verb, "de" before
# another name ("Reserva de grupo" is a noun and its complement).
_LEAD_AFTER = (r"\s*(?:[-–—](?![\w])|[:(]|,\s|'s\b|’s\b|\s+de\s+(?=[A-ZÀ-Þ])|"
               r"\s+(?:again|here|says|said|called|rang|phoned|"
               r"emailed|wrote|came|wants|asked|asks|is|was|has|had|from|ligou|llamó|"
               r"appelle|rief|veio|vino|avisa|dice|comenta|escribe|reclama|signale|dit|"
               r"écrit|sagt|schreibt|meldet|ruft|diz|disse|conta|escreveu|"
               # what the customer did, in the corpus languages' past tenses
               r"reclamou|avisou|cancelou|pediu|esperou|comprou|reclamó|avisó|canceló|pidió|"
               r"esperó|compró|conteste|réclame|demande|started|followed|reminded|noticed|"
               r"complained|cancelled|ordered|booked)\b|"
               r"\s+(?:at|in|on|got|left|posted|waited|lleva|nos|est|a|hat|ist|foi|está)\s|"
               r"\s+(?:went|took|kept|keeps|sent|spent|paid|bought|brought|spoke|stood|"
               r"mentioned|complains|kindly|still|never|just|also|"
               r"attend|explique|belt|è|tá|tiene|quiere)\b)")
# Two capitalised words then a verb in a past tense (-ed; Portuguese -ou/-eu/-iu, Spanish
# -ó): "Derek Olsen transferred", "Catherine O'Brien charged". One word is not enough:
# "Family booked", "Takeaway arrived".
_LEAD_PAIR = re.compile(rf"\s*((?:{_NAME_WORD})\s+(?:{_NAME_WORD}))"
                        r"\s+[a-zà-ÿ]{3,}(?:ed|ou|eu|iu|ó|ió)\b")
_LEAD = re.compile(rf"\s*({_NAME}(?:,\s*{_UP}[\w'’\-]+)?){_LEAD_AFTER}")
# A name typed in lower case at the start: "kim - refund", "jo again", "ravi says ...",
# "tom's router", "ines' card".
_LEAD_LOWER = re.compile(r"^\s*([a-zà-ÿ][a-zà-ÿ\-]{2,}(?:,\s*[a-zà-ÿ][a-zà-ÿ\-]{2,})?)"
                         r"(?:\s*(?:\s[-–—:]|\(|\sagain\b)|['’]s?\s|\s(?:says|said|started|"
                         r"waited|was told|was promised|on hold|in chat)\b)")
_SIGN_OFF = re.compile(
    rf"(?i:thanks|thank you|many thanks|regards|kind regards|best|cheers|sincerely|merci|"
    rf"cordialement|gracias|(?:un )?saludos?|obrigad[oa]|atenciosamente|danke|grüße|gruesse)"
    rf"[,.!]?\s*[-–—]?\s*({_NAME}(?:\s*&\s*{_NAME})?)\s*[.!]?\s*['\"”]?\s*$")
_DASH_SIGN = re.compile(rf"\s[-–—]\s?({_NAME}(?:\s*&\s*{_NAME})?)\s*['\"”]?\s*$")
# A pasted message signed at the end: ". Fiona Reid", "- Gemma, St Mary's Kitchen",
# "Thanks, Olu (Office Manager)", "Julie et Thomas Moreau".
_SIGNED = re.compile(
    rf"(?:[.!?]\s+|\s[-–—]\s*|(?i:thanks|thank you|cheers|regards|merci|gracias|"
    rf"obrigad[oa]|danke)[,!.]?\s+[-–—]?\s*)"
    rf"({_NAME}(?:\s+(?:et|and|&|y|e|und)\s+{_NAME})?)"
    rf"(?:,\s*[^.!?]{{0,60}}|\s*\([^)]{{0,60}}\))?\s*['\"”]?\s*$")
_NOT_NAMES = _STOP_WORDS | _SUBJECT_WORDS | frozenset("""
    for re fwd fw service patient forty sir madam dear o il lo nos
    sales support billing finance engineering store shop branch team agent agents manager
    tech technician driver courier warehouse email phone chat call twitter instagram
    facebook tiktok trustpilot google yelp reddit linkedin whatsapp ofcom uk us eu
    broadband internet wifi fibre fiber router landline mobile app website web online
    premium gold plus pro business the a an mon tue wed thu fri sat sun jan feb mar apr
    may jun jul aug sep sept oct nov dec tues weds thurs el la los las le les der die das un una une
    cliente clienta kunde kundin dm gentleman lady buenas bonjour hola hallo olá ola nadie
    streik confirmation guy head chef sorry thanks regards cheers merci gracias danke
    nobody unacceptable disgusting appalling ridiculous really carer headteacher dad mum
    mother father parent parents learner student students tweet water pasted autohaus
    schulleitung cowards disgraceful cordialement ein eine kursteilnehmer kursteilnehmerin
    vm cx dm'd dm’d vet woman man girl boy kept passenger passageiro passageira traveller
    seller buyer comprador complainant reviewer charity calm polite fine relaxed chill
    ok okay tweeted posted reply replied showers
    trainer pharmacist receptionist nurse doctor
    cust customers klant klanten étudiant étudiante applicant supervisor kid kids baby ig on
    sagt meint laut schluss chatmitarbeiter mitarbeiter mitarbeiterin anruferin anrufer
    cake parcel engineer installer plumber electrician builder contractor landlord owner
    booked received ordered bought paid tried told came went waited apparently honestly
    seriously literally hotel restaurant gym clinic pharmacy garage school council
""".split()) | frozenset("""
    hi hiya hoi hey hallo hello bonjour bonsoir buongiorno buonasera salve servus grüezi
    moin goedemorgen goedemiddag goedenavond oi olá bom boa buenos buenas dear estimado
    estimada estimados señores señor monsieur madame messieurs sirs madam caro cara
    cumprimentos atentamente hochachtungsvoll att atte abraço abraços lg vg mfg groetjes
    guten sehr geehrte geehrter liebe lieber
""".split())  # greetings and closings open and end pasted messages; they name nobody
_NEVER_NAMES = frozenset("""
    i'm i’m i've i’ve i'd i’d i'll i’ll im ive dit dat het een deze die ik wij zij hij
    kein keine keiner keinen drei zwei vier fünf seit seitdem beim bei vom zum zur heute
    gestern unglaublich oye mira solo tranquilo tranquila vergüenza ostie bravo voilà
""".split())
# Words for the customer or for staff in the corpus languages: "Paciente esperou", "Sócio
# reclamou", "Family booked", "Dentist cancelled" open a report without naming anyone.
_NOT_NAMES |= frozenset("""
    family familia família dentist dentists paciente pacientes sócio sócia socio socia
    usuario usuaria usuário usuária hóspede huésped vecino vecina vizinho vizinha
    inquilino inquilina morador moradora passageira cliente clientes
""".split())  # pronouns, articles, numbers and exclamations of the report's languages:
# a phrase they open is no name ("Drei Mails, keiner antwortet", "Kein Aufzug", "Dit is …")
_NOT_NAMES |= _NEVER_NAMES


# Typed in lower case: "mrs chen came in", "cust (aisha) bounced", "cust hassan rang in".
_LOWER_TITLED = re.compile(r"(?<![\w])((?:mr|mrs|ms|miss|dr)\.?\s+[a-zà-ÿ][a-zà-ÿ'’\-]{1,})\b")
_ROLE_BRACKETED = re.compile(r"(?i:\b(?:customer|cust|cx|client|patient|caller|guest|member|"
                             r"owner|tenant|visitor|dad|mum|mom|daughter|son|wife|husband)\b)"
                             r"\s*\(\s*([^\W\d_][\w'’\-]+(?:\s+[^\W\d_][\w'’\-]+)?)\s*\)")
_ROLE_LOWER = re.compile(r"\b(?:cust|cx|customer|client|caller)\s+([a-zà-ÿ][a-zà-ÿ\-]{2,})"
                         r"(?=\s*[-–—:(]|['’]s\s|\s+(?:rang|called|phoned|emailed|says|said|"
                         r"wants|is|was|has|came|went|told)\b)")


def _lower_case_name(text: str) -> str | None:
    for pattern in (_ROLE_BRACKETED, _LOWER_TITLED, _ROLE_LOWER):
        if pattern is _ROLE_BRACKETED and "(" not in text:
            continue  # the costly case-blind search only where a bracket is
        for match in pattern.finditer(text):
            name = re.sub(r"['’]s$", "", match.group(1))
            if pattern is _ROLE_LOWER and name.endswith("ed"):  # "cx reopened": a verb
                continue
            if name.split()[-1].lower() not in _NOT_NAMES | _PARTICLES | {"and", "et", "y", "und"}:
                return name
    return None


_ROLE_WORDS = ("customer", "cust", "client", "kunde", "kundin", "guest", "caller", "patient",
               "member", "tenant", "subscriber", "chef")
_TITLE_AT = re.compile(  # over the lowered text
    rf"(?<![\w])(?:{_TITLES.lower()}|{_CASED_TITLES.lower()}|senhora?|herrn)\b")
TAIL = 160  # a signature is within the report's last characters


# A closing before a pasted message's signature, in the languages reports come in:
# "Kind regards, Ana", "Met vriendelijke groet, Jan Bakker", "LG Sabine", "Att, Renata".
_CLOSING_WORDS = (r"\b(?:thanks?|thank you|cheers|regards|best|wishes|sincerely|faithfully|"
                  r"truly|merci|cordialement|salutations|gracias|saludos?|atentamente|att|atte|"
                  r"obrigad[oa]|atenciosamente|cumprimentos|abraços?|beijos?|danke|dank|"
                  r"grü(?:ß|ss)e|gru(?:ß|ss)|hochachtungsvoll|lg|vg|mfg|groet(?:en|jes)?|grazie|"
                  r"salut[io]|pozdrawiam)\b")
_CLOSING_WORD = re.compile(_CLOSING_WORDS)  # over the lowered text: (?i) is slow
_CLOSING = re.compile(rf"(?i:{_CLOSING_WORDS})[^.!?,\n]{{0,30}}?(?:[,!.]\s*|\s+)[-–—]?\s*$")
_SIGN_NAME = re.compile(rf"({_NAME}(?:\s+(?:et|and|&|y|e|und)\s+{_NAME})?)"
                        rf"(?:,\s*[^.!?]{{0,60}}|\s*\([^)]{{0,60}}\)|\s+(?:from|de|von)\s.{{0,40}})?"
                        r"\s*[.!]?\s*['\"”]?\s*$")
_DASH_AT = re.compile(r"\s[-–—]")
_WORD_START = re.compile(rf"(?<![\w'’.@-]){_UP}")


def _closing(text: str) -> str | None:
    """The name signed under a closing ("..., Regards, Ana Ruiz") or a dash at the very end;
    after a comma when there are two ("Beste Grüße aus Freiburg, Katrin Vogel")."""
    tail = text[-TAIL:]
    marks = [m.end() for m in (_CLOSING_WORD.search(tail.lower()), _DASH_AT.search(tail)) if m]
    if not marks:
        return None
    found = []
    for start in _WORD_START.finditer(tail, max(min(marks), len(tail) - 90)):
        match = _SIGN_NAME.match(tail, start.start())
        if not match:
            continue
        before = tail[:match.start()].rstrip()
        dashed = before.endswith(("-", "–", "—")) and before[-2:-1].isspace()
        if dashed or _CLOSING.search(before[-50:] + " "):
            found.append((not before.endswith((",", "-", "–", "—")), match.group(1)))
    if not found:
        return None
    name = min(found, key=lambda pair: pair[0])[1].strip().rstrip(".,")
    return None if all(w.lower() in _NOT_NAMES for w in name.split()) else name


def find_customer(text: str) -> str | None:
    """The customer's name as written anywhere in `text`, or None."""
    lower = text.lower()
    name = next((name for name in _candidates(text, lower) if name), None)
    if name:
        return name
    match = _LEAD_LOWER.match(text)
    if match and match.group(1).lower() not in _NOT_NAMES:
        return match.group(1)
    return _lower_case_name(text)


def _candidates(text: str, lower: str) -> Iterator[str | None]:
    """Each place a name may stand, surest first, each tried only when those before fail."""
    yield _closing(text)
    yield _titled(text)
    yield _after_role(text, lower)
    yield _at_start(text)
    yield _first(_BY, text, lower, (" from ", " by ", " for "))
    yield _first(_PERSONAL_A, text, lower, ("a ",))
    yield _first(_RELATIVE, text, lower, (", ",))
    yield _first(_APPOSED, text, lower, (", ",))
    yield _first(_TOLD, text, lower, ("told ", "spoke", "talked", "had ", "dij", "diss", " a dit"))
    yield _first(_HANDLE, text, lower, ("@",))
    yield _first(_SELF, text, lower, ("this is", "name is", "soy ", "llamo", "appelle", "ik ben",
                                      "sou ", "it's", "it’s"))
    yield _first(_MID_PAIR, text)
    yield _first(_MID_POSSESSIVE, text, lower, ("'s ", "’s "))
    yield _signed(text)


def _titled(text: str) -> str | None:
    """A title, then the name: only where a title word stands (regexes are costly)."""
    for word in _TITLE_AT.finditer(text.lower()):
        match = _TITLED.match(text, word.start())
        name = match and _tidy(match.group(1), titled=True)
        if name:
            return name
    return None


# Before "from/by Name", these make Name one of ours: "Note from Dave", "opened by Lisa".
_STAFF_BEFORE = re.compile(r"(?i:\b(?:note|notes|handover|opened|logged|raised|assigned|"
                           r"escalated|closed|reassigned)\s+(?:\S+\s+){0,4})$")


def _first(pattern: re.Pattern, text: str, lower: str = "",
           needles: tuple[str, ...] = ()) -> str | None:
    if needles and not any(n in lower for n in needles):
        return None
    for match in pattern.finditer(text):
        if pattern is _BY and _STAFF_BEFORE.search(text, 0, match.start(1)):
            continue
        name = _tidy(match.group(1), titled=False)
        if name:
            return name
    return None


_SIGN_WORDS = re.compile(
    r"^(?i:thanks|thank you|many thanks|regards|kind regards|best|cheers|sincerely|merci|"
    r"cordialement|gracias|(?:un )?saludos?|obrigad[oa]|atenciosamente|danke|grüße|gruesse)"
    r"[,.!]?\s*[-–—]?\s*")
_SIGNATURE = re.compile(rf"({_NAME}(?:\s*(?:et|and|&|y|e|und)\s+{_NAME})?)"
                        rf"(?:,\s*[^.!?]{{0,60}}|\s*\([^)]{{0,60}}\))?")
_WORDLIKE = re.compile(r"(?:ing|able|ible|ly|ness|ment|tion)\W*$")
_BREAK = re.compile(r"(?<!\s[A-Z])[.!?:]\s|\s[-–—]\s?|[-–—]\s")


def _after_role(text: str, lower: str) -> str | None:
    for word in _ROLE_AT.finditer(lower):
        match = _ROLE.match(text, word.start())
        name = match and _tidy(match.group(1), titled=False, verb_ruled_out=True)
        if name:
            return name
    return None


# After one capitalised word at the start, these say it is a noun, not a name: "Review on
# Google", "Klinik hat ...", "Käufer sagt ..." (German capitalises every noun; a German
# report names its customer with Herr/Frau or in full).
_NOUN_AFTER = re.compile(r"\s+(?:on|hat|ist|sagt|meldet|schreibt|ruft|war|wurde)\b")
# "Cinema: customer says", "VM: 'hi, I rang...'": a topic or a source heads the report
# when what follows names a customer or quotes one; "Beatriz: foi na loja" is a name.
_TOPIC_REST = re.compile(r"\s*:\s*(?:['\"“‘]|(?i:hi|hello|i|i'm|i've|my|we)\b|"
                         r".{0,60}\b(?i:customer|client|cx|cust|guest|kund\w*|client[ea]s?|"
                         r"owner|user|usuario|usager)\b)")


# An article or a possessive before capitalised words makes them a noun phrase ("The
# Wi-Fi", "Die Schule", "Unsere Tochter", "L'hébergeur"), not a name.
_ARTICLE = re.compile(r"\s*(?:(?i:the|der|die|das|ein|eine|unsere?|meine?|el|la|los|las|le|les|"
                      r"un|una|une|our|my)\s|L['’])")


def _at_start(text: str) -> str | None:
    match = _LEAD.match(text) or _LEAD_PAIR.match(text)
    if not match or _ARTICLE.match(text):
        return None
    if " " not in match.group(1).strip() and (_NOUN_AFTER.match(text, match.end(1))
                                              or _TOPIC_REST.match(text, match.end(1))):
        return None
    # "Ahmed was promised": before "was", "says", "rang" a word in -ed is no verb
    return _tidy(match.group(1), titled=False,
                 verb_ruled_out=bool(_VERB_NEXT.match(text, match.end(1))))


_VERB_NEXT = re.compile(r"\s+(?:was|is|has|had|says|said|rang|called|phoned|emailed|wrote|"
                        r"wants|asked)\b")


def _signed(text: str) -> str | None:
    """A pasted message's signature: the name alone after its last sentence or dash."""
    tail = text[-TAIL:].rstrip().rstrip("'\"”!")
    if not any(c.isupper() for c in tail[-40:]):
        return None  # no capital near the end: no signature
    if tail.endswith(".") and not re.search(r"\s[A-Z]\.$", tail):
        tail = tail[:-1]
    breaks = list(_BREAK.finditer(tail))
    last = _SIGN_WORDS.sub("", tail[breaks[-1].end():] if breaks else tail).strip()
    if not last or len(last) > 80 or not last[0].isupper() or last.count(" ") > 8:
        return None
    match = _SIGNATURE.fullmatch(last)
    if match and " " not in match.group(1) and (
            _WORDLIKE.search(match.group(1)) or text.rstrip("'\"” ").endswith((".", "!"))):
        return None  # "... Wonderful.", "... Bravo!": a last word said, not a name signed
    return _tidy(match.group(1), titled=False) if match else None


_PARTICLES = frozenset("de da do dos das del der den di du ter ten van von la le".split())


def _particle(words: list[str], i: int) -> bool:
    """A surname particle between two name words ("Van der Berg", "Meneer de Vries")."""
    return (words[i] in _PARTICLES and i + 1 < len(words) and words[i + 1][:1].isupper())


def _tidy(name: str, titled: bool, verb_ruled_out: bool = False) -> str | None:
    name = re.sub(r"['’]s?$", "", name.strip())
    words = name.rstrip(",").split()
    # A word ending a sentence ends the name, unless it is an initial or a title.
    for i, word in enumerate(words[:-1]):
        if word.endswith(".") and len(word.rstrip(".")) > 3 and not _TITLE_WORD.fullmatch(word):
            words = words[:i + 1]
            break
    shouting = [i for i, w in enumerate(words) if w.isupper() and len(w.strip(",")) > 2]
    if shouting:  # SHOUTING is not a name; a job title (", CFO") ends one
        words = words[:shouting[0]]
    if words and not titled and not verb_ruled_out and words[0].endswith("ed") and \
            len(words[0]) > 4:
        return None  # "Tweeted at us", "Booked the room": a verb, not a name
    if not titled:
        if words and words[0].rstrip(".,").lower() in _NEVER_NAMES:
            return None
        while words and words[0].rstrip(".").lower() in _NOT_NAMES:
            words = words[1:]
    # A name ends before a capitalised word that is not one (a place, a weekday).
    kept = []
    for i, word in enumerate(words):
        if i and word.rstrip(".,").lower() in _NOT_NAMES and not _particle(words, i):
            break
        kept.append(word)
    if kept:
        kept[-1] = re.sub(r"['’]s?$", "", kept[-1])
    if not kept or (titled and len(kept) < 2) or (len(kept) == 1 and len(kept[0]) < 2):
        return None
    if not titled and all(w.rstrip(".").lower() in _NOT_NAMES for w in kept):
        return None
    return " ".join(kept).rstrip(".,") if not kept[-1].endswith(".") or len(kept[-1]) > 2 \
        else " ".join(kept)
