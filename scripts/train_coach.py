"""Train the coach's own model (data/model/coach_head.npz) on the labelled training drafts.

Reads data/corpus/train_drafts.yaml and data/corpus/train_more_drafts_*.yaml (never a
held-out file), the rules and signals in data/coach.yaml, and WordLlama through the
reading model's embedder. For each rule it can learn, it fits a logistic regression
over `bot.domain.coach.learned.draft_features` and chooses the regularisation, how much
the draft's meaning counts and the threshold by grouped cross-validation (drafts that
paraphrase each other, by `group` or by customer name, always in the same fold). The
choice maximises the lower of precision and recall (then F1): a rule that flags too
often is one agents learn to ignore, so recall is not bought with false alarms. A head
is kept for a rule only when cross-validation says it balances better than the rules
alone. The figures it prints are nested: for each outer fold the configuration is
chosen by cross-validation inside the other folds only, so no threshold is chosen on
the predictions it is scored on ("inner" is the optimistic figure of the final choice).
Fitting is deterministic (Newton's method from zeros), so the same drafts give the
same weights.

    .venv/bin/python scripts/train_coach.py            # cross-validate, then write the head
    .venv/bin/python scripts/train_coach.py --folds 5 --no-write
    .venv/bin/python scripts/train_coach.py --no-nested  # write without the nested figures
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.coach import load_rules  # noqa: E402
from bot.domain.coach.document import Doc  # noqa: E402
from bot.domain.coach.judge import evaluate  # noqa: E402
from bot.domain.coach.learned import (  # noqa: E402
    HEAD_FORMAT,
    clearable,
    draft_features,
    fingerprint,
)

CORPUS = ROOT / "data" / "corpus"
OUT = ROOT / "data" / "model" / "coach_head.npz"
# The rules the model may decide; name_unused is exact and stays with the rules.
CANDIDATES = ("blame", "callback_burden", "passed_on", "no_apology", "conditional_apology",
              "feelings_ignored", "vague_next_step", "cant_only", "defensive", "overpromise")
L2S = (10.0, 30.0, 100.0, 300.0)
MEANING = (0.25, 0.5)  # how much the embedding block counts (its scale)
COMPONENTS = 64
THRESHOLDS = tuple(np.round(np.arange(0.2, 0.805, 0.01), 3))


def corpus_paths() -> list[Path]:
    paths = [CORPUS / "train_drafts.yaml", *sorted(CORPUS.glob("train_more_drafts_*.yaml"))]
    return [p for p in paths if p.exists() and "heldout" not in p.name.casefold()]


def load_items() -> list[dict]:
    items = []
    for path in corpus_paths():
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["drafts"]:
            items.append(dict(item, _file=path.name))
    return items


def paraphrase_groups(items: list[dict]) -> np.ndarray:
    """One id per set of drafts linked by `group` or by customer name."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    keys = []
    for i, item in enumerate(items):
        g = f"g:{item.get('group') or i}"
        name = (item.get("customer_name") or "").strip().casefold()
        if name:
            union(g, f"n:{name}")
        keys.append(g)
    roots = [find(k) for k in keys]
    index = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.asarray([index[r] for r in roots])


def featurise(items: list[dict], rules, embed, cache: Path | None = None
              ) -> tuple[np.ndarray, list[frozenset[str]], dict[str, np.ndarray]]:
    """Each draft's features, the rules that fired on it and, per rule with
    `cleared_by`, where the rules' finding stands whatever the head says. With `cache`
    (an .npz), the drafts' meaning is read from it when the same text was embedded
    before, and written back: the rules and signals change, WordLlama does not."""
    stored: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as arrays:
            stored = dict(zip(arrays["texts"].tolist(), arrays["meaning"], strict=True))
    rows, fired_sets, meanings = [], [], []
    forced: dict[str, list[bool]] = {r.key: [] for r in rules.rules if r.cleared_by}
    for item in items:
        name = " ".join(str(item.get("customer_name") or "").split())
        upset = item.get("customer_upset", True)
        doc = Doc(item["draft"], None)
        fired = evaluate(doc, rules, name, upset, rules.rules)
        symbolic = draft_features(doc, rules, fired, upset, bool(name), None)
        meaning = stored.get(item["draft"])
        if meaning is None:
            meaning = draft_features(doc, rules, fired, upset, bool(name),
                                     embed)[len(symbolic):]
        meanings.append(meaning)
        rows.append(np.concatenate([symbolic, meaning]))
        fired_sets.append(frozenset(fired))
        for key, out in forced.items():
            out.append(key in fired and not clearable(doc, rules.rule(key)))
    if cache is not None:
        texts = [item["draft"] for item in items]
        np.savez(cache, texts=np.asarray(texts), meaning=np.stack(meanings))
    return np.stack(rows), fired_sets, {k: np.asarray(v) for k, v in forced.items()}


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float,
                 iters: int = 25) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (bias unpenalised)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 1e-6
    for _ in range(iters):
        z = xb @ w
        p = 1.0 / (1.0 + np.exp(-z))
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return w[:-1], float(w[-1])


