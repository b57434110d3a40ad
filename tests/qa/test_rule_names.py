"""A rule's name is data in the desk's language; an English page shows its English name when it has one (the
findings queue, a finding's page, the transcript page), and the demo's rules all have one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from qa import evaluation
from qa.demo import RULES
from qa.models import Finding, Rule
from tests.qa import factories

pytestmark = pytest.mark.django_db


def finding(rule_name_en: str) -> Finding:
    factories.rule("服务禁语", "phrase", name_en=rule_name_en, speaker="agent", terms=["爱买不买"], category="courtesy")
    call = factories.transcript([("agent", "爱买不买")])
    evaluation.evaluate_transcripts([call.pk])
    return Finding.objects.get()


@pytest.mark.parametrize(
    "url",
    [
        lambda f: "/admin/qa/finding/",
        lambda f: reverse("admin:qa_finding_change", args=[f.pk]),
        lambda f: reverse("admin:qa_transcript_change", args=[f.transcript_id]),
    ],
    ids=["queue", "finding", "transcript"],
)
def test_an_english_page_shows_the_rules_english_name_and_a_chinese_page_its_name(
    client_for: Callable[[User], Client], supervisor: User, url: Callable[[Finding], str]
) -> None:
    found = finding("Forbidden phrases")
    client = client_for(supervisor)
    en = client.get(url(found), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    zh = client.get(url(found), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Forbidden phrases" in en and "服务禁语" not in en
    assert "服务禁语" in zh and "Forbidden phrases" not in zh


def test_a_rule_without_an_english_name_shows_its_name_on_english_pages(
    client_for: Callable[[User], Client], supervisor: User
) -> None:
    finding("")
    en = client_for(supervisor).get("/admin/qa/finding/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "服务禁语" in en


def test_every_demo_rule_has_an_english_name() -> None:
    assert all(rule["name_en"] and rule["name_en"].isascii() for rule in RULES)
    assert len({rule["name_en"] for rule in RULES}) == len(RULES) == 10
    assert Rule._meta.get_field("name_en").blank
