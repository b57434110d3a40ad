"""Credit tiering: the tier a score earns. Pure: the tiers come in as values, the choice goes out.

A score earns the tier with the highest minimum score at or below it (a score exactly at a tier's minimum
is in that tier, one point less is not); a score below every minimum earns none. The nightly rating
scores every consumer in PostgreSQL, so the choice is made there, as the CASE that ``tier_case`` writes.
"""

from __future__ import annotations

from collections.abc import Iterable


def tier_case(tiers: Iterable[tuple[int, int]], score: str = "s.score") -> str:
    """The SQL expression choosing a tier id from ``tiers`` ((id, minimum score) pairs) for the ``score`` column."""
    highest_first = sorted(tiers, key=lambda tier: tier[1], reverse=True)
    if not highest_first:
        return "NULL::bigint"
    whens = " ".join(f"WHEN {score} >= {int(minimum)} THEN {int(pk)}" for pk, minimum in highest_first)
    return f"CASE {whens} ELSE NULL END"