def scale(x: np.ndarray, symbolic: int, meaning: float,
          stats: tuple[np.ndarray, np.ndarray] | None = None):
    mean, std = stats if stats is not None else (x.mean(axis=0), x.std(axis=0) + 1e-6)
    z = (x - mean) / std
    z[:, symbolic:] *= meaning
    return z, (mean, std)


def folds_of(groups: np.ndarray, k: int) -> np.ndarray:
    """Fold per item: groups dealt round-robin in a fixed shuffled order."""
    unique = np.unique(groups)
    order = np.random.default_rng(12).permutation(unique)
    fold_of_group = {g: i % k for i, g in enumerate(order)}
    return np.asarray([fold_of_group[g] for g in groups])


def prf(pred: np.ndarray, y: np.ndarray) -> tuple[int, int, int]:
    return (int(np.sum(pred & (y == 1))), int(np.sum(pred & (y == 0))),
            int(np.sum(~pred & (y == 1))))


def pr(c) -> str:
    return f"{c[0] / max(1, c[0] + c[1]):.3f}/{c[0] / max(1, c[0] + c[2]):.3f}"


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / max(1, 2 * tp + fp + fn)


def balance(counts) -> tuple[float, float]:
    """What a configuration is chosen by: the lower of precision and recall (a rule that
    flags too often is ignored, one that misses is useless), then F1 to break ties."""
    tp, fp, fn = counts
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return min(precision, recall), f1(tp, fp, fn)


