"""Choosing the bot's thresholds on a labelled set (``manage.py evaluate_bot --calibrate``): pure, it writes nothing.

Each question is ranked once; every combination of the grid below is then decided (``understanding.decide``)
on the *dev* half only — a case's ``split``, or every other line when the set has none. The chosen
combination answers no out-of-scope question and at most ``MAX_WRONG`` of the in-scope ones wrongly on that
half, and the most of them rightly (then the most answered or offered, then the most cautious). It is
reported with its figures on the *test* half, which it never saw: thresholds fitted on one half and
measured on the other are what ``understanding.THRESHOLDS`` holds (README, Bot quality). A large or new
knowledge base should be calibrated on its own labelled set before its thresholds are trusted.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from chat import intents
from chat.evaluation import HANDOFF, NONE, Case
from chat.retrieval import Ranker, Ranking
from chat.understanding import Kind, Thresholds, decide

ANSWER_COVERAGE = (0.45, 0.5, 0.55, 0.6, 0.65)
ANSWER_MARGIN = (0.05, 0.1, 0.15, 0.2)
OFFER_COVERAGE = (0.25, 0.3, 0.35)
MAX_WRONG = 0.01


@dataclass(frozen=True)
class Tally:
    """One half's outcome under one set of thresholds."""

    in_scope: int = 0
    right: int = 0
    wrong: int = 0
    offered_right: int = 0
    out_of_scope: int = 0
    out_of_scope_answered: int = 0

    def line(self) -> str:
        n = self.in_scope or 1
        return (f"answered right {self.right}/{self.in_scope} ({100 * self.right / n:.1f} %), wrong {self.wrong}, "
                f"answered or offered {100 * (self.right + self.offered_right) / n:.1f} %, "
                f"out of scope answered {self.out_of_scope_answered}/{self.out_of_scope}")  # fmt: skip


@dataclass(frozen=True)
class Calibration:
    chosen: Thresholds
    dev: Tally
    test: Tally
    current_dev: Tally
    current_test: Tally


def _tally(rows: Iterable[tuple[Case, Ranking | None]], thresholds: Thresholds) -> Tally:
    n = right = wrong = offered = out = out_answered = 0
    for case, ranking in rows:
        kind, candidates = decide(ranking, thresholds) if ranking is not None else (Kind.NONE, [])
        titles = [c.article.title for c in candidates]
        if case.expect == NONE:
            out += 1
            out_answered += kind == Kind.ANSWER
            continue
        n += 1
        if kind == Kind.ANSWER:
            right += titles == [case.expect]
            wrong += titles != [case.expect]
        elif kind == Kind.OFFER:
            offered += case.expect in titles
    return Tally(n, right, wrong, offered, out, out_answered)


def calibrate(cases: list[Case], ranker: Ranker, current: Thresholds) -> Calibration:
    """The thresholds the dev half supports, with both halves' figures, and the ``current`` ones' for comparison."""
    halves: dict[str, list[tuple[Case, Ranking | None]]] = {"dev": [], "test": []}
    for number, case in enumerate(cases):
        if case.expect == HANDOFF:  # asks for a person never reach the knowledge base
            continue
        half = case.split if case.split in halves else ("dev" if number % 2 == 0 else "test")
        # A message read as an intent (a handoff, a refund request, order tracking) is not the knowledge base's.
        asked = intents.detect(case.question, ()) is None
        halves[half].append((case, ranker.rank(case.question, case.language) if asked else None))
    best: tuple[tuple[int, int, float, float], Thresholds, Tally] | None = None
    for coverage, margin, offer in itertools.product(ANSWER_COVERAGE, ANSWER_MARGIN, OFFER_COVERAGE):
        thresholds = Thresholds(coverage, margin, offer, current.offered)
        dev = _tally(halves["dev"], thresholds)
        if dev.out_of_scope_answered or dev.wrong > MAX_WRONG * dev.in_scope:
            continue
        key = (dev.right, dev.right + dev.offered_right, coverage, margin)
        if best is None or key > best[0]:
            best = (key, thresholds, dev)
    chosen, dev = (best[1], best[2]) if best is not None else (current, _tally(halves["dev"], current))
    return Calibration(chosen, dev, _tally(halves["test"], chosen), _tally(halves["dev"], current),
                       _tally(halves["test"], current))  # fmt: skip


def lines(calibration: Calibration, current: Thresholds) -> list[str]:
    def named(t: Thresholds) -> str:
        return f"answer coverage {t.answer_coverage}, margin {t.answer_margin}, offer coverage {t.offer_coverage}"

    return [
        f"current: {named(current)}",
        f"  dev:  {calibration.current_dev.line()}",
        f"  test: {calibration.current_test.line()}",
        f"chosen on the dev half: {named(calibration.chosen)}",
        f"  dev:  {calibration.dev.line()}",
        f"  test: {calibration.test.line()}",
    ]
