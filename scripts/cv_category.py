"""Grouped cross-validation of the reader's category alone, at a fraction of the cost.

With the model loaded, intake lets it decide the category (MODEL_OVERRULES_CUES = 0.0), so
the reader's category is the category head's top label on the report's summary (the text
after the customer's name is split off, exactly as intake passes it). This refits only the
category head on each fold's training part (the folds of scripts/cv_reader.py, split by
paraphrase group) and scores the summaries of the fold's corpus reports: it reproduces
cv_reader.py's category figure at about a seventh of the cost. Never reads
data/corpus/heldout_*.yaml.

    .venv/bin/python scripts/cv_category.py                       # the head as trained
    .venv/bin/python scripts/cv_category.py --train-on summary    # fit on summaries
    .venv/bin/python scripts/cv_category.py --min-texts 1 --iterations 400 800 1200
    .venv/bin/python scripts/cv_category.py --knn 20 --knn-weight 0.2 0.35
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import train_reader as tr  # noqa: E402
from cv_reader import confusion, corpus_items  # noqa: E402

from bot.domain.names import split_customer  # noqa: E402
from bot.domain.playbook import load_playbook  # noqa: E402
from bot.domain.reading.model import CATEGORIES, Embedder, clean_text  # noqa: E402
from bot.domain.text import normalize  # noqa: E402
from bot.runtime.config import DEFAULT_PLAYBOOK  # noqa: E402


def summary_of(text: str, cue_words) -> str:
    """What intake hands the model: the report without the customer's name, cleaned."""
    return clean_text(split_customer(normalize(text), cue_words)[1])


def tfidf_knn(train_tokens: Sequence[np.ndarray], train_labels: np.ndarray,
              test_tokens: Sequence[np.ndarray], vocabulary: np.ndarray, k: int,
              classes: int) -> np.ndarray:
    """A k-nearest-neighbour vote (similarity-weighted) over binary TF-IDF bags of the
    vocabulary ids, by an inverted index: (test texts, classes), rows summing to 1."""
    train_rows = [tr.known_rows(vocabulary, t) for t in train_tokens]
    df = np.bincount(np.concatenate(train_rows), minlength=len(vocabulary))
    idf = np.log((1 + len(train_rows)) / (1 + df)) + 1.0
    norms = np.array([np.sqrt((idf[r] ** 2).sum()) or 1.0 for r in train_rows])
    texts = np.repeat(np.arange(len(train_rows)), [len(r) for r in train_rows])
    columns = np.concatenate(train_rows)
    order = np.argsort(columns, kind="stable")
    posting_text = texts[order]
    starts = np.searchsorted(columns[order], np.arange(len(vocabulary) + 1))
    votes = np.zeros((len(test_tokens), classes))
    for i, tokens in enumerate(test_tokens):
        rows = tr.known_rows(vocabulary, tokens)
        if not len(rows):
            votes[i] = 1.0 / classes
            continue
        lengths = starts[rows + 1] - starts[rows]
        hits = np.concatenate([posting_text[starts[r]:starts[r + 1]] for r in rows])
        weight = np.repeat(idf[rows] ** 2, lengths)
        sims = np.bincount(hits, weight, len(train_rows)) / norms
        sims /= np.sqrt((idf[rows] ** 2).sum())
        top = np.argpartition(-sims, min(k, len(sims) - 1))[:k]
        votes[i] = np.bincount(train_labels[top], sims[top], classes)
        total = votes[i].sum()
        votes[i] = votes[i] / total if total > 0 else 1.0 / classes
    return votes


