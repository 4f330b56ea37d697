"""Train the coach's own model (data/model/coach_head.npz) on the labelled training drafts.

Reads data/corpus/train_drafts.yaml and data/corpus/train_more_drafts_*.yaml (never a
held-out file), the rules and signals in data/coach.yaml, and WordLlama through the
reading model's embedder. For each rule it can learn, it fits a logistic regression
over `bot.domain.coach.learned.draft_features`, chooses the regularisation, how much
the draft's meaning counts and the threshold by grouped cross-validation (drafts that
paraphrase each other, by `group` or by customer name, always in the same fold), and
keeps the head for a rule only when cross-validation says it beats the rules alone.
Fitting is deterministic (Newton's method from zeros), so the same drafts give the
same weights.

    .venv/bin/python scripts/train_coach.py            # cross-validate, then write the head
    .venv/bin/python scripts/train_coach.py --folds 5 --no-write
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
from bot.domain.coach.learned import HEAD_FORMAT, draft_features, fingerprint  # noqa: E402

CORPUS = ROOT / "data" / "corpus"
OUT = ROOT / "data" / "model" / "coach_head.npz"
# The rules the model may decide; name_unused is exact and stays with the rules.
CANDIDATES = ("blame", "callback_burden", "passed_on", "no_apology", "conditional_apology",
              "feelings_ignored", "vague_next_step", "cant_only", "defensive", "overpromise")
L2S = (30.0, 100.0)
MEANING = (0.5,)  # how much the embedding block counts (its scale)
COMPONENTS = 64
THRESHOLDS = tuple(np.round(np.arange(0.2, 0.81, 0.025), 3))


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


def featurise(items: list[dict], rules, embed) -> tuple[np.ndarray, list[frozenset[str]]]:
    rows, fired_sets = [], []
    for item in items:
        name = " ".join(str(item.get("customer_name") or "").split())
        upset = item.get("customer_upset", True)
        doc = Doc(item["draft"], None)
        fired = evaluate(doc, rules, name, upset, rules.rules)
        rows.append(draft_features(doc, rules, fired, upset, bool(name), embed))
        fired_sets.append(frozenset(fired))
    return np.stack(rows), fired_sets


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from bot.domain.reading.model import Embedder

    rules = load_rules()
    embedder = Embedder.load()
    items = load_items()
    raw, fired = featurise(items, rules, embedder.features)
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

    chosen: dict[str, tuple[float, float, float]] = {}
    totals = defaultdict(lambda: np.zeros(3, dtype=int))
    print(f"\n{'rule':20} {'rules P/R':>12} {'model P/R':>12}  chosen")
    for key in CANDIDATES:
        y = np.asarray([key in set(item.get("expect") or ()) for item in items], dtype=float)
        base = np.asarray([key in f for f in fired])
        b = prf(base, y)
        best = (f1(*b), None, b)
        for l2 in L2S:
            for meaning in MEANING:
                oof = np.zeros(len(items))
                for k in range(args.folds):
                    train, test = fold != k, fold == k
                    z, stats = scale(x[train], symbolic, meaning)
                    w, c = fit_logistic(z, y[train], l2)
                    zt, _ = scale(x[test], symbolic, meaning, stats)
                    oof[test] = 1.0 / (1.0 + np.exp(-(zt @ w + c)))
                for t in THRESHOLDS:
                    # the head alone, or the head adding to what the rules find
                    for keep in (False, True):
                        counts = prf((oof >= t) | (base & keep), y)
                        if f1(*counts) > best[0] + 0.005:
                            best = (f1(*counts), (l2, meaning, float(t), keep), counts)
        score, config, counts = best
        use = config is not None
        totals["rules"] += b
        totals["model"] += counts if use else b
        how = ("l2 {:g}, meaning {:g}, threshold {:.3f}, keeps the rules' hits {}".format(
            *config) if use else "rules alone")
        print(f"{key:20} {pr(b):>12} {pr(counts):>12}  {how}")
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
