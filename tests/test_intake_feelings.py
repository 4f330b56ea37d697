"""How the customer feels (calm, upset, irate), read by the cue lists alone: threats,
going public, sarcasm and idioms of anger in several languages; calm said in many ways;
a denied calm ("not calm") and a feeling compared away ("upset rather than angry")."""

from __future__ import annotations

import pytest

from bot.domain.intake import read_report
from bot.domain.playbook import load_playbook


@pytest.fixture(scope="module")
def playbook():
    return load_playbook()


def feeling(text, playbook):
    return read_report(text, playbook).emotion


@pytest.mark.parametrize("text", [
    "router dead for a week, she says she's switching providers at the end of the month",
    "fourth missed delivery, he's done with us and told the driver so",
    "renewal quote doubled, the client is reviewing the contract with our rivals",
    "oven door shattered, says she'll be leaving a review on every site she can",
    "charged for a plan he never had, writing to his MP about it",
    "lost the deposit paperwork twice; she is going to the FCA",
    "gym cancelled her class again, says it's all going on twitter tonight",
    "waited 50 minutes at the desk then demanded to see whoever runs the branch",
])
def test_threats_to_leave_or_go_public_make_a_customer_irate(playbook, text):
    assert feeling(text, playbook) == "irate"


@pytest.mark.parametrize("text", [
    "'Third courier, third no-show. Thanks for nothing.'",
    "tweet: 'two hours on hold to be told to ring back tomorrow. brilliant.'",
    "review says 'great service, if you enjoy being cut off mid-sentence 👏'",
    "he asked whether this was some kind of joke when the fourth engineer didn't show",
    "customer was very sarcastic about our 'priority' support line",
])
def test_angry_sarcasm_is_irate(playbook, text):
    assert feeling(text, playbook) == "irate"


@pytest.mark.parametrize("text", [
    "La señora Ruiz está muy enfadada: tres semanas sin lavadora y nadie la llama",
    "Dice que es una tomadura de pelo y que si no le llaman se da de baja",
    "Le client est hors de lui : on lui a coupé la ligne deux fois",
    "Elle veut résilier son abonnement après le troisième rendez-vous manqué",
    "Herr Vogt war außer sich und droht mit dem Anwalt",
    "Kundin schreibt, sie kündigt, wenn bis Montag niemand kommt",
    "Cliente diz que vai ao Procon se o valor não for devolvido",
    "Il cliente è arrabbiato: la caldaia è ferma da dieci giorni",
    "Klant is woedend over de dubbele afschrijving",
    "Pan Nowak jest wściekły, trzeci raz przełączony",
])
def test_anger_and_threats_are_read_in_other_languages(playbook, text):
    assert feeling(text, playbook) == "irate"


@pytest.mark.parametrize("text", [
    "agent told him to calm down after his flight was cancelled twice",
    "the cashier said 'calmez-vous madame' when she asked about the refund",
])
def test_a_customer_told_to_calm_down_is_irate(playbook, text):
    assert feeling(text, playbook) == "irate"


@pytest.mark.parametrize("text", [
    "parcel went to the neighbour's, customer was very reasonable about it",
    "wrong size sent, she took it in her stride and wants the right one",
    "the invoice shows last year's address, no drama, just needs a corrected copy",
    "engineer came a day late, he was totally understanding",
    "cust fine, just wants the missing plug sent out",
    "chat queue took 25 min, he found it funny and just wanted the tracking link",
    "double-charged for the cinema tickets, Priya noticed and asked nicely for one back",
    "Frau Kühn ganz sachlich am Telefon: die Rechnung hat den falschen Tarif",
    "M. Girard, très aimablement, signale que le reçu porte une erreur de date",
    "Sra. Prado nos escribe con buen humor: el pedido llegó sin las instrucciones",
    "Mevrouw Jansen bleef vriendelijk, wil alleen een nieuwe factuur",
])
def test_a_report_that_says_the_customer_is_calm_is_calm(playbook, text):
    assert feeling(text, playbook) == "calm"


@pytest.mark.parametrize("text", [
    "she was not calm at all after the third cancelled visit",
    "he wasn't polite about it this time, second wrong delivery",
    "customer polite but clearly disappointed that the voucher expired",
    "Mme Roux, courtoise mais déçue : la commande est arrivée incomplète",
])
def test_a_denied_or_qualified_calm_is_still_upset(playbook, text):
    assert feeling(text, playbook) == "upset"


@pytest.mark.parametrize("text", [
    "her replacement phone is faulty too, she is upset rather than angry",
    "the bill is wrong again, he sounded disappointed more than angry",
])
def test_a_feeling_compared_away_does_not_count(playbook, text):
    assert feeling(text, playbook) == "upset"


@pytest.mark.parametrize("text", [
    "the driver made a joke about her accent at the door",
    "the policy document lists the wrong excess; the cust flagged it in chat and was annoyed",
])
def test_everyday_uses_of_anger_words_do_not_make_a_customer_irate(playbook, text):
    assert feeling(text, playbook) != "irate"