def fit_snapshots(encoded: tr.Encoded, labels: Sequence[str], vocabulary: np.ndarray,
                  l2: float, iterations: Sequence[int]) -> dict[int, tr.Fitted]:
    """tr.fit_softmax's heads after each of `iterations` steps, from one descent (its
    momentum schedule depends only on the step, so each is the head that many steps give)."""
    names = tuple(label for label in CATEGORIES if label in set(labels))
    y = np.array([names.index(label) for label in labels])
    design = tr.Design(encoded, vocabulary)
    targets = np.eye(len(names))[y]
    sample_weight = tr._balanced_weights(y, len(names))
    step = 1.0 / (tr._lipschitz(design, sample_weight) + l2)
    w = np.zeros((design.width, targets.shape[1]))
    b = np.zeros(targets.shape[1])
    w_prev, b_prev = w, b
    heads = {}
    for i in range(1, max(iterations) + 1):
        momentum = (i - 1) / (i + 2)
        w_look, b_look = w + momentum * (w - w_prev), b + momentum * (b - b_prev)
        error = (tr._softmax(design.matmul(w_look) + b_look) - targets) * sample_weight[:, None]
        w_prev, b_prev = w, b
        w = w_look - step * (design.rmatmul(error) + l2 * w_look)
        b = b_look - step * error.sum(axis=0)
        if i in iterations:
            weights, bias = design.unfold(w, b)
            # The reader loads the token weights as float16: score as it does.
            heads[i] = tr.Fitted(names, weights[:design.split].astype(np.float32),
                                 weights[design.split:].astype(np.float32)
                                 .astype(np.float16).astype(np.float32),
                                 bias.astype(np.float32), vocabulary)
    return heads


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--l2", type=float, default=tr.L2)
    parser.add_argument("--iterations", type=int, nargs="+", default=[tr.ITERATIONS],
                        help="score the head after each of these descent steps (one descent)")
    parser.add_argument("--min-texts", type=int, default=tr.MIN_TOKEN_TEXTS)
    parser.add_argument("--train-on", choices=("text", "summary"), default="text",
                        help="fit the head on the full texts (as now) or on the summaries")
    parser.add_argument("--knn", type=int, nargs="*", default=[],
                        help="also blend a TF-IDF k-nearest-neighbour vote, these k")
    parser.add_argument("--knn-weight", type=float, nargs="*", default=[0.2, 0.35, 0.5])
    parser.add_argument("--save", type=Path, help="write the out-of-fold scores (.npz)")
    parser.add_argument("--matrix", action="store_true", help="print the confusion matrix")
    args = parser.parse_args(argv)

    started = time.monotonic()
    cue_words = load_playbook(DEFAULT_PLAYBOOK).cue_words
    training = tr.load_training_set()
    embedder = Embedder.load(cache_size=tr.TRAINING_CACHE)
    texts = dict.fromkeys(tr.all_texts(training))
    vocabulary = tr.build_vocabulary((embedder.read(t).tokens for t in texts), args.min_texts)
    items = corpus_items()
    wanted = [item["category"] for item in items]
    summaries = [summary_of(item["text"], cue_words) for item in items]
    label_index = {label: i for i, label in enumerate(CATEGORIES)}
    truth = np.array([label_index[label] for label in wanted])
    shown = args.train_on == "summary"
    print(f"{len(items)} corpus reports, vocabulary {len(vocabulary)} (min texts "
          f"{args.min_texts}), l2 {args.l2}, steps {args.iterations}, head fitted on "
          f"{'summaries' if shown else 'full texts'}", flush=True)

    logits = {steps: np.zeros((len(items), len(CATEGORIES))) for steps in args.iterations}
    knn_votes = {k: np.zeros((len(items), len(CATEGORIES))) for k in args.knn}
    for fold in range(args.folds):
        part = training.subset(lambda g, fold=fold: tr.fold_of(g, args.folds) != fold)
        examples = part.reports
        train_texts = [summary_of(ex.text, cue_words) if shown else ex.text for ex in examples]
        encoded = tr.encode(embedder, train_texts)
        heads = fit_snapshots(encoded, [ex.label for ex in examples], vocabulary, args.l2,
                              args.iterations)
        keep = [i for i, item in enumerate(items) if tr.fold_of(item["group"], args.folds) == fold]
        test = tr.encode(embedder, [summaries[i] for i in keep])
        for steps, fitted in heads.items():
            order = [fitted.labels.index(label) for label in CATEGORIES]
            logits[steps][keep] = fitted.scores(test)[:, order]
        labels = np.array([label_index[ex.label] for ex in examples])
        for k in args.knn:
            knn_votes[k][keep] = tfidf_knn(encoded.tokens, labels, test.tokens, vocabulary,
                                           k, len(CATEGORIES))
        right = "  ".join(
            f"{steps} steps {np.mean(logits[steps][keep].argmax(axis=1) == truth[keep]):.3f}"
            for steps in args.iterations)
        print(f"  fold {fold}: {len(keep)} reports, category {right} "
              f"({time.monotonic() - started:.0f}s)", flush=True)

    for steps in args.iterations:
        guesses = logits[steps].argmax(axis=1)
        print(f"category accuracy {np.mean(guesses == truth):.4f} on {len(items)} after "
              f"{steps} steps ({time.monotonic() - started:.0f}s)")
    if args.matrix:
        print(confusion("category", wanted, [CATEGORIES[g] for g in guesses]))
    probs = softmax(logits[args.iterations[-1]])
    if args.save:
        np.savez(args.save, truth=truth, groups=np.array([item["group"] for item in items]),
                 **{f"logits_{steps}": value for steps, value in logits.items()},
                 **{f"knn_{k}": value for k, value in knn_votes.items()})
    for k in args.knn:
        alone = np.mean(knn_votes[k].argmax(axis=1) == truth)
        blends = "  ".join(
            f"w {w}: {np.mean(((1 - w) * probs + w * knn_votes[k]).argmax(axis=1) == truth):.4f}"
            for w in args.knn_weight)
        print(f"  tf-idf knn k {k}: alone {alone:.4f}; blended {blends}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
