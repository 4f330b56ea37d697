"""A small language model for what cue lists can't enumerate: a report's category and feeling.

    model = SituationModel.load()              # WordLlama's bundled vectors + our trained head
    model.predict("El cliente esperó dos horas en la cola y está furioso")
    -> Prediction(category="long_wait", feeling="irate", language="es", ...)
    model.concepts("Our courier made the mistake, not us")  # sentence-level coach concepts
    -> {"blame": 0.97, "callback_burden": 0.01, "passed_on": 0.05, "resolved": 0.02}

Text is read with WordLlama (static token vectors from a large model's embedding layer,
256 dimensions, shipped inside the wheel, so nothing is downloaded): the mean and the
per-dimension max of the token vectors, which subword tokens occur, and which runs of
adjacent words occur ("not working", "on hold"; hashed, deterministically, to ids past the
tokenizer's own, so they are weighted exactly like tokens). Each head
(category, feeling, language, and one per coach concept) is a softmax regression over
those: dense weights for the vectors, which carry meaning to words never seen in
training, and one weight row per known token, which carries what the examples taught
about that token. The weights ship as plain arrays in data/model/reader_head.npz;
`scripts/train_reader.py` rebuilds it. Loading needs numpy and wordllama only; no
network, no scikit-learn.
"""

from __future__ import annotations

import importlib
import logging
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from bot.domain.datafiles import data_file

CATEGORIES = ("long_wait", "passed_around", "uncaring", "no_ownership", "wrong_info",
              "broken_promise", "product_defect", "billing_error", "general")
FEELINGS = ("calm", "upset", "irate")
CONCEPTS = ("blame", "callback_burden", "passed_on", "resolved")
CHANNELS = ("email", "phone", "chat", "in_person", "social")
CHANNEL_LABELS = ("no", "yes")  # each channel head: was the customer in touch this way?
NOT_CONCEPT = "other"  # the negative label of every concept head

HEAD_FORMAT = 1
EMBEDDER_ID = "wordllama:l2_supercat:256:mean+max+tokens+words+wordpairs"
PAIR_BUCKETS = 1 << 20  # hashed word n-grams get ids past the tokenizer's own
WORD_NGRAMS = (1, 2)  # which runs of words are hashed: single words and pairs (pair_ids)
DEFAULT_HEAD = data_file("model/reader_head.npz")  # the checkout's data/, or the package's
CACHE_SIZE = 4096  # texts whose vectors are kept
MAX_CHARS = 2000  # a longer text is read from its first 2000 characters


class ModelUnavailable(RuntimeError):
    """WordLlama or the head could not be loaded; the caller falls back to the cue lists."""


# -- embedding --------------------------------------------------------------------------


def clean_text(text: str | None) -> str:
    """NFC, whitespace collapsed, cut at MAX_CHARS: the same text always gives one key."""
    if not text:
        return ""
    return " ".join(unicodedata.normalize("NFC", str(text)[:MAX_CHARS]).split())


def _import_wordllama() -> Any:
    """Import wordllama, undoing the logging.basicConfig() it runs at import time."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return importlib.import_module("wordllama")
    except ImportError as exc:
        raise ModelUnavailable(f"wordllama is not installed: {exc}") from exc
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def wordllama_folder() -> Path:
    """The installed package's own folder, which holds weights/ and tokenizers/."""
    return Path(_import_wordllama().__file__).resolve().parent


@dataclass(frozen=True, eq=False)
class Pooled:
    """One text as the heads see it. The arrays are read-only: the cache shares them."""

    mean: np.ndarray  # (dim,) mean token vector, unit length
    features: np.ndarray  # (2 * dim,) [mean, max over tokens]
    present: Callable[[], np.ndarray] = field(repr=False)  # works out `tokens`

    @cached_property
    def tokens(self) -> np.ndarray:
        """The distinct token and word-pair ids, sorted: worked out on first use, as the
        coach's head reads the dense part alone (hashing the words was half of pooling)."""
        return self.present()


