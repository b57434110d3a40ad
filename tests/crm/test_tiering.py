"""Credit tiering: the tier a score earns, at every tier's minimum and one point below, evaluated by PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

from crm.models import CreditTier
from crm.tiering import tier_case

pytestmark = pytest.mark.django_db


def chosen(tiers: list[tuple[int, int]], scores: list[int]) -> list[int | None]:
    """What the CASE gives each score, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {tier_case(tiers)} FROM unnest(%s::int[]) WITH ORDINALITY AS s(score, n) ORDER BY n", [scores]
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_score_at_a_tier_minimum_earns_it_and_one_point_below_does_not() -> None:
    tiers = dict(CreditTier.objects.values_list("name", "pk"))
    scores = [0, 349, 350, 499, 500, 619, 620, 719, 720, 1000]
    names = ["受限", "受限", "普通会员", "普通会员", "银牌会员", "银牌会员", "金牌会员", "金牌会员", "88VIP", "88VIP"]
    assert chosen(list(CreditTier.objects.values_list("pk", "min_score")), scores) == [tiers[n] for n in names]


def test_the_order_the_tiers_come_in_does_not_matter() -> None:
    assert chosen([(1, 100), (3, 300), (2, 200)], [99, 100, 199, 200, 299, 300, 301]) == [None, 1, 1, 2, 2, 3, 3]
    assert chosen([(3, 300), (1, 100), (2, 200)], [99, 100, 200, 300]) == [None, 1, 2, 3]


def test_below_every_minimum_or_without_tiers_there_is_no_tier() -> None:
    assert chosen([(7, 500)], [0, 499, 500]) == [None, None, 7]
    assert tier_case([]) == "NULL::bigint"
    assert chosen([], [0, 1000]) == [None, None]


def test_the_case_names_the_score_column_it_is_given() -> None:
    assert tier_case([(1, 100), (2, 200)], score="x.points") == (
        "CASE WHEN x.points >= 200 THEN 2 WHEN x.points >= 100 THEN 1 ELSE NULL END"
    )


def test_the_case_reads_the_rating_s_score_column_by_default() -> None:
    assert tier_case([(5, 0)]) == "CASE WHEN s.score >= 0 THEN 5 ELSE NULL END"
