"""Curators screen nominations: approve into channels, edit the headline, merge duplicates, reject with a reason."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django import DjangoAssertNumQueries

from core import roles
from radio import building, services
from radio.models import Channel, Digest, DigestItem, Nomination, Placement, Subscription
from tests.radio import factories as rf

pytestmark = pytest.mark.django_db
Status = Nomination.Status


def test_approve_into_two_channels_with_a_headline(agent: User, supervisor: User) -> None:
    logistics, app = rf.channel("logistics"), rf.channel("app")
    made = rf.nomination(agent, quote="快递员没打电话就放驿站了")
    approved = services.approve_nomination(made, [logistics, app], by=supervisor, headline="驿站代收投诉")
    assert (approved.status, approved.headline, approved.screened_by) == (Status.APPROVED, "驿站代收投诉", supervisor)
    assert set(Placement.objects.filter(nomination=made).values_list("channel__code", flat=True)) == {
        "logistics",
        "app",
    }
    services.approve_nomination(made, [logistics], by=supervisor)  # again: nothing doubles
    assert Placement.objects.filter(nomination=made).count() == 2
    assert Nomination.objects.get(pk=made.pk).headline == "驿站代收投诉"  # no headline given: kept


def test_approval_needs_an_active_channel_and_a_live_nomination(agent: User, supervisor: User) -> None:
    made = rf.nomination(agent)
    with pytest.raises(ValidationError) as none:
        services.approve_nomination(made, [], by=supervisor)
    assert list(none.value.message_dict) == ["channels"]
    with pytest.raises(ValidationError) as inactive:
        services.approve_nomination(made, [rf.channel("closed", active=False)], by=supervisor)
    assert list(inactive.value.message_dict) == ["channels"]
    services.reject_nomination(made, "重复", by=supervisor)
    with pytest.raises(ValidationError) as rejected:
        services.approve_nomination(made, [rf.channel("open")], by=supervisor)
    assert list(rejected.value.message_dict) == ["status"]
    assert not Placement.objects.exists()


def test_reject_needs_a_reason_and_removes_waiting_placements(agent: User, supervisor: User) -> None:
    logistics = rf.channel("logistics")
    made = services.approve_nomination(rf.nomination(agent), [logistics], by=supervisor)
    with pytest.raises(ValidationError) as blank:
        services.reject_nomination(made, "  ", by=supervisor)
    assert list(blank.value.message_dict) == ["reason"]
    rejected = services.reject_nomination(made, "个例，不具代表性", by=supervisor)
    assert (rejected.status, rejected.rejection_reason) == (Status.REJECTED, "个例，不具代表性")
    assert not Placement.objects.exists()


def test_a_nomination_on_the_radio_already_cannot_be_rejected_or_merged(agent: User, supervisor: User) -> None:
    logistics = rf.channel("logistics")
    aired = rf.approved(agent, supervisor, [logistics])
    building.build_digests()
    other = rf.nomination(agent, quote="又一个")
    with pytest.raises(ValidationError):
        services.reject_nomination(aired, "too late", by=supervisor)
    with pytest.raises(ValidationError):
        services.merge_nominations(other, [aired], by=supervisor)
    assert Nomination.objects.get(pk=aired.pk).status == Status.APPROVED
    assert Nomination.objects.get(pk=other.pk).customers == 1


def test_merge_counts_customers_and_follows_earlier_merges(agent: User, supervisor: User) -> None:
    a, b, c, d = (rf.nomination(agent, quote=f"快递丢了{i}") for i in range(4))
    services.merge_nominations(b, [c], by=supervisor)
    assert Nomination.objects.get(pk=b.pk).customers == 2
    primary = services.merge_nominations(a, [b, d], by=supervisor)
    assert primary.customers == 4
    rows = {n.pk: n for n in Nomination.objects.all()}
    assert [rows[x.pk].status for x in (a, b, c, d)] == [Status.PENDING, Status.MERGED, Status.MERGED, Status.MERGED]
    assert {rows[x.pk].merged_into_id for x in (b, c, d)} == {a.pk}  # c moved from b to a
    with pytest.raises(ValidationError):
        services.merge_nominations(a, [b], by=supervisor)  # b is merged already
    with pytest.raises(ValidationError):
        services.merge_nominations(a, [], by=supervisor)


def test_merged_count_reaches_the_digest(agent: User, supervisor: User) -> None:
    logistics = rf.channel("logistics")
    first = rf.approved(agent, supervisor, [logistics], quote="快递三天没动")
    services.merge_nominations(first, [rf.nomination(agent, quote="物流不更新") for _ in range(2)], by=supervisor)
    building.build_digests()
    digest = Digest.objects.get(channel=logistics)
    assert (digest.items_count, digest.customers) == (1, 3)
    assert digest.items.get().customers == 3


# --- the admin -----------------------------------------------------------------------------------


def test_screening_queue_opens_on_pending_and_agents_see_only_their_own(
    client_for: Callable[[User], Client], agent: User, supervisor: User, make_user: Callable[..., User]
) -> None:
    other_agent = make_user("agent2", "agent")
    mine = rf.nomination(agent, quote="我的")
    theirs = rf.nomination(other_agent, quote="别人的")
    done = services.reject_nomination(rf.nomination(agent, quote="拒了"), "不需要", by=supervisor)
    url = reverse("admin:radio_nomination_changelist")
    queue = client_for(supervisor).get(url)
    assert {n.pk for n in queue.context["cl"].result_list} == {mine.pk, theirs.pk}
    agents_view = client_for(agent).get(url)
    assert {n.pk for n in agents_view.context["cl"].result_list} == {mine.pk, done.pk}
    assert "不需要" in agents_view.content.decode()  # the reason, where the agent reads it
    assert client_for(agent).get(reverse("admin:radio_nomination_change", args=[theirs.pk])).status_code == 404
    page = client_for(agent).get(reverse("admin:radio_nomination_change", args=[done.pk]))
    assert page.status_code == 200 and "不需要" in page.content.decode()
    denied = client_for(agent).post(reverse("admin:radio_nomination_screen", args=[mine.pk]),
                                    {"action": "reject", "reason": "x"})  # fmt: skip
    assert denied.status_code == 403
    assert Nomination.objects.get(pk=mine.pk).status == Status.PENDING


def test_screening_page_approves_edits_and_rejects(
    client_for: Callable[[User], Client], agent: User, supervisor: User
) -> None:
    logistics, refunds = rf.channel("logistics", "快递"), rf.channel("refunds", "退款")
    made = rf.nomination(agent, channel=logistics)
    client = client_for(supervisor)
    page = client.get(reverse("admin:radio_nomination_change", args=[made.pk]))
    assert page.status_code == 200
    assert page.context["approve_form"].initial["channels"] == [logistics.pk]
    screen = reverse("admin:radio_nomination_screen", args=[made.pk])
    client.post(screen, {"action": "approve", "channels": [logistics.pk, refunds.pk], "headline": "快递停滞"})
    made.refresh_from_db()
    assert (made.status, made.headline, made.channels.count()) == (Status.APPROVED, "快递停滞", 2)
    client.post(screen, {"action": "headline", "headline": "快递三天不动"})
    assert Nomination.objects.get(pk=made.pk).headline == "快递三天不动"
    client.post(screen, {"action": "reject", "reason": ""})  # refused: a reason is required
    assert Nomination.objects.get(pk=made.pk).status == Status.APPROVED


def test_bulk_actions_approve_merge_and_reject_through_their_confirmation_pages(
    client_for: Callable[[User], Client], agent: User, supervisor: User
) -> None:
    logistics = rf.channel("logistics")
    a, b, c, d = (rf.nomination(agent, quote=f"第{i}条") for i in range(4))
    client = client_for(supervisor)
    url = reverse("admin:radio_nomination_changelist")
    confirm = client.post(url, {"action": "merge_action", ACTION_CHECKBOX_NAME: [a.pk, b.pk, c.pk]})
    assert confirm.status_code == 200 and confirm.context["form"]  # the confirmation page, nothing merged yet
    assert Nomination.objects.filter(status=Status.MERGED).count() == 0
    client.post(url, {"action": "merge_action", ACTION_CHECKBOX_NAME: [a.pk, b.pk, c.pk], "primary": b.pk,
                      "apply": "1"})  # fmt: skip
    assert Nomination.objects.get(pk=b.pk).customers == 3
    client.post(url, {"action": "approve_action", ACTION_CHECKBOX_NAME: [b.pk], "channels": [logistics.pk],
                      "headline": "同一问题", "apply": "1"})  # fmt: skip
    assert Nomination.objects.get(pk=b.pk).status == Status.APPROVED
    assert Nomination.objects.get(pk=b.pk).headline == "同一问题"
    client.post(url, {"action": "reject_action", ACTION_CHECKBOX_NAME: [d.pk], "reason": "与本渠道无关", "apply": "1"})
    assert Nomination.objects.get(pk=d.pk).rejection_reason == "与本渠道无关"


def test_admin_lists_cost_a_fixed_number_of_queries(
    client_for: Callable[[User], Client], agent: User, supervisor: User
) -> None:
    logistics = rf.channel("logistics")
    client = client_for(supervisor)
    names = ("nomination", "nomination", "digest", "digestitem", "reply", "channel")
    urls = [reverse(f"admin:radio_{name}_changelist") for name in names]
    urls[1] += "?queue=all"  # urls[0]: the curators' default queue, what waits for screening
    urls[3] += "?ack=all"

    def grow(n: int) -> None:
        for _ in range(n):
            rf.nomination(agent, quote="待筛选", channel=logistics)
            made = rf.approved(agent, supervisor, [logistics])
            Subscription.objects.create(user=supervisor, channel=rf.channel(f"c{Channel.objects.count()}"))
            building.build_digests(day=date(2026, 1, 1) + timedelta(days=Digest.objects.count()))
            for item in made.digest_items.all():
                services.reply_to_item(item, "收到", by=supervisor)

    grow(2)
    few = []
    for url in urls:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        few.append(len(captured))
    grow(8)
    for url, count in zip(urls, few, strict=True):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        assert len(captured) == count, (url, [q["sql"][:100] for q in captured.captured_queries])
    assert len(client.get(urls[0]).context["cl"].result_list) == 10  # the pending ones were listed


def test_screening_page_costs_the_same_queries_for_one_or_many_duplicates_items_and_replies(
    client_for: Callable[[User], Client], agent: User, supervisor: User,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    channels = [rf.channel(f"c{i}") for i in range(4)]
    client = client_for(supervisor)

    def aired(duplicates: int, into: list[Channel], day: date) -> Nomination:
        primary = rf.nomination(agent, quote="快递三天没动", channel=into[0])
        services.merge_nominations(primary, [rf.nomination(agent, quote="同上") for _ in range(duplicates)],
                                   by=supervisor)  # fmt: skip
        services.approve_nomination(primary, into, by=supervisor)
        building.build_digests(day)
        for item in DigestItem.objects.filter(nomination=primary):
            services.reply_to_item(item, "收到", by=supervisor)
            services.reply_to_item(item, "已处理", by=supervisor)
        return primary

    small = aired(1, channels[:1], date(2026, 1, 1))
    big = aired(6, channels, date(2026, 1, 2))
    for nomination in (small, big):
        with django_assert_num_queries(12):
            page = client.get(reverse("admin:radio_nomination_change", args=[nomination.pk]))
        assert page.status_code == 200
    assert (len(page.context["items"]), len(page.context["merged"])) == (4, 6)


def test_curators_see_items_never_acknowledged_and_manage_channels(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User,
    make_user: Callable[..., User],
) -> None:  # fmt: skip
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    old_day = timezone.localdate() - timedelta(days=2)
    for quote in ("没人理", "有人回"):
        rf.approved(agent, supervisor, [logistics], quote=quote, at=timezone.now() - timedelta(days=3))
    building.build_digests(old_day, now=timezone.now() - timedelta(days=2))
    answered = DigestItem.objects.get(quote="有人回")
    services.acknowledge_item(answered, by=business)
    client = client_for(supervisor)
    never = client.get(reverse("admin:radio_digestitem_changelist"))
    assert [i.quote for i in never.context["cl"].result_list] == ["没人理"]
    assert client.get(reverse("admin:radio_channel_changelist")).status_code == 200
    change = client.get(reverse("admin:radio_channel_change", args=[logistics.pk]))
    assert change.status_code == 200 and "biz1" in change.content.decode()  # the subscriber inline
    # A business user's admin shows the digests of the channels they follow, and nothing else of the radio.
    rf.channel("refunds")
    building.build_digests()
    digests = client_for(business).get(reverse("admin:radio_digest_changelist"))
    assert {d.channel.code for d in digests.context["cl"].result_list} == {"logistics"}
    assert client_for(business).get(reverse("admin:radio_nomination_changelist")).status_code == 403
    shop = client_for(make_user("shop", "merchant_staff"))
    for name in ("nomination", "digest", "digestitem", "reply", "channel"):
        assert shop.get(reverse(f"admin:radio_{name}_changelist")).status_code == 403


# --- screening while the morning build runs --------------------------------------------------------


def _while_building(decide: Callable[[], object]) -> list[BaseException]:
    """Run ``decide`` while a morning build has claimed its placements but not committed yet.

    Returns what ``decide`` raised. The build waits until ``decide`` is blocked on a lock (or has
    finished), so the outcome does not depend on thread timing.
    """
    built, release = threading.Event(), threading.Event()
    raised: list[BaseException] = []

    def build() -> None:
        try:
            with transaction.atomic():
                building.build_digests()
                built.set()
                release.wait(30)
        finally:
            connection.close()

    def screen() -> None:
        try:
            decide()
        except BaseException as error:
            raised.append(error)
        finally:
            connection.close()

    builder = threading.Thread(target=build)
    builder.start()
    assert built.wait(30)
    screener = threading.Thread(target=screen)
    screener.start()
    deadline = time.monotonic() + 10
    while screener.is_alive() and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                break
        time.sleep(0.05)
    release.set()
    builder.join(30)
    screener.join(30)
    return raised


@pytest.mark.django_db(transaction=True)
def test_rejecting_while_the_build_takes_the_nomination_is_refused(make_user: Callable[..., User]) -> None:
    agent, curator = make_user("agent-b", roles.AGENT), make_user("curator-b", roles.SUPERVISOR)
    logistics = rf.channel("logistics")
    aired = rf.approved(agent, curator, [logistics])
    raised = _while_building(lambda: services.reject_nomination(aired, "晚了", by=curator))
    assert [type(e) for e in raised] == [ValidationError]
    assert Nomination.objects.get(pk=aired.pk).status == Status.APPROVED
    assert list(DigestItem.objects.values_list("nomination_id", flat=True)) == [aired.pk]
    assert Placement.objects.get(nomination=aired).digest_id == Digest.objects.get(channel=logistics).pk


@pytest.mark.django_db(transaction=True)
def test_merging_while_the_build_takes_a_duplicate_is_refused(make_user: Callable[..., User]) -> None:
    agent, curator = make_user("agent-m", roles.AGENT), make_user("curator-m", roles.SUPERVISOR)
    logistics = rf.channel("logistics")
    primary = rf.nomination(agent, quote="快递丢了")
    aired = rf.approved(agent, curator, [logistics], quote="物流丢件")
    raised = _while_building(lambda: services.merge_nominations(primary, [aired], by=curator))
    assert [type(e) for e in raised] == [ValidationError]
    rows = {n.pk: n for n in Nomination.objects.all()}
    assert (rows[primary.pk].customers, rows[aired.pk].status) == (1, Status.APPROVED)
    assert Placement.objects.get(nomination=aired).digest_id is not None


def test_agents_cannot_run_the_curators_bulk_actions(
    client_for: Callable[[User], Client], agent: User, supervisor: User
) -> None:
    logistics = rf.channel("logistics")
    a, b = rf.nomination(agent, quote="甲"), rf.nomination(agent, quote="乙")
    client = client_for(agent)
    url = reverse("admin:radio_nomination_changelist")
    assert "merge_action" not in client.get(url).content.decode()
    for data in (
        {"action": "merge_action", "primary": a.pk},
        {"action": "approve_action", "channels": [logistics.pk]},
        {"action": "reject_action", "reason": "不要"},
    ):
        client.post(url, {**data, ACTION_CHECKBOX_NAME: [a.pk, b.pk], "apply": "1"})
    assert set(Nomination.objects.values_list("status", "customers")) == {(Status.PENDING, 1)}
    assert not Placement.objects.exists()


def test_screening_page_refuses_bad_input_and_names_the_problem(
    client_for: Callable[[User], Client], agent: User, supervisor: User
) -> None:
    made = rf.nomination(agent)
    client = client_for(supervisor)
    screen = reverse("admin:radio_nomination_screen", args=[made.pk])
    assert client.get(screen).status_code == 403  # buttons post; nothing happens on a GET
    with translation.override("en"):
        for data, problem in (
            ({"action": "approve"}, "Channels: This field is required."),
            ({"action": "approve", "channels": ["987654"]}, "Select a valid choice."),
            ({"action": "publish"}, "Unknown action."),
            ({"action": "headline", "headline": "长" * 201}, "Headline: Ensure this value has at most 200"),
        ):
            response = client.post(screen, data, follow=True, HTTP_ACCEPT_LANGUAGE="en")
            assert response.status_code == 200
            shown = [str(m) for m in response.context["messages"]]
            assert len(shown) == 1 and problem in shown[0], (data, shown)
    assert Nomination.objects.get(pk=made.pk).status == Status.PENDING and not Placement.objects.exists()
    one = {"action": "merge_action", ACTION_CHECKBOX_NAME: [made.pk], "apply": "1"}
    with translation.override("en"):
        merge_one = client.post(reverse("admin:radio_nomination_changelist"), one, follow=True,
                                HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert [str(m) for m in merge_one.context["messages"]] == ["Choose at least two nominations to merge."]
    assert Nomination.objects.get(pk=made.pk).status == Status.PENDING
