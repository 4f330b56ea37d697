"""How much does the reader model cost: start-up time, memory, and time per text?

Measures, in this fresh process: the wall time to import and load the model
(WordLlama's bundled vectors plus data/model/reader_head.npz), the resident memory
(RSS) that adds, now and at its peak, then the time of `predict` per text over a few
hundred varied texts, first cold (each text new to the cache) and then cached, as mean,
p50 and p99. Targets: under 1.5 s and 150 MB added at start-up, under 5 ms p99 per text.

    .venv/bin/python bench/reader_model.py [--texts 400] [--rounds 3]

Nothing here opens a socket: run it with HF_HUB_OFFLINE=1 and no network to be sure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLES_PATH = ROOT / "data" / "model" / "training_examples.yaml"
TARGET_LOAD_S = 1.5
TARGET_RSS_MB = 150.0
TARGET_P99_MS = 5.0
# Voices the texts are varied with: the same complaint typed differently is a new text.
PREFIXES = ("", "for Dana Lee: ", "cust says ", "URGENT - ", "re: ticket 4471, ")
SUFFIXES = ("", " - please advise", "!!", ". She called twice today.", " (VIP)")


def memory_kb() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in kB, from /proc."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def measure_start_up():
    """Import and load the model; return it with (seconds, added RSS MB, added peak MB)."""
    rss_before, _ = memory_kb()
    started = time.perf_counter()
    from bot.domain.reading.model import SituationModel

    model = SituationModel.load()
    seconds = time.perf_counter() - started
    rss_after, peak_after = memory_kb()
    return model, seconds, (rss_after - rss_before) / 1024, (peak_after - rss_before) / 1024


def varied_texts(count: int) -> list[str]:
    """`count` distinct texts: the example reports and sentences, retyped in other voices."""
    import yaml

    data = yaml.safe_load(EXAMPLES_PATH.read_text(encoding="utf-8"))
    base = [text for languages in data["reports"].values()
            for items in languages.values() for _, text in items]
    base += [text for languages in data["sentences"].values()
             for items in languages.values() for text in items]
    texts, seen = [], set()
    step = max(1, len(base) // count)
    for i in range(len(base) * len(PREFIXES)):
        text = _voice(base[(i * step) % len(base)], i)
        if text not in seen:
            seen.add(text)
            texts.append(text)
        if len(texts) == count:
            break
    return texts


def _voice(text: str, i: int) -> str:
    text = PREFIXES[i % len(PREFIXES)] + text + SUFFIXES[(i // len(PREFIXES)) % len(SUFFIXES)]
    return text.lower() if i % 7 == 3 else text


def time_predictions(model, texts: list[str]) -> list[float]:
    """Milliseconds per `predict`, one text at a time."""
    times = []
    for text in texts:
        started = time.perf_counter()
        model.predict(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def line(label: str, times: list[float]) -> str:
    return (f"{label:14} mean {statistics.fmean(times):.3f} ms  p50 "
            f"{statistics.median(times):.3f} ms  p99 {p99(times):.3f} ms  ({len(times)} texts)")


def verdict(name: str, value: float, target: float, unit: str) -> str:
    mark = "ok" if value < target else "OVER"
    return f"{name:22} {value:8.3f} {unit:3} target < {target:g} {unit}: {mark}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="cached passes over the texts")
    args = parser.parse_args(argv)
    model, seconds, rss_mb, peak_mb = measure_start_up()
    print(f"start-up: import + load {seconds:.3f} s, RSS +{rss_mb:.1f} MB "
          f"(peak +{peak_mb:.1f} MB)")
    texts = varied_texts(args.texts)
    model.cache_clear()
    cold = time_predictions(model, texts)
    cached = [t for _ in range(args.rounds) for t in time_predictions(model, texts)]
    print(line("cold", cold))
    print(line("cached", cached))
    print(verdict("start-up time", seconds, TARGET_LOAD_S, "s"))
    print(verdict("start-up RSS", rss_mb, TARGET_RSS_MB, "MB"))
    print(verdict("p99 cold", p99(cold), TARGET_P99_MS, "ms"))
    print(verdict("p99 cached", p99(cached), TARGET_P99_MS, "ms"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
