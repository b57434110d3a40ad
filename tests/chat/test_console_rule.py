"""The one rule of who takes chats in the agent console (``selectors.may_use_console``): its page, its socket and a
transfer's target all ask it (the page and the socket: tests/chat/test_pages.py, tests/chat/test_agents.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from chat import conversation, desk, selectors, services
from chat.models import ChatSession
from core import roles
from merchants.models import MerchantMembership
from tests.chat.support import make_agent, plain_consumer, staffed_all_day
from tests.crm import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)


@pytest.mark.parametrize(
    ("role", "extra", "with_shop", "expected"),
    [
        (roles.AGENT, {}, False, True),
        (roles.SUPERVISOR, {}, False, True),
        (roles.AGENT, {"is_active": False}, False, False),
        (roles.AGENT, {"is_staff": False}, False, False),
        (roles.BUSINESS, {}, False, False),
        (None, {}, False, False),
        (roles.MERCHANT_STAFF, {}, True, True),
        (roles.MERCHANT_STAFF, {}, False, False),  # a shop's staff without a shop take no chats
        (None, {"is_superuser": True}, False, True),
    ],
)
def test_who_may_use_the_console(
    make_user: Callable[..., User], role: str | None, extra: dict[str, Any], with_shop: bool, expected: bool
) -> None:
    user = make_user("someone", role, **extra)
    if with_shop:
        MerchantMembership.objects.create(user=user, merchant=f.merchant())
    assert selectors.may_use_console(User.objects.get(pk=user.pk)) is expected


def _held_by(agent: User) -> ChatSession:
    who = plain_consumer()
    chat, _created = services.start_chat(who.pk, "en")
    services.request_human(who.pk)
    return desk.accept_chat(chat.pk, agent)


@pytest.mark.parametrize("target", ["inactive", "business"])
def test_a_chat_is_not_transferred_to_someone_who_may_not_use_the_console(
    make_user: Callable[..., User], target: str
) -> None:
    agent = make_agent(make_user, "holder")
    chat = _held_by(agent)
    if target == "inactive":
        other = make_agent(make_user, "gone")
        User.objects.filter(pk=other.pk).update(is_active=False)
    else:
        other = make_agent(make_user, "outsider", roles.BUSINESS)
    other = User.objects.get(pk=other.pk)
    with pytest.raises(conversation.ChatError) as refused:
        desk.transfer_chat(chat.pk, agent, to_agent=other)
    assert refused.value.error_code == "unavailable"
    chat.refresh_from_db()
    assert (chat.agent_id, chat.state) == (agent.pk, ChatSession.State.ACTIVE)