class Embedder:
    """WordLlama token vectors pooled into one vector per text, cached per text.

    `embed` is the mean of the token vectors, unit length (for similarity); the heads
    also read the per-dimension max and which tokens occur (a bag of subwords).
    """

    def __init__(self, vectors: np.ndarray, tokenizer: Any, cache_size: int = CACHE_SIZE):
        self.vectors = vectors
        # every id the tokenizer gives has a vector (WordLlama's own): no need to check each
        self._ids_fit = tokenizer.get_vocab_size(with_added_tokens=True) <= len(vectors)
        self.dim = int(vectors.shape[1])
        self.tokenizer = tokenizer
        self._pooled = lru_cache(maxsize=cache_size)(self._pool)
        self._word_ids: dict[str, list[int]] = {}  # word -> its token ids (see _encode)
        self._word_hashes: dict[str, tuple[int, bytes]] = {}  # word -> (crc32, b" " + word)

    @classmethod
    def load(cls, cache_size: int = CACHE_SIZE) -> Embedder:
        """Load the bundled l2_supercat 256-d vectors and tokenizer; never downloads."""
        wordllama = _import_wordllama()
        folder = Path(wordllama.__file__).resolve().parent
        try:
            # WordLlama looks for its bundled tokenizer in "tokenizer/" but ships it in
            # "tokenizers/"; as a cache_dir, its own folder resolves both files.
            inference = wordllama.WordLlama.load(
                config="l2_supercat", dim=256, cache_dir=folder, disable_download=True)
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"WordLlama's bundled files did not load: {exc}") from exc
        return cls(inference.embedding, inference.tokenizer, cache_size)

    def token_ids(self, text: str) -> np.ndarray:
        ids = np.array(self._encode(clean_text(text)), dtype=np.int64)
        return ids if self._ids_fit else ids[(ids >= 0) & (ids < len(self.vectors))]

    def _encode(self, text: str) -> list[int]:
        """The tokenizer's ids for a cleaned text, word by word from a per-word cache (a
        new report is mostly words read before). Exact: the tokenizer reads the whole
        text as one run with each space made "▁", and no token of its vocabulary holds
        a "▁" after its first character except runs of "▁", so no token spans two words.
        A text holding a "▁" itself, or a "<" (its special tokens "<s>", "<unk>"), is
        encoded whole."""
        if "\u2581" in text or "<" in text:
            return self.tokenizer.encode(text, add_special_tokens=False).ids
        words = text.split(" ") if text else []
        known = self._word_ids
        missing = [word for word in words if word not in known]
        if missing:
            if len(known) + len(missing) > WORDS_KEPT:
                known.clear()
            for word in missing:
                known[word] = self.tokenizer.encode(word, add_special_tokens=False).ids
        return list(chain.from_iterable(map(known.__getitem__, words)))

    def embed(self, text: str) -> np.ndarray:
        """The text's mean token vector, scaled to unit length (zeros for empty text)."""
        return self.read(text).mean

    def features(self, text: str) -> np.ndarray:
        """The dense part of what the heads read: [unit mean, max over tokens]."""
        return self.read(text).features

    def read(self, text: str) -> Pooled:
        """Everything the heads read from one text (cached)."""
        return self._pooled(clean_text(text))

    def pair_ids(self, text: str) -> np.ndarray:
        """Ids of the text's adjacent word pairs ("not working", "on hold"), hashed into
        PAIR_BUCKETS ids after the tokenizer's own, so they share the token weights."""
        return np.array(self._pair_list(text), dtype=np.int64)

    def _pair_list(self, text: str) -> list[int]:
        """`pair_ids` as a list of ints (the same numbers, without numpy's round trip)."""
        words = _WORD_RE.findall(text.casefold())
        hashed = self._word_hashes
        if len(hashed) > WORDS_KEPT:
            hashed.clear()
        # crc32 of "w1 w2" is crc32 of " w2" carried on from crc32 of "w1": each word is
        # encoded and hashed once, each pair costs one crc32 of its second word
        each = [hashed.get(word) or _word_hash(hashed, word) for word in words]
        crcs = [crc for crc, _ in each]
        crcs += [zlib.crc32(tail, crc) for (crc, _), (_, tail)
                 in zip(each, each[1:], strict=False)]
        past = len(self.vectors)
        return [crc % PAIR_BUCKETS + past for crc in crcs]

    def _pool(self, text: str) -> Pooled:
        ids = self.token_ids(text)
        if ids.size == 0:
            mean = np.zeros(self.dim, dtype=np.float32)
            peak = np.zeros(self.dim, dtype=np.float32)
        else:
            tokens = self.vectors.take(ids, axis=0)  # one gather, then two reductions
            mean = _unit(np.add.reduce(tokens, axis=0) / np.float32(len(ids)))
            peak = np.maximum.reduce(tokens, axis=0)
        features = np.concatenate([mean, peak]).astype(np.float32)
        for array in (mean, features):
            array.setflags(write=False)
        return Pooled(mean, features, lambda: self._present(ids, text))

    def _present(self, ids: np.ndarray, text: str) -> np.ndarray:
        # np.unique's result (sorted, distinct), by a set: on a few dozen ids numpy's
        # sort and masks cost more than the work
        present = np.array(sorted({*ids.tolist(), *self._pair_list(text)}), dtype=np.int64)
        present.setflags(write=False)
        return present

    def cache_clear(self) -> None:
        self._pooled.cache_clear()


