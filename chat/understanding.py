"""What the bot makes of one message: an explicit action (hand over, refund, orders) or a question, and
for a question whether to answer it, offer "猜你想问" choices, or say it does not know.

The decision reads the ranking's best article: its *coverage* of the question (the share of the
question's weighted words it holds) and its *margin* over the second (or the second's much lower
coverage). The thresholds were chosen on half of the labelled set (``fixtures/bot_eval.jsonl``, split
``dev``) and checked on the other half and on a different knowledge base (README, Bot quality).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from chat import intents
from chat.intents import Detected, Intent
from chat.retrieval import Candidate, Ranker, Ranking


class Kind(StrEnum):
    ANSWER = "answer"
    OFFER = "offer"
    NONE = "none"
    HANDOFF = "handoff"
    ANGER = "anger"
    REFUND = "refund"
    ORDER_STATUS = "order_status"


@dataclass(frozen=True)
class Thresholds:
    """Answer when the best covers at least ``answer_coverage`` of the question and leads the second by
    ``answer_margin``; otherwise offer the candidates covering at least ``offer_coverage``."""

    answer_coverage: float = 0.55
    answer_margin: float = 0.1
    offer_coverage: float = 0.3
    offered: int = 3


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Understanding:
    kind: Kind
    candidates: list[Candidate] = field(default_factory=list)  # the answer, or the choices offered
    ranking: Ranking | None = None
    detected: Detected | None = None

    @property
    def confidence(self) -> float:
        return self.candidates[0].coverage if self.candidates else 0.0


_INTENT_KINDS = {Intent.HANDOFF: Kind.HANDOFF, Intent.ANGER: Kind.ANGER, Intent.REFUND: Kind.REFUND,
                 Intent.ORDER_STATUS: Kind.ORDER_STATUS}  # fmt: skip


def decide(ranking: Ranking, thresholds: Thresholds = THRESHOLDS) -> tuple[Kind, list[Candidate]]:
    """Answer, offer or none for a ranking (see the module docstring)."""
    best = ranking.best
    if ranking.exact and best is not None:  # the question is the article's own title or a learnt wording
        return Kind.ANSWER, [best]
    if best is None or best.coverage < thresholds.offer_coverage:
        return Kind.NONE, []
    second = ranking.candidates[1] if len(ranking.candidates) > 1 else None
    clear = second is None or ranking.margin >= thresholds.answer_margin or second.coverage < best.coverage - 0.3
    if best.coverage >= thresholds.answer_coverage and clear:
        return Kind.ANSWER, [best]
    offered = [c for c in ranking.candidates if c.coverage >= thresholds.offer_coverage][: thresholds.offered]
    return Kind.OFFER, offered


def understand(
    text: str,
    language: str,
    ranker: Ranker,
    *,
    handoff_phrases: Iterable[str] = (),
    thresholds: Thresholds = THRESHOLDS,
    among: Collection[int] | None = None,
) -> Understanding:
    """The bot's reading of ``text`` in a chat in ``language``: an explicit intent first, else the knowledge base."""
    detected = intents.detect(text, handoff_phrases)
    if detected is not None:
        return Understanding(_INTENT_KINDS[detected.intent], detected=detected)
    ranking = ranker.rank(text, language, among=among)
    kind, candidates = decide(ranking, thresholds)
    return Understanding(kind, candidates, ranking)
