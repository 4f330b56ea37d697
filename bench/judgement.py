"""Mend's judgement on text nobody here tuned to: the held-out part of the labelled
corpus (data/corpus/heldout_*.yaml, frozen before any tuning; see data/corpus/LABELS.md).

Prints accuracy per report field, precision and recall per coach rule and micro, time
per report and per draft (mean, p99) as Mend reads them, and what the reading model adds
to memory and start-up. The last line sums it up:
    held-out: category X, feeling Y, channel Z, coach P/R A/B

    .venv/bin/python bench/judgement.py [--part heldout|train]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIELDS = ("category", "feeling", "channels", "customer", "severity", "language")


def load(part: str, kind: str) -> list[dict]:
    with open(ROOT / "data" / "corpus" / f"{part}_{kind}.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)[kind]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def p99(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.99) - 1)]


def same(field: str, got, want) -> bool:
    if field == "channels":
        return set(got or ()) == set(want or ())
    if field == "customer":
        return (got or None) == (want or None)
    return got == want


def score_reports(items: list[dict], playbook, reader) -> tuple[dict[str, float], list[float]]:
    from bot.domain.judgement import read

    hits, times = Counter(), []
    for item in items:
        start = time.perf_counter()
        got = read(item["text"], playbook, reader)
        times.append((time.perf_counter() - start) * 1000)
        for field in FIELDS:
            hits[field] += same(field, got[field], item.get(field))
    return {f: hits[f] / len(items) for f in FIELDS}, times


def score_drafts(items: list[dict], rules, reader) -> tuple[dict, list[float]]:
    from bot.domain.coach import check
    from bot.domain.coach.learned import coach_scorer

    tp, fp, fn, times = Counter(), Counter(), Counter(), []
    scorer = coach_scorer(reader)  # what /recover check and `python -m bot check` use
    for item in items:
        start = time.perf_counter()
        review = check(item["draft"], rules, customer_name=item.get("customer_name"),
                       customer_upset=item.get("customer_upset", True), scorer=scorer)
        times.append((time.perf_counter() - start) * 1000)
        got, want = set(review.keys), set(item.get("expect") or ())
        for key in got | want:
            tp[key] += key in got and key in want
            fp[key] += key in got and key not in want
            fn[key] += key in want and key not in got
    return {"tp": tp, "fp": fp, "fn": fn}, times


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def print_coach(counts: dict) -> tuple[float, float]:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    print(f"{'rule':22} {'P':>5} {'R':>5}  (tp fp fn)")
    for key in sorted(set(tp) | set(fp) | set(fn)):
        print(f"{key:22} {ratio(tp[key], tp[key] + fp[key]):5.2f} "
              f"{ratio(tp[key], tp[key] + fn[key]):5.2f}  ({tp[key]} {fp[key]} {fn[key]})")
    t, p, n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro = ratio(t, t + p), ratio(t, t + n)
    print(f"{'micro':22} {micro[0]:5.2f} {micro[1]:5.2f}")
    return micro


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="heldout", choices=("heldout", "train"))
    parser.add_argument("--no-model", action="store_true", help="cue lists alone")
    args = parser.parse_args()
    before, start = rss_mb(), time.perf_counter()
    from bot.domain.coach import load_rules
    from bot.domain.playbook import load_playbook
    from bot.runtime.config import DEFAULT_PLAYBOOK

    playbook, rules = load_playbook(DEFAULT_PLAYBOOK), load_rules()
    rules_loaded, rules_mb = time.perf_counter() - start, rss_mb() - before
    from bot.runtime.reader import load_reader

    reader = None if args.no_model else load_reader()
    model_s = time.perf_counter() - start - rules_loaded
    print(f"start-up: playbook and coach {rules_loaded:.2f} s, +{rules_mb:.0f} MB; reading "
          f"model {'none' if reader is None else f'{model_s:.2f} s'}, "
          f"+{rss_mb() - before - rules_mb:.0f} MB resident")
    reports, drafts = load(args.part, "reports"), load(args.part, "drafts")
    accuracy, report_ms = score_reports(reports, playbook, reader)
    print(f"\n{len(reports)} {args.part} reports")
    for field, value in accuracy.items():
        print(f"  {field:10} {value:5.3f}")
    print(f"  time per report: mean {statistics.mean(report_ms):.2f} ms, "
          f"p99 {p99(report_ms):.2f} ms")
    counts, draft_ms = score_drafts(drafts, rules, reader)
    print(f"\n{len(drafts)} {args.part} drafts")
    micro = print_coach(counts)
    print(f"  time per draft: mean {statistics.mean(draft_ms):.2f} ms, "
          f"p99 {p99(draft_ms):.2f} ms")
    print(f"\n{args.part}: category {accuracy['category']:.3f}, feeling "
          f"{accuracy['feeling']:.3f}, channel {accuracy['channels']:.3f}, name "
          f"{accuracy['customer']:.3f}, coach P/R {micro[0]:.3f}/{micro[1]:.3f}")


if __name__ == "__main__":
    main()