def choose(x: np.ndarray, y: np.ndarray, base: np.ndarray, fold: np.ndarray,
           symbolic: int, forced: np.ndarray | None = None
           ) -> tuple[tuple[float, float, float, bool] | None, tuple]:
    """The regularisation, meaning scale, threshold and whether to keep the rules' hits
    that balance precision and recall best on out-of-fold predictions over `fold`'s
    groups; None when the rules alone do as well. `forced`: where the rules' finding
    stands whatever the head says (the rule's `cleared_by` is not in the draft)."""
    forced = np.zeros(len(y), dtype=bool) if forced is None else forced
    b = prf(base, y)
    best = (balance(b), None, b)
    for l2 in L2S:
        for meaning in MEANING:
            oof = np.zeros(len(y))
            for k in np.unique(fold):
                train, test = fold != k, fold == k
                z, stats = scale(x[train], symbolic, meaning)
                w, c = fit_logistic(z, y[train], l2)
                zt, _ = scale(x[test], symbolic, meaning, stats)
                oof[test] = 1.0 / (1.0 + np.exp(-(zt @ w + c)))
            for t in THRESHOLDS:
                # the head alone, or the head adding to what the rules find
                for keep in (False, True):
                    counts = prf((oof >= t) | (base & keep) | forced, y)
                    score = balance(counts)
                    if score[0] > best[0][0] + 0.005 or (
                            abs(score[0] - best[0][0]) <= 0.005 and best[1] is not None
                            and score[1] > best[0][1]):
                        best = (score, (l2, meaning, float(t), keep), counts)
    return best[1], best[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--no-nested", action="store_true",
                        help="skip the nested cross-validation (its figures print as rules')")
    parser.add_argument("--cache", type=Path, default=None,
                        help="an .npz of the drafts' meaning, read and written (WordLlama "
                             "is slow; the rules and signals are not)")
    args = parser.parse_args()

    from bot.domain.reading.model import Embedder

    rules = load_rules()
    embedder = Embedder.load()
    items = load_items()
    raw, fired, forced_by_key = featurise(items, rules, embedder.features, args.cache)
    symbolic = raw.shape[1] - 4 * embedder.dim
    # the meaning as its first principal components (folded back into 512 weights)
    centre = raw[:, symbolic:].mean(axis=0)
    _, _, vt = np.linalg.svd(raw[:, symbolic:] - centre, full_matrices=False)
    projection = vt[:COMPONENTS].T  # (512, COMPONENTS)
    x = np.hstack([raw[:, :symbolic], (raw[:, symbolic:] - centre) @ projection])
    groups = paraphrase_groups(items)
    fold = folds_of(groups, args.folds)
    print(f"{len(items)} training drafts from {len(corpus_paths())} files, "
          f"{len(np.unique(groups))} paraphrase groups, {x.shape[1]} features")

    chosen: dict[str, tuple[float, float, float, bool]] = {}
    totals = defaultdict(lambda: np.zeros(3, dtype=int))
    print(f"\n{'rule':20} {'rules P/R':>12} {'nested P/R':>12} {'inner P/R':>12}  chosen on all")
    for key in CANDIDATES:
        y = np.asarray([key in set(item.get("expect") or ()) for item in items], dtype=float)
        base = np.asarray([key in f for f in fired])
        forced = forced_by_key.get(key, np.zeros(len(y), dtype=bool))
        b = prf(base, y)
        # nested: for each outer fold, the configuration is chosen by cross-validation
        # inside the other folds only, then fitted there and applied to the outer fold,
        # so the reported figures come from predictions no choice was made on
        nested = base.copy()
        for k in range(0 if args.no_nested else args.folds):
            inside = fold != k
            config, _ = choose(x[inside], y[inside], base[inside], fold[inside], symbolic,
                               forced[inside])
            if config is None:
                nested[~inside] = base[~inside]
                continue
            l2, meaning, t, keep = config
            z, stats = scale(x[inside], symbolic, meaning)
            w, c = fit_logistic(z, y[inside], l2)
            zt, _ = scale(x[~inside], symbolic, meaning, stats)
            p = 1.0 / (1.0 + np.exp(-(zt @ w + c)))
            nested[~inside] = (p >= t) | (base[~inside] & keep) | forced[~inside]
        n = prf(nested, y)
        config, counts = choose(x, y, base, fold, symbolic, forced)
        use = config is not None
        totals["rules"] += b
        totals["nested"] += n
        how = ("l2 {:g}, meaning {:g}, threshold {:.3f}, keeps the rules' hits {}".format(
            *config) if use else "rules alone")
        print(f"{key:20} {pr(b):>12} {pr(n):>12} {pr(counts):>12}  {how}")
        if use:
            chosen[key] = config
    for name, c in totals.items():
        print(f"micro {name:14} P/R {pr(c)}")

    if args.no_write:
        return 0
    keys = tuple(chosen)
    weights = np.zeros((len(keys), raw.shape[1]), dtype=np.float32)
    bias = np.zeros(len(keys), dtype=np.float32)
    thresholds = np.zeros(len(keys), dtype=np.float32)
    keeps = np.zeros(len(keys), dtype=bool)
    for i, key in enumerate(keys):
        l2, meaning, t, keeps[i] = chosen[key]
        y = np.asarray([key in set(item.get("expect") or ()) for item in items], dtype=float)
        z, (mean, std) = scale(x, symbolic, meaning)
        w, c = fit_logistic(z, y, l2)
        factor = np.ones(x.shape[1])
        factor[symbolic:] = meaning
        folded = w * factor / std
        weights[i, :symbolic] = folded[:symbolic]
        weights[i, symbolic:] = projection @ folded[symbolic:]
        bias[i] = c - float(folded @ mean) - float(projection.T @ centre @ folded[symbolic:])
        thresholds[i] = t
    write_npz(OUT, {
        "format": np.asarray(HEAD_FORMAT), "keys": np.asarray(keys),
        "weights": weights, "bias": bias, "thresholds": thresholds, "keeps_rules": keeps,
        "fingerprint": np.asarray(fingerprint(rules)), "symbolic": np.asarray(symbolic),
    })
    print(f"\nwrote {OUT.relative_to(ROOT)}: {', '.join(keys)}")
    return 0


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz with fixed zip timestamps: the same weights give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    path.write_bytes(buffer.getvalue())


if __name__ == "__main__":
    sys.exit(main())