_WORD_RE = re.compile(r"[^\W_]+")
WORDS_KEPT = 50_000  # words whose token ids and hashes are kept; past it they start over


def _word_hash(hashed: dict[str, tuple[int, bytes]], word: str) -> tuple[int, bytes]:
    encoded = word.encode()
    entry = hashed[word] = (zlib.crc32(encoded), b" " + encoded)
    return entry


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.sqrt(vector.dot(vector)))  # np.linalg.norm's own sum, without its checks
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


# -- heads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """Softmax regression over the dense features plus one weight row per token present.

    logits = features @ weights + sum(token_weights[row] for each distinct known token)
             + bias, with the training's standardisation folded into the weights.
    """

    name: str
    labels: tuple[str, ...]
    weights: np.ndarray  # (dense features, labels)
    token_weights: np.ndarray  # (vocabulary, labels)
    bias: np.ndarray  # (labels,)

    def probabilities(self, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
        logits = features @ self.weights + self.token_weights[rows].sum(axis=0) + self.bias
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def labelled(self, features: np.ndarray, rows: np.ndarray) -> Mapping[str, float]:
        probs = self.probabilities(features, rows)
        return MappingProxyType({label: float(p) for label, p in zip(self.labels, probs,
                                                                     strict=True)})


# The category is read by the category head blended with a vote of the training reports
# that share the most (TF-IDF weighted) word and word-pair rows with the text: the head
# alone reads 0.761 of the 3,078 train reports right by grouped cross-validation, the
# blend 0.776 (k and weight chosen on the other folds: 0.776, better in every fold).
# The vote alone reads 0.733. See scripts/cv_category.py --knn 40 80 160 320.
NEIGHBOURS = 80
NEIGHBOUR_WEIGHT = 0.7


class Neighbours:
    """The category training reports as bags of vocabulary rows, behind an inverted index:
    `vote(rows)` is a similarity-weighted vote of the `k` reports most like a text (cosine
    of binary TF-IDF bags), one share per category label, summing to 1."""

    def __init__(self, rows: np.ndarray, lengths: np.ndarray, labels: np.ndarray,
                 classes: int, vocabulary: int, k: int = NEIGHBOURS):
        lengths = lengths.astype(np.int64)
        self.texts, self.classes, self.k = len(lengths), classes, min(k, len(lengths))
        self.labels = labels.astype(np.int64)
        rows = rows.astype(np.int64)
        text_of = np.repeat(np.arange(self.texts), lengths)
        order = np.argsort(rows, kind="stable")
        self.postings = text_of[order].astype(np.int32)
        self.starts = np.searchsorted(rows[order], np.arange(vocabulary + 1))
        df = np.diff(self.starts)
        self.idf2 = (np.log((1 + self.texts) / (1 + df)) + 1.0) ** 2
        norms = np.sqrt(np.bincount(text_of, self.idf2[rows], self.texts))
        norms[norms == 0] = 1.0
        self.inverse_norms = 1.0 / norms

    def vote(self, rows: np.ndarray) -> np.ndarray:
        shares = np.full(self.classes, 1.0 / self.classes)
        if rows.size == 0 or self.texts == 0:
            return shares
        begin = self.starts[rows]
        counts = self.starts[rows + 1] - begin
        total = int(counts.sum())
        if total == 0:
            return shares
        ends = np.cumsum(counts)
        at = np.arange(total) + np.repeat(begin - (ends - counts), counts)
        sims = np.bincount(self.postings[at], np.repeat(self.idf2[rows], counts), self.texts)
        sims *= self.inverse_norms
        top = np.argpartition(sims, self.texts - self.k)[self.texts - self.k:]
        votes = np.bincount(self.labels[top], sims[top], self.classes)
        return votes / votes.sum() if votes.sum() > 0 else shares


@dataclass(frozen=True)
class HeadSet:
    """The trained heads and the token vocabulary their token weights are rows of."""

    heads: Mapping[str, Head]
    vocabulary: np.ndarray  # sorted token ids
    neighbours: Neighbours | None = None  # the category's training reports, when stored

    def rows(self, tokens: np.ndarray) -> np.ndarray:
        """As `known_rows`, by one lookup per token in a table of every id (ids are >= 0;
        one past the last known id, the table says unknown, and larger ids are clipped
        to that)."""
        if self.vocabulary.size == 0:
            return known_rows(self.vocabulary, tokens)
        found = self._row_of.take(tokens, mode="clip")
        return found[found >= 0].astype(np.int64)

    @cached_property
    def _row_of(self) -> np.ndarray:
        table = np.full(int(self.vocabulary[-1]) + 2, -1, dtype=np.int32)  # ~4 MB
        table[self.vocabulary] = np.arange(self.vocabulary.size, dtype=np.int32)
        return table


def known_rows(vocabulary: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """The rows of `vocabulary` (sorted token ids) holding `tokens`; unknown ones are skipped."""
    if vocabulary.size == 0 or tokens.size == 0:
        return np.zeros(0, dtype=np.int64)
    found = np.minimum(np.searchsorted(vocabulary, tokens), vocabulary.size - 1)
    return found[vocabulary[found] == tokens]


class FusedHeads:
    """Every head's weights side by side, so that one product, one gather-sum of the
    token rows and one softmax per head (done together) give all the heads' readings of
    a text: head by head, numpy's overhead per call on these small arrays was most of
    the reading's cost. Same sums as `Head.probabilities`, to float rounding."""

    def __init__(self, heads: Mapping[str, Head]):
        order = list(heads.values())
        # (labels, features): the product as rows by a vector is the quicker one
        self.weights = np.ascontiguousarray(np.concatenate([h.weights for h in order], axis=1).T)
        self.token_weights = np.ascontiguousarray(
            np.concatenate([h.token_weights for h in order], axis=1))
        self.bias = np.concatenate([h.bias for h in order])
        sizes = [len(h.labels) for h in order]
        starts = np.cumsum([0, *sizes[:-1]])
        self._starts = starts
        self._sizes = np.asarray(sizes)
        self._spans = {h.name: (int(start), h.labels)
                       for h, start in zip(order, starts, strict=True)}

    def probabilities(self, features: np.ndarray, rows: np.ndarray) -> list[float]:
        """Every head's probabilities side by side (head `name`'s labels from
        `span(name)[0]`)."""
        logits = self.weights @ features + self.token_weights.take(rows, axis=0).sum(axis=0)
        logits += self.bias
        exp = np.exp(logits - np.repeat(np.maximum.reduceat(logits, self._starts), self._sizes))
        return (exp / np.repeat(np.add.reduceat(exp, self._starts), self._sizes)).tolist()

    def span(self, name: str) -> tuple[int, tuple[str, ...]]:
        """Where head `name`'s labels start in `probabilities`, and the labels."""
        return self._spans[name]

    def labelled(self, features: np.ndarray, rows: np.ndarray,
                 names: Iterable[str]) -> dict[str, Mapping[str, float]]:
        """Each named head's probability per label."""
        probs = self.probabilities(features, rows)
        out: dict[str, Mapping[str, float]] = {}
        for name in names:
            start, labels = self._spans[name]
            out[name] = MappingProxyType(dict(zip(labels, probs[start:start + len(labels)],
                                                  strict=True)))
        return out


