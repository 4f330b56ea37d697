"""Rebuild data/model/reader_head.npz, the reader model's trained heads.

Reads the labelled examples in data/model/training_examples.yaml and, when present, the
train split of the labelled corpus (data/corpus/train_reports*.yaml: text, category,
feeling; data/corpus/train_drafts*.yaml: draft, expect). Nothing named "heldout" is ever
read. Each head is a softmax regression over WordLlama features, fitted by full-batch
gradient descent from zeros, so the same examples always give the same weights; the .npz
is written with fixed zip timestamps, so the same weights always give the same bytes.

    .venv/bin/python scripts/train_reader.py            # write the head
    .venv/bin/python scripts/train_reader.py --cv 5     # also print 5-fold accuracy
    .venv/bin/python scripts/train_reader.py --check    # fail if the .npz is stale
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.reading.model import (  # noqa: E402
    CATEGORIES,
    CHANNEL_LABELS,
    CHANNELS,
    CONCEPTS,
    EMBEDDER_ID,
    FEELINGS,
    HEAD_FORMAT,
    NOT_CONCEPT,
    Embedder,
    channel_head,
    known_rows,
)

EXAMPLES_PATH = ROOT / "data" / "model" / "training_examples.yaml"
CORPUS_DIR = ROOT / "data" / "corpus"
HEAD_PATH = ROOT / "data" / "model" / "reader_head.npz"
LANGUAGES = ("en", "es", "fr", "de", "pt")
DRAFT_CONCEPTS = ("blame", "callback_burden", "passed_on")  # rule keys in a draft's `expect`
L2 = 0.03
ITERATIONS = 400
SEED = 20261203
ZIP_TIME = (2026, 1, 1, 0, 0, 0)
TRAINING_CACHE = 1 << 16
MIN_TOKEN_TEXTS = 2  # a token seen in fewer training texts gets no weight of its own


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    language: str | None = None
    group: str = ""  # paraphrases share a group, and folds never split a group


@dataclass(frozen=True)
class Draft:
    """A corpus draft reply: the coach concepts it shows, as a whole."""

    text: str
    concepts: frozenset[str]
    group: str = ""

    def sentences(self) -> list[str]:
        return split_sentences(self.text)


@dataclass
class TrainingSet:
    reports: list[Example]  # label = category
    feelings: list[Example]  # the same reports, label = feeling
    sentences: list[Example]  # label = a concept or "other"
    drafts: list[Draft] = field(default_factory=list)
    contacts: list[Example] = field(default_factory=list)  # corpus reports, label = "a|b"

    def head_examples(self) -> dict[str, list[Example]]:
        """Examples of the heads trained on whole texts (the concept heads use drafts too)."""
        return {"category": self.reports, "feeling": self.feelings,
                "language": [Example(ex.text, ex.language, ex.language, ex.group)
                             for ex in self.reports + self.sentences
                             if ex.language in LANGUAGES],
                **{channel_head(channel): [
                    Example(ex.text, CHANNEL_LABELS[channel in ex.label.split("|")],
                            ex.language, ex.group) for ex in self.contacts]
                   for channel in CHANNELS if self.contacts}}

    def subset(self, keep: Callable[[str], bool]) -> TrainingSet:
        """The examples and drafts whose group `keep` accepts."""
        def pick(items: list) -> list:
            return [item for item in items if keep(item.group)]
        return TrainingSet(pick(self.reports), pick(self.feelings), pick(self.sentences),
                           pick(self.drafts), pick(self.contacts))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    return [sentence for sentence in _SENTENCE_END.split(text.strip()) if sentence]


# -- reading the examples ---------------------------------------------------------------


def load_training_set(examples_path: Path = EXAMPLES_PATH,
                      corpus_dir: Path | None = CORPUS_DIR) -> TrainingSet:
    data = yaml.safe_load(examples_path.read_text(encoding="utf-8"))
    reports, feelings = _own_reports(data["reports"])
    training = TrainingSet(reports, feelings, _own_sentences(data["sentences"]))
    if corpus_dir is not None:
        for text, category, feeling, language, group, channels in _corpus_reports(corpus_dir):
            training.reports.append(Example(text, category, language, group))
            training.feelings.append(Example(text, feeling, language, group))
            training.contacts.append(Example(text, "|".join(channels), language, group))
        training.drafts = _corpus_drafts(corpus_dir)
    return training


def _own_reports(groups: Mapping) -> tuple[list[Example], list[Example]]:
    reports, feelings = [], []
    for category, languages in groups.items():
        _require(category in CATEGORIES, f"unknown category {category!r}")
        for language, items in languages.items():
            _require(language in LANGUAGES, f"unknown language {language!r}")
            for feeling, text in items:
                _require(feeling in FEELINGS, f"unknown feeling {feeling!r} in {text!r}")
                group = f"own:{len(reports)}"
                reports.append(Example(text, category, language, group))
                feelings.append(Example(text, feeling, language, group))
    return reports, feelings


def _own_sentences(groups: Mapping) -> list[Example]:
    sentences: list[Example] = []
    for concept, languages in groups.items():
        _require(concept in CONCEPTS or concept == NOT_CONCEPT, f"unknown concept {concept!r}")
        for language, items in languages.items():
            _require(language in LANGUAGES, f"unknown language {language!r}")
            sentences += [Example(text, concept, language, f"own-sentence:{len(sentences) + i}")
                          for i, text in enumerate(items)]
    return sentences


def corpus_files(corpus_dir: Path, kind: str) -> list[Path]:
    """train_<kind>*.yaml, then train_more_<kind>_*.yaml (written after the split was
    frozen, all of it training data) in the corpus folder, sorted; never a held-out file."""
    if not corpus_dir.is_dir():
        return []
    paths = (sorted(corpus_dir.glob(f"train_{kind}*.yaml"))
             + sorted(corpus_dir.glob(f"train_more_{kind}_*.yaml")))
    return [path for path in paths if "heldout" not in path.name.casefold()]


def corpus_group(path: Path, item: Mapping, number: int) -> str:
    """An item's paraphrase group, named by its file's series: the batches of one series
    (train_more_reports_01, _02 …) share group names, so a group split over two batches
    still stays in one fold."""
    series = re.sub(r"_\d+$", "", path.stem)
    return f"{series}.yaml:{item.get('group', f'{path.stem}#{number}')}"


def _items(path: Path) -> list[dict]:
    """A YAML file's items: a list of mappings, or the one list inside a mapping."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        _require(len(lists) == 1, f"{path}: expected one list of items")
        data = lists[0]
    _require(isinstance(data, list), f"{path}: expected a list of items")
    return [item for item in data if isinstance(item, dict)]


