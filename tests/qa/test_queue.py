"""The findings queue: one row per rule per call, the verdict covering its matches, the audio column, a fixed cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from qa import evaluation
from qa.models import Finding, Recording, Transcript
from tests.crm.factories import consumer
from tests.qa import factories

pytestmark = pytest.mark.django_db
QUEUE = "/admin/qa/finding/"


def calls(agent: User, count: int = 1, **extra: Any) -> list[Transcript]:
    """Calls in which the agent says two banned phrases in one turn and a third later: three matches of one rule."""
    made = [
        factories.transcript(
            [("agent", "我都说了多少遍了，你自己看短信"), ("consumer", "什么态度"), ("agent", "爱买不买")],
            agent=agent,
            **extra,
        )
        for _ in range(count)
    ]
    evaluation.evaluate_transcripts([t.pk for t in made])
    return made


@pytest.fixture
def banned(db: None) -> None:
    factories.rule("服务禁语", "phrase", speaker="agent", terms=["说了多少遍", "你自己看", "爱买不买"], severity=3,
                   category="courtesy")  # fmt: skip


def test_the_queue_shows_a_rule_once_per_call_with_its_other_matches_counted(
    banned: None, client_for: Callable[[User], Client], supervisor: User, agent: User
) -> None:
    first, second = calls(agent, 2)
    assert Finding.objects.count() == 6
    response = client_for(supervisor).get(QUEUE, HTTP_ACCEPT_LANGUAGE="en")
    rows = response.context["cl"].result_list
    assert [(f.transcript_id, f.matched_text, f.matches) for f in rows] == [
        (first.pk, "说了多少遍", 3), (second.pk, "说了多少遍", 3),
    ]  # fmt: skip
    assert response.content.decode().count("+2 more in this call") == 2
    zh = client_for(supervisor).get(QUEUE).content.decode()
    assert zh.count("本次通话另有 2 处") == 2


def test_confirming_a_row_confirms_every_match_of_its_rule_in_that_call_only(
    banned: None, client_for: Callable[[User], Client], supervisor: User, agent: User
) -> None:
    first, second = calls(agent, 2)
    lead = Finding.objects.filter(transcript=first).order_by("pk").first()
    assert lead is not None
    response = client_for(supervisor).post(
        QUEUE, {"action": "confirm", "_selected_action": [lead.pk], "note": "禁语"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    by_call = {t: sorted(Finding.objects.filter(transcript=t).values_list("status", "note")) for t in (first, second)}
    assert by_call == {first: [("confirmed", "禁语")] * 3, second: [("open", "")] * 3}


def test_the_findings_page_lists_the_other_matches_and_its_verdict_covers_them(
    banned: None, client_for: Callable[[User], Client], supervisor: User, agent: User
) -> None:
    (call,) = calls(agent)
    lead, *others = Finding.objects.filter(transcript=call).order_by("pk")
    client = client_for(supervisor)
    page = client.get(reverse("admin:qa_finding_change", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert [row["finding"].pk for row in page.context["others"]] == [f.pk for f in others]
    html = page.content.decode()
    assert "2 more matches of this rule in this call" in html and "<mark>爱买不买</mark>" in html
    response = client.post(reverse("admin:qa_finding_change", args=[lead.pk]), {"verdict": "dismissed"})
    assert response.status_code == 302
    assert set(Finding.objects.values_list("status", flat=True)) == {"dismissed"}


def test_the_audio_column_links_to_the_call_at_the_match_when_there_is_a_recording(
    banned: None, client_for: Callable[[User], Client], supervisor: User, agent: User, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    recording = Recording.objects.create(
        audio=SimpleUploadedFile("call.wav", b"RIFF"), agent=agent, consumer=consumer(), called_at=timezone.now()
    )
    (recorded,) = calls(agent, recording=recording)
    (plain,) = calls(agent)
    response = client_for(supervisor).get(QUEUE, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    url = reverse("admin:qa_transcript_change", args=[recorded.pk])
    assert f'<a class="play" href="{url}?t=0#seg-0" title="Play the call from here">▶ 0:00</a>' in html
    assert html.count('<span class="quiet">no recording</span>') == 1
    assert reverse("admin:qa_transcript_change", args=[plain.pk]) + "?t=" not in html


def test_the_queue_costs_the_same_queries_for_one_call_or_forty(
    banned: None, client_for: Callable[[User], Client], supervisor: User, agent: User,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    client = client_for(supervisor)
    calls(agent)
    # Session, user, tenancy, permissions (user, groups), the rule and agent filters, the capped count, the
    # page and its rules, versions and agents, the date hierarchy's bounds and days.
    with django_assert_num_queries(14):
        assert len(client.get(QUEUE).context["cl"].result_list) == 1
    calls(agent, 40)
    with django_assert_num_queries(14):
        assert len(client.get(QUEUE).context["cl"].result_list) == 41


def test_the_transcript_lists_language_filter_names_the_languages(
    client_for: Callable[[User], Client], supervisor: User, agent: User
) -> None:
    factories.transcript([("agent", "您好")], agent=agent)
    factories.transcript([("agent", "Hello")], agent=agent, language="en")
    client = client_for(supervisor)
    zh = client.get("/admin/qa/transcript/").content.decode()
    assert '<a href="?language__exact=en">英文</a>' in zh and '<a href="?language__exact=zh">中文</a>' in zh
    assert ">zh</a>" not in zh and ">en</a>" not in zh
    en = client.get("/admin/qa/transcript/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<a href="?language__exact=en">English</a>' in en and '<a href="?language__exact=zh">Chinese</a>' in en
