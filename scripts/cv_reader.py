"""Grouped cross-validation of the whole report reader (rules + model) on the TRAIN data.

For each fold (split by paraphrase group, as scripts/train_reader.py does), the model's
category, feeling and language heads are trained on the other folds only, and every
corpus report of the fold is read exactly as `python -m bot read` reads it. Prints the
accuracy of each field, pooled over the folds. Never reads data/corpus/heldout_*.yaml.

    .venv/bin/python scripts/cv_reader.py [--folds 5] [--errors FIELD] [--no-model]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import train_reader as tr  # noqa: E402

from bot.domain import intake  # noqa: E402
from bot.domain.judgement import read  # noqa: E402
from bot.domain.playbook import load_playbook  # noqa: E402
from bot.domain.reading.model import (  # noqa: E402
    CATEGORIES,
    CHANNELS,
    FEELINGS,
    NEIGHBOUR_ARRAYS,
    Embedder,
    Head,
    HeadSet,
    Neighbours,
    SituationModel,
    channel_head,
)
from bot.runtime.config import DEFAULT_PLAYBOOK  # noqa: E402

FIELDS = ("category", "feeling", "channels", "customer", "severity", "stakes", "language")
# The language is read by rules (situation.py); the channels by rules and these heads.
READ_HEADS = ("category", "feeling") + tuple(channel_head(c) for c in CHANNELS)


def corpus_items() -> list[dict]:
    """Every training-corpus report with its group as train_reader names it."""
    items = []
    for path in tr.corpus_files(tr.CORPUS_DIR, "reports"):
        for number, item in enumerate(tr._items(path)):
            items.append(dict(item, group=tr.corpus_group(path, item, number),
                              source=path.name))
    return items


def same(field: str, got, want) -> bool:
    if field == "channels":
        return set(got or ()) == set(want or ())
    if field in ("customer", "stakes"):
        return (got or None) == (want or None)
    return got == want


# The reader's thresholds cross-validation can try, each a setting in bot/domain/intake.py.
THRESHOLDS = (
    ("--category-overrules", "MODEL_OVERRULES_CUES", "overruling category cues"),
    ("--feeling-overrules", "MODEL_OVERRULES_DEFAULT_FEELING",
     "overruling the default feeling"),
    ("--channel-adds", "MODEL_ADDS_CHANNEL", "adding a channel"),
    ("--channel-drops", "MODEL_DROPS_CHANNEL", "dropping a channel"),
)


def model_from(trainer: tr.Trainer, fitted: dict[str, tr.Fitted],
               reports: list[tr.Example]) -> SituationModel:
    """The reader as trained on one fold: its heads, and the category's neighbour vote
    over that fold's training reports."""
    heads = {name: Head(name, f.labels, f.weights, f.token_weights.astype("float16")
                        .astype("float32"), f.bias) for name, f in fitted.items()}
    arrays = tr.neighbour_arrays(trainer, reports, fitted["category"].labels)
    neighbours = Neighbours(*(arrays[name] for name in NEIGHBOUR_ARRAYS),
                            len(fitted["category"].labels), len(trainer.vocabulary))
    return SituationModel(trainer.embedder, HeadSet(heads, trainer.vocabulary, neighbours))


