from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django import DjangoAssertNumQueries

from core import roles
from qa import evaluation, scorecards
from qa.models import Finding, Rule, Scorecard, Transcript
from tests.qa import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def findings(agent: User) -> list[Finding]:
    factories.rule("rude", "keyword", speaker="agent", terms=["爱买不买"], severity=3, category="courtesy")
    factories.rule("pii", "pii", speaker="agent", severity=4, category="privacy")
    first = factories.transcript(
        [("consumer", "我要退款"), ("agent", "爱买不买，你的手机13800138000对吧")], agent=agent
    )
    second = factories.transcript([("agent", "爱买不买")], agent=agent)
    evaluation.evaluate_transcripts([first.pk, second.pk])
    return list(Finding.objects.order_by("-severity", "created_at"))


def test_queue_lists_open_findings_most_severe_first_with_masked_passages(
    client_for: Callable[[User], Client], supervisor: User, agent: User, findings: list[Finding],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    client = client_for(supervisor)
    url = reverse("admin:qa_finding_changelist")
    response = client.get(url)
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert [f.rule.name for f in rows] == ["pii", "rude", "rude"]
    html = response.content.decode()
    # Supervisors may see PII; the passage is highlighted.
    assert "<mark>13800138000</mark>" in html
    assert "<mark>爱买不买</mark>" in html
    # A fixed number of queries whatever the page size.
    for _ in range(5):
        transcript = factories.transcript([("agent", "爱买不买")], agent=agent)
        evaluation.evaluate_transcripts([transcript.pk])
    client.get(url)
    with django_assert_num_queries(len(_queries(client, url))):
        client.get(url)


def _queries(client: Client, url: str) -> list[object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return list(captured.captured_queries)


def test_bulk_confirm_and_dismiss_with_a_note_then_scorecard_follows(
    client_for: Callable[[User], Client], supervisor: User, agent: User, findings: list[Finding]
) -> None:
    client = client_for(supervisor)
    url = reverse("admin:qa_finding_changelist")
    pii, rude1, rude2 = findings
    response = client.post(url, {"action": "confirm", "_selected_action": [pii.pk, rude1.pk], "note": "读出号码"})
    assert response.status_code == 302
    client.post(url, {"action": "dismiss", "_selected_action": [rude2.pk, pii.pk], "note": ""})
    statuses = dict(Finding.objects.values_list("pk", "status"))
    assert statuses == {pii.pk: "confirmed", rude1.pk: "confirmed", rude2.pk: "dismissed"}
    pii.refresh_from_db()
    assert (pii.note, pii.reviewed_by) == ("读出号码", supervisor)  # a reviewed finding is not reviewed again
    card = Scorecard.objects.get(agent=agent)
    assert (card.calls, card.chats, card.confirmed) == (2, 0, {"privacy": 1, "courtesy": 1})
    assert card.score == scorecards.score(2, 10 + 6)


def test_single_review_moves_on_to_the_next_open_finding(
    client_for: Callable[[User], Client], supervisor: User, findings: list[Finding]
) -> None:
    client = client_for(supervisor)
    first, second, _third = findings
    response = client.post(reverse("admin:qa_finding_change", args=[first.pk]), {"verdict": "dismissed", "note": "ok"})
    assert response["Location"] == reverse("admin:qa_finding_change", args=[second.pk])
    response = client.post(reverse("admin:qa_finding_change", args=[first.pk]), {"verdict": "confirmed"})
    first.refresh_from_db()
    assert first.status == "dismissed"
    response = client.post(reverse("admin:qa_finding_change", args=[second.pk]), {"verdict": "maybe"})
    second.refresh_from_db()
    assert second.status == "open"


def test_agent_sees_only_their_own_confirmed_findings_masked_and_cannot_review(
    client_for: Callable[[User], Client], make_user: Callable[..., User], agent: User, findings: list[Finding]
) -> None:
    other = make_user("agent2", roles.AGENT)
    pii, rude1, _rude2 = findings
    Finding.objects.filter(pk__in=[pii.pk, rude1.pk]).update(status="confirmed")
    client = client_for(agent)
    response = client.get(reverse("admin:qa_finding_changelist"))
    assert {f.pk for f in response.context["cl"].result_list} == {pii.pk, rude1.pk}
    html = response.content.decode()
    assert "13800138000" not in html and "138****8000" in html
    assert client.get(reverse("admin:qa_finding_change", args=[pii.pk])).status_code == 200
    assert client.post(reverse("admin:qa_finding_change", args=[pii.pk]), {"verdict": "dismissed"}).status_code == 403
    response = client.post(reverse("admin:qa_finding_changelist"), {"action": "dismiss", "_selected_action": [pii.pk]})
    assert Finding.objects.get(pk=pii.pk).status == "confirmed"
    assert client_for(other).get(reverse("admin:qa_finding_changelist")).context["cl"].result_count == 0
    assert client_for(other).get(reverse("admin:qa_finding_change", args=[pii.pk])).status_code == 404


def test_merchant_staff_and_business_users_have_no_qa_pages(
    client_for: Callable[[User], Client], make_user: Callable[..., User], findings: list[Finding]
) -> None:
    for role in (roles.MERCHANT_STAFF, roles.BUSINESS):
        client = client_for(make_user(f"u-{role}", role))
        assert client.get(reverse("admin:qa_finding_changelist")).status_code == 403
        assert client.get(reverse("admin:qa_transcript_search")).status_code == 403
        assert client.get(reverse("admin:qa_rule_changelist")).status_code == 403
        assert client.get(reverse("admin:qa_transcript_change", args=[findings[0].transcript_id])).status_code == 403


def test_rule_edits_in_the_admin_version_the_rule(client_for: Callable[[User], Client], supervisor: User) -> None:
    client = client_for(supervisor)
    data = {
        "name": "angry", "description": "", "kind": "keyword", "terms": "投诉\n 12315 \n", "near_terms": "",
        "distance": "", "pattern": "", "speaker": "consumer", "category": "risk", "severity": "3",
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = client.post(reverse("admin:qa_rule_add"), data)
    assert response.status_code == 302, response.context["adminform"].errors if response.context else ""
    rule = Rule.objects.get(name="angry")
    assert (rule.terms, rule.active, rule.version) == (["投诉", "12315"], False, 1)
    data["terms"] = "投诉\n12315\n曝光"
    response = client.post(reverse("admin:qa_rule_change", args=[rule.pk]), {**data, "versions-INITIAL_FORMS": "1"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.version, list(rule.versions.values_list("number", flat=True))) == (2, [2, 1])
    bad = {**data, "name": "bad", "kind": "regex", "pattern": "(x"}
    response = client.post(reverse("admin:qa_rule_add"), bad)
    assert response.status_code == 200
    assert "pattern" in response.context["adminform"].form.errors
    assert not Rule.objects.filter(name="bad").exists()


def test_backtest_page_shows_what_an_inactive_rule_would_flag(
    client_for: Callable[[User], Client], supervisor: User, agent: User
) -> None:
    rule = factories.rule("angry", "keyword", terms=["投诉"], active=False)
    factories.transcript([("consumer", "我要投诉")], agent=agent)
    factories.transcript([("consumer", "投诉")], agent=agent, started_at=timezone.now() - timedelta(days=20))
    client = client_for(supervisor)
    response = client.get(reverse("admin:qa_rule_backtest", args=[rule.pk]), {"days": 7})
    assert (response.context["result"].flagged_transcripts, response.context["result"].transcripts) == (1, 1)
    assert '我要<mark title="angry">投诉</mark>' in response.content.decode()
    response = client.get(reverse("admin:qa_rule_backtest", args=[rule.pk]), {"days": 30})
    assert response.context["result"].flagged_transcripts == 2
    response = client.get(reverse("admin:qa_rule_backtest", args=[rule.pk]), {"days": "lots"})
    assert response.context["error"] and response.context["result"] is None
    assert not Finding.objects.exists()
    assert client_for(agent).get(reverse("admin:qa_rule_backtest", args=[rule.pk])).status_code == 403


def test_search_page_finds_highlights_and_filters(
    client_for: Callable[[User], Client], supervisor: User, agent: User
) -> None:
    factories.transcript([("consumer", "我要全额退款"), ("agent", "好的，全额退款")], agent=agent)
    factories.transcript([("consumer", "退款太慢")], agent=supervisor)
    client = client_for(supervisor)
    url = reverse("admin:qa_transcript_search")
    response = client.get(url, {"q": '"全额退款"'})
    assert response.context["page"].total == 2
    assert "我要<mark>全额退款</mark>" in response.content.decode()
    assert client.get(url, {"q": "退款", "speaker": "consumer"}).context["page"].total == 2
    assert client.get(url, {"q": "退款", "agent": "supervisor1"}).context["page"].total == 1
    response = client.get(url, {"q": "退款", "agent": "nobody"})
    assert response.context["page"] is None and "agent" in response.context["form"].errors
    response = client.get(url, {"q": "退款", "since": "2026-02-01", "until": "2026-01-01"})
    assert "until" in response.context["form"].errors
    with translation.override("en"):
        response = client.get(url, {"q": "date:notadate"})
    assert response.context["error"]


def test_transcript_page_marks_findings_and_masks_for_agents(
    client_for: Callable[[User], Client], make_user: Callable[..., User], supervisor: User, agent: User,
    findings: list[Finding],
) -> None:  # fmt: skip
    url = reverse("admin:qa_transcript_change", args=[findings[0].transcript_id])
    html = client_for(supervisor).get(url).content.decode()
    assert 'id="seg-1"' in html and 'title="pii">13800138000</mark>' in html
    # An agent reads their own transcripts, masked, and cannot search everyone's.
    html = client_for(agent).get(url).content.decode()
    assert 'title="pii">138****8000</mark>' in html and "13800138000" not in html
    assert client_for(agent).get(reverse("admin:qa_transcript_search")).status_code == 403
    other = client_for(make_user("agent2", roles.AGENT))
    assert other.get(url).status_code == 404
    assert other.get(reverse("admin:qa_transcript_changelist")).context["cl"].result_count == 0


def test_scorecard_page_shows_the_week_and_the_agent_sees_only_their_own(
    client_for: Callable[[User], Client], make_user: Callable[..., User], supervisor: User, agent: User,
    findings: list[Finding],
) -> None:  # fmt: skip
    Finding.objects.filter(pk=findings[1].pk).update(status="confirmed", note="态度问题")
    scorecards.compute_week(timezone.localdate())
    card = Scorecard.objects.get(agent=agent)
    response = client_for(agent).get(reverse("admin:qa_scorecard_change", args=[card.pk]))
    assert response.status_code == 200
    assert "态度问题" in response.content.decode() and "<svg" in response.content.decode()
    other = make_user("agent2", roles.AGENT)
    assert client_for(other).get(reverse("admin:qa_scorecard_change", args=[card.pk])).status_code == 404
    assert client_for(supervisor).get(reverse("admin:qa_scorecard_changelist")).context["cl"].result_count == 1


def _count_queries(client: Client, url: str) -> int:
    return len(_queries(client, url))


def test_transcript_rule_and_scorecard_lists_cost_the_same_queries_for_one_row_or_many(
    client_for: Callable[[User], Client], supervisor: User, make_user: Callable[..., User]
) -> None:
    agents = [make_user(f"qa{n}", roles.AGENT) for n in range(4)]
    factories.rule("r0", "keyword", terms=["退款"])
    factories.transcript([("consumer", "退款")], agent=agents[0])
    evaluation.evaluate_transcripts(Transcript.objects.values_list("id", flat=True))
    scorecards.compute_week(timezone.localdate())
    client = client_for(supervisor)
    urls = [reverse(f"admin:qa_{name}_changelist") for name in ("transcript", "rule", "scorecard")]
    single = [_count_queries(client, url) for url in urls]
    for n, agent in enumerate(agents):
        factories.rule(f"r{n + 1}", "keyword", terms=[f"词{n}"])
        factories.transcript([("consumer", f"退款 词{n}")], agent=agent)
    evaluation.evaluate_transcripts(Transcript.objects.values_list("id", flat=True))
    scorecards.compute_week(timezone.localdate())
    assert [_count_queries(client, url) for url in urls] == single


def test_bulk_activation_of_rules_and_agents_cannot(
    client_for: Callable[[User], Client], supervisor: User, agent: User
) -> None:
    drafts = [factories.rule(f"d{n}", "keyword", terms=["退款"], active=False) for n in range(2)]
    url = reverse("admin:qa_rule_changelist")
    ids = [rule.pk for rule in drafts]
    assert client_for(agent).post(url, {"action": "activate", "_selected_action": ids}).status_code == 403
    assert not Rule.objects.filter(active=True).exists()
    client_for(supervisor).post(url, {"action": "activate", "_selected_action": ids})
    assert Rule.objects.filter(active=True).count() == 2
    client_for(supervisor).post(url, {"action": "deactivate", "_selected_action": ids[:1]})
    assert list(Rule.objects.filter(active=True).values_list("name", flat=True)) == ["d1"]


def body(response: object) -> bytes:
    streamed = getattr(response, "streaming_content", None)
    return b"".join(streamed) if streamed is not None else response.content  # type: ignore[attr-defined]


def test_recording_audio_is_served_in_ranges_to_whoever_may_read_the_transcript(
    client_for: Callable[[User], Client], make_user: Callable[..., User], supervisor: User, agent: User,
    settings: object, tmp_path: object,
) -> None:  # fmt: skip
    from django.core.files.uploadedfile import SimpleUploadedFile

    from qa.models import Recording
    from tests.crm.factories import consumer

    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    audio = bytes(range(256)) * 4  # 1,024 bytes
    recording = Recording.objects.create(
        audio=SimpleUploadedFile("call.wav", audio), agent=agent, consumer=consumer(), called_at=timezone.now()
    )
    transcript = factories.transcript([("agent", "您好")], agent=agent, recording=recording)
    url = reverse("admin:qa_transcript_audio", args=[transcript.pk])
    client = client_for(supervisor)
    whole = client.get(url)
    assert (whole.status_code, body(whole)) == (200, audio)
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert (part.status_code, part["Content-Range"], body(part)) == (206, "bytes 100-199/1024", audio[100:200])
    tail = client.get(url, HTTP_RANGE="bytes=-24")
    assert (tail.status_code, body(tail)) == (206, audio[-24:])
    assert client.get(url, HTTP_RANGE="bytes=5000-").status_code == 416
    assert body(client_for(agent).get(url, HTTP_RANGE="bytes=0-9")) == audio[:10]  # their own call
    assert client_for(make_user("agent2", roles.AGENT)).get(url).status_code == 404
    assert client_for(make_user("biz", roles.BUSINESS)).get(url).status_code in (403, 404)


def test_the_scorecard_list_names_agents_as_the_pages_do_not_by_username(
    client_for: Callable[[User], Client], supervisor: User, agent: User, findings: list[Finding]
) -> None:
    User.objects.filter(pk=agent.pk).update(first_name="小王")
    scorecards.compute_week(timezone.localdate())
    page = client_for(supervisor).get(reverse("admin:qa_scorecard_changelist")).content.decode()
    cells = re.findall(r'<th class="field-agent_name"><a href="[^"]+">([^<]+)</a></th>', page)
    assert cells == ["小王"]