def load_heads(path: str | Path) -> HeadSet:
    """Read the heads from an .npz of plain arrays (no pickle) and check them."""
    try:
        with np.load(Path(path), allow_pickle=False) as arrays:
            data = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ModelUnavailable(f"cannot read the reader head {path}: {exc}") from exc
    _check_header(data, path)
    vocabulary = data["vocabulary"].astype(np.int64)
    heads = {str(name): _head(data, str(name), vocabulary.size) for name in data["heads"]}
    _check_labels(heads, path)
    return HeadSet(heads, vocabulary, _neighbours(data, heads["category"], vocabulary.size,
                                                  path))


NEIGHBOUR_ARRAYS = ("category.neighbour_rows", "category.neighbour_lengths",
                    "category.neighbour_labels")


def _neighbours(data: Mapping[str, np.ndarray], head: Head, vocabulary: int,
                path: str | Path) -> Neighbours | None:
    if not all(name in data for name in NEIGHBOUR_ARRAYS):
        return None
    rows, lengths, labels = (data[name] for name in NEIGHBOUR_ARRAYS)
    if (rows.ndim != 1 or lengths.shape != labels.shape or int(lengths.sum()) != rows.size
            or (rows.size and (rows.min() < 0 or rows.max() >= vocabulary))
            or (labels.size and (labels.min() < 0 or labels.max() >= len(head.labels)))):
        raise ModelUnavailable(f"{path}: the category's neighbour arrays do not fit")
    return Neighbours(rows, lengths, labels, len(head.labels), vocabulary)


