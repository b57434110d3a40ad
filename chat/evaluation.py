"""Scoring the bot against a labelled set (``manage.py evaluate_bot``): pure, it reads and writes nothing.

A labelled case is one JSON line: ``{"question": ..., "expect": <article title> | "handoff" | "none",
"language": <the chat's language>, "kind": <colloquial, typo, mixed, english, ...>, "split": "dev" | "test"}``.
Articles are matched by title (ids differ between databases). An article file holds one JSON line per
article: ``{"title": ..., "answer": ..., "language": ..., "questions": [optional other wordings]}``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chat import knowledge
from chat.retrieval import Article, Ranker
from chat.understanding import Kind, Understanding, understand

HANDOFF, NONE = "handoff", "none"


@dataclass(frozen=True)
class Case:
    question: str
    expect: str
    language: str
    kind: str = ""
    split: str = ""


@dataclass
class Figures:
    """The figures of one run (or one part of it); shares are of the cases they concern."""

    in_scope: int = 0
    top1: int = 0
    top3: int = 0
    answered_right: int = 0
    answered_wrong: int = 0
    offered_right: int = 0
    out_of_scope: int = 0
    out_of_scope_answered: int = 0
    out_of_scope_offered: int = 0
    asks: int = 0
    handed_off: int = 0
    wrongly_handed_off: int = 0
    latencies: list[float] = field(default_factory=list)
    misses: list[tuple[Case, str]] = field(default_factory=list)

    def add(self, case: Case, seen: Understanding, seconds: float) -> None:
        self.latencies.append(seconds)
        handoff = seen.kind in (Kind.HANDOFF, Kind.ANGER)
        titles = [c.article.title for c in seen.ranking.candidates] if seen.ranking is not None else []
        if case.expect == HANDOFF:
            self.asks += 1
            self.handed_off += handoff
            if not handoff:
                self.misses.append((case, seen.kind))
            return
        self.wrongly_handed_off += handoff
        if case.expect == NONE:
            self.out_of_scope += 1
            self.out_of_scope_answered += seen.kind == Kind.ANSWER
            self.out_of_scope_offered += seen.kind == Kind.OFFER
            if seen.kind in (Kind.ANSWER, Kind.OFFER):
                self.misses.append((case, f"{seen.kind}: {seen.candidates[0].article.title}"))
            return
        self.in_scope += 1
        self.top1 += titles[:1] == [case.expect]
        self.top3 += case.expect in titles[:3]
        given = [c.article.title for c in seen.candidates]
        if seen.kind == Kind.ANSWER:
            right = given == [case.expect]
            self.answered_right += right
            self.answered_wrong += not right
        elif seen.kind == Kind.OFFER:
            self.offered_right += case.expect in given
        if not (seen.kind == Kind.ANSWER and given == [case.expect]):
            self.misses.append((case, f"{seen.kind}: {' | '.join(given) or '-'}"))

    def share(self, part: int, whole: int) -> str:
        return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "-"

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    def lines(self) -> list[str]:
        n = self.in_scope
        return [
            f"in scope: {n}",
            f"  top-1 right: {self.share(self.top1, n)}; top-3: {self.share(self.top3, n)}",
            f"  answered directly, right: {self.share(self.answered_right, n)}; "
            f"wrong: {self.share(self.answered_wrong, n)}",
            f"  answered or offered (猜你想问), right: {self.share(self.answered_right + self.offered_right, n)}",
            f"out of scope: {self.out_of_scope}; "
            f"answered: {self.share(self.out_of_scope_answered, self.out_of_scope)}; "
            f"offered: {self.share(self.out_of_scope_offered, self.out_of_scope)}",
            f"asks for a person: {self.asks}; handed off: {self.share(self.handed_off, self.asks)}; "
            f"other questions handed off: {self.wrongly_handed_off}",
            f"latency: p50 {self.percentile(50):.1f} ms, p95 {self.percentile(95):.1f} ms",
        ]


def load_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            cases.append(Case(row["question"], row["expect"], row.get("language", "zh-hans"), row.get("kind", ""),
                              row.get("split", "")))  # fmt: skip
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a labelled case ({error})") from error
    return cases


def load_articles(path: Path) -> list[Article]:
    articles = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            wordings = tuple(row.get("questions") or ())
            articles.append(Article(number, row["title"], row["answer"], row.get("language", "zh-hans"), wordings))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not an article ({error})") from error
    return articles


def evaluate(cases: Iterable[Case], understand: Callable[[str, str], Understanding]) -> dict[str, Figures]:
    """Figures for all cases, and per split and per kind (keys ``all``, ``split:dev``, ``kind:typo`` ...)."""
    parts: dict[str, Figures] = {"all": Figures()}
    for case in cases:
        started = time.perf_counter()
        seen = understand(case.question, case.language)
        seconds = time.perf_counter() - started
        keys = ["all"] + ([f"split:{case.split}"] if case.split else []) + ([f"kind:{case.kind}"] if case.kind else [])
        for key in keys:
            parts.setdefault(key, Figures()).add(case, seen, seconds)
    return parts


def expected_titles_missing(cases: Iterable[Case], ranker: Ranker) -> list[str]:
    """Expected article titles the index does not hold (a labelled set written for another base)."""
    titles = {article.title for article in ranker.articles}
    wanted = Counter(case.expect for case in cases if case.expect not in (HANDOFF, NONE))
    return sorted(title for title in wanted if title not in titles)


@dataclass
class Report:
    """One ``evaluate_bot`` run: where the articles came from and the figures per part."""

    source: str
    articles: int
    missing: list[str]
    parts: dict[str, Figures]

    def lines(self, *, misses: bool = False) -> list[str]:
        out = [f"articles: {self.articles} ({self.source})"]
        if self.missing:
            out.append(f"expected articles not in the index: {', '.join(self.missing)}")
        order = ["all", *sorted(k for k in self.parts if k.startswith("split:"))]
        order += sorted(k for k in self.parts if k.startswith("kind:"))
        for key in order:
            out.append(f"== {key}")
            part = self.parts[key]
            figures = part.lines()
            if key.startswith("kind:"):  # a kind is about one sort of question: its own figures only
                figures = figures[:4] if part.in_scope else figures[4:5] if part.out_of_scope else figures[5:6]
            out += figures
        if misses:
            out.append("== not answered right")
            out += [f"  [{case.expect}] {case.question} -> {what}" for case, what in self.parts["all"].misses]
        return out


def ranker_for(articles_file: Path | None) -> tuple[Ranker, str]:
    """The live index's ranker, or ``articles_file`` in a scratch ranker (with the admin's synonym groups, as the
    live bot reads them), and where the articles came from."""
    if articles_file is not None:
        return Ranker(load_articles(articles_file), knowledge.synonym_groups()), str(articles_file)
    return knowledge.ranker(), "the live index"


def run(cases_file: Path, articles_file: Path | None = None) -> Report:
    """Score ``cases_file`` against the live index, or against ``articles_file`` in a scratch ranker."""
    cases = load_cases(cases_file)
    ranker, source = ranker_for(articles_file)
    parts = evaluate(cases, lambda text, language: understand(text, language, ranker))
    return Report(source, len(ranker.articles), expected_titles_missing(cases, ranker), parts)
