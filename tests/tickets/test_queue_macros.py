"""The queue reads the user's macros once a request: for its macro actions and for the tag filter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tickets.models import Department, Macro

pytestmark = pytest.mark.django_db


def test_the_queue_reads_the_macros_once_and_offers_their_actions_and_tags(
    agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    mine = Macro.objects.create(name="关闭", owner=agent, reply="好的", status="closed", tags=["vip", "退款"])
    shared = Macro.objects.create(name="共享", reply="您好", tags=["vip", "物流"])  # shared with everyone
    other = Macro.objects.create(name="别人的", owner=supervisor, reply="x", tags=["secret"])  # another's own
    Department.objects.create(code="refunds", name="退款")
    client = client_for(agent)
    client.get("/admin/tickets/ticket/")  # sessions and caches warm

    with CaptureQueriesContext(connection) as captured:
        page = client.get("/admin/tickets/ticket/")

    assert page.status_code == 200
    assert [q["sql"] for q in captured if '"tickets_macro"' in q["sql"]] == [
        next(q["sql"] for q in captured if q["sql"].startswith('SELECT "tickets_macro"."id"'))
    ]
    actions = [name for name, _label in page.context["action_form"].fields["action"].choices]
    assert [name for name in actions if name.startswith("macro_")] == [f"macro_{shared.pk}", f"macro_{mine.pk}"]
    tag_filter = next(spec for spec in page.context["cl"].filter_specs if getattr(spec, "parameter_name", "") == "tag")
    assert tag_filter.lookup_choices == [("vip", "vip"), ("物流", "物流"), ("退款", "退款")]  # not another's "secret"
    assert other.pk not in {int(name[6:]) for name in actions if name.startswith("macro_")}