def _check_header(data: Mapping[str, np.ndarray], path: str | Path) -> None:
    missing = {"format", "embedder", "heads", "vocabulary"} - set(data)
    if missing:
        raise ModelUnavailable(f"{path}: not a reader head (missing {sorted(missing)})")
    if int(data["format"]) != HEAD_FORMAT:
        raise ModelUnavailable(f"{path}: head format {int(data['format'])}, "
                               f"this code reads {HEAD_FORMAT}")
    if str(data["embedder"]) != EMBEDDER_ID:
        raise ModelUnavailable(f"{path}: trained on {data['embedder']}, not {EMBEDDER_ID}")
    vocabulary = data["vocabulary"]
    if vocabulary.ndim != 1 or np.any(np.diff(vocabulary) <= 0):
        raise ModelUnavailable(f"{path}: the vocabulary must be sorted distinct token ids")


def _head(data: Mapping[str, np.ndarray], name: str, vocabulary: int) -> Head:
    try:
        labels = tuple(str(label) for label in data[f"{name}.labels"])
        weights = data[f"{name}.weights"].astype(np.float32)
        token_weights = data[f"{name}.token_weights"].astype(np.float32)
        bias = data[f"{name}.bias"].astype(np.float32)
    except KeyError as exc:
        raise ModelUnavailable(f"head {name!r} is incomplete: no {exc}") from exc
    k = len(labels)
    if (weights.ndim != 2 or weights.shape[1] != k or token_weights.shape != (vocabulary, k)
            or bias.shape != (k,)):
        raise ModelUnavailable(f"head {name!r}: weights {weights.shape}, token weights "
                               f"{token_weights.shape}, bias {bias.shape} for {k} labels "
                               f"and {vocabulary} tokens")
    return Head(name, labels, weights, token_weights, bias)


def _check_labels(heads: Mapping[str, Head], path: str | Path) -> None:
    for name, expected in (("category", CATEGORIES), ("feeling", FEELINGS)):
        if name not in heads or set(heads[name].labels) != set(expected):
            raise ModelUnavailable(f"{path}: the {name} head must label {expected}")


# -- the model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    category: str
    category_probs: Mapping[str, float]  # every key of CATEGORIES
    feeling: str
    feeling_probs: Mapping[str, float]  # calm, upset, irate
    language: str | None  # "en", "es", "fr", "de", "pt"; None without a language head
    language_probs: Mapping[str, float]
    # Each channel's probability that the customer was in touch that way, implied or said
    # ("the nurse told him" is in person); empty with a head trained before channel heads.
    channel_probs: Mapping[str, float] = field(default_factory=dict)

    @property
    def category_confidence(self) -> float:
        return self.category_probs[self.category]

    @property
    def feeling_confidence(self) -> float:
        return self.feeling_probs[self.feeling]


@dataclass(frozen=True)
class Match:
    label: str
    example: str
    score: float  # cosine similarity, -1..1


