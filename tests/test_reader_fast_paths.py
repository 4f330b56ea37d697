"""The reading's fast paths give what the plain ones give: tokens encoded word by word
from a cache, word-pair hashes carried on from each word's, all heads in one product,
and cue matching by cue length. Reference implementations are written out here, so a
later speed-up is held to the same answers (on training texts, never held-out ones)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.domain.playbook import load_playbook
from bot.domain.reading.model import (
    _WORD_RE,
    CATEGORIES,
    CHANNELS,
    FEELINGS,
    NEIGHBOUR_WEIGHT,
    PAIR_BUCKETS,
    WORD_NGRAMS,
    Embedder,
    SituationModel,
    clean_text,
    known_rows,
)
from bot.domain.text import CueHit, CueMatcher, tokenize

ROOT = Path(__file__).resolve().parent.parent
EDGES = ["", "a", "  spaced   out  ", "a literal \u2581 in it", "tags <s> and </s> <unk>x",
         "émoji 😡😡 and ÜMLAUTS", "ok!!", "don't-stop", "12:30 on 3/4", "x" * 3000]


def training_texts(every: int = 7) -> list[str]:
    reports = yaml.safe_load((ROOT / "data/corpus/train_reports.yaml").read_text("utf-8"))
    drafts = yaml.safe_load((ROOT / "data/corpus/train_drafts.yaml").read_text("utf-8"))
    texts = [item["text"] for item in reports["reports"][::every]]
    texts += [item["draft"] for item in drafts["drafts"][::every]]
    return texts + EDGES


@pytest.fixture(scope="module")
def model() -> SituationModel:
    return SituationModel.load()


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return training_texts()


def test_tokens_word_by_word_are_the_tokenizers_own(model, texts):
    fresh = Embedder(model.embedder.vectors, model.embedder.tokenizer)
    for text in texts:
        clean = clean_text(text)
        whole = fresh.tokenizer.encode(clean, add_special_tokens=False).ids
        assert fresh._encode(clean) == whole, clean
        assert fresh._encode(clean) == whole, clean  # and again, from the word cache


def reference_pair_ids(embedder: Embedder, text: str) -> np.ndarray:
    words = _WORD_RE.findall(text.casefold())
    grams = [" ".join(words[i:i + n]) for n in WORD_NGRAMS for i in range(len(words) - n + 1)]
    return np.array([len(embedder.vectors) + zlib.crc32(g.encode()) % PAIR_BUCKETS
                     for g in grams], dtype=np.int64)


def test_word_pair_ids_are_the_hashes_of_the_joined_words(model, texts):
    for text in texts:
        clean = clean_text(text)
        assert model.embedder.pair_ids(clean).tolist() == \
            reference_pair_ids(model.embedder, clean).tolist()


def test_pooled_features_are_the_plain_mean_and_max(model, texts):
    embedder = model.embedder
    for text in texts[:60]:
        pooled = embedder.read(text)
        ids = embedder.token_ids(text)
        if ids.size:
            vectors = embedder.vectors[ids]
            mean = vectors.mean(axis=0)
            mean = mean / np.linalg.norm(mean)
            assert np.array_equal(pooled.features, np.concatenate([mean, vectors.max(axis=0)]))
        expected = np.unique(np.concatenate([ids, reference_pair_ids(embedder, clean_text(text))]))
        assert np.array_equal(pooled.tokens, expected)


def test_all_heads_at_once_read_as_each_head_alone(model, texts):
    for text in texts[:200]:
        features, rows = model._inputs(text)
        together = model._labelled(text, tuple(model.heads))
        for name, head in model.heads.items():
            alone = head.labelled(features, rows)
            assert together[name].keys() == alone.keys()
            assert np.allclose(list(together[name].values()), list(alone.values()),
                               rtol=1e-4, atol=1e-6), (name, text)


def test_a_prediction_reads_each_head_as_the_fused_heads_label_it(model, texts):
    """`predict` slices the fused probabilities itself: the same numbers, label by label,
    as the per-head mappings `_labelled` gives (exactly: the same list of floats)."""
    for text in texts[:200]:
        clean = clean_text(text)
        read = model._labelled(clean, tuple(model.heads))
        predicted = model._predict(clean)
        assert dict(predicted.category_probs) == blended_category(model, clean, read)
        assert list(predicted.category_probs) == [*CATEGORIES]
        assert dict(predicted.feeling_probs) == dict(read["feeling"])
        assert list(predicted.feeling_probs) == [*FEELINGS]
        expected = blended_category(model, clean, read)
        assert predicted.category == max(expected, key=expected.get)
        assert predicted.feeling == max(read["feeling"], key=read["feeling"].get)
        if "language" in model.heads:
            assert list(predicted.language_probs.items()) == list(read["language"].items())
        assert dict(predicted.channel_probs) == {
            channel: read[f"channel_{channel}"]["yes"] for channel in CHANNELS
            if f"channel_{channel}" in model.heads}


def blended_category(model, clean, read) -> dict[str, float]:
    """The category head's probabilities, blended with the nearest reports' vote when the
    head file holds them (NEIGHBOUR_WEIGHT of the vote)."""
    head = dict(read["category"])
    if model.head_set.neighbours is None:
        return head
    votes = model.head_set.neighbours.vote(model._inputs(clean)[1])
    return {label: (1 - NEIGHBOUR_WEIGHT) * p + NEIGHBOUR_WEIGHT * float(v)
            for (label, p), v in zip(head.items(), votes, strict=True)}


def reference_find(groups, tokens) -> list[CueHit]:
    """CueMatcher.find as first written: at each position the cues starting with that
    token, longest first, one comparison each."""
    entries: dict[str, list[tuple[tuple[str, ...], str, list[str]]]] = {}
    seen: dict[tuple[str, ...], tuple[str, list[str]]] = {}
    for label, cues in groups:
        for cue in cues:
            words = tokenize(cue)
            _first, labels = seen.setdefault(words, (cue, []))
            if label not in labels:
                labels.append(label)
    for words, (cue, labels) in seen.items():
        entries.setdefault(words[0], []).append((words, cue, labels))
    for found in entries.values():
        found.sort(key=lambda entry: -len(entry[0]))
    hits, i = [], 0
    while i < len(tokens):
        for words, cue, labels in entries.get(tokens[i], ()):
            if tuple(tokens[i:i + len(words)]) == words:
                hits.append(CueHit(cue, tuple(labels), max(1, len(cue.split())), i))
                i += len(words)
                break
        else:
            i += 1
    return hits


def test_cue_matching_finds_what_one_comparison_per_cue_finds(texts):
    playbook = load_playbook(ROOT / "data" / "playbook.yaml")
    groups = {
        "category": [(c.key, c.cues) for c in playbook.categories],
        "contact": [*((c.key, c.cues) for c in playbook.contact.channels),
                    ("ignore", playbook.contact.ignore)],
        "emotion": [("irate", playbook.emotion.irate), ("upset", playbook.emotion.upset),
                    ("calm", playbook.emotion.calm)],
        "severity": [("critical", playbook.severity.critical),
                     ("high", playbook.severity.high)],
    }
    for name, group in groups.items():
        matcher = CueMatcher(group)
        for text in texts:
            tokens = tokenize(text)
            assert matcher.find(tokens) == reference_find(group, tokens), (name, text)


def test_known_rows_by_table_are_those_found_by_search(model, texts):
    head_set = model.head_set
    vocabulary = head_set.vocabulary
    for text in texts:
        tokens = model.embedder.read(text).tokens
        assert head_set.rows(tokens).tolist() == known_rows(vocabulary, tokens).tolist()
    past = np.array([0, int(vocabulary[-1]), int(vocabulary[-1]) + 1, 10**9], dtype=np.int64)
    assert head_set.rows(past).tolist() == known_rows(vocabulary, past).tolist()
