"""How well does the reply coach find what it should, and how fast does it check?

Checks every labelled draft in tests/data/coach_drafts.yaml against the rules in
data/coach.yaml and prints, per rule, precision and recall with their counts
(a rule "fires" on a draft when it gives at least one finding), then the overall
micro precision and recall, then the time per check (mean and p99) over the set
repeated to at least 5,000 checks. Targets: 0.9 precision and recall for every
rule; under 5 ms per draft.

    .venv/bin/python bench/coach.py [--corpus own|train] [--checks 5000] [-v]

--corpus train scores data/corpus/train_drafts.yaml (the outside writers' drafts)
instead of the coach's own set. (The held-out file is for the final measurement
only and has no option here.)

-v lists the drafts whose findings differ from their labels. Tests import
`measure()` (see tests/test_coach.py and tests/data/coach_floor.yaml).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.coach import DEFAULT_COACH_PATH, Rules, check, load_rules  # noqa: E402

DRAFTS_PATH = ROOT / "tests" / "data" / "coach_drafts.yaml"
TRAIN_PATH = ROOT / "data" / "corpus" / "train_drafts.yaml"
CORPORA = {"own": DRAFTS_PATH, "train": TRAIN_PATH}
MIN_CHECKS = 5000


@dataclass(frozen=True)
class Draft:
    draft: str
    expect: frozenset[str]
    customer_name: str | None = None
    customer_upset: bool = True
    resolved: bool = False


@dataclass(frozen=True)
class Score:
    """Counts for one rule (or all rules) over the labelled set."""

    true_pos: int
    false_pos: int
    false_neg: int

    @property
    def precision(self) -> float:
        fired = self.true_pos + self.false_pos
        return self.true_pos / fired if fired else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_pos + self.false_neg
        return self.true_pos / expected if expected else 1.0


@dataclass(frozen=True)
class Mismatch:
    index: int
    draft: str
    missed: tuple[str, ...]  # expected but did not fire
    extra: tuple[str, ...]  # fired but not expected


@dataclass(frozen=True)
class Measurement:
    drafts: int
    rules: dict[str, Score]  # by rule key, in rules-file order
    micro: Score
    mismatches: tuple[Mismatch, ...]
    checks: int
    mean_ms: float
    p99_ms: float
    max_ms: float


def load_drafts(path: Path = DRAFTS_PATH, known: frozenset[str] | None = None) -> list[Draft]:
    """The labelled drafts; ValueError naming the item if one is malformed."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    items = data.get("drafts") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a top-level 'drafts' list")
    out = []
    for i, item in enumerate(items):
        where = f"{path}: drafts[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("draft"), str):
            raise ValueError(f"{where}: needs 'draft' text")
        unknown = set(item) - {"draft", "expect", "customer_name", "customer_upset", "resolved",
                               "group"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
        expect = item.get("expect")
        if not isinstance(expect, list) or len(set(expect)) != len(expect):
            raise ValueError(f"{where}: 'expect' must be a list of distinct rule keys")
        if known is not None and not set(expect) <= known:
            raise ValueError(f"{where}: unknown rule key(s) {sorted(set(expect) - known)}")
        upset = item.get("customer_upset", True)
        if not isinstance(upset, bool):
            raise ValueError(f"{where}: 'customer_upset' must be true or false")
        resolved = item.get("resolved", False)
        if not isinstance(resolved, bool):
            raise ValueError(f"{where}: 'resolved' must be true or false")
        out.append(Draft(item["draft"], frozenset(expect), item.get("customer_name"), upset,
                         resolved))
    return out


def fired(draft: Draft, rules: Rules) -> frozenset[str]:
    review = check(draft.draft, rules, customer_name=draft.customer_name,
                   customer_upset=draft.customer_upset)
    return frozenset(f.key for f in review.findings)


def measure(rules_path: Path = DEFAULT_COACH_PATH, drafts_path: Path = DRAFTS_PATH,
            min_checks: int = MIN_CHECKS) -> Measurement:
    """Score every rule on the labelled set and time `min_checks` checks (at least one pass)."""
    rules = load_rules(rules_path)
    drafts = load_drafts(drafts_path, frozenset(rules.keys))
    counts = {key: [0, 0, 0] for key in rules.keys}
    mismatches = []
    for i, draft in enumerate(drafts):
        got = fired(draft, rules)
        for key in rules.keys:
            if key in got and key in draft.expect:
                counts[key][0] += 1
            elif key in got:
                counts[key][1] += 1
            elif key in draft.expect:
                counts[key][2] += 1
        if got != draft.expect:
            mismatches.append(Mismatch(i, draft.draft, tuple(sorted(draft.expect - got)),
                                       tuple(sorted(got - draft.expect))))
    scores = {key: Score(*c) for key, c in counts.items()}
    micro = Score(*(sum(c[n] for c in counts.values()) for n in range(3)))
    timings = _time_checks(drafts, rules, min_checks)
    return Measurement(
        drafts=len(drafts), rules=scores, micro=micro, mismatches=tuple(mismatches),
        checks=len(timings), mean_ms=statistics.fmean(timings),
        p99_ms=_percentile(timings, 0.99), max_ms=max(timings),
    )


def _time_checks(drafts: list[Draft], rules: Rules, min_checks: int) -> list[float]:
    """Milliseconds per check, whole passes over the set until min_checks are done."""
    for draft in drafts:  # warm-up: regex caches, name patterns
        fired(draft, rules)
    timings: list[float] = []
    clock = time.perf_counter
    while len(timings) < max(min_checks, 1):
        for draft in drafts:
            started = clock()
            check(draft.draft, rules, customer_name=draft.customer_name,
                  customer_upset=draft.customer_upset)
            timings.append((clock() - started) * 1000)
    return timings


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(m: Measurement, verbose: bool = False) -> str:
    lines = [f"{m.drafts} labelled drafts", "",
             f"{'rule':<22}{'precision':>10}{'recall':>8}{'tp':>6}{'fp':>5}{'fn':>5}"]
    for key, s in m.rules.items():
        lines.append(f"{key:<22}{s.precision:>10.3f}{s.recall:>8.3f}"
                     f"{s.true_pos:>6}{s.false_pos:>5}{s.false_neg:>5}")
    s = m.micro
    lines.append(f"{'micro (all rules)':<22}{s.precision:>10.3f}{s.recall:>8.3f}"
                 f"{s.true_pos:>6}{s.false_pos:>5}{s.false_neg:>5}")
    lines += ["", f"drafts with an exact match: {m.drafts - len(m.mismatches)} of {m.drafts}",
              f"timing over {m.checks} checks: mean {m.mean_ms:.3f} ms, "
              f"p99 {m.p99_ms:.3f} ms, max {m.max_ms:.3f} ms"]
    if verbose:
        for x in m.mismatches:
            missed, extra = ", ".join(x.missed) or "-", ", ".join(x.extra) or "-"
            lines += ["", f"[{x.index}] {x.draft[:160]!r}",
                      f"    missed: {missed}   extra: {extra}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=MIN_CHECKS,
                        help=f"time at least this many checks (default {MIN_CHECKS})")
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="own",
                        help="which labelled drafts to score (default: own)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list drafts whose findings differ from their labels")
    args = parser.parse_args(argv)
    print(report(measure(drafts_path=CORPORA[args.corpus], min_checks=args.checks),
                 verbose=args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
