"""List the coach's out-of-fold misreadings on the training drafts, per rule.

Uses scripts/train_coach.py's machinery: the same features, grouped folds (paraphrases
of one draft never straddle a fold) and choice of regularisation and threshold, then
prints each rule's inner-CV precision/recall and, with --errors, the drafts the head
(with the rules and the `cleared_by` guard) gets wrong out of fold. Training drafts
only; never a held-out file.

    .venv/bin/python scripts/coach_errors.py --cache /tmp/coach_meaning.npz
    .venv/bin/python scripts/coach_errors.py --cache /tmp/m.npz --errors blame,defensive
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import train_coach as tc  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rules", default=",".join(tc.CANDIDATES),
                        help="rule keys to score (comma-separated)")
    parser.add_argument("--errors", default="", help="rule keys whose errors to list")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--no-guard", action="store_true",
                        help="let the head clear what a rule's `cleared_by` guards")
    args = parser.parse_args()

    from bot.domain.reading.model import Embedder

    rules = tc.load_rules()
    embedder = Embedder.load()
    items = tc.load_items()
    raw, fired, forced_by_key = tc.featurise(items, rules, embedder.features, args.cache)
    symbolic = raw.shape[1] - 4 * embedder.dim
    centre = raw[:, symbolic:].mean(axis=0)
    _, _, vt = np.linalg.svd(raw[:, symbolic:] - centre, full_matrices=False)
    x = np.hstack([raw[:, :symbolic], (raw[:, symbolic:] - centre) @ vt[:tc.COMPONENTS].T])
    fold = tc.folds_of(tc.paraphrase_groups(items), args.folds)
    show = {k for k in args.errors.split(",") if k}
    total = np.zeros(3, dtype=int)
    print(f"{'rule':20} {'rules P/R':>12} {'inner P/R':>12}")
    for key in [k for k in args.rules.split(",") if k]:
        y = np.asarray([key in set(item.get("expect") or ()) for item in items], dtype=float)
        base = np.asarray([key in f for f in fired])
        forced = forced_by_key.get(key, np.zeros(len(y), dtype=bool))
        if args.no_guard:
            forced = np.zeros(len(y), dtype=bool)
        config, counts = tc.choose(x, y, base, fold, symbolic, forced)
        total += counts
        print(f"{key:20} {tc.pr(tc.prf(base, y)):>12} {tc.pr(counts):>12}  {config}",
              flush=True)
        if key not in show:
            continue
        oof = np.zeros(len(y))
        if config is not None:
            l2, meaning, t, keep = config
            for k in np.unique(fold):
                train, test = fold != k, fold == k
                z, stats = tc.scale(x[train], symbolic, meaning)
                w, c = tc.fit_logistic(z, y[train], l2)
                zt, _ = tc.scale(x[test], symbolic, meaning, stats)
                oof[test] = 1.0 / (1.0 + np.exp(-(zt @ w + c)))
            pred = (oof >= t) | (base & keep) | forced
        else:
            pred = base
        for label, mask in (("FP", pred & (y == 0)), ("FN", ~pred & (y == 1))):
            for i in np.flatnonzero(mask):
                item = items[i]
                print(f"  {label} p={oof[i]:.2f} rules={'Y' if base[i] else 'n'} "
                      f"upset={item.get('customer_upset', True)} "
                      f"expect={','.join(item.get('expect') or ())} :: {item['draft']}")
    print(f"micro inner P/R {tc.pr(total)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
