"""Whether the consumer is told a person is there: the staffed hours, or an agent who switched to available."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from chat import conversation, desk
from chat.models import ChatSession
from core import roles
from merchants.models import MerchantMembership
from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    _close_sockets,
    frames_until,
    make_agent,
    night_all_day,
    open_chat,
    plain_consumer,
    say,
    sync,
)
from tests.crm import factories as f
from tickets.models import TicketEvent

pytestmark = pytest.mark.usefixtures("transactional_db")
NOBODY = "当前没有人工客服在线"


async def test_at_night_an_available_agent_means_no_callback_promise_and_the_agent_takes_the_chat(
    settings: Any, make_user: Callable[..., User]
) -> None:
    night_all_day(settings)
    agent = await sync(make_agent)(make_user, "late-shift", available=True)
    consumer = await sync(plain_consumer)()
    socket, ready, history = await open_chat(consumer.pk)
    assert ready["staffed"] is True
    assert NOBODY not in history[0]["text"]
    await say(socket, "转人工")
    state, _ = await frames_until(socket, "state")
    assert (state["state"], state["callback"]) == ("waiting", False)
    chat = await sync(ChatSession.objects.get)(consumer_id=consumer.pk)
    assert (chat.callback, chat.queue_rank) == (False, ChatSession.RANK_NORMAL)
    said = await sync(
        lambda: list(TicketEvent.objects.filter(ticket_id=chat.ticket_id).values_list("body", flat=True))
    )()
    assert not [text for text in said if NOBODY in text]
    accepted = await sync(desk.accept_chat)(chat.pk, agent)
    assert (accepted.state, accepted.agent_id) == ("active", agent.pk)
    await socket.disconnect()


async def test_at_night_with_every_agent_away_a_handoff_is_told_and_promised_a_callback(
    settings: Any, make_user: Callable[..., User]
) -> None:
    night_all_day(settings)
    await sync(make_agent)(make_user, "gone-home", available=False)
    consumer = await sync(plain_consumer)()
    socket, ready, history = await open_chat(consumer.pk)
    assert ready["staffed"] is False
    assert NOBODY not in history[0]["text"]  # night mode greets as by day; only a handoff says nobody is on duty
    await say(socket, "转人工")
    state, _ = await frames_until(socket, "state")
    assert (state["state"], state["callback"]) == ("waiting", True)
    await socket.disconnect()


def test_merchant_staff_and_inactive_users_marked_available_do_not_count(
    settings: Any, make_user: Callable[..., User]
) -> None:
    night_all_day(settings)
    shop_staff = make_agent(make_user, "shop", roles.MERCHANT_STAFF, available=True)
    MerchantMembership.objects.create(user=shop_staff, merchant=f.merchant())
    retired = make_agent(make_user, "retired", available=True)
    retired.is_active = False
    retired.save(update_fields=["is_active"])
    assert conversation.agents_on_duty(timezone.now()) is False
    make_agent(make_user, "on-shift", available=True)
    assert conversation.agents_on_duty(timezone.now()) is True


def test_availability_is_a_fact_of_now_not_of_a_chat_played_in_the_past(
    settings: Any, make_user: Callable[..., User]
) -> None:
    night_all_day(settings)
    make_agent(make_user, "on-shift", available=True)
    assert conversation.agents_on_duty(timezone.now() - timedelta(hours=3)) is False  # the demo's night
    assert conversation.agents_on_duty(timezone.now()) is True
