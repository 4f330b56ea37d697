"""`python -m bot read` and `python -m bot check`: Mend's reading of reports and its
review of draft replies, one JSON object per line, for trying an edited playbook or
coach file on last month's complaints before turning it on."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator

from bot.domain.coach import DEFAULT_COACH_PATH, load_rules
from bot.domain.judgement import read, review
from bot.domain.playbook import PlaybookError, load_playbook
from bot.runtime.config import DEFAULT_PLAYBOOK
from bot.runtime.reader import load_reader

EXIT_CONFIG = 2


def _lines(csv_path: str | None) -> Iterator[str]:
    """Texts one per line on standard input, or the `text` column of a CSV file."""
    if csv_path:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                yield row.get("text") or ""
        return
    for line in sys.stdin:
        yield line.rstrip("\n")


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot read",
        description="Read reports (one per line on standard input, or a CSV's `text` "
                    "column) and print what Mend makes of each, one JSON object a line.")
    parser.add_argument("--csv", help="a CSV file with a `text` column")
    parser.add_argument("--playbook", default=str(DEFAULT_PLAYBOOK),
                        help="the playbook to read with (default: data/playbook.yaml)")
    parser.add_argument("--no-model", action="store_true",
                        help="read with the playbook's cue lists alone")
    args = parser.parse_args(argv)
    def reading(reader):
        playbook = load_playbook(args.playbook)
        return lambda text: read(text, playbook, reader)

    return _each_line(args, reading)


def check_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot check",
        description="Review draft replies (one per line on standard input, or a CSV's "
                    "`text` column): findings, strengths and a rewrite, one JSON object a "
                    "line.")
    parser.add_argument("--csv", help="a CSV file with a `text` column")
    mood = parser.add_mutually_exclusive_group()
    mood.add_argument("--upset", action="store_true", help="the customer is upset (default)")
    mood.add_argument("--calm", action="store_true", help="the customer is calm")
    parser.add_argument("--name", help="the customer's name, to check it is used")
    parser.add_argument("--rules", default=str(DEFAULT_COACH_PATH),
                        help="the coach rules (default: data/coach.yaml)")
    parser.add_argument("--no-model", action="store_true",
                        help="judge with the rules alone")
    args = parser.parse_args(argv)
    def reviewing(reader):
        rules = load_rules(args.rules)
        return lambda text: review(text, rules, args.name, upset=not args.calm, reader=reader)

    return _each_line(args, reviewing)


def _each_line(args, make) -> int:
    """Emit `make(reader)(text)` for every non-blank text; a bad file is one line, exit 2."""
    try:
        judge = make(None if args.no_model else load_reader())
        for text in _lines(args.csv):
            if text.strip():
                _emit(judge(text))
    except (PlaybookError, OSError) as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0