def _corpus_reports(corpus_dir: Path
                    ) -> list[tuple[str, str, str, str | None, str, tuple[str, ...]]]:
    rows = []
    for path in corpus_files(corpus_dir, "reports"):
        for number, item in enumerate(_items(path)):
            text, category, feeling = item.get("text"), item.get("category"), item.get("feeling")
            _require(category in CATEGORIES and feeling in FEELINGS,
                     f"{path}: bad labels on {text!r}")
            channels = tuple(item.get("channels") or ())
            _require(set(channels) <= set(CHANNELS), f"{path}: bad channels on {text!r}")
            group = corpus_group(path, item, number)
            rows.append((str(text), category, feeling, item.get("language"), group, channels))
    return rows


def _corpus_drafts(corpus_dir: Path) -> list[Draft]:
    drafts = []
    for path in corpus_files(corpus_dir, "drafts"):
        for number, item in enumerate(_items(path)):
            concepts = set(item.get("expect") or ()) & set(CONCEPTS)
            if item.get("resolved"):
                concepts.add("resolved")
            group = corpus_group(path, item, number)
            drafts.append(Draft(str(item["draft"]), frozenset(concepts), group))
    return drafts


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise SystemExit(f"train_reader: {message}")


# -- fitting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoded:
    """Texts as the heads read them: dense features and each text's distinct tokens."""

    dense: np.ndarray  # (texts, dense features)
    tokens: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.tokens)


def encode(embedder: Embedder, texts: Iterable[str]) -> Encoded:
    pooled = [embedder.read(text) for text in texts]
    dense = np.stack([p.features for p in pooled]) if pooled else np.zeros((0, 2 * embedder.dim))
    return Encoded(dense.astype(np.float64), tuple(p.tokens for p in pooled))


def build_vocabulary(token_sets: Iterable[np.ndarray],
                     min_texts: int = MIN_TOKEN_TEXTS) -> np.ndarray:
    """The tokens that occur in at least `min_texts` training texts, sorted."""
    counts: Counter[int] = Counter()
    for tokens in token_sets:
        counts.update(tokens.tolist())
    return np.array(sorted(t for t, n in counts.items() if n >= min_texts), dtype=np.int64)