def out_of_fold(training: tr.TrainingSet, trainer: tr.Trainer, items: list[dict],
                folds: int, use_model: bool,
                settings: list[tuple[float, ...]]) -> dict[tuple[float, ...], list[dict]]:
    """Each item read out of fold, once per setting of the overrule thresholds
    (category, feeling, channel added, channel dropped)."""
    playbook = load_playbook(DEFAULT_PLAYBOOK)
    results: dict[tuple[float, float], list] = {pair: [None] * len(items) for pair in settings}
    for fold in range(folds):
        keep = [i for i, item in enumerate(items) if tr.fold_of(item["group"], folds) == fold]
        reader = None
        if use_model:
            part = training.subset(lambda g, fold=fold: tr.fold_of(g, folds) != fold)
            examples = part.head_examples()
            reader = model_from(trainer, {name: trainer.fit_examples(examples[name], name)
                                          for name in READ_HEADS}, part.reports)
        for pair in settings:
            (intake.MODEL_OVERRULES_CUES, intake.MODEL_OVERRULES_DEFAULT_FEELING,
             intake.MODEL_ADDS_CHANNEL, intake.MODEL_DROPS_CHANNEL) = pair
            intake.forget_reports()  # kept readings were made under other thresholds
            for i in keep:
                results[pair][i] = read(items[i]["text"], playbook, reader)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--errors", default="", help="print the errors of this field")
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument("--l2", type=float, default=tr.L2)
    for flag, setting, what in THRESHOLDS:
        parser.add_argument(flag, type=float, nargs="*", default=[getattr(intake, setting)],
                            help=f"thresholds to try for the model {what}")
    args = parser.parse_args(argv)
    training = tr.load_training_set()
    trainer = tr.Trainer.for_training(training, Embedder.load(cache_size=tr.TRAINING_CACHE),
                                      args.l2)
    items = corpus_items()
    settings = [(c, f, a, d) for c in args.category_overrules for f in args.feeling_overrules
                for a in args.channel_adds for d in args.channel_drops]
    runs = out_of_fold(training, trainer, items, args.folds, not args.no_model, settings)
    for pair, results in runs.items():
        if len(runs) > 1:
            print(f"category overrules at {pair[0]}, feeling at {pair[1]}, "
                  f"channel added at {pair[2]}, dropped under {pair[3]}:")
        summarise(items, results, args.errors, args.folds, args.no_model)
    return 0


def summarise(items: list[dict], results: list[dict], errors: str, folds: int,
              no_model: bool) -> None:
    hits: dict[str, Counter[str]] = {}
    for item, got in zip(items, results, strict=True):
        scopes = ("all", "more" if "_more_" in item["source"] else "first")
        for field in FIELDS:
            ok = same(field, got[field], item.get(field))
            for scope in scopes:
                hits.setdefault(scope, Counter())[field] += ok
            if not ok and field == errors:
                print(f"want {item.get(field)!r:28} got {got[field]!r:28} | {item['text']}")
            hits.setdefault(scopes[1], Counter())["n"] += field == FIELDS[0]
    print(f"{folds}-fold grouped CV of the reader on {len(items)} train reports"
          f"{' (rules only)' if no_model else ''}:")
    for scope in ("first", "more", "all"):
        counts = hits.get(scope)
        if counts is None:
            continue
        n = len(items) if scope == "all" else counts["n"]
        print(f"  {scope:5} ({n:4}) " + ", ".join(f"{field} {counts[field] / n:.3f}"
                                                  for field in FIELDS))
    if errors in LABELLED_FIELDS:
        print(confusion(errors, [item.get(errors) for item in items],
                        [got[errors] for got in results]))


LABELLED_FIELDS = {"category": CATEGORIES, "feeling": FEELINGS}


def confusion(field: str, wanted: list, got: list) -> str:
    """The confusion matrix of a field with a closed label set: rows are the labels,
    columns the readings (first 7 letters), then each label's recall; last, precision."""
    labels = LABELLED_FIELDS[field]
    pairs = Counter(zip(wanted, got, strict=True))
    short = [label[:7] for label in labels]
    lines = [f"{field} (rows: label, columns: read)\n{'':>10} "
             + " ".join(f"{s:>7}" for s in short) + "  recall"]
    for label, name in zip(labels, short, strict=True):
        row = [pairs[(label, read)] for read in labels]
        lines.append(f"{name:>10} " + " ".join(f"{n:7d}" for n in row)
                     + f"  {pairs[(label, label)] / max(sum(row), 1):.3f}")
    read_as = [sum(pairs[(want, label)] for want in labels) for label in labels]
    lines.append(f"{'precision':>10} " + " ".join(
        f"{pairs[(label, label)] / max(n, 1):7.3f}" for label, n in zip(labels, read_as,
                                                                      strict=True)))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