class SituationModel:
    """Category, feeling and coach concepts of short texts, from one embedding each."""

    def __init__(self, embedder: Embedder, heads: HeadSet):
        sizes = {head.weights.shape[0] for head in heads.heads.values()}
        if sizes != {2 * embedder.dim}:
            raise ModelUnavailable(f"heads read {sorted(sizes)} features, "
                                   f"the embedder gives {2 * embedder.dim}")
        self.embedder = embedder
        self.head_set = heads
        self.heads = dict(heads.heads)
        self._fused = FusedHeads(self.heads)
        # A prediction is immutable: one per text is kept, as its vectors are (a Slack
        # retry, a form sent again, a report pasted twice read once).
        self._predicted = lru_cache(maxsize=CACHE_SIZE)(self._predict)

    @classmethod
    def load(cls, head_path: str | Path = DEFAULT_HEAD,
             embedder: Embedder | None = None) -> SituationModel:
        """Load the head at `head_path` and WordLlama (or reuse an already loaded embedder)."""
        heads = load_heads(head_path)
        return cls(embedder or Embedder.load(), heads)

    @property
    def concept_names(self) -> tuple[str, ...]:
        return tuple(name for name in CONCEPTS if name in self.heads)

    def embed(self, text: str) -> np.ndarray:
        """The text's unit-length vector (cached; read-only)."""
        return self.embedder.embed(text)

    def _inputs(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        pooled = self.embedder.read(text)
        return pooled.features, self.head_set.rows(pooled.tokens)

    def predict(self, text: str) -> Prediction:
        """The text's category, feeling and language (cached per text once cleaned)."""
        return self._predicted(clean_text(text))

    def cache_clear(self) -> None:
        """Forget every text read (vectors and predictions): to time a cold read."""
        self._predicted.cache_clear()
        self.embedder.cache_clear()

    def _labelled(self, text: str, names: Iterable[str]) -> dict[str, Mapping[str, float]]:
        """The named heads' readings of `text`, all heads computed at once."""
        return self._fused.labelled(*self._inputs(text), names)

    def _predict(self, text: str) -> Prediction:
        features, rows = self._inputs(text)
        probs = self._fused.probabilities(features, rows)
        categories = self._head_probs(probs, "category")
        if self.head_set.neighbours is not None:
            votes = self.head_set.neighbours.vote(rows)
            categories = {label: (1 - NEIGHBOUR_WEIGHT) * p + NEIGHBOUR_WEIGHT * float(v)
                          for (label, p), v in zip(categories.items(), votes, strict=True)}
        feelings = self._head_probs(probs, "feeling")
        languages = self._head_probs(probs, "language") if "language" in self.heads else {}
        return Prediction(
            category=_top(categories),
            category_probs=MappingProxyType({key: categories[key] for key in CATEGORIES}),
            feeling=_top(feelings),
            feeling_probs=MappingProxyType({key: feelings[key] for key in FEELINGS}),
            language=_top(languages) if languages else None,
            language_probs=MappingProxyType(languages),
            channel_probs=MappingProxyType({channel: probs[at]
                                            for channel, at in self._channel_yes}),
        )

    def _head_probs(self, probs: list[float], name: str) -> dict[str, float]:
        start, labels = self._fused.span(name)
        return dict(zip(labels, probs[start:start + len(labels)], strict=True))

    @cached_property
    def _channel_yes(self) -> tuple[tuple[str, int], ...]:
        """(channel, where its head's "yes" is in the fused probabilities), in CHANNELS
        order, for the channels with a head."""
        found = []
        for channel in CHANNELS:
            if channel_head(channel) in self.heads:
                start, labels = self._fused.span(channel_head(channel))
                found.append((channel, start + labels.index("yes")))
        return tuple(found)

    def concept(self, text: str, name: str) -> float:
        """Probability that `text` (one sentence) is an instance of coach concept `name`."""
        head = self.heads.get(name)
        if head is None:
            raise KeyError(f"no head for concept {name!r}; have {self.concept_names}")
        return self._labelled(text, (name,))[name][name]

    def concepts(self, text: str) -> Mapping[str, float]:
        """Every coach concept's probability for one sentence."""
        names = self.concept_names
        read = self._labelled(text, names)
        return MappingProxyType({name: read[name][name] for name in names})

    def similarity(self, text: str, examples: Sequence[str]) -> np.ndarray:
        """Cosine similarity of `text` to each example, in order (examples are cached too)."""
        if not examples:
            return np.zeros(0, dtype=np.float32)
        matrix = np.stack([self.embed(example) for example in examples])
        return matrix @ self.embed(text)

    def nearest(self, text: str, examples: Iterable[tuple[str, str]], k: int = 1) -> list[Match]:
        """The `k` (label, example) pairs most similar to `text`, best first."""
        pairs = list(examples)
        scores = self.similarity(text, [example for _, example in pairs])
        order = sorted(range(len(pairs)), key=lambda i: (-float(scores[i]), i))[:k]
        return [Match(pairs[i][0], pairs[i][1], float(scores[i])) for i in order]


def channel_head(channel: str) -> str:
    return f"channel_{channel}"


def _top(probs: Mapping[str, float]) -> str:
    """The most likely label; a tie goes to the label listed first."""
    return max(probs, key=lambda label: probs[label])