class Bag:
    """Which vocabulary tokens each text holds: a sparse 0/1 (texts x vocabulary) matrix."""

    def __init__(self, tokens: Sequence[np.ndarray], vocabulary: np.ndarray):
        columns = [known_rows(vocabulary, t) for t in tokens]
        self.texts, self.width = len(tokens), len(vocabulary)
        self.rows = np.repeat(np.arange(self.texts), [len(c) for c in columns])
        self.columns = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)

    def matmul(self, w: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(self.rows, w[self.columns, k], self.texts)
                         for k in range(w.shape[1])], axis=1)

    def rmatmul(self, e: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(self.columns, e[self.rows, k], self.width)
                         for k in range(e.shape[1])], axis=1)

    def column_mean(self) -> np.ndarray:
        return np.bincount(self.columns, minlength=self.width) / max(self.texts, 1)


class Design:
    """[dense | bag] with every column standardised, without densifying the bag."""

    def __init__(self, encoded: Encoded, vocabulary: np.ndarray):
        self.dense, self.dense_mean, self.dense_scale = _standardise(encoded.dense)
        self.bag = Bag(encoded.tokens, vocabulary)
        self.bag_mean = self.bag.column_mean()
        self.bag_scale = np.sqrt(self.bag_mean * (1 - self.bag_mean))
        self.bag_scale[self.bag_scale < 1e-8] = 1.0
        self.split = self.dense.shape[1]
        self.width = self.split + self.bag.width

    def matmul(self, w: np.ndarray) -> np.ndarray:
        bag_w = w[self.split:] / self.bag_scale[:, None]
        return self.dense @ w[:self.split] + self.bag.matmul(bag_w) - self.bag_mean @ bag_w

    def rmatmul(self, e: np.ndarray) -> np.ndarray:
        bag = (self.bag.rmatmul(e) - self.bag_mean[:, None] * e.sum(axis=0)) / \
            self.bag_scale[:, None]
        return np.vstack([self.dense.T @ e, bag])

    def unfold(self, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights and bias for the raw (unstandardised) features."""
        mean = np.concatenate([self.dense_mean, self.bag_mean])
        scale = np.concatenate([self.dense_scale, self.bag_scale])
        return w / scale[:, None], b - (mean / scale) @ w


@dataclass(frozen=True)
class Fitted:
    labels: tuple[str, ...]
    weights: np.ndarray  # (dense features, labels)
    token_weights: np.ndarray  # (vocabulary, labels)
    bias: np.ndarray
    vocabulary: np.ndarray

    def scores(self, encoded: Encoded) -> np.ndarray:
        bag = Bag(encoded.tokens, self.vocabulary)
        return encoded.dense @ self.weights + bag.matmul(self.token_weights) + self.bias

    def predict(self, encoded: Encoded) -> np.ndarray:
        return np.argmax(self.scores(encoded), axis=1)


def fit_softmax(encoded: Encoded, labels: Sequence[str], label_order: Sequence[str],
                vocabulary: np.ndarray, l2: float = L2,
                iterations: int = ITERATIONS,
                weights: Sequence[float] | None = None) -> Fitted:
    """Class-balanced softmax regression on standardised features, Nesterov descent.
    `weights` (one per example) scale the examples' shares before balancing."""
    names = tuple(label for label in label_order if label in set(labels))
    y = np.array([names.index(label) for label in labels])
    design = Design(encoded, vocabulary)
    targets = np.eye(len(names))[y]
    sample_weight = _balanced_weights(y, len(names), weights)
    step = 1.0 / (_lipschitz(design, sample_weight) + l2)
    w, b = _descend(design, targets, sample_weight, l2, step, iterations)
    weights, bias = design.unfold(w, b)
    return Fitted(names, weights[:design.split].astype(np.float32),
                  weights[design.split:].astype(np.float32), bias.astype(np.float32),
                  vocabulary)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    return (x - mean) / scale, mean, scale


def _balanced_weights(y: np.ndarray, classes: int,
                      scale: Sequence[float] | None = None) -> np.ndarray:
    """Each class gets the same total weight; within a class, examples share it by `scale`."""
    scale = np.ones(len(y)) if scale is None else np.asarray(scale, dtype=np.float64)
    totals = np.bincount(y, weights=scale, minlength=classes)
    weights = scale / (classes * totals[y])
    return weights / weights.sum()


def _lipschitz(design: Design, sample_weight: np.ndarray) -> float:
    """A bound on the loss gradient's Lipschitz constant: 0.5 * top eigenvalue of X'WX,
    by power iteration from a fixed start, plus the bias column's share."""
    vector = np.ones((design.width, 1)) / np.sqrt(design.width)
    value = 0.0
    for _ in range(60):
        product = design.rmatmul(design.matmul(vector) * sample_weight[:, None])
        value = float(np.linalg.norm(product))
        vector = product / max(value, 1e-12)
    return 0.5 * (value * 1.1 + 1.0)


def _descend(design: Design, targets: np.ndarray, sample_weight: np.ndarray, l2: float,
             step: float, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    w = np.zeros((design.width, targets.shape[1]))
    b = np.zeros(targets.shape[1])
    w_prev, b_prev = w, b
    for i in range(1, iterations + 1):
        momentum = (i - 1) / (i + 2)
        w_look, b_look = w + momentum * (w - w_prev), b + momentum * (b - b_prev)
        error = (_softmax(design.matmul(w_look) + b_look) - targets) * sample_weight[:, None]
        w_prev, b_prev = w, b
        w = w_look - step * (design.rmatmul(error) + l2 * w_look)
        b = b_look - step * error.sum(axis=0)
    return w, b


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def head_orders() -> dict[str, tuple[str, ...]]:
    orders = {"category": CATEGORIES, "feeling": FEELINGS, "language": LANGUAGES}
    orders.update({concept: (NOT_CONCEPT, concept) for concept in CONCEPTS})
    orders.update({channel_head(channel): CHANNEL_LABELS for channel in CHANNELS})
    return orders


def all_texts(training: TrainingSet) -> list[str]:
    return ([ex.text for ex in training.reports + training.sentences]
            + [sentence for draft in training.drafts for sentence in draft.sentences()])


@dataclass
class Trainer:
    """Fits heads over one embedder and one token vocabulary."""

    embedder: Embedder
    vocabulary: np.ndarray
    l2: float = L2

    @classmethod
    def for_training(cls, training: TrainingSet, embedder: Embedder, l2: float = L2) -> Trainer:
        texts = dict.fromkeys(all_texts(training))
        return cls(embedder, build_vocabulary(embedder.read(t).tokens for t in texts), l2)

    def encode(self, texts: Iterable[str]) -> Encoded:
        return encode(self.embedder, texts)

    def fit(self, texts: Sequence[str], labels: Sequence[str], name: str) -> Fitted:
        return fit_softmax(self.encode(texts), labels, head_orders()[name], self.vocabulary,
                           self.l2)

    def fit_examples(self, examples: Sequence[Example], name: str) -> Fitted:
        return self.fit([ex.text for ex in examples], [ex.label for ex in examples], name)

    def fit_concept(self, training: TrainingSet, concept: str) -> Fitted:
        """One coach concept, sentence by sentence.

        Positives: its labelled sentences, and from each corpus draft that shows it, the
        sentence a first fit scores highest (a draft's label says which, not where).
        Negatives: every other labelled sentence and report and, for blame,
        callback_burden and passed_on (exact labels), each sentence of a draft without it.
        """
        texts = [ex.text for ex in training.sentences + training.reports]
        labels = [concept if ex.label == concept else NOT_CONCEPT for ex in training.sentences]
        labels += [NOT_CONCEPT] * len(training.reports)
        if concept in DRAFT_CONCEPTS:
            clean = [s for d in training.drafts if concept not in d.concepts
                     for s in d.sentences()]
            texts, labels = texts + clean, labels + [NOT_CONCEPT] * len(clean)
        fitted = self.fit(texts, labels, concept)
        shown = [d.sentences() for d in training.drafts if concept in d.concepts]
        best = [self._likeliest(fitted, sentences) for sentences in shown if sentences]
        if not best:
            return fitted
        return self.fit(texts + best, labels + [concept] * len(best), concept)

    def _likeliest(self, fitted: Fitted, sentences: Sequence[str]) -> str:
        scores = fitted.scores(self.encode(sentences))
        return sentences[int(np.argmax(scores[:, -1] - scores[:, 0]))]

    def shows(self, fitted: Fitted, sentences: Sequence[str]) -> bool:
        """Does any sentence show the concept?"""
        return bool(sentences) and bool(fitted.predict(self.encode(sentences)).any())

    def train(self, training: TrainingSet) -> dict[str, Fitted]:
        heads = {name: self.fit_examples(examples, name)
                 for name, examples in training.head_examples().items()}
        heads.update({concept: self.fit_concept(training, concept) for concept in CONCEPTS})
        return heads


# -- writing ----------------------------------------------------------------------------


def training_sources(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    return [EXAMPLES_PATH, *corpus_files(corpus_dir, "reports"),
            *corpus_files(corpus_dir, "drafts")]


def source_lines(paths: Iterable[Path]) -> list[str]:
    """'<sha256> <path>' for each file trained on, as the head records them."""
    return [f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.relative_to(ROOT)}"
            for path in paths]


def neighbour_arrays(trainer: Trainer, reports: Sequence[Example],
                     labels: Sequence[str]) -> dict[str, np.ndarray]:
    """The category's training reports as the reader's neighbour vote reads them: each
    report's vocabulary rows (concatenated), their counts, and its label's index."""
    rows = [known_rows(trainer.vocabulary, trainer.embedder.read(ex.text).tokens)
            for ex in reports]
    return {"category.neighbour_rows": np.concatenate(rows).astype(np.int32) if rows
            else np.zeros(0, dtype=np.int32),
            "category.neighbour_lengths": np.array([len(r) for r in rows], dtype=np.int32),
            "category.neighbour_labels": np.array([labels.index(ex.label) for ex in reports],
                                                  dtype=np.int8)}


def head_arrays(heads: Mapping[str, Fitted], vocabulary: np.ndarray,
                sources: Sequence[str] = (),
                extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    arrays = {"format": np.array(HEAD_FORMAT), "embedder": np.array(EMBEDDER_ID),
              "heads": np.array(list(heads)), "sources": np.array(list(sources), dtype=str),
              "vocabulary": vocabulary.astype(np.int32)}
    for name, fitted in heads.items():
        arrays[f"{name}.labels"] = np.array(fitted.labels)
        arrays[f"{name}.weights"] = fitted.weights
        arrays[f"{name}.token_weights"] = fitted.token_weights.astype(np.float16)
        arrays[f"{name}.bias"] = fitted.bias
    arrays.update(extra or {})
    return arrays


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An .npz (what np.savez_compressed writes) with fixed timestamps: same arrays, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


# -- cross-validation -------------------------------------------------------------------


def fold_of(group: str, k: int) -> int:
    """A group's fold: fixed by its name, so paraphrases (one group) stay together."""
    return int(hashlib.sha256(f"{SEED}:{group}".encode()).hexdigest(), 16) % k


def report_cv(training: TrainingSet, trainer: Trainer, k: int) -> None:
    """Out-of-fold predictions for every example, the folds split by group."""
    print(f"{k}-fold cross-validation by group (l2 {trainer.l2}):")
    examples = training.head_examples()
    predicted: dict[str, dict[str, str]] = {name: {} for name in examples}
    concept_rows: list[tuple[str, bool, bool]] = []  # ("<scope>:<concept>", truth, guess)
    for fold in range(k):
        train_part = training.subset(lambda group, fold=fold: fold_of(group, k) != fold)
        test_part = training.subset(lambda group, fold=fold: fold_of(group, k) == fold)
        for name, items in test_part.head_examples().items():
            fitted = trainer.fit_examples(train_part.head_examples()[name], name)
            guesses = fitted.predict(trainer.encode(ex.text for ex in items))
            predicted[name].update({ex.group + ex.text: fitted.labels[g]
                                    for ex, g in zip(items, guesses, strict=True)})
        for concept in CONCEPTS:
            fitted = trainer.fit_concept(train_part, concept)
            concept_rows += _concept_rows(trainer, fitted, concept, test_part)
    for name, items in examples.items():
        guesses = [predicted[name][ex.group + ex.text] for ex in items]
        print(_summary(name, items, [ex.label for ex in items], guesses))
    for concept in CONCEPTS:
        for scope in ("sentence", "draft"):
            rows = [(t, g) for key, t, g in concept_rows if key == f"{scope}:{concept}"]
            if rows:
                print(f"  {concept:16} {scope + 's':9}" + _precision_recall(rows))


def _concept_rows(trainer: Trainer, fitted: Fitted, concept: str,
                  test: TrainingSet) -> list[tuple[str, bool, bool]]:
    guesses = fitted.predict(trainer.encode(ex.text for ex in test.sentences))
    rows = [(f"sentence:{concept}", ex.label == concept, bool(g))
            for ex, g in zip(test.sentences, guesses, strict=True)]
    rows += [(f"draft:{concept}", concept in draft.concepts,
              trainer.shows(fitted, draft.sentences())) for draft in test.drafts]
    return rows


def _summary(name: str, examples: Sequence[Example], labels: Sequence[str],
             predicted: Sequence[str]) -> str:
    right = [a == b for a, b in zip(labels, predicted, strict=True)]
    line = f"  {name:16} accuracy {np.mean(right):.3f} on {len(labels):5}"
    by_source: dict[str, list[bool]] = {}
    for ex, ok in zip(examples, right, strict=True):
        source = "own" if ex.group.startswith("own") else "corpus"
        by_source.setdefault(source, []).append(ok)
        by_source.setdefault(f"{source}-{ex.language}", []).append(ok)
    per = "  ".join(f"{key} {np.mean(oks):.2f}" for key, oks in sorted(by_source.items()))
    return f"{line}  macro-F1 {_macro_f1(labels, predicted):.3f}\n{'':20}{per}"


def _precision_recall(rows: Sequence[tuple[bool, bool]]) -> str:
    pairs = Counter(rows)
    tp, fp, fn = pairs[(True, True)], pairs[(False, True)], pairs[(True, False)]
    return (f" precision {tp / max(tp + fp, 1):.2f}  recall {tp / max(tp + fn, 1):.2f}"
            f"  ({tp + fn} positive of {len(rows)})")


def _macro_f1(labels: Sequence[str], predicted: Sequence[str]) -> float:
    scores = []
    for label in sorted(set(labels)):
        tp = sum(a == label == b for a, b in zip(labels, predicted, strict=True))
        fp = sum(b == label != a for a, b in zip(labels, predicted, strict=True))
        fn = sum(a == label != b for a, b in zip(labels, predicted, strict=True))
        scores.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(scores))


def report_transfer(training: TrainingSet, trainer: Trainer) -> None:
    """Category and feeling trained on English only, scored on the other languages."""
    for name, examples in (("category", training.reports), ("feeling", training.feelings)):
        english = [ex for ex in examples if ex.language == "en"]
        others = [ex for ex in examples if ex.language in LANGUAGES and ex.language != "en"]
        fitted = trainer.fit_examples(english, name)
        guesses = fitted.predict(trainer.encode(ex.text for ex in others))
        right = np.mean([fitted.labels[g] == ex.label
                         for g, ex in zip(guesses, others, strict=True)])
        print(f"  {name:16} trained on English only: accuracy {right:.3f} on es/fr/de/pt")


def report_coach_drafts(heads: Mapping[str, Fitted], trainer: Trainer) -> None:
    """The concept heads on the coach's labelled drafts, which training never reads."""
    path = ROOT / "tests" / "data" / "coach_drafts.yaml"
    if not path.exists():
        return
    drafts = [(split_sentences(item["draft"]), set(item.get("expect") or ()))
              for item in _items(path)]
    for concept in DRAFT_CONCEPTS:
        rows = [(concept in expect, trainer.shows(heads[concept], sentences))
                for sentences, expect in drafts]
        print(f"  {concept:16} coach drafts (tests/data, unseen)" + _precision_recall(rows))


# -- main -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", type=int, default=0, metavar="K", help="print K-fold accuracy")
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--out", type=Path, default=HEAD_PATH)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if --out differs from a fresh build")
    args = parser.parse_args(argv)
    training = load_training_set()
    trainer = Trainer.for_training(training, Embedder.load(cache_size=TRAINING_CACHE), args.l2)
    heads = trainer.train(training)
    sources = source_lines(training_sources())
    neighbours = neighbour_arrays(trainer, training.reports, heads["category"].labels)
    data = npz_bytes(head_arrays(heads, trainer.vocabulary, sources, neighbours))
    print(f"trained {len(heads)} heads on {len(training.reports)} reports, "
          f"{len(training.sentences)} sentences and {len(training.drafts)} drafts from:")
    print("\n".join(f"  {line}" for line in sources))
    if args.cv:
        report_cv(training, trainer, args.cv)
        report_transfer(training, trainer)
        report_coach_drafts(heads, trainer)
    if args.check:
        same = args.out.exists() and args.out.read_bytes() == data
        print(f"{args.out}: {'up to date' if same else 'STALE: run scripts/train_reader.py'}")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
