"""The reader model: loads offline from the wheel's own files, reads category, feeling
and coach concepts sensibly in five languages, and gives the same answer every time."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot.domain.reading.model import (
    CATEGORIES,
    CONCEPTS,
    DEFAULT_HEAD,
    FEELINGS,
    ModelUnavailable,
    Neighbours,
    SituationModel,
    load_heads,
)

ROOT = Path(__file__).resolve().parent.parent
MODEL_SOURCE = ROOT / "bot" / "domain" / "reading" / "model.py"
FORBIDDEN = ("slack_sdk", "slack_bolt", "aiohttp", "sqlite3", "sqlite_utils", "handlers",
             "sklearn")

# Reports written for these tests, in none of the training files.
UNSEEN = {
    "en": [
        ("long_wait", "Rang at 9am and was still listening to hold music at half ten"),
        ("billing_error", "Her card was debited twice for the same March invoice"),
        ("product_defect", "The dishwasher we installed on Monday has stopped draining"),
        ("passed_around", "Sales sent him to support, support sent him back to sales"),
        ("uncaring", "The receptionist rolled her eyes and told him to sit down and wait"),
    ],
    "es": [
        ("long_wait", "Lleva cuarenta minutos esperando en la línea sin que nadie conteste"),
        ("billing_error", "Nos cobraron el doble en la factura de este mes"),
        ("product_defect", "La tostadora dejó de funcionar a los tres días"),
        ("passed_around", "La pasaron de un departamento a otro y se cortó la llamada"),
        ("broken_promise", "El pedido tenía que llegar el lunes y todavía no ha llegado"),
    ],
    "fr": [
        ("long_wait", "Il patiente au téléphone depuis plus d'une heure"),
        ("billing_error", "On lui a facturé deux fois le même abonnement"),
        ("product_defect", "L'imprimante neuve ne s'allume plus"),
        ("broken_promise", "Le livreur n'est jamais passé, la livraison était prévue hier"),
        ("uncaring", "Le vendeur lui a parlé de façon méprisante"),
    ],
    "de": [
        ("long_wait", "Sie hängt seit einer Stunde in der Warteschleife"),
        ("billing_error", "Der Betrag wurde zweimal von seinem Konto abgebucht"),
        ("product_defect", "Der neue Staubsauger funktioniert nicht mehr"),
        ("broken_promise", "Der Techniker ist wieder nicht zum vereinbarten Termin gekommen"),
        ("passed_around", "Er wurde dreimal weiterverbunden und dann aus der Leitung geworfen"),
    ],
    "pt": [
        ("long_wait", "Ela está esperando na linha há mais de uma hora"),
        ("billing_error", "Cobraram duas vezes a mesma mensalidade no cartão"),
        ("product_defect", "A televisão nova parou de ligar depois de uma semana"),
        ("broken_promise", "A entrega estava marcada para ontem e não chegou"),
        ("uncaring", "O atendente foi grosseiro e riu da cara dele"),
    ],
}


@pytest.fixture(scope="module")
def model() -> SituationModel:
    return SituationModel.load()


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with no hub access and an empty home."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


# -- loading ------------------------------------------------------------------------------


NO_NETWORK = """
import json, socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[1:] or kwargs))
    raise OSError("network is off in this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from bot.domain.reading.model import SituationModel
model = SituationModel.load()
prediction = model.predict("Charged twice for my order and nobody answers the phone")
forbidden = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1])))
print(json.dumps({"attempts": attempts, "category": prediction.category,
                  "forbidden": forbidden}))
"""


def test_loads_and_predicts_with_the_network_off(tmp_path):
    code = NO_NETWORK.replace("json.loads(sys.argv[1])", json.dumps(list(FORBIDDEN)))
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert result["category"] in CATEGORIES
    assert result["forbidden"] == []  # nor scikit-learn, nor anything Slack or storage
    assert not (tmp_path / ".cache").exists()  # nothing downloaded or cached at home


def test_the_module_imports_nothing_but_numpy_and_wordllama_beyond_the_stdlib():
    tree = ast.parse(MODEL_SOURCE.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    # wordllama comes through importlib; `bot` is Mend's own lookup of its data folder.
    assert imported - set(sys.stdlib_module_names) == {"numpy", "bot"}
    assert '"wordllama"' in MODEL_SOURCE.read_text(encoding="utf-8")


def test_importing_wordllama_leaves_the_root_logger_alone(tmp_path):
    done = run_python("import logging\n"
                      "from bot.domain.reading.model import Embedder\n"
                      "Embedder.load()\n"
                      "root = logging.getLogger()\n"
                      "print(len(root.handlers), root.level)", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["0", str(30)]  # no handler added, still WARNING


def test_the_head_loads_with_numpy_alone(tmp_path):
    code = ("import sys, numpy as np\n"
            f"arrays = np.load({str(DEFAULT_HEAD)!r}, allow_pickle=False)\n"
            "heads = [str(h) for h in arrays['heads']]\n"
            "shapes = {h: arrays[h + '.weights'].shape for h in heads}\n"
            "print(sorted(heads), len(arrays['vocabulary']))\n"
            "assert not {'bot', 'wordllama', 'sklearn'} & {m.split('.')[0] for m in sys.modules}")
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'category'" in done.stdout and "'feeling'" in done.stdout
    assert all(f"'{concept}'" in done.stdout for concept in CONCEPTS)
    # about 2.7 MB: word n-gram rows from 3,078 reports and 4,200 drafts, five channel heads,
    # and the category's training reports as rows for the neighbour vote (~0.5 MB)
    assert DEFAULT_HEAD.stat().st_size < 3_000_000


def test_a_head_from_elsewhere_is_refused(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ModelUnavailable):
        load_heads(broken)
    with np.load(DEFAULT_HEAD, allow_pickle=False) as arrays:
        data = {key: arrays[key] for key in arrays.files}
    stale = tmp_path / "stale.npz"
    np.savez(stale, **{**data, "embedder": np.array("another-embedder")})
    with pytest.raises(ModelUnavailable, match="trained on another-embedder"):
        load_heads(stale)
    short = tmp_path / "short.npz"
    np.savez(short, **{**data, "category.labels": data["category.labels"][:-1]})
    with pytest.raises(ModelUnavailable):
        load_heads(short)


def test_the_default_head_stores_the_category_neighbours():
    neighbours = load_heads(DEFAULT_HEAD).neighbours
    assert neighbours is not None and neighbours.texts > 3000


def test_the_neighbour_vote_is_a_share_per_label_led_by_the_nearest_reports():
    # three reports over a vocabulary of six rows; labels 0, 1, 1
    rows, lengths, labels = np.array([0, 1, 2, 3, 4, 3, 5]), np.array([2, 3, 2]), \
        np.array([0, 1, 1])
    vote = Neighbours(rows, lengths, labels, classes=3, vocabulary=6, k=2).vote(np.array([0, 1]))
    assert vote.sum() == pytest.approx(1.0) and vote.argmax() == 0 and vote[2] == 0
    assert Neighbours(rows, lengths, labels, 3, 6, k=2).vote(np.array([3, 5])).argmax() == 1
    # no known row: no opinion
    assert np.allclose(Neighbours(rows, lengths, labels, 3, 6).vote(np.zeros(0, int)), 1 / 3)


def test_neighbour_arrays_that_do_not_fit_are_refused(tmp_path):
    with np.load(DEFAULT_HEAD, allow_pickle=False) as arrays:
        data = {key: arrays[key] for key in arrays.files}
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**data, "category.neighbour_labels": data["category.neighbour_labels"] + 20})
    with pytest.raises(ModelUnavailable, match="neighbour"):
        load_heads(bad)


# -- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(UNSEEN))
def test_unseen_reports_get_sensible_categories(model, language):
    right = [(expected, model.predict(text).category, text)
             for expected, text in UNSEEN[language]]
    wrong = [row for row in right if row[0] != row[1]]
    assert len(wrong) <= 1, wrong  # at least 4 of 5 in every language
    assert all(model.predict(text).language == language for _, text in UNSEEN[language])


def test_feelings_follow_what_the_report_says(model):
    assert model.predict("Customer is FURIOUS, says we are a scam and he'll sue us").feeling \
        == "irate"
    assert model.predict("Está furiosa, dice que es una estafa y que nos va a denunciar"
                         ).feeling == "irate"
    assert model.predict("Very kind lady, no rush at all: one plate arrived chipped").feeling \
        == "calm"
    assert model.predict("Her parcel is a week late and she's worried about it").feeling \
        == "upset"


def test_probabilities_cover_every_label(model):
    prediction = model.predict("for Dana Lee: charged twice, emailed us furious")
    assert list(prediction.category_probs) == list(CATEGORIES)
    assert list(prediction.feeling_probs) == list(FEELINGS)
    assert sum(prediction.category_probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.category_confidence == max(prediction.category_probs.values())
    assert prediction.category == "billing_error"
    # Named anger is the cue lists' to read (they always stand); the model only leans to it.
    assert prediction.feeling_probs["irate"] > prediction.feeling_probs["calm"]
    from bot.domain.intake import read_report
    from bot.domain.playbook import load_playbook
    from bot.runtime.config import DEFAULT_PLAYBOOK
    report = read_report("for Dana Lee: charged twice, emailed us furious",
                         load_playbook(DEFAULT_PLAYBOOK), model)
    assert (report.category, report.emotion) == ("billing_error", "irate")


def test_empty_and_odd_text_still_reads(model):
    for text in ("", "   ", "👍", "x" * 50_000, "<@U123> !!!"):
        prediction = model.predict(text)
        assert prediction.category in CATEGORIES and prediction.feeling in FEELINGS


def test_the_coach_concepts_judge_single_sentences(model):
    assert model.concept("Our warehouse team packed the wrong item, not me.", "blame") > 0.5
    assert model.concept("Please give us a ring if it happens again.", "callback_burden") > 0.5
    assert model.concept("I've forwarded this to our returns team and they will contact you.",
                         "passed_on") > 0.5
    assert model.concept("The duplicate charge has now been refunded to your card.",
                         "resolved") > 0.5
    calm_reply = model.concepts("I'll ring you myself on Friday at 10am with the answer.")
    assert max(calm_reply.values()) < 0.5, calm_reply
    with pytest.raises(KeyError):
        model.concept("anything", "no_such_concept")


def test_similarity_and_nearest_example(model):
    examples = [("blame", "That's the courier's fault, not ours."),
                ("callback_burden", "Call us back if it still doesn't work."),
                ("passed_on", "Billing will get in touch with you.")]
    best = model.nearest("It was the delivery company's fault.", examples)
    assert [match.label for match in best] == ["blame"]
    scores = model.similarity("It was the delivery company's fault.",
                              [text for _, text in examples])
    assert scores.shape == (3,) and int(np.argmax(scores)) == 0
    assert model.similarity("anything", []).shape == (0,)
    assert len(model.nearest("x", examples, k=5)) == 3


# -- determinism and caching --------------------------------------------------------------


def test_the_same_text_gives_the_same_answer_from_a_fresh_model(model):
    texts = [text for rows in UNSEEN.values() for _, text in rows]
    first = [model.predict(text) for text in texts]
    fresh = SituationModel.load(embedder=type(model.embedder)(model.embedder.vectors,
                                                              model.embedder.tokenizer))
    again = [fresh.predict(text) for text in texts]
    assert first == again


def test_embeddings_are_cached_and_read_only(model):
    vector = model.embed("Kept on hold for an hour")
    assert vector is model.embed("Kept  on hold for an hour ")  # same text once cleaned
    assert vector.shape == (256,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        vector[0] = 1.0


def test_training_is_deterministic_down_to_the_bytes(model):
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_reader

    training = train_reader.load_training_set(corpus_dir=None)
    small = training.subset(lambda group: train_reader.fold_of(group, 8) == 0)
    runs = []
    for _ in range(2):
        trainer = train_reader.Trainer.for_training(small, model.embedder)
        heads = {"category": trainer.fit_examples(small.reports, "category"),
                 "feeling": trainer.fit_examples(small.feelings, "feeling")}
        runs.append(train_reader.npz_bytes(train_reader.head_arrays(heads, trainer.vocabulary)))
    assert runs[0] == runs[1]
    with zipfile.ZipFile(io.BytesIO(runs[0])) as archive:
        assert {info.date_time for info in archive.infolist()} == {train_reader.ZIP_TIME}


def test_training_never_reads_held_out_files(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_reader

    for name in ("train_reports.yaml", "train_reports_extra.yaml", "heldout_reports.yaml",
                 "train_reports_heldout.yaml", "train_drafts.yaml", "heldout_drafts.yaml"):
        (tmp_path / name).write_text("[]\n", encoding="utf-8")
    assert [p.name for p in train_reader.corpus_files(tmp_path, "reports")] == [
        "train_reports.yaml", "train_reports_extra.yaml"]
    assert [p.name for p in train_reader.corpus_files(tmp_path, "drafts")] == [
        "train_drafts.yaml"]


def test_predictions_are_cached_per_text_and_cleared_for_a_cold_read(model):
    first = model.predict("Kept on hold for an hour, she is furious")
    assert first is model.predict("Kept  on hold for an hour, she is furious ")
    model.cache_clear()
    again = model.predict("Kept on hold for an hour, she is furious")
    assert again == first and again is not first


def test_every_channel_has_a_probability_and_the_cues_still_stand(model):
    from bot.domain.intake import read_report
    from bot.domain.playbook import load_playbook
    from bot.runtime.config import DEFAULT_PLAYBOOK
    text = "cust emailed us twice about the broken kettle, still no reply"
    prediction = model.predict(text)
    assert set(prediction.channel_probs) == {"email", "phone", "chat", "in_person", "social"}
    assert all(0.0 <= p <= 1.0 for p in prediction.channel_probs.values())
    report = read_report(text, load_playbook(DEFAULT_PLAYBOOK), model)
    assert report.contacts[0] == "email"  # what the cue lists read comes first


class _Guess:
    """What the model says of a report, as `read_report` reads it."""

    def __init__(self, channels):
        self.category_probs = {"product_defect": 1.0}
        self.feeling_probs = {"upset": 1.0}
        self.channel_probs = channels


class _Reader:
    def __init__(self, channels):
        self.guess = _Guess(channels)

    def predict(self, text):
        return self.guess


def test_the_model_adds_an_implied_channel_only_when_it_is_sure():
    from bot.domain import intake
    from bot.domain.playbook import load_playbook
    from bot.runtime.config import DEFAULT_PLAYBOOK
    playbook = load_playbook(DEFAULT_PLAYBOOK)
    text = "the new kettle stopped working after a week"
    sure = intake.read_report(text, playbook, _Reader({"in_person": 0.97, "phone": 0.3}))
    unsure = intake.read_report(text, playbook, _Reader({"in_person": 0.5}))
    assert sure.contacts == ("in_person",) and sure.contact == "in_person"
    assert unsure.contacts == ()
    rang = intake.read_report("she rang us about the kettle", playbook,
                              _Reader({"phone": 0.01, "email": 0.99}))
    assert rang.contacts == ("phone", "email")  # a channel the cues read is never dropped
